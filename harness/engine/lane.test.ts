// A lane's corpus takes inputs from elsewhere (other lanes, sync peers, a resume) only
// when they add coverage there: two members that found inputs for the same transitions
// between two exchanges must not both keep them.

import { describe, expect, it } from 'vitest';
import { Registry } from '../../models/registry.js';
import { Lane } from './lane.js';

const sel = new Registry().select({ pair: 'all' });
const make = (seed: number) => new Lane({ seed, lane: 0, pair: 'all', left: sel.left, right: sel.right!, config: sel.config, maxLen: 24, samplesPerBucket: 4, corpusCap: 2000, hangMs: 0 });

describe('Lane.addInput', () => {
  it('keeps an input only when it adds coverage, and never the same input twice', () => {
    const a = make(1);
    const found = a.runBatch(3000).newInputs;
    expect(found.length).toBeGreaterThan(20);
    const b = make(2);
    const kept = found.map((f) => b.addInput(f.stream, f.origin));
    expect(kept.filter(Boolean).length).toBeGreaterThan(0);
    expect(b.corpusSize).toBe(kept.filter(Boolean).length);
    // Everything a gave b is covered now: a second copy adds nothing.
    expect(found.some((f) => b.addInput(f.stream, f.origin))).toBe(false);
    expect(b.coverage.size).toBe(a.coverage.size);
    // a's own inputs are all covered in a already.
    expect(found.some((f) => a.addInput(f.stream, f.origin))).toBe(false);
  });
});
