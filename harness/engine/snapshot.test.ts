// Snapshots: a mutated stream that runs on from its parent's saved states must give
// exactly what a run from the start gives. These tests fail if a state field is added and
// cloneState, copyState or sameState forgets it, or if two copies share an object.

import { describe, expect, it } from 'vitest';
import { cloneState, copyState, createState, sameApartFromHardware, sameState, type VcpuState } from '../../models/svm/state.js';
import { latentDiff } from '../../models/svm/observe.js';
import { advance, makeModel } from '../../models/svm/model.js';
import { defaultConfig } from '../../models/svm/config.js';
import { BUILTIN_VERSIONS } from '../../models/svm/versions.js';
import { Registry } from '../../models/registry.js';
import { executePair, type Snapshot } from './execute.js';
import { generateStream } from './generate.js';
import { mutate } from './mutate.js';
import { Lane } from './lane.js';
import { Rng, deriveSeed } from './rng.js';

/** Every object reachable from the state (the step log aside), by path. */
function objects(x: unknown, path: string, out: Map<object, string>): void {
  if (x === null || typeof x !== 'object') return;
  out.set(x, path);
  for (const [k, v] of Object.entries(x)) if (path !== '' || k !== 'log') objects(v, path ? `${path}.${k}` : k, out);
}

/** Paths of the primitive leaves (arrays count as one leaf). */
function leaves(x: Record<string, unknown>, path = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(x)) {
    const p = path ? `${path}.${k}` : k;
    if (path === '' && (k === 'log' || k === 'cfg')) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v as Record<string, unknown>, p));
    else out.push(p);
  }
  return out;
}

