// Shared execution (execute.ts sharingOf): while the two states are one, only the left
// model runs, and the right one takes a state of its own at the first step that reaches a
// function the versions hold differently. Whatever the pair, the result must be the one
// both models in lock step give, from the start and from snapshots of either kind.

import { describe, expect, it } from 'vitest';
import { createState } from '../../models/svm/state.js';
import { makeModel, type Model } from '../../models/svm/model.js';
import { defineVersion, type Version } from '../../models/svm/versions.js';
import { Registry } from '../../models/registry.js';
import { executePair, sharingOf, type Snapshot } from './execute.js';
import { generateStream } from './generate.js';
import { mutate } from './mutate.js';
import { Rng, deriveSeed } from './rng.js';
import type { SvmConfig } from '../../models/svm/config.js';

const reg = new Registry();

/** A right version whose svm_inject_nmi throws: a fork at a throwing step. */
function throwingNmi(base: Version): Version {
  return defineVersion({
    id: `${base.id}+throws`, description: 'svm_inject_nmi throws',
    patches: [...base.patches, { id: 'test-throws', subject: 'throws', upstream: 'test', replaces: { svm_inject_nmi: () => { throw new Error('injected NMI'); } } }],
  });
}

function check(ml: Model, mr: Model, config: SvmConfig, seed: number): { resumed: number; diverged: number } {
  let resumed = 0;
  let diverged = 0;
  for (let i = 0; i < 200; i++) {
    const rng = new Rng(deriveSeed(seed, i));
    const parent = generateStream(rng, ml, config, 24);
    const sharedSnaps: Snapshot[] = [];
    const plainSnaps: Snapshot[] = [];
    const whole = executePair(ml, mr, parent, true, { share: false, capture: { every: 2, upto: parent.events.length, out: plainSnaps } });
    expect(executePair(ml, mr, parent, true, { capture: { every: 2, upto: parent.events.length, out: sharedSnaps } })).toEqual(whole);
    expect(sharedSnaps.map((s) => s.step)).toEqual(plainSnaps.map((s) => s.step));
    if (whole.divergence) diverged++;
    const child = mutate({ rng, model: ml, corpus: [parent], maxLen: 24 }, parent).stream;
    const reference = executePair(ml, mr, child, true, { share: false });
    expect(executePair(ml, mr, child)).toEqual(reference);
    let same = 0;
    while (same < Math.min(child.events.length, parent.events.length) && child.events[same] === parent.events[same]) same++;
    if (child.config !== parent.config) continue;
    for (const snaps of [sharedSnaps, plainSnaps]) {
      const from = snaps.filter((s) => s.step <= same).at(-1);
      if (!from) continue;
      resumed++;
      const into = [createState(), createState()] as const;
      const transitions: number[] = [];
      expect(executePair(ml, mr, child, true, { from, into, transitions })).toEqual(reference);
      expect(executePair(ml, mr, child, true, { from })).toEqual(reference);
    }
  }
  return { resumed, diverged };
}

describe('shared execution', () => {
  for (const pair of ['vnmi-iret', 'sti-shadow', 'all']) {
    it(`gives what both models in lock step give, from the start and from snapshots (${pair})`, () => {
      const sel = reg.select({ pair });
      const r = check(makeModel(sel.left), makeModel(sel.right!), sel.config, 21);
      expect(r.resumed).toBeGreaterThan(50);
      expect(r.diverged).toBeGreaterThan(3); // sti-shadow's parents diverge least (9 of 200)
    });
  }

  it('gives the same throw when the right side throws at the step that forks it', () => {
    const sel = reg.select({ pair: 'vnmi-iret' });
    const mr = makeModel(throwingNmi(sel.left));
    const r = check(makeModel(sel.left), mr, sel.config, 22);
    expect(r.diverged).toBeGreaterThan(10);
  });

  it('wraps exactly the entries the two tables hold differently, and none for a checked version', () => {
    const sel = reg.select({ pair: 'vnmi-iret' });
    const ml = makeModel(sel.left);
    const mr = makeModel(sel.right!);
    const differing = Object.keys(ml.ops).filter((k) => (ml.ops as unknown as Record<string, unknown>)[k] !== (mr.ops as unknown as Record<string, unknown>)[k]);
    expect(differing.length).toBeGreaterThan(0);
    expect(sharingOf(ml, mr)!.differing).toBe(differing.length);
    expect(sharingOf(ml, ml)!.differing).toBe(0);
    // V against V!all: the same table, but invariants checked on one side only.
    const checked = reg.select({ versions: 'v6.14,v6.14!all' });
    expect(sharingOf(makeModel(checked.left), makeModel(checked.right!))).toBeNull();
  });
});
