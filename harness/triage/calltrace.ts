// One instrumented run of a model version: every entry of the function table is wrapped
// (for this analysis run only, never on the fuzzing hot path) so that each call and each
// return records a snapshot of the vCPU state, the arguments and the return value. The
// result is a tree per stream step: the step (the event's effect, with the CPU's own
// code) at the root, the kernel functions it reached below, in call order.
//
// A snapshot is a flat record of three families of fields, so that a difference can be
// told in the words the rest of the tool uses:
//   - the observation fields (`exits`, `vmcb12.int_state`, ...) as observe() builds them,
//   - the latent fields (`nmi_masked`, `vmcb01.intercepts`, ...) as latent() builds them,
//   - every other field of the state by its path under `state.` (`state.hw.vmrunInStiShadow`,
//     `state.requests`): the parts of KVM and of the CPU that no record names.
// Lists are one value each (their JSON), so a path never carries an index.

import { advance, beginStep, makeModel, step } from '../../models/svm/model.js';
import { createState, type VcpuState } from '../../models/svm/state.js';
import { observe, LATENT, OBSERVATION_KEYS, type Primitive } from '../../models/svm/observe.js';
import type { KvmOps } from '../../models/svm/kvm/ops.js';
import type { Version } from '../../models/svm/versions.js';
import { runWithTimeout, HangError } from '../engine/watchdog.js';
import type { Stream } from '../text/text.js';

/** Values in the order of the trace's `Layout.keys`. */
export type Snapshot = Primitive[];

/** One call of a table function (or, at the root, one stream step). */
export interface Frame {
  /** The kernel function's name; for a root frame, `cpu`: the event's own effect. */
  fn: string;
  /** The stream step the call happened in. */
  step: number;
  /** The arguments after (k, v), as JSON; '' for a step. */
  args: string;
  entry: Snapshot;
  /** null when the call never returned (the model threw or hung inside it). */
  exit: Snapshot | null;
  /** The return value as JSON ('' for undefined). */
  ret: string;
  children: Frame[];
}

export interface CallTrace {
  layout: Layout;
  /** One root frame per step from the first traced one on (`Frame.step` says which). */
  steps: Frame[];
  /** A throw or a hang ended the run: its message and the table functions open then (outermost first). */
  stop: { kind: 'throw' | 'hang'; message: string; stack: string[] } | null;
  /** Table calls recorded (the cost of the trace). */
  calls: number;
}

/** The name of a root frame: the event's own code and the CPU model it drives. */
export const STEP_FN = 'cpu';

/** The fields of a snapshot and how each is read and shown. */
export interface Layout {
  readonly keys: readonly string[];
  read(v: VcpuState): Snapshot;
  /** A value as the records show it (latent fields have their own rendering). */
  show(index: number, x: Primitive): Primitive;
}

/** Observation fields that only a step's return value fills (KVM_GET_VCPU_EVENTS), or the step itself (skipped). */
const STEP_ONLY = (path: string): boolean => path === 'skipped' || path.startsWith('events.');
const STATE_SKIP = new Set(['cfg', 'log']);

/** Property paths of every leaf of the state (lists are leaves), from a template state. */
function statePaths(x: unknown, path: string[], out: string[][]): void {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) {
    out.push(path);
    return;
  }
  for (const [k, v] of Object.entries(x)) {
    if (!path.length && STATE_SKIP.has(k)) continue;
    statePaths(v, [...path, k], out);
  }
}

/**
 * The snapshot layout of a state: observation fields, latent fields (raw values, shown
 * through the latent table), then raw state paths. Read through precompiled getters: a
 * snapshot is taken at every call and return, so it must cost a few microseconds.
 */
let cached: { shape: string; layout: Layout } | null = null;

export function layoutOf(template: VcpuState): Layout {
  const raw: string[][] = [];
  statePaths(template, [], raw);
  // Every trace of a campaign has the same state shape: build (and compile) its reader once.
  const shape = raw.map((p) => p.join('.')).join(',');
  if (cached?.shape === shape) return cached.layout;
  const layout = buildLayout(raw);
  cached = { shape, layout };
  return layout;
}

