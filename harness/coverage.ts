// Model-state coverage: (abstract state, event kind, abstract state') transitions of both
// models of a pair, counted in a map. An input that adds a transition is interesting and
// joins the corpus; hit counts tell the scheduler which transitions are rare.

import { EVENT_KINDS } from '../models/svm/events.js';

const KIND_INDEX = new Map<string, number>(EVENT_KINDS.map((k, i) => [k, i]));

/** One transition as a number (abstract states fit in 2^36; the hash keeps 52 bits). */
export function transitionKey(side: number, from: number, kind: string, to: number): number {
  const k = KIND_INDEX.get(kind) ?? 63;
  // Mix into a double-safe integer: ((from * 64 + kind) * 2 + side) xor-folded with `to`.
  const a = ((from * 64 + k) * 2 + side) % 0x1fffffffffff;
  return (a * 31 + to) % Number.MAX_SAFE_INTEGER;
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
