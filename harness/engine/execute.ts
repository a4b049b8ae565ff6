// Runs a stream on one or two model versions in lock step and finds the first step
// whose observations differ. A model that throws ends its side: the step is a
// divergence of kind left-throws / right-throws.

import { advance, makeModel, step, type Model } from '../../models/svm/model.js';
import { createState, cloneState, copyState, emptyArray, initialState, sameApartFromHardware, type VcpuState } from '../../models/svm/state.js';
import type { SvmEvent } from '../../models/svm/events.js';
import { latent, latentDiff, diffRecords, abstractState, observeStep, sameObservation, OBSERVATION_KEYS, type Observation, type Primitive } from '../../models/svm/observe.js';
import { stepFeatures } from './coverage.js';
import { runWithTimeout, HangError } from './watchdog.js';
import type { Version } from '../../models/svm/versions.js';
import type { Stream } from '../text/text.js';

export interface FieldDiff {
  path: string;
  left: Primitive;
  right: Primitive;
}

/** The `event` of a latent divergence. */
export const LATENT_EVENT = '(end)';

/**
 * observable: a step's observations differ; latent: internal state differs at the end;
 * left-/right-throws: a model threw; hang: a stream exceeded the time budget.
 */
/** crash: a lane's thread died running the stream (the model exited or exhausted memory). */
export type DivergenceKind = 'observable' | 'latent' | 'left-throws' | 'right-throws' | 'hang' | 'crash';

/**
 * Where the hot path is: read after a watchdog interrupts a hanging execution (the
 * interrupted code cannot report it itself). Two stores per step.
 */
export const progress = { step: -1, side: 0 };

export interface Divergence {
  kind: DivergenceKind;
  /** Step index (0-based); for latent, the last step. */
  step: number;
  event: string;
  fields: FieldDiff[];
  error?: string;
}

export interface PairStep {
  left: Observation | null;
  right: Observation | null;
  diff: FieldDiff[];
}

