// Properties of the model over random streams drawn from the alphabet.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_VERSIONS } from './versions.js';
import { advance, makeModel, runStream } from './model.js';
import { createState } from './state.js';
import { diffRecords, latent, latentDiff, observeStep, sameObservation } from './observe.js';
import { executePair, runPair } from '../../harness/engine/execute.js';
import { generateStream } from '../../harness/engine/generate.js';
import { Rng } from '../../harness/engine/rng.js';
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

describe('the fuzzing hot path agrees with the records trace and reports show', () => {
  // executePair compares step logs (sameObservation) and builds records only where they
  // differ, and diffs latent state without building records (latentDiff): both must say
  // what the records say, on every pair of versions.
  const pairs = BUILTIN_VERSIONS.flatMap((a, i) => BUILTIN_VERSIONS.slice(i).map((b) => [a, b] as const));
  // Streams as the engine draws them (in context, so they reach deep states and differ).
  const inContext = (seed: number, m: ReturnType<typeof makeModel>) => generateStream(new Rng(seed), m, defaultConfig(), 32);

  it('sameObservation is true exactly when the observation records are equal (or false with a real difference behind)', () => {
    let differing = 0;
    fc.assert(fc.property(fc.nat(), fc.nat(pairs.length - 1), (seed, p) => {
      const [va, vb] = pairs[p]!;
      const [ma, mb] = [makeModel(va), makeModel(vb)];
      const { config, events } = inContext(seed, ma);
      const [sa, sb] = [createState(config), createState(config)];
      for (const e of events) {
        try { advance(ma, sa, e); advance(mb, sb, e); } catch { return; }
        const same = diffRecords(observeStep(sa), observeStep(sb)).length === 0;
        if (sameObservation(sa, sb)) expect(same).toBe(true);
        if (!same) { expect(sameObservation(sa, sb)).toBe(false); differing++; }
      }
      expect(latentDiff(sa, sb)).toEqual(diffRecords(latent(sa), latent(sb)));
    }), { numRuns: 400 });
    expect(differing).toBeGreaterThan(0); // the property saw real differences
  });

  it('advance() then observeStep() gives what step() gives', () => {
    fc.assert(fc.property(configArb, fc.array(eventArb, { maxLength: 40 }), (config, events) => {
      for (const version of BUILTIN_VERSIONS) {
        const m = makeModel(version);
        const v = createState(config);
        const viaAdvance = events.map((e) => { advance(m, v, e); return observeStep(v); });
        expect(viaAdvance).toEqual(runStream(m, config, events).observations);
      }
    }), { numRuns: 100 });
  });

  it('executePair finds the divergence runPair (trace, report) finds, at the same step with the same fields', () => {
    const kinds = new Set<string>();
    fc.assert(fc.property(fc.nat(), fc.nat(pairs.length - 1), (seed, p) => {
      const [va, vb] = pairs[p]!;
      const stream = inContext(seed, makeModel(va));
      const fast = executePair(makeModel(va), makeModel(vb), stream).divergence;
      const slow = runPair(va, vb, stream).firstDivergence;
      expect(fast).toEqual(slow);
      if (fast) kinds.add(fast.kind);
    }), { numRuns: 400 });
    expect([...kinds].sort()).toEqual(['latent', 'observable']);
  });
});
