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

export function runWithTimeout<T>(fn: () => T, ms: number): T {
  const ctx = context as { call: null | (() => unknown) };
  ctx.call = fn;
  try {
    return script.runInContext(context, { timeout: ms }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new HangError(ms);
    throw err;
  } finally {
    ctx.call = null;
  }
}