/** Changes the leaf at `path` to another value of its type. */
function perturb(v: VcpuState, path: string): void {
  const parts = path.split('.');
  let o = v as unknown as Record<string, unknown>;
  for (const k of parts.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const k = parts.at(-1)!;
  const x = o[k];
  if (Array.isArray(x)) x.push(typeof x[0] === 'object' || k === 'frames' ? { type: 'NMI', vector: 2, savedRflags: 2, savedRip: 7 } : k === 'warned' ? 'site' : 99);
  else if (typeof x === 'number') o[k] = x + 1;
  else if (typeof x === 'boolean') o[k] = !x;
  else if (typeof x === 'string') o[k] = x + 'x';
  else o[k] = 'iret'; // null (hw.retry)
}

/** States along random streams of every built-in version (deep ones included). */
function someStates(n: number): VcpuState[] {
  const out: VcpuState[] = [];
  for (let i = 0; i < n; i++) {
    const version = BUILTIN_VERSIONS[i % BUILTIN_VERSIONS.length]!;
    const m = makeModel(version);
    const s = generateStream(new Rng(deriveSeed(11, i)), m, defaultConfig(), 24);
    const v = createState(s.config);
    for (const e of s.events) {
      advance(m, v, e);
      out.push(cloneState(v));
    }
  }
  return out;
}

describe('state copies', () => {
  const states = someStates(60);
  const fresh = createState(defaultConfig());
  const allLeaves = leaves(fresh as unknown as Record<string, unknown>);

  it('cloneState copies every field and shares no object', () => {
    for (const v of states) {
      const c = cloneState(v);
      expect({ ...c, log: null }).toEqual({ ...v, log: null });
      const mine = new Map<object, string>();
      objects(v, '', mine);
      const theirs = new Map<object, string>();
      objects(c, '', theirs);
      for (const [o, p] of theirs) expect(mine.has(o), `clone shares ${p}`).toBe(false);
    }
  });

  it('copyState overwrites every field of a state that differs in all of them, sharing only the config', () => {
    const src = cloneState(states.at(-1)!);
    for (const p of allLeaves) perturb(src, p);
    const d = createState(defaultConfig());
    copyState(d, src);
    expect({ ...d, log: null }).toEqual({ ...src, log: null });
    const theirs = new Map<object, string>();
    objects(src, '', theirs);
    const mine = new Map<object, string>();
    objects(d, '', mine);
    for (const [o, p] of mine) if (p !== 'cfg') expect(theirs.has(o), `copy shares ${p}`).toBe(false);
    for (const v of states.slice(0, 200)) {
      copyState(d, v);
      expect({ ...d, log: null }).toEqual({ ...v, log: null });
    }
  });

  it('sameState sees a change in any single field', () => {
    expect(allLeaves.length).toBeGreaterThan(60);
    for (const p of allLeaves) {
      const a = cloneState(fresh);
      const b = cloneState(fresh);
      expect(sameState(a, b)).toBe(true);
      perturb(b, p);
      expect(sameState(a, b), p).toBe(false);
    }
  });

  it('sameApartFromHardware sees every change the latent table sees (the engine skips latentDiff on it)', () => {
    let seen = 0;
    for (const v of states.filter((_, i) => i % 7 === 0)) {
      for (const p of allLeaves) {
        const b = cloneState(v);
        perturb(b, p);
        if (latentDiff(v, b).length === 0) continue;
        seen++;
        expect(sameApartFromHardware(v, b), p).toBe(false);
      }
    }
    expect(seen).toBeGreaterThan(100);
  });
});

describe('runs from a snapshot', () => {
  const sel = new Registry().select({ pair: 'all' });
  const ml = makeModel(sel.left);
  const mr = makeModel(sel.right!);

  it('give the execution a run from the start gives, for children of random parents', () => {
    let resumed = 0;
    for (let i = 0; i < 300; i++) {
      const rng = new Rng(deriveSeed(12, i));
      const parent = generateStream(rng, ml, sel.config, 24);
      const snaps: Snapshot[] = [];
      const whole = executePair(ml, mr, parent, true, { capture: { every: 2, upto: parent.events.length, out: snaps } });
      expect(executePair(ml, mr, parent)).toEqual(whole);
      const child = mutate({ rng, model: ml, corpus: [parent], maxLen: 24 }, parent).stream;
      let shared = 0;
      while (shared < Math.min(child.events.length, parent.events.length) && child.events[shared] === parent.events[shared]) shared++;
      const from = child.config === parent.config ? snaps.filter((s) => s.step <= shared).at(-1) : undefined;
      if (!from) continue;
      resumed++;
      const scratch = [createState(), createState()] as const;
      expect(executePair(ml, mr, child, true, { from, into: scratch })).toEqual(executePair(ml, mr, child));
      expect(executePair(ml, mr, child, true, { from })).toEqual(executePair(ml, mr, child));
    }
    expect(resumed).toBeGreaterThan(50);
  });

  /**
   * Two lanes of one seed, one of them never resuming from a snapshot (every execution
   * starts from a fresh state): they must find the same buckets, inputs and coverage.
   */
  function withAndWithout(seed: number, runs: number, focused: boolean): void {
    const make = () => {
      const lane = new Lane({ seed, lane: 0, pair: 'all', left: sel.left, right: sel.right!, config: sel.config, maxLen: 24, samplesPerBucket: 4, corpusCap: 2000, hangMs: 0 });
      if (focused) lane.setFocus({ label: 'all-focused', left: sel.right! });
      return lane;
    };
    const a = make();
    const b = make();
    (b as unknown as { resumeFrom: () => undefined }).resumeFrom = () => undefined;
    (b as unknown as { stateAt: () => null }).stateAt = () => null;
    const ra = a.runBatch(runs);
    const rb = b.runBatch(runs);
    expect(ra.counts).toEqual(rb.counts);
    expect(ra.newInputs).toEqual(rb.newInputs);
    expect(a.coverage.size).toBe(b.coverage.size);
    expect((a as unknown as { snapCount: number }).snapCount).toBeGreaterThan(0);
  }

  it('leave the snapshots untouched, and a lane finds the same buckets with them as without', () => {
    withAndWithout(3, 3000, false);
  });

  it('give the same buckets and coverage as runs from the start when half the runs are on a focused pair', () => {
    // A focused run's inputs join the corpus with the focused pair's transitions; their
    // children run the lane's own pair and resume from snapshots those children took.
    withAndWithout(4, 6000, true);
  });
});
