// The bench's mutants: what the operators make of the function table, and that a mutant
// is a real, distinguishable version (the engine kills a simple one).

import { describe, expect, it } from 'vitest';
import { allMutants, baseVersion, makeMutant, sampleMutants } from './mutants.js';
import { makeModel } from '../models/svm/model.js';
import { defaultConfig } from '../models/svm/config.js';
import { executePair } from '../harness/engine/execute.js';
import { generateStream } from '../harness/engine/generate.js';
import { Rng, deriveSeed } from '../harness/engine/rng.js';

describe('mutants of the function table', () => {
  const { mutants, unreached } = allMutants();

  it('operators follow what each entry returns; ids are unique', () => {
    const ops = (fn: string) => mutants.filter((m) => m.fn === fn).map((m) => m.op).sort();
    expect(ops('svm_nmi_blocked')).toEqual(['false', 'negate', 'true']); // a predicate
    expect(ops('svm_set_intercept')).toEqual(['skip']); // void
    expect(ops('kvm_get_nr_pending_nmis')).toEqual(['zero']); // a count
    expect(ops('kvm_check_and_inject_events')).toEqual([]); // returns an object: left alone
    expect(new Set(mutants.map((m) => m.id)).size).toBe(mutants.length);
    expect(mutants.length).toBeGreaterThan(100);
    // Entries the generated streams never call are listed, not mutated.
    for (const fn of unreached) expect(ops(fn)).toEqual([]);
  });

  it('a mutant differs from the base where the mutated function runs', () => {
    const base = baseVersion();
    const m = makeMutant('svm_inject_nmi', 'skip', base);
    expect(m.version.patches.map((p) => p.id)).toEqual([...base.patches.map((p) => p.id), 'mutant-svm_inject_nmi-skip']);
    const [mb, mm] = [makeModel(base), makeModel(m.version)];
    let diverging = 0;
    for (let i = 0; i < 500; i++) {
      if (executePair(mb, mm, generateStream(new Rng(deriveSeed(9, i)), mb, defaultConfig(), 24)).divergence) diverging++;
    }
    expect(diverging).toBeGreaterThan(0);
    // And the base against itself never diverges on the same streams.
    const again = makeModel(base);
    for (let i = 0; i < 200; i++) expect(executePair(mb, again, generateStream(new Rng(deriveSeed(9, i)), mb, defaultConfig(), 24)).divergence).toBeNull();
  });

  it('a sample is fixed by its seed and in table order', () => {
    const a = sampleMutants(mutants, 20, 1).map((m) => m.id);
    expect(sampleMutants(mutants, 20, 1).map((m) => m.id)).toEqual(a);
    expect(sampleMutants(mutants, 20, 2).map((m) => m.id)).not.toEqual(a);
    expect(a.map((id) => mutants.findIndex((m) => m.id === id))).toEqual([...a.map((id) => mutants.findIndex((m) => m.id === id))].sort((x, y) => x - y));
    expect(sampleMutants(mutants, Infinity).length).toBe(mutants.length);
  });
});
