// Which patches are responsible for a divergence: the patches that differ between the two
// versions are applied to the left version one at a time, then in combination (smallest
// sets first, like a bisection over the patch list), and the first set that alone
// reproduces the divergence's signature is the answer.

import { makeModel } from '../../models/svm/model.js';
import { defineVersion, type Version } from '../../models/svm/versions.js';
import type { Patch } from '../../models/svm/patches.js';
import { executeGuarded } from '../engine/oracle.js';
import { signatureOf, signatureBody } from '../engine/signature.js';
import type { Stream } from '../text/text.js';

/** The patch ids that differ between two versions: added in right, then removed from left. */
export function patchDiff(left: Version, right: Version): { added: string[]; removed: string[]; all: string[] } {
  const leftIds = new Set(left.patches.map((p) => p.id));
  const rightIds = new Set(right.patches.map((p) => p.id));
  const added = right.patches.filter((p) => !leftIds.has(p.id)).map((p) => p.id);
  const removed = left.patches.filter((p) => !rightIds.has(p.id)).map((p) => p.id);
  return { added, removed, all: [...added, ...removed] };
}

/** `left` with the patches of `subset` applied (added ones) or reverted (removed ones). */
export function applyPatches(left: Version, right: Version, subset: ReadonlySet<string>): Version {
  const leftIds = new Set(left.patches.map((p) => p.id));
  const kept = left.patches.filter((p) => !subset.has(p.id));
  const added = right.patches.filter((p) => subset.has(p.id) && !leftIds.has(p.id));
  // Keep right's order for added patches, after left's remaining ones. The id names the
  // steps in that order (removed, then added), so the registry rebuilds the same version
  // from it (`v6.7+72046d0a`: entries of derived pairs replay).
  const patches: Patch[] = [...kept, ...added];
  const removed = left.patches.filter((p) => subset.has(p.id)).map((p) => `-${p.id}`);
  return defineVersion({ id: `${left.id}${removed.join('')}${added.map((p) => `+${p.id}`).join('')}`, description: 'bisection step', patches });
}

/** Subsets of `ids`, smallest first, at most `maxCombos` of them. */
export function* subsetsBySize(ids: readonly string[], maxCombos = 256): Generator<string[]> {
  let n = 0;
  const rec = function* (start: number, size: number, acc: string[]): Generator<string[]> {
    if (acc.length === size) { yield [...acc]; return; }
    for (let i = start; i < ids.length; i++) yield* rec(i + 1, size, [...acc, ids[i]!]);
  };
  for (let size = 1; size <= ids.length; size++) {
    for (const s of rec(0, size, [])) {
      if (++n > maxCombos) return;
      yield s;
    }
  }
}

/** Bisection steps by left version, then right version and subset: triage asks for the same ones for every symptom. */
const steps = new WeakMap<Version, WeakMap<Version, Map<string, Version>>>();

function bisectionStep(left: Version, right: Version, subset: readonly string[]): Version {
  let byRight = steps.get(left);
  if (!byRight) steps.set(left, (byRight = new WeakMap()));
  let byKey = byRight.get(right);
  if (!byKey) byRight.set(right, (byKey = new Map()));
  const key = subset.join('+');
  let v = byKey.get(key);
  if (!v) byKey.set(key, (v = applyPatches(left, right, new Set(subset))));
  return v;
}

/** The smallest set of differing patches that alone reproduces the signature body `body`. */
export function attribute(left: Version, right: Version, diff: readonly string[], stream: Stream, body: string, label: string, hangMs: number): string[] {
  const ml = makeModel(left);
  for (const subset of subsetsBySize(diff)) {
    // The whole set is the right version itself (and needs no run to be the answer).
    if (subset.length === diff.length) break;
    const ex = executeGuarded(ml, makeModel(bisectionStep(left, right, subset)), stream, hangMs);
    if (ex.divergence && signatureBody(signatureOf(label, ex.divergence).text) === body) return subset;
  }
  return [...diff];
}