function buildLayout(raw: string[][]): Layout {
  const obsKeys = OBSERVATION_KEYS.filter((k) => !STEP_ONLY(k));
  const keys = [...obsKeys, ...LATENT.map(([name]) => name), ...raw.map((p) => `state.${p.join('.')}`)];
  const latentShow = LATENT.map(([, , s]) => s);
  const nObs = obsKeys.length;
  // One generated reader for all raw paths (a property chain each): a generic loop over
  // path segments is megamorphic and took half of a trace's time.
  const access = (p: string[]): string => `v${p.map((k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join('')}`;
  const readRaw = new Function('v', 'out', 'i', 'J', raw.map((p) => `{ const x = ${access(p)}; out[i++] = Array.isArray(x) ? J(x) : x; }`).join('\n')) as
    (v: VcpuState, out: Primitive[], i: number, j: (x: unknown) => string) => void;
  return {
    keys,
    read(v) {
      const obs = observe(v, false, null);
      const out: Primitive[] = new Array(keys.length);
      let i = 0;
      for (const k of obsKeys) out[i++] = obs[k]!;
      for (const [, get] of LATENT) out[i++] = get(v);
      readRaw(v, out, i, JSON.stringify);
      return out;
    },
    show(index, x) {
      const s = index >= nObs ? latentShow[index - nObs] : undefined;
      return s && x !== null ? s(x) : x;
    },
  };
}

const json = (x: unknown): string => (x === undefined ? '' : JSON.stringify(x) ?? '');

/**
 * The first step after which the two versions' states (or what the step returned) differ;
 * stream.events.length if they never do. Both run without instrumentation: the steps
 * before it end in the same state on both sides, so nothing in them can be the cause of
 * a later difference, and the traces start there.
 */
export function firstDifferingStep(left: Version, right: Version, stream: Stream, hangMs = 2000): number {
  const ml = makeModel(left);
  const mr = makeModel(right);
  const sl = createState(stream.config);
  const sr = createState(stream.config);
  const layout = layoutOf(sl);
  const same = (a: Primitive[], b: Primitive[]): boolean => a.every((x, i) => x === b[i]);
  let i = 0;
  try {
    runWithTimeout(() => {
      for (; i < stream.events.length; i++) {
        const ol = step(ml, sl, stream.events[i]!);
        const or = step(mr, sr, stream.events[i]!);
        if (JSON.stringify(ol) !== JSON.stringify(or) || !same(layout.read(sl), layout.read(sr))) return;
      }
    }, hangMs);
  } catch {
    // A throw or a hang: the traces start at the step it happened in.
  }
  return i;
}

/**
 * Runs `stream` on `version` with every table function instrumented from step `from` on
 * (the steps before run plainly), up to step `to` (the steps after it are not run).
 */