export interface PairRun {
  steps: PairStep[];
  firstDivergence: Divergence | null;
  /** Latent differences at the end (only when no observable divergence came first). */
  latent: FieldDiff[];
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

function safeStep(model: Model, v: ReturnType<typeof createState>, e: Stream['events'][number]): Observation | Error {
  try {
    return step(model, v, e);
  } catch (err) {
    return asError(err);
  }
}

/** One lock step of both models, recording where the hot path is for the watchdog. */
function stepBoth(ml: Model, mr: Model, sl: VcpuState, sr: VcpuState, e: SvmEvent, i: number): [Observation | Error, Observation | Error] {
  progress.step = i;
  progress.side = 0;
  const ol = safeStep(ml, sl, e);
  progress.side = 1;
  return [ol, safeStep(mr, sr, e)];
}

/**
 * Runs both versions on the stream, recording every step (for trace and reports). With
 * `timeoutMs`, a model that does not return ends the run as a `hang` divergence at the
 * step it was running, with the steps before it kept.
 */
export function runPair(left: Version, right: Version, stream: Stream, timeoutMs?: number): PairRun {
  if (timeoutMs === undefined) return runPairSteps(left, right, stream, []);
  const steps: PairStep[] = [];
  try {
    return runWithTimeout(() => runPairSteps(left, right, stream, steps), timeoutMs);
  } catch (err) {
    if (!(err instanceof HangError)) throw err;
    const step = Math.max(0, progress.step);
    const side = progress.side === 0 ? 'left' : 'right';
    return {
      steps,
      firstDivergence: { kind: 'hang', step, event: stream.events[step]?.kind ?? '(none)', fields: [], error: `the ${side} model does not return (no result within ${timeoutMs} ms)` },
      latent: [],
    };
  }
}

function runPairSteps(left: Version, right: Version, stream: Stream, steps: PairStep[]): PairRun {
  const ml = makeModel(left);
  const mr = makeModel(right);
  const sl = createState(stream.config);
  const sr = createState(stream.config);
  let first: Divergence | null = null;
  for (let i = 0; i < stream.events.length; i++) {
    const e = stream.events[i]!;
    const [ol, or] = stepBoth(ml, mr, sl, sr, e, i);
    if (ol instanceof Error || or instanceof Error) {
      const kind = ol instanceof Error ? 'left-throws' : 'right-throws';
      const err = (ol instanceof Error ? ol : or) as Error;
      steps.push({ left: ol instanceof Error ? null : ol, right: or instanceof Error ? null : or, diff: [] });
      first ??= { kind, step: i, event: e.kind, fields: [], error: err.message };
      return { steps, firstDivergence: first, latent: [] };
    }
    const diff = diffRecords(ol, or);
    steps.push({ left: ol, right: or, diff });
    if (diff.length && !first) first = { kind: 'observable', step: i, event: e.kind, fields: diff };
  }
  const latentDiff = diffRecords(latent(sl), latent(sr));
  if (!first && latentDiff.length && stream.events.length) {
    first = { kind: 'latent', step: stream.events.length - 1, event: LATENT_EVENT, fields: latentDiff };
  }
  return { steps, firstDivergence: first, latent: latentDiff };
}

/** Runs one version (trace --version). */
/**
 * One version alone, step by step. A model that throws or does not return within
 * `timeoutMs` ends the run at that step (`stop`); the observations before it are kept.
 */
export function runSingle(version: Version, stream: Stream, timeoutMs = 10_000): {
  observations: Observation[]; latent: Observation; stop: { step: number; kind: 'throws' | 'hang'; message: string } | null;
} {
  const m = makeModel(version);
  const v = createState(stream.config);
  const observations: Observation[] = [];
  let stop: { step: number; kind: 'throws' | 'hang'; message: string } | null = null;
  try {
    runWithTimeout(() => { for (const e of stream.events) observations.push(step(m, v, e)); }, timeoutMs);
  } catch (err) {
    stop = err instanceof HangError
      ? { step: observations.length, kind: 'hang', message: `the model does not return (no result within ${timeoutMs} ms)` }
      : { step: observations.length, kind: 'throws', message: err instanceof Error ? err.message : String(err) };
  }
  return { observations, latent: latent(v), stop };
}

/** The outcome of one fuzz execution: the first divergence and the transitions seen. */
export interface Execution {
  divergence: Divergence | null;
  /** The observations at the first divergence (for the entry), else null. */
  at: { left: Observation | null; right: Observation | null } | null;
  transitions: number[];
}

/**
 * Both models' states after the first `step` events of a stream, and the coverage the
 * execution had recorded by then (`prefix`: its transitions so far, `al`/`ar` the abstract
 * states): a mutated stream that keeps those events runs on from here. Never mutated:
 * an execution starts from copies. While the two states were one, `left` and `right` are
 * the same object.
 */
export interface Snapshot {
  readonly step: number;
  readonly left: VcpuState;
  readonly right: VcpuState;
  readonly al: number;
  readonly ar: number;
  readonly prefix: readonly number[];
}

export interface ExecOptions {
  /**
   * Start after `from.step` events, from copies of its states. The stream's first
   * `from.step` events must be those the snapshot was taken on, with the same config and
   * models. The result is the one a run from the start gives, transitions included.
   */
  from?: Snapshot;
  /** Two states the caller owns, overwritten with the snapshot's, or the initial state without one (no allocation per run). */
  into?: readonly [VcpuState, VcpuState];
  /** Take a snapshot after every `every`-th step from `from.step` up to `upto`, into `out` (in order). */
  capture?: { every: number; upto: number; out: Snapshot[] };
  /**
   * A list the caller owns for the execution's transitions (emptied first, returned as
   * `transitions`): a caller that keeps them copies them, so a run allocates no new list.
   */
  transitions?: number[];
  /** false: both models make every step (the reference a shared run is tested against). */
  share?: boolean;
}


/**
 * One model standing for both while their states are one: the left version's table with
 * every entry the right version holds differently wrapped to raise `touched`. A step that
 * raises nothing ran only code both versions share (models call each other only through
 * their table, and read nothing but the state and the event), so the right model would
 * have made the same step: its state is the left one's. Null when the two check different
 * invariants after each step.
 */
interface Sharing {
  readonly model: Model;
  readonly touched: { on: boolean };
  /** How many entries differ (0: the two tables are one). */
  readonly differing: number;
}
const SHARING = new WeakMap<Model, WeakMap<Model, Sharing | null>>();

export function sharingOf(ml: Model, mr: Model): Sharing | null {
  let byRight = SHARING.get(ml);
  if (!byRight) SHARING.set(ml, (byRight = new WeakMap()));
  let sh = byRight.get(mr);
  if (sh !== undefined) return sh;
  sh = null;
  if (ml.invariants === mr.invariants) {
    const touched = { on: false };
    const left = ml.ops as unknown as Record<string, (...a: unknown[]) => unknown>;
    const right = mr.ops as unknown as Record<string, unknown>;
    const ops: Record<string, unknown> = { ...left };
    let differing = 0;
    for (const name of new Set([...Object.keys(left), ...Object.keys(right)])) {
      if (left[name] === right[name]) continue;
      differing++;
      const f = left[name];
      // Fixed arity (no rest array per call): table functions take at most a few arguments.
      ops[name] = typeof f === 'function'
        ? (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, g: unknown, h: unknown) => { touched.on = true; return f(a, b, c, d, e, g, h); }
        : f;
    }
    sh = { model: Object.freeze({ version: ml.version, ops: Object.freeze(ops) as unknown as Model['ops'], invariants: ml.invariants }), touched, differing };
  }
  byRight.set(mr, sh);
  return sh;
}

/**
 * The fuzzing hot path: both models in lock step, stopping at the first observable
 * divergence (or throw); latent state is compared at the end of an equal run.
 *
 * While the two states are one (from the start, or from a snapshot taken while they were),
 * only the left model runs, through sharingOf's table. At the first step that reaches an
 * entry the versions hold differently the right model takes a state of its own, replayed
 * from where the run started up to that step, and the run goes on as two. On the built-in
 * pairs this skips the right model's steps before the first use of a changed function.
 */
export function executePair(ml: Model, mr: Model, stream: Stream, withCoverage = true, opts?: ExecOptions): Execution {
  const from = opts?.from;
  const share = opts?.share === false ? null : sharingOf(ml, mr);
  let shared = share !== null && (!from || from.left === from.right);
  // A side's starting state, in the caller's state when it gave one.
  const place = (side: 0 | 1): VcpuState => {
    const into = opts?.into;
    const src = from ? (side === 0 ? from.left : from.right) : null;
    if (into) {
      // A fresh run copies the config's initial state: cheaper than building one.
      copyState(into[side], src ?? initialState(stream.config));
      return into[side];
    }
    return src ? cloneState(src) : createState(stream.config);
  };
  const sl = place(0);
  let sr: VcpuState = shared ? sl : place(1);
  let transitions: number[];
  if (opts?.transitions) {
    transitions = opts.transitions;
    emptyArray(transitions);
    if (from) for (let i = 0, p = from.prefix; i < p.length; i++) transitions.push(p[i]!);
  } else transitions = from ? from.prefix.slice() : [];
  let al = from ? from.al : withCoverage ? abstractState(sl) : 0;
  let ar = from ? from.ar : withCoverage ? abstractState(sr) : 0;
  const events = stream.events;
  const capture = opts?.capture;
  const first = from ? from.step : 0;
  for (let i = first; i < events.length; i++) {
    const e = events[i]!;
    // Both sides advance without building observation records (model.ts advance()); a
    // throw ends its side, as in runPair.
    progress.step = i;
    progress.side = 0;
    let errL: Error | null = null;
    let errR: Error | null = null;
    if (shared) {
      share!.touched.on = false;
      try {
        advance(share!.model, sl, e);
      } catch (err) {
        errL = asError(err);
      }
      if (!share!.touched.on) {
        // Shared code only: the right model would have done the same (thrown the same too).
        if (errL) return { divergence: { kind: 'left-throws', step: i, event: e.kind, fields: [], error: errL.message }, at: { left: null, right: null }, transitions };
        if (withCoverage) {
          const n = abstractState(sl);
          stepFeatures(0, al, e.kind, n, transitions);
          al = ar = n;
        }
        if (capture && (i + 1) % capture.every === 0 && i < capture.upto) {
          const both = cloneState(sl);
          capture.out.push({ step: i + 1, left: both, right: both, al, ar, prefix: transitions.slice() });
        }
        continue;
      }
      // The step reached a changed function: the right side gets its own state, at the
      // start of this step (the steps before it ran shared code only), and makes the step.
      shared = false;
      progress.side = 1;
      sr = place(1);
      for (let j = first; j < i; j++) advance(mr, sr, events[j]!);
      try {
        advance(mr, sr, e);
      } catch (err) {
        errR = asError(err);
      }
    } else {
      try {
        advance(ml, sl, e);
      } catch (err) {
        errL = asError(err);
      }
      progress.side = 1;
      try {
        advance(mr, sr, e);
      } catch (err) {
        errR = asError(err);
      }
    }
    if (errL || errR) {
      return {
        divergence: { kind: errL ? 'left-throws' : 'right-throws', step: i, event: e.kind, fields: [], error: (errL ?? errR)!.message },
        at: { left: errL ? null : observeStep(sl), right: errR ? null : observeStep(sr) },
        transitions,
      };
    }
    if (withCoverage) {
      const nl = abstractState(sl);
      const nr = abstractState(sr);
      stepFeatures(0, al, e.kind, nl, transitions);
      if (nr !== nl || ar !== al) stepFeatures(1, ar, e.kind, nr, transitions);
      al = nl;
      ar = nr;
    }
    if (!sameObservation(sl, sr)) {
      const ol = observeStep(sl);
      const or = observeStep(sr);
      for (let k = 0; k < OBSERVATION_KEYS.length; k++) {
        const key = OBSERVATION_KEYS[k]!;
        if (ol[key] !== or[key]) {
          return { divergence: { kind: 'observable', step: i, event: e.kind, fields: diffRecords(ol, or) }, at: { left: ol, right: or }, transitions };
        }
      }
    }
    if (capture && (i + 1) % capture.every === 0 && i < capture.upto) {
      capture.out.push({ step: i + 1, left: cloneState(sl), right: cloneState(sr), al, ar, prefix: transitions.slice() });
    }
  }
  // Still one state: nothing latent can differ.
  if (shared) return { divergence: null, at: null, transitions };
  if (events.length && !sameApartFromHardware(sl, sr)) {
    const fields = latentDiff(sl, sr);
    if (fields.length) {
      // A latent difference has no step of its own: it is keyed as '(end)', not by the
      // last event, so one internal difference is one bucket whatever the stream ends with.
      return { divergence: { kind: 'latent', step: events.length - 1, event: LATENT_EVENT, fields }, at: null, transitions };
    }
  }
  return { divergence: null, at: null, transitions };
}
