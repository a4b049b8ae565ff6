// Known causes stop masking rare ones. One frequent change can hide the others: its
// divergence comes first in most streams, so they stop there, and the fuzzer keeps finding
// more symptoms of it. Once causes are known, the campaign runs every other execution on a
// focused pair: the left version with the patches of every cause found so far applied (or
// reverted, for a patch only the left version has), against the right version, so that
// only the remaining changes diverge there. Its findings are symptoms like any other,
// stored under the focused pair's label (`<pair>-without-<patch>+<patch>`); their entries
// name the derived left version (`v6.7+72046d0a`), which the registry rebuilds, so they
// trace and replay. Triage gives the same cause ids there (kind, function, patches).

import { patchDiff } from './attribute.js';
import type { Version } from '../../models/svm/versions.js';

/** The label of the focused pair that neutralises `patches` on `pair`. */
export const focusLabel = (pair: string, patches: readonly string[]): string => `${pair}-without-${patches.join('+')}`;

/**
 * The patches to neutralise: those of the causes found so far, in the order of the
 * versions' patch difference; none when they are all of it (nothing would be left to find).
 */
export function focusPatches(left: Version, right: Version, causes: Iterable<{ patches: readonly string[] }>): string[] {
  const diff = patchDiff(left, right).all;
  const known = new Set<string>();
  for (const c of causes) for (const p of c.patches) known.add(p);
  const focus = diff.filter((p) => known.has(p));
  return focus.length && focus.length < diff.length ? focus : [];
}
