// Systematic mutants of the model's function table, for the bench's mutation score
// (`npm run bench -- --sections mutants`). A mutant is the newest built-in version with
// one table entry replaced by a wrong variant of itself, made by one operator:
//
//   skip        a void function does nothing       a missing call (a forgotten
//                                                  svm_set_intercept, a lost request)
//   true        a predicate always holds           a check that is missing
//   false       a predicate never holds            a path that is never taken
//   negate      a predicate is inverted            an inverted condition (the most
//                                                  common one-character fix in KVM's history)
//   zero        a function returning a number      a lost return value (an exit handler
//               returns 0                          that exits to userspace, a count of 0)
//
// Which operators apply to an entry is read from what it returns when the base version
// runs generated streams (typeof of every return value): entries that return booleans
// get true/false/negate, numbers get zero, nothing gets skip. Entries that return objects
// are left alone, and entries the generated streams never call are listed as unreached:
// no mutant of them could be killed with today's alphabet.
// Everything here is deterministic: the profile uses fixed seeds, the list has a fixed
// order, and a sample of N is drawn with a fixed seed.

import { BUILTIN_VERSIONS, defineVersion, buildOps, type Version } from '../models/svm/versions.js';
import { definePatch } from '../models/svm/patches.js';
import { makeModel, advance } from '../models/svm/model.js';
import { createState } from '../models/svm/state.js';
import { defaultConfig } from '../models/svm/config.js';
import type { KvmOps } from '../models/svm/kvm/ops.js';
import { generateStream } from '../harness/engine/generate.js';
import { Rng, deriveSeed } from '../harness/engine/rng.js';

export const OPERATORS = ['skip', 'true', 'false', 'negate', 'zero'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Mutant {
  /** `<function>:<operator>`, e.g. `svm_nmi_blocked:negate`. */
  id: string;
  fn: string;
  op: Operator;
  version: Version;
}

/** The version mutated: the newest built-in one. */
export const baseVersion = (): Version => BUILTIN_VERSIONS[BUILTIN_VERSIONS.length - 1]!;

type Fn = (...args: unknown[]) => unknown;

/** What each table entry returns on generated streams: the typeofs seen and the call count. */
export function profileTable(base: Version, streams = 3000): Map<string, { calls: number; returns: Set<string> }> {
  const seen = new Map<string, { calls: number; returns: Set<string> }>();
  const ops = buildOps(base) as unknown as Record<string, Fn>;
  const spy: Record<string, Fn> = {};
  for (const name of Object.keys(ops)) {
    const rec = { calls: 0, returns: new Set<string>() };
    seen.set(name, rec);
    const fn = ops[name]!;
    spy[name] = (...args: unknown[]) => {
      const r = fn(...args);
      rec.calls++;
      rec.returns.add(typeof r);
      return r;
    };
  }
  // Functions call each other through their first argument (the table): give them the spy.
  const model = { version: base, ops: spy as unknown as KvmOps, invariants: null };
  const gen = makeModel(base);
  for (let i = 0; i < streams; i++) {
    const s = generateStream(new Rng(deriveSeed(0x6d75, i)), gen, defaultConfig(), 24);
    const v = createState(s.config);
    for (const e of s.events) {
      try {
        advance(model, v, e);
      } catch {
        break;
      }
    }
  }
  return seen;
}

function wrong(fn: Fn, op: Operator): Fn {
  switch (op) {
    case 'skip': return () => undefined;
    case 'true': return () => true;
    case 'false': return () => false;
    case 'negate': return (...args) => !fn(...args);
    case 'zero': return () => 0;
  }
}

/** One mutant by function and operator (what a bench worker rebuilds from the sample). */
export function makeMutant(fn: string, op: Operator, base = baseVersion()): Mutant {
  const ops = buildOps(base) as unknown as Record<string, Fn>;
  if (!ops[fn]) throw new Error(`mutants: no table entry '${fn}'`);
  const patch = definePatch({ id: `mutant-${fn}-${op}`, subject: `${fn}: ${op}`, upstream: '-', scope: [], replaces: { [fn]: wrong(ops[fn]!, op) } as Partial<KvmOps> });
  return { id: `${fn}:${op}`, fn, op, version: defineVersion({ id: `${base.id}+${fn}:${op}`, description: `${base.id} with ${fn} mutated (${op})`, patches: [...base.patches, patch] }) };
}

/** Every mutant of the base table, in table order, and the entries never called. */
export function allMutants(base = baseVersion()): { mutants: Mutant[]; unreached: string[] } {
  const profile = profileTable(base);
  const mutants: Mutant[] = [];
  const unreached: string[] = [];
  for (const [fn, p] of profile) {
    if (!p.calls) {
      unreached.push(fn);
      continue;
    }
    const kinds = [...p.returns];
    const ofs: Operator[] = kinds.every((k) => k === 'boolean') ? ['true', 'false', 'negate']
      : kinds.every((k) => k === 'number') ? ['zero']
      : kinds.every((k) => k === 'undefined') ? ['skip']
      : [];
    for (const op of ofs) mutants.push(makeMutant(fn, op, base));
  }
  return { mutants, unreached };
}

/** A fixed-seed sample of n mutants (all of them when n >= their number), in table order. */
export function sampleMutants(mutants: readonly Mutant[], n: number, seed = 1): Mutant[] {
  if (n >= mutants.length) return [...mutants];
  const rng = new Rng(deriveSeed(seed, 0x6d75));
  const idx = mutants.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, n).sort((a, b) => a - b).map((i) => mutants[i]!);
}
