// The minimizer: shrinks a diverging stream to a small one with the same signature.
//
// Why these passes. A fuzzed divergence is a long stream of which a handful of events
// matter; the rest is padding the generator and mutators left behind. The passes go from
// coarse to fine, the way Hypothesis' shrinker and syzkaller's minimization do:
//
//   truncate         one call removes every event after the first differing step; a step
//                    after the divergence cannot change what diverged first.
//   remove-chunks    ddmin-like deletion of contiguous runs, from len/2 down to 2 events:
//                    a few calls drop most of the padding when it sits in blocks.
//   remove-single    each event alone. This pass is what makes the result 1-minimal:
//                    at the fixed point it has just tried every single removal and the
//                    oracle rejected all of them.
//   reset-fields     each field that is not at its table default goes back to it (for a
//                    flag set, also one flag at a time towards the default), so that the
//                    text form of the reproducer shows only the values that matter.
//   simplify-config  each knob that is not at its default goes back to it, last because
//                    a knob changes which events are legal (skips), so it is the most
//                    disruptive change and the cheapest to try once the stream is short.
//
// Structure before fields before config: deleting an event removes all its fields at
// once, so resetting fields of events that are about to go would waste calls. Worse, a
// reset can give a padding event a reason to stay: with the field that made event A the
// cause at its default, a padding event B that does the same job becomes necessary, and
// the result is a longer local minimum (seen on the seed-2 stream: an injected vector reset
// to none while a padding guest fault, whose reinjection is cut instead, was still there).
// So a round runs the list in order and ends as soon as a pass makes progress: the list
// starts over from the top, and a finer pass only ever sees a stream on which every
// coarser pass has just failed. The minimizer stops when a whole round makes no progress
// (a fixed point). Rounds repeat because a later pass can unlock an earlier one: a reset
// field or knob can make an event skipped, hence removable, and a removal can move the
// divergence earlier, so truncate cuts again. (Measured on the seed streams padded with
// up to 30 random events: restarting costs 5-7% more oracle calls than running the
// whole list each round, and removes the seed-2 local minima.)
//
// What the result is: 1-minimal (no single event can go, no single field or knob can be
// reset), not a global minimum. Two events that are each needed only because of the other
// (say a padding event that blocks something and a later one that unblocks it) stay.
//
// Why the same-signature predicate. The oracle is not "does it still diverge" but "does it
// still diverge *the same way*" (same divergence kind, event kind at the first differing
// step and set of differing field paths). With the weaker predicate a shrink slips from a
// rare bug to the most common one (Hypothesis calls this slipping) and the bucket's
// reproducer ends up showing another bug; libFuzzer's minimizer stops for the same reason
// as soon as the dedup token changes. The oracle is supplied by the caller, so this file
// knows nothing of models or pairs.
//
// Why "strictly simpler". A candidate is accepted only if the oracle keeps it and it is
// strictly smaller in a fixed order: shorter; at equal length fewer non-default event
// fields; then fewer non-default knobs; then a smaller distance of flag sets from their
// defaults (which lets a single-flag step count as progress). Every acceptance decreases
// this tuple of naturals, so the loop terminates and the result is never more complex
// than the input whatever the oracle does. Candidates that are not strictly simpler are
// never run.
//
// Every oracle call is counted against the pass that made it; a cache keyed by the
// printed text form (canonical: flags in table order, defaults left out) means the oracle
// never runs twice on the same stream. No randomness: same input and oracle, same result.
// No event kind or knob is named here: everything is read from the alphabet and knob tables.

import { specOf, type FieldSpec, type SvmEvent } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, type SvmConfig } from '../../models/svm/config.js';
import { printStream, type Stream } from '../text/text.js';

export interface Verdict {
  keep: boolean;
  /** The first differing step of the candidate (what `truncate` cuts after), if known. */
  divergenceStep: number | null;
}

/** Decides whether a candidate still shows the bug: same signature as the original. */
export type Oracle = (s: Stream) => Verdict;

export interface PassStats {
  /** Oracle executions made by the pass (cache hits are free). The start stream's own run is truncate's: it needs that verdict. */
  calls: number;
  /** Candidates the pass got accepted (each made the stream strictly simpler). */
  successes: number;
}

export interface MinimizeResult {
  stream: Stream;
  /** Oracle executions in all (the sum of the passes' calls). */
  executions: number;
  passes: Record<string, PassStats>;
  /** Rounds over the pass list, each ended early by the first pass that made progress; the last made none (unless exhausted). */
  rounds: number;
  /** The budget ran out: the result is kept by the oracle but maybe not 1-minimal. */
  exhausted: boolean;
  /** The caller's `stop` ended it (a signal, a deadline): the result is the best so far. */
  interrupted: boolean;
}

export class MinimizeError extends Error {}

/** 20000 oracle calls: a padded 1000-event stream needs a few thousand; this is the cap. */
export const DEFAULT_MAX_EXECUTIONS = 20_000;

