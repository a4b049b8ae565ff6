// Model-state coverage: per step of both models of a pair, the mode transition and the
// flag flips of the abstract state under the event kind, counted in a map. An input that adds a transition is interesting and
// joins the corpus; hit counts tell the scheduler which transitions are rare.

import { EVENT_KINDS } from '../../models/svm/events.js';
import { ABSTRACT_FLAG_BITS } from '../../models/svm/observe.js';

const KIND_INDEX = new Map<string, number>(EVENT_KINDS.map((k, i) => [k, i]));

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

export class Coverage {
  readonly hits = new Map<number, number>();

  get size(): number {
    return this.hits.size;
  }

  /** Adds the transitions; returns how many were new. */
  add(keys: Iterable<number>): number {
    let fresh = 0;
    for (const key of keys) {
      const n = this.hits.get(key);
      if (n === undefined) {
        this.hits.set(key, 1);
        fresh++;
      } else {
        this.hits.set(key, n + 1);
      }
    }
    return fresh;
  }

  /** Rarity of an input: sum over its transitions of 1/hits (rare transitions weigh most). */
  rarity(keys: readonly number[]): number {
    let r = 0;
    for (const key of keys) r += 1 / (this.hits.get(key) ?? 1);
    return r;
  }
}
