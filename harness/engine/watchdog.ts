// Interrupts a model that never returns. A synchronous infinite loop cannot be stopped
// from inside its thread by ordinary means; node:vm's `timeout` arms V8's watchdog, which
// terminates whatever JavaScript runs on the isolate (also functions defined outside the
// context) and resumes with an exception. So a lane survives a hanging model and reports
// the stream as a `hang` finding instead of losing its thread.
// Cost: ~60 us per guarded call, so callers guard chunks of executions, not single ones.

import vm from 'node:vm';

export class HangError extends Error {
  constructor(readonly ms: number) {
    super(`no result within ${ms} ms`);
  }
}

const context = vm.createContext({ call: null as null | (() => unknown) });
const script = new vm.Script('call()');

/** Guards open on this thread: inside one, a nested guard is the enclosing one's. */
let depth = 0;

/**
 * Runs fn, throwing HangError if it takes longer than ms. Inside another guard it just runs
 * fn: the enclosing guard (and its budget) covers it, and arming V8's watchdog again would
 * cost its ~60 us to ~0.3 ms for nothing (triage nests five guarded runs per symptom).
 */
export function runWithTimeout<T>(fn: () => T, ms: number): T {
  if (depth > 0) return fn();
  const ctx = context as { call: null | (() => unknown) };
  ctx.call = fn;
  depth++;
  try {
    return script.runInContext(context, { timeout: ms }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new HangError(ms);
    throw err;
  } finally {
    depth--;
    ctx.call = null;
  }
}