// ---- the simplicity order -------------------------------------------------------------

type Fields = Record<string, unknown>;
const fieldsOf = (e: SvmEvent): Fields => e as unknown as Fields;
const configOf = (c: SvmConfig): Fields => c as unknown as Fields;

function isDefault(f: FieldSpec, value: unknown): boolean {
  if (f.type !== 'flags') return value === f.default;
  const v = value as readonly string[];
  return v.length === f.default.length && v.every((x, i) => x === f.default[i]);
}

/** How many flags must be toggled to bring the set to its default (symmetric difference). */
function flagDistance(f: FieldSpec, value: unknown): number {
  if (f.type !== 'flags') return 0;
  const v = value as readonly string[];
  return v.filter((x) => !f.default.includes(x)).length + f.default.filter((x) => !v.includes(x)).length;
}

/** The tuple the order compares lexicographically: [length, fields, knobs, flag distance]. */
function complexity(s: Stream): [number, number, number, number] {
  let fields = 0;
  let flags = 0;
  for (const e of s.events) {
    for (const [name, f] of Object.entries(specOf(e.kind)!.fields)) {
      const value = fieldsOf(e)[name];
      if (!isDefault(f, value)) fields++;
      flags += flagDistance(f, value);
    }
  }
  const knobs = KNOB_NAMES.filter((n) => configOf(s.config)[n] !== KNOBS[n].default).length;
  return [s.events.length, fields, knobs, flags];
}

/** Is `a` strictly simpler than `b`: shorter; then fewer non-default fields; then knobs; then flag distance. */
export function simpler(a: Stream, b: Stream): boolean {
  const ca = complexity(a);
  const cb = complexity(b);
  for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return ca[i]! < cb[i]!;
  return false;
}

// ---- the context the passes work through ----------------------------------------------

class BudgetExhausted extends Error {}

/** What a pass sees: the current best and one way to propose a candidate. */
export interface PassContext {
  /** The current best stream (replaced by every accepted candidate). */
  readonly best: Stream;
  /** The oracle's verdict on the current best (runs the oracle once for the start stream). */
  bestVerdict(): Verdict;
  /** Proposes a candidate; true if it was accepted and is now `best`. */
  consider(candidate: Stream): boolean;
}

export interface Pass {
  readonly name: string;
  readonly doc: string;
  readonly run: (ctx: PassContext) => void;
}

class Minimizer implements PassContext {
  best: Stream;
  private verdict: Verdict | null = null;
  private readonly cache = new Map<string, Verdict>();
  readonly stats: Record<string, PassStats> = {};
  executions = 0;
  current = '';

  /** `stop` said so: the result is the best so far, not a fixed point. */
  interrupted = false;

  constructor(start: Stream, private readonly oracle: Oracle, private readonly max: number, private readonly stop?: () => boolean) {
    this.best = start;
    for (const p of PASSES) this.stats[p.name] = { calls: 0, successes: 0 };
  }

  private execute(s: Stream): Verdict {
    const key = printStream(s);
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (this.executions >= this.max) throw new BudgetExhausted();
    if (this.stop?.()) {
      this.interrupted = true;
      throw new BudgetExhausted();
    }
    this.executions++;
    this.stats[this.current]!.calls++;
    const v = this.oracle(s);
    const verdict: Verdict = { keep: v.keep, divergenceStep: v.divergenceStep };
    this.cache.set(key, verdict);
    return verdict;
  }

  bestVerdict(): Verdict {
    if (!this.verdict) {
      this.verdict = this.execute(this.best);
      if (!this.verdict.keep) throw new MinimizeError('minimize: the oracle rejects the start stream (is it deterministic?)');
    }
    return this.verdict;
  }

  consider(candidate: Stream): boolean {
    if (!simpler(candidate, this.best)) return false;
    const v = this.execute(candidate);
    if (!v.keep) return false;
    this.best = candidate;
    this.verdict = v;
    this.stats[this.current]!.successes++;
    return true;
  }
}

// ---- the passes -----------------------------------------------------------------------

const withEvents = (s: Stream, events: SvmEvent[]): Stream => ({ config: s.config, events });
const without = (s: Stream, from: number, to: number): Stream => withEvents(s, [...s.events.slice(0, from), ...s.events.slice(to)]);

function withField(s: Stream, i: number, name: string, value: unknown): Stream {
  const events = [...s.events];
  events[i] = { ...fieldsOf(s.events[i]!), [name]: value } as unknown as SvmEvent;
  return withEvents(s, events);
}

const copyDefault = (f: FieldSpec): unknown => (Array.isArray(f.default) ? [...f.default] : f.default);

/**
 * The flag sets one toggle closer to the default: each extra flag removed, each missing
 * default flag put back (in table order, the canonical form).
 * e.g. default a|b, value b|c → b (c removed) and a|b|c (a put back).
 */
