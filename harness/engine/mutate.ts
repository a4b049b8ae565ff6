// Named, weighted mutators. Each takes a stream and returns a new one, or null when it
// does not apply (libFuzzer's "return 0"). The names of the mutators that made an input
// travel with it as its lineage (printed like libFuzzer's "MS: 2 insert-swap-").

import { specOf, type SvmEvent } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, type KnobSpec } from '../../models/svm/config.js';
import type { Model } from '../../models/svm/model.js';
import type { VcpuState } from '../../models/svm/state.js';
import { pickEvent, randomField, stateAfter } from './generate.js';
import type { Rng } from './rng.js';
import type { Stream } from '../text/text.js';

export interface MutationContext {
  rng: Rng;
  /** The model generation runs in context (the pair's left version). */
  model: Model;
  /** Other interesting inputs, for splicing. */
  corpus: readonly Stream[];
  maxLen: number;
  /**
   * The state `model` reaches after the first `upto` events of `s`, when the caller has it
   * at hand cheaper than a replay (a snapshot of the parent), else null. Read only: it may
   * be the snapshot itself.
   */
  stateAt?: (s: Stream, upto: number) => VcpuState | null;
}

export interface Mutator {
  name: string;
  weight: number;
  doc: string;
  apply(ctx: MutationContext, s: Stream): Stream | null;
}

const withEvents = (s: Stream, events: SvmEvent[]): Stream => ({ config: s.config, events });

/** The field names of each event kind, in the table's order (looked up per mutation). */
const FIELD_NAMES = new Map<string, string[]>();
function fieldNames(kind: string): string[] {
  let names = FIELD_NAMES.get(kind);
  if (names === undefined) FIELD_NAMES.set(kind, (names = Object.keys(specOf(kind)?.fields ?? {})));
  return names;
}

/** Field values are primitives or flag lists (arrays of strings). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const MUTATORS: readonly Mutator[] = [
  {
    name: 'insert', weight: 6, doc: 'insert an event legal in the state reached at a random position',
    apply({ rng, model, maxLen, stateAt }, s) {
      if (s.events.length >= maxLen) return null;
      const at = rng.int(s.events.length + 1);
      const e = pickEvent(rng, stateAt?.(s, at) ?? stateAfter(model, s, at));
      return withEvents(s, [...s.events.slice(0, at), e, ...s.events.slice(at)]);
    },
  },
  {
    name: 'append', weight: 4, doc: 'append an event legal at the end (grows streams into deep states)',
    apply({ rng, model, maxLen, stateAt }, s) {
      if (s.events.length >= maxLen) return null;
      const at = s.events.length;
      return withEvents(s, [...s.events, pickEvent(rng, stateAt?.(s, at) ?? stateAfter(model, s, at))]);
    },
  },
  {
    name: 'remove', weight: 3, doc: 'remove one event',
    apply({ rng }, s) {
      if (s.events.length < 2) return null;
      const at = rng.int(s.events.length);
      return withEvents(s, s.events.filter((_, i) => i !== at));
    },
  },
  {
    name: 'duplicate', weight: 2, doc: 'repeat a chunk of 1-4 events right after itself',
    apply({ rng, maxLen }, s) {
      if (!s.events.length) return null;
      const at = rng.int(s.events.length);
      const len = 1 + rng.int(Math.min(4, s.events.length - at));
      if (s.events.length + len > maxLen) return null;
      const chunk = s.events.slice(at, at + len);
      return withEvents(s, [...s.events.slice(0, at + len), ...chunk, ...s.events.slice(at + len)]);
    },
  },
  {
    name: 'swap', weight: 2, doc: 'swap two neighbouring events',
    apply({ rng }, s) {
      if (s.events.length < 2) return null;
      const at = rng.int(s.events.length - 1);
      const ev = [...s.events];
      [ev[at], ev[at + 1]] = [ev[at + 1]!, ev[at]!];
      return withEvents(s, ev);
    },
  },
  {
    name: 'splice', weight: 2, doc: 'a prefix of this stream followed by a suffix of another corpus input',
    apply({ rng, corpus, maxLen }, s) {
      if (!corpus.length || !s.events.length) return null;
      const other = rng.pick(corpus);
      if (!other.events.length) return null;
      const a = 1 + rng.int(s.events.length);
      const b = rng.int(other.events.length);
      return withEvents(s, [...s.events.slice(0, a), ...other.events.slice(b)].slice(0, maxLen));
    },
  },
  {
    name: 'truncate', weight: 1, doc: 'cut the stream at a random point',
    apply({ rng }, s) {
      if (s.events.length < 2) return null;
      return withEvents(s, s.events.slice(0, 1 + rng.int(s.events.length - 1)));
    },
  },
  {
    name: 'change-field', weight: 5, doc: 'give one field of one event another value from its domain',
    apply({ rng }, s) {
      const withFields: number[] = [];
      for (let i = 0; i < s.events.length; i++) if (fieldNames(s.events[i]!.kind).length) withFields.push(i);
      if (!withFields.length) return null;
      const i = rng.pick(withFields);
      const e = s.events[i]!;
      const fields = specOf(e.kind)!.fields;
      const name = rng.pick(fieldNames(e.kind));
      const before = (e as unknown as Record<string, unknown>)[name];
      let value = randomField(rng, fields[name]!, false);
      for (let t = 0; t < 4 && sameValue(value, before); t++) value = randomField(rng, fields[name]!, false);
      if (sameValue(value, before)) return null;
      const next = { ...e, [name]: value } as SvmEvent;
      const ev = [...s.events];
      ev[i] = next;
      return withEvents(s, ev);
    },
  },
  {
    name: 'change-config', weight: 1, doc: 'give one config knob another value',
    apply({ rng }, s) {
      const name = rng.pick(KNOB_NAMES);
      const value = randomField(rng, KNOBS[name] as KnobSpec, false);
      if (value === s.config[name]) return null;
      return { config: { ...s.config, [name]: value }, events: s.events };
    },
  },
];

const WEIGHTS = MUTATORS.map((m) => m.weight);

/** Applies 1-4 stacked mutations; returns the result and the names of those that applied. */
export function mutate(ctx: MutationContext, s: Stream): { stream: Stream; lineage: string[] } {
  const rounds = 1 + ctx.rng.int(4);
  const lineage: string[] = [];
  let cur = s;
  for (let i = 0; i < rounds * 3 && lineage.length < rounds; i++) {
    const m = MUTATORS[ctx.rng.weighted(WEIGHTS)]!;
    const next = m.apply(ctx, cur);
    if (next) {
      cur = next;
      lineage.push(m.name);
    }
  }
  return { stream: cur, lineage };
}
