// Generation and mutation keep every stream valid (syzkaller's debug mode: validate after
// every transformation), draw only from the seeded Rng, and reach deep states.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkEvent, specOf, EVENT_KINDS } from '../../models/svm/events.js';
import { checkKnob, defaultConfig, KNOB_NAMES } from '../../models/svm/config.js';
import { makeModel, step } from '../../models/svm/model.js';
import { createState } from '../../models/svm/state.js';
import { BUILTIN_VERSIONS } from '../../models/svm/versions.js';
import { Rng, deriveSeed } from './rng.js';
import { generateStream, randomEvent } from './generate.js';
import { MUTATORS, mutate } from './mutate.js';
import type { Stream } from '../text/text.js';

const model = makeModel(BUILTIN_VERSIONS[0]!);

function assertValid(s: Stream): void {
  for (const name of KNOB_NAMES) expect(checkKnob(name, s.config[name])).toBeNull();
  for (const e of s.events) expect(checkEvent(e)).toBeNull();
}

describe('generation', () => {
  it('is a function of the seed alone', () => {
    const a = generateStream(new Rng(7), model, defaultConfig(), 24);
    const b = generateStream(new Rng(7), model, defaultConfig(), 24);
    expect(a).toEqual(b);
    expect(generateStream(new Rng(8), model, defaultConfig(), 24)).not.toEqual(a);
  });

  it('produces valid streams', () => {
    fc.assert(fc.property(fc.integer(), (seed) => assertValid(generateStream(new Rng(seed), model, defaultConfig(), 32))), { numRuns: 300 });
  });

  it('reaches deep states far more often than a context-free uniform generator', () => {
    const depth = (s: Stream) => {
      const v = createState(s.config);
      const seen = [false, false, false];
      for (const e of s.events) {
        step(model, v, e);
        seen[0] ||= v.guestMode;
        seen[1] ||= v.phase === 'delivery';
        seen[2] ||= v.nmiInjected || (v.vmcb01.intCtl & (1 << 12)) !== 0;
      }
      return seen;
    };
    const n = 1000;
    const ours = [0, 0, 0];
    const uniform = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const s = generateStream(new Rng(deriveSeed(1, i)), model, defaultConfig(), 24);
      depth(s).forEach((x, k) => { ours[k]! += +x; });
      // Baseline: same length, kinds uniform over the alphabet, no legality steering.
      const rng = new Rng(deriveSeed(2, i));
      const u: Stream = { config: defaultConfig(), events: s.events.map(() => randomEvent(rng, rng.pick(EVENT_KINDS))) };
      depth(u).forEach((x, k) => { uniform[k]! += +x; });
    }
    // L2 running, a delivery in progress, an NMI in flight.
    for (let k = 0; k < 3; k++) {
      expect(ours[k]! / n).toBeGreaterThan(0.1);
      expect(ours[k]!).toBeGreaterThan(2 * uniform[k]!);
    }
  });
});

describe('mutators', () => {
  it('every mutator returns a valid stream or null, and only table names appear in lineage', () => {
    fc.assert(fc.property(fc.integer(), fc.integer(), (s1, s2) => {
      const rng = new Rng(s2);
      const base = generateStream(new Rng(s1), model, defaultConfig(), 16);
      const corpus = [generateStream(new Rng(s1 + 1), model, defaultConfig(), 16)];
      for (const m of MUTATORS) {
        const out = m.apply({ rng, model, corpus, maxLen: 24 }, base);
        if (out) {
          assertValid(out);
          expect(out.events.length).toBeLessThanOrEqual(24);
        }
      }
      const { stream, lineage } = mutate({ rng, model, corpus, maxLen: 24 }, base);
      assertValid(stream);
      for (const name of lineage) expect(MUTATORS.map((m) => m.name)).toContain(name);
    }), { numRuns: 200 });
  });

  it('change-field changes exactly one field of one event', () => {
    const m = MUTATORS.find((x) => x.name === 'change-field')!;
    fc.assert(fc.property(fc.integer(), (seed) => {
      const base = generateStream(new Rng(seed), model, defaultConfig(), 16);
      const out = m.apply({ rng: new Rng(seed + 1), model, corpus: [], maxLen: 24 }, base);
      if (!out) return;
      const changed = out.events.flatMap((e, i) => Object.keys(specOf(e.kind)!.fields)
        .filter((f) => JSON.stringify((e as never)[f]) !== JSON.stringify((base.events[i] as never)[f])));
      expect(changed.length).toBe(1);
    }), { numRuns: 200 });
  });
});
