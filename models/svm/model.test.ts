// Properties of the model over random streams drawn from the alphabet.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_VERSIONS } from './versions.js';
import { makeModel, runStream } from './model.js';
import { defaultConfig } from './config.js';
import { eventArb, configArb } from '../../harness/engine/arbitraries.js';

describe('model over random streams', () => {
  it('never throws, and observations have a fixed key set', () => {
    const keys = Object.keys(runStream(makeModel(BUILTIN_VERSIONS[0]!), defaultConfig(), []).latent);
    fc.assert(fc.property(configArb, fc.array(eventArb, { maxLength: 60 }), (config, events) => {
      for (const version of BUILTIN_VERSIONS) {
        const r = runStream(makeModel(version), config, events);
        expect(Object.keys(r.latent)).toEqual(keys);
        if (r.observations.length > 1) expect(Object.keys(r.observations[0]!)).toEqual(Object.keys(r.observations.at(-1)!));
      }
    }), { numRuns: 300 });
  });

  it('is deterministic: the same stream gives the same observations', () => {
    fc.assert(fc.property(configArb, fc.array(eventArb, { maxLength: 40 }), (config, events) => {
      const m = makeModel(BUILTIN_VERSIONS[2]!);
      expect(runStream(m, config, events).observations).toEqual(runStream(m, config, events).observations);
    }), { numRuns: 100 });
  });

  it('v6.7 and v6.8 only differ where the seed-1 conditions hold (vNMI on)', () => {
    const [a, b] = [makeModel(BUILTIN_VERSIONS[0]!), makeModel(BUILTIN_VERSIONS[1]!)];
    fc.assert(fc.property(configArb, fc.array(eventArb, { maxLength: 40 }), (config, events) => {
      const cfg = { ...config, vnmi: false };
      expect(runStream(a, cfg, events).observations).toEqual(runStream(b, cfg, events).observations);
    }), { numRuns: 200 });
  });
});
