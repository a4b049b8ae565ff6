// Model-state coverage: per step of both models of a pair, the mode transition and the
// flag flips of the abstract state under the event kind, counted in a map. An input that adds a transition is interesting and
// joins the corpus; hit counts tell the scheduler which transitions are rare.

import { EVENT_KINDS } from '../../models/svm/events.js';
import { ABSTRACT_FLAG_BITS } from '../../models/svm/observe.js';

const KIND_INDEX = new Map<string, number>(EVENT_KINDS.map((k, i) => [k, i]));
// Feature numbers keep 6 bits for the event kind (63: a kind the table does not know).
if (EVENT_KINDS.length > 63) throw new Error(`coverage: ${EVENT_KINDS.length} event kinds; features hold at most 63`);

/**
 * The coverage features of one step of one side, appended to `out`: the mode transition
 * (mode, kind, mode') and each flag that flipped (flag, kind, new value). At most
 * 18*21*18 + 16*21*2 distinct features: coverage saturates, so "new" stays meaningful.
 */
export function stepFeatures(side: number, from: number, kind: string, to: number, out: number[]): void {
  const k = KIND_INDEX.get(kind) ?? 63;
  const modeFrom = from >>> ABSTRACT_FLAG_BITS;
  const modeTo = to >>> ABSTRACT_FLAG_BITS;
  out.push((((side * 64 + k) * 32 + modeFrom) * 32 + modeTo) * 2);
  let flipped = (from ^ to) & ((1 << ABSTRACT_FLAG_BITS) - 1);
  while (flipped) {
    const b = 31 - Math.clz32(flipped);
    flipped &= ~(1 << b);
    out.push(((((side * 64 + k) * 32 + b) * 2 + ((to >>> b) & 1)) * 2) + 1);
  }
}

/** Features are below 2^18 (side 1, kind 63, flag or mode 31: see stepFeatures). */
export const FEATURE_SPACE = 1 << 18;

export class Coverage {
  /** Hits per feature, by feature number (2 MB; doubles never wrap as 32-bit counts would in a long run). */
  private readonly hits = new Float64Array(FEATURE_SPACE);
  private distinct = 0;

  get size(): number {
    return this.distinct;
  }

  /** Adds the transitions; returns how many were new. */
  add(keys: readonly number[]): number {
    const hits = this.hits;
    let fresh = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (hits[key]++ === 0) fresh++;
    }
    this.distinct += fresh;
    return fresh;
  }

  /** Rarity of an input: sum over its transitions of 1/hits (rare transitions weigh most). */
  rarity(keys: readonly number[]): number {
    const hits = this.hits;
    let r = 0;
    for (let i = 0; i < keys.length; i++) r += 1 / (hits[keys[i]!] || 1);
    return r;
  }
}
