// Where two executions of one stream first part inside the model: the lock-step walk of
// two call traces (see calltrace.ts), and the search for the function that produced one
// observed difference.
//
// The walk visits the two trees in call order, a frame of one side beside the frame of
// the other side at the same place:
//   - the same function, but different state (or arguments) at its entry: its caller made
//     the difference, in its own code between the calls;
//   - the same function, equal at entry, different state (or return value) at its return,
//     and none of its calls explains it: that function made the difference;
//   - different calls under the same frame (a patched body that asks one more predicate,
//     or takes another branch): that frame is the cause only if it returns with different
//     state; if it returns with the same state the walk realigns after it and goes on.
// A difference that no table function made (the event's own code, the CPU model) is
// reported at the step's root frame, named `cpu`.

import type { Primitive } from '../../models/svm/observe.js';
import { STEP_FN, type CallTrace, type Frame, type Layout, type Snapshot } from './calltrace.js';

export interface SnapshotDiff {
  path: string;
  left: Primitive;
  right: Primitive;
}

export interface Parting {
  /** The function whose code made the difference (`cpu`: the event's own code). */
  fn: string;
  step: number;
  /** return: its state at return differs; entry: a call it made got different state; calls: it called other functions and returned different state. */
  where: 'return' | 'entry' | 'calls';
  /** The table functions open at that point, outermost first, ending with `fn`. */
  stack: string[];
  /** The differing fields there (state, arguments as `(args)`, return value as `(return)`). */
  fields: SnapshotDiff[];
}

/** Compares two snapshots of one layout, restricted to `only` when given. */
export function diffSnapshots(layout: Layout, a: Snapshot, b: Snapshot, only?: (path: string) => boolean): SnapshotDiff[] {
  const out: SnapshotDiff[] = [];
  const keys = layout.keys;
  for (let i = 0; i < keys.length; i++) {
    if (a[i] === b[i] || (only && !only(keys[i]!))) continue;
    out.push({ path: keys[i]!, left: layout.show(i, a[i] ?? null), right: layout.show(i, b[i] ?? null) });
  }
  return out;
}

/** What a walk compares: the whole snapshot, or a projection of it (the effect search). */
interface Lens {
  layout: Layout;
  only?: (path: string) => boolean;
  /** Whether arguments and return values count (they do for the cause, not for an effect). */
  values: boolean;
}

function entryDiff(a: Frame, b: Frame, lens: Lens): SnapshotDiff[] {
  const d = diffSnapshots(lens.layout, a.entry, b.entry, lens.only);
  if (lens.values && a.args !== b.args) d.push({ path: '(args)', left: a.args, right: b.args });
  return d;
}

function exitDiff(a: Frame, b: Frame, lens: Lens): SnapshotDiff[] {
  const d = diffSnapshots(lens.layout, a.exit!, b.exit!, lens.only);
  if (lens.values && a.ret !== b.ret) d.push({ path: '(return)', left: a.ret, right: b.ret });
  return d;
}

/** Where a walk stopped: the left frame, its right counterpart, and the first child index where their calls differ. */
type Found = { frame: Frame; rframe: Frame; where: Parting['where']; fields: SnapshotDiff[]; stack: string[]; from: number };
/** A frame of one side never returned: the walk cannot go past it. */
const UNFINISHED = Symbol('unfinished');

/** Both frames are equal at entry (under the lens). */
function walkFrame(l: Frame, r: Frame, lens: Lens, stack: string[]): Found | null | typeof UNFINISHED {
  const here = l.fn === STEP_FN ? stack : [...stack, l.fn];
  const n = Math.min(l.children.length, r.children.length);
  let i = 0;
  for (; i < n; i++) {
    const a = l.children[i]!;
    const b = r.children[i]!;
    if (a.fn !== b.fn) break;
    const atEntry = entryDiff(a, b, lens);
    if (atEntry.length) return { frame: l, rframe: r, where: 'entry', fields: atEntry, stack: here, from: i };
    const inner = walkFrame(a, b, lens, here);
    if (inner) return inner;
  }
  if (!l.exit || !r.exit) return UNFINISHED;
  const sameCalls = i === l.children.length && i === r.children.length;
  const atExit = exitDiff(l, r, lens);
  if (!atExit.length) return null;
  return { frame: l, rframe: r, where: sameCalls ? 'return' : 'calls', fields: atExit, stack: here, from: i };
}

function walk(l: CallTrace, r: CallTrace, lens: Lens): Found | null {
  const n = Math.min(l.steps.length, r.steps.length);
  for (let i = 0; i < n; i++) {
    const a = l.steps[i]!;
    const b = r.steps[i]!;
    const atEntry = entryDiff(a, b, lens);
    if (atEntry.length) return { frame: a, rframe: b, where: 'entry', fields: atEntry, stack: [], from: 0 };
    const found = walkFrame(a, b, lens, []);
    if (found === UNFINISHED) return null;
    if (found) return found;
  }
  return null;
}

/** The first point where the two executions part inside the model, or null if they never do. */
export function firstParting(l: CallTrace, r: CallTrace): Parting | null {
  const f = walk(l, r, { layout: l.layout, values: true });
  if (!f) return null;
  // At 'entry' the author is the frame whose code ran between the calls: `f.frame`.
  return { fn: f.frame.fn, step: f.frame.step, where: f.where, stack: f.stack.length ? f.stack : [STEP_FN], fields: f.fields };
}

/**
 * The function that produced a difference in the given fields (observation paths): the
 * walk of `firstParting` restricted to those fields, and where the two sides called
 * different functions, the innermost call on either side whose own code changed them.
 * e.g. a WARN that only one version fires: the function that calls WARN_ON_ONCE.
 */
export function effectSite(l: CallTrace, r: CallTrace, paths: readonly string[]): { fn: string; step: number; stack: string[] } | null {
  const set = new Set(paths);
  const lens: Lens = { layout: l.layout, only: (p) => set.has(p), values: false };
  const f = walk(l, r, lens);
  if (!f) return null;
  if (f.where !== 'calls') return { fn: f.frame.fn, step: f.frame.step, stack: f.stack };
  // The sides called different functions: find, on the side whose calls changed the
  // fields (the right first: the newer version's new behaviour), the innermost such call
  // among those after the point where the calls differ.
  for (const frame of [f.rframe, f.frame]) {
    const inner = innermostChanging(frame, lens, f.stack, f.from);
    if (inner) return inner;
  }
  return { fn: f.frame.fn, step: f.frame.step, stack: f.stack };
}

function innermostChanging(frame: Frame, lens: Lens, stack: readonly string[], from = 0): { fn: string; step: number; stack: string[] } | null {
  for (const c of frame.children.slice(from)) {
    if (!c.exit || !diffSnapshots(lens.layout, c.entry, c.exit, lens.only).length) continue;
    const here = [...stack, c.fn];
    return innermostChanging(c, lens, here) ?? { fn: c.fn, step: c.step, stack: here };
  }
  return null;
}