export function traceStream(version: Version, stream: Stream, hangMs = 2000, from = 0, to = Infinity): CallTrace {
  const base = makeModel(version);
  const v = createState(stream.config);
  const layout = layoutOf(v);
  const snapshot = (x: VcpuState): Snapshot => layout.read(x);
  const trace: CallTrace = { layout, steps: [], stop: null, calls: 0 };
  const open: Frame[] = [];
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(base.ops)) {
    const original = fn as (k: KvmOps, v: VcpuState, ...args: unknown[]) => unknown;
    wrapped[name] = (k: KvmOps, v: VcpuState, ...args: unknown[]): unknown => {
      const parent = open[open.length - 1]!;
      const frame: Frame = { fn: name, step: parent.step, args: json(args), entry: snapshot(v), exit: null, ret: '', children: [] };
      parent.children.push(frame);
      open.push(frame);
      trace.calls++;
      let result: unknown;
      try {
        result = original(k, v, ...args);
      } catch (err) {
        // The first throw names the innermost open function; outer frames only pass it on.
        trace.stop ??= { kind: 'throw', message: err instanceof Error ? err.message : String(err), stack: open.map((f) => f.fn) };
        open.pop();
        throw err;
      }
      frame.exit = snapshot(v);
      frame.ret = json(result);
      open.pop();
      return result;
    };
  }
  const model = { version, ops: Object.freeze(wrapped) as unknown as KvmOps, invariants: version.invariants?.length ? version.invariants : null };
  const run = (): void => {
    for (let i = 0; i < stream.events.length && i <= to; i++) {
      if (i < from) {
        step(base, v, stream.events[i]!);
        continue;
      }
      beginStep(v);
      const frame: Frame = { fn: STEP_FN, step: i, args: '', entry: snapshot(v), exit: null, ret: '', children: [] };
      trace.steps.push(frame);
      open.length = 0;
      open.push(frame);
      const obs = step(model, v, stream.events[i]!);
      frame.exit = snapshot(v);
      frame.ret = json(obs.skipped ? 'skipped' : eventsView(obs));
    }
  };
  try {
    runWithTimeout(run, hangMs);
  } catch (err) {
    if (err instanceof HangError) {
      // The watchdog ends the run without unwinding through the wrappers: what is open is where it hung.
      trace.stop = { kind: 'hang', message: `no result within ${hangMs} ms`, stack: open.slice(1).map((f) => f.fn) };
    } else if (!trace.stop) {
      // Thrown by the step's own code, outside every table function.
      trace.stop = { kind: 'throw', message: err instanceof Error ? err.message : String(err), stack: [] };
    }
  }
  return trace;
}

/** What a step hands to userspace beyond the state: the KVM_GET_VCPU_EVENTS view. */
function eventsView(obs: Record<string, Primitive>): Record<string, Primitive> | undefined {
  if (obs['events.nmi_pending'] === null) return undefined;
  const out: Record<string, Primitive> = {};
  for (const key in obs) if (key.startsWith('events.')) out[key] = obs[key]!;
  return out;
}

/**
 * Where inside step `at` a stream breaks an invariant for good: the stream runs plainly up
 * to that step, then that step runs with every table function wrapped so that the
 * invariant's check is evaluated on the live state at each call and each return. Where it
 * last turns from holding to failing, the code that ran since the previous evaluation ran
 * in one function: the caller of the function being entered, or the function returning.
 * That function is the answer, with the table functions open then, outermost first; code
 * outside every table function (the step's own, the CPU model's) gives `cpu`. The check
 * runs on states in the middle of a step here; one that throws there counts as holding.
 */
export function invariantSite(version: Version, stream: Stream, at: number, check: (v: VcpuState, e: Stream['events'][number]) => string | null, hangMs = 2000): { fn: string; stack: string[] } {
  const base = makeModel(version);
  const v = createState(stream.config);
  const event = stream.events[at]!;
  const open: string[] = [];
  const outside = { fn: STEP_FN, stack: [] as string[] };
  let site = outside;
  let ok = true; // the rule held after the step before (the violation is the stream's first)
  const holds = (): boolean => {
    try {
      return check(v, event) === null;
    } catch {
      return true;
    }
  };
  const look = (): void => {
    const now = holds();
    if (ok && !now) site = open.length ? { fn: open[open.length - 1]!, stack: [...open] } : outside;
    ok = now;
  };
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(base.ops)) {
    const original = fn as (k: KvmOps, v: VcpuState, ...args: unknown[]) => unknown;
    wrapped[name] = (k: KvmOps, x: VcpuState, ...args: unknown[]): unknown => {
      look(); // what ran since the last look ran in the caller
      open.push(name);
      try {
        return original(k, x, ...args);
      } finally {
        look(); // ... and here in this function
        open.pop();
      }
    };
  }
  const model = { version, ops: Object.freeze(wrapped) as unknown as KvmOps, invariants: null };
  try {
    runWithTimeout(() => {
      for (let i = 0; i < at; i++) advance(base, v, stream.events[i]!);
      advance(model, v, event);
      look();
    }, hangMs);
  } catch {
    return outside;
  }
  return ok ? outside : site;
}