function flagSteps(f: Extract<FieldSpec, { type: 'flags' }>, value: readonly string[]): string[][] {
  const out: string[][] = [];
  for (const flag of f.values) {
    const has = value.includes(flag);
    if (has === f.default.includes(flag)) continue;
    out.push(f.values.filter((x) => (x === flag ? !has : value.includes(x))));
  }
  return out;
}

export const PASSES: readonly Pass[] = [
  {
    name: 'truncate',
    doc: 'Cuts every event after the first differing step. e.g. a divergence at step 3 of a 200-event stream: one call leaves 4 events.',
    run: (ctx) => {
      const step = ctx.bestVerdict().divergenceStep;
      if (step !== null && step + 1 < ctx.best.events.length) ctx.consider(withEvents(ctx.best, ctx.best.events.slice(0, step + 1)));
    },
  },
  {
    name: 'remove-chunks',
    doc: 'Removes contiguous chunks of n events, n halving from len/2 down to 2, scanning from the end. e.g. 16 irrelevant events before the bug go in one call.',
    run: (ctx) => {
      // Halving rounds up so that the last size is always 2 (7 → 3 → 2, not 3 → 1).
      for (let n = Math.floor(ctx.best.events.length / 2); n >= 2; n = n === 2 ? 1 : Math.ceil(n / 2)) {
        // Chunks are aligned to the end; after a removal the events before `from` keep their
        // indices, so the scan continues just before the removed chunk either way.
        for (let end = ctx.best.events.length; end > 0;) {
          const from = Math.max(0, end - n);
          ctx.consider(without(ctx.best, from, end));
          end = from;
        }
      }
    },
  },
  {
    name: 'remove-single',
    doc: 'Removes each event alone, from the end, until a scan removes nothing. e.g. a stray read-only ioctl between the two events that matter. At the fixed point this makes the result 1-minimal.',
    run: (ctx) => {
      // Scans again until a whole scan removes nothing: removing event i can make an event
      // after it removable (event i completed an event delivery that a later event then
      // completed in its stead), and that must happen before reset-fields gives the later
      // event a reason to stay (a default field that moves the delivery onto it).
      for (let progress = true; progress;) {
        progress = false;
        for (let i = ctx.best.events.length - 1; i >= 0; i--) if (ctx.consider(without(ctx.best, i, i + 1))) progress = true;
      }
    },
  },
  {
    name: 'reset-fields',
    doc: 'Sets each non-default event field to its table default; for a flag set, also one flag at a time towards the default. e.g. an intercept set a|b|c → its default a|b when c plays no part.',
    run: (ctx) => {
      for (let i = 0; i < ctx.best.events.length; i++) {
        for (const [name, f] of Object.entries(specOf(ctx.best.events[i]!.kind)!.fields)) {
          if (isDefault(f, fieldsOf(ctx.best.events[i]!)[name])) continue;
          if (ctx.consider(withField(ctx.best, i, name, copyDefault(f))) || f.type !== 'flags') continue;
          // Re-read the value after every accepted step: it is the best's now.
          for (let more = true; more;) {
            more = false;
            for (const next of flagSteps(f, fieldsOf(ctx.best.events[i]!)[name] as string[])) {
              if (ctx.consider(withField(ctx.best, i, name, next))) { more = true; break; }
            }
          }
        }
      }
    },
  },
  {
    name: 'simplify-config',
    doc: 'Sets each knob that differs from its default back to the default. e.g. a reproducer found with a feature switched off that plays no part in the bug.',
    run: (ctx) => {
      for (const name of KNOB_NAMES) {
        if (configOf(ctx.best.config)[name] === KNOBS[name].default) continue;
        ctx.consider({ config: { ...ctx.best.config, [name]: KNOBS[name].default }, events: ctx.best.events });
      }
    },
  },
];

// ---- the loop -------------------------------------------------------------------------

/**
 * Shrinks `start` under `oracle` (which must keep `start`) to a fixed point of PASSES, or
 * until `maxExecutions` oracle calls. Without exhaustion the result is 1-minimal: removing
 * any single event makes the oracle reject.
 */
export function minimize(start: Stream, oracle: Oracle, opts: { maxExecutions?: number; stop?: () => boolean } = {}): MinimizeResult {
  const m = new Minimizer(start, oracle, opts.maxExecutions ?? DEFAULT_MAX_EXECUTIONS, opts.stop);
  let rounds = 0;
  let exhausted = false;
  try {
    for (let progress = true; progress;) {
      rounds++;
      progress = false;
      for (const pass of PASSES) {
        m.current = pass.name;
        const before = m.stats[pass.name]!.successes;
        pass.run(m);
        // Progress ends the round: the list starts over, coarse passes first (see the essay).
        if (m.stats[pass.name]!.successes > before) { progress = true; break; }
      }
    }
  } catch (err) {
    if (!(err instanceof BudgetExhausted)) throw err;
    exhausted = true;
  }
  return { stream: m.best, executions: m.executions, passes: m.stats, rounds, exhausted, interrupted: m.interrupted };
}
