// Model versions = the base table + ordered patches, and model pairs = two versions and a
// default config. The built-in versions are kernel releases: each carries, as patches,
// the upstream changes to the modelled functions that the release had, and lists those it
// knowingly does not model (docs/upstream-history.md has the whole history, v6.4..v6.15).
// The base table is v6.4..v6.7 behaviour on the modelled paths.

import type { InvariantSpec } from './invariants.js';
import { BASE_OPS } from './kvm/base.js';
import type { KvmOps } from './kvm/ops.js';
import { PATCH_72046d0a, PATCH_6231c9e1, PATCH_b4bd5564, PATCH_1876dd69, PATCH_be45bc4e, type Patch } from './patches.js';
import { checkKnob, type SvmConfig } from './config.js';

/** An upstream change on the modelled paths where a version knowingly differs from the release it is named after. */
export interface KnownDifference {
  readonly commit: string;
  readonly subject: string;
  /** The release that first carried it. */
  readonly release: string;
  /** How the version differs because of it. */
  readonly note: string;
}

export interface Version {
  readonly id: string;
  readonly description: string;
  readonly patches: readonly Patch[];
  /** Upstream changes this version knowingly does not model (see docs/upstream-history.md). */
  readonly differs?: readonly KnownDifference[];
  /**
   * Invariants this version checks after every step (a checked version, `V!all`): a
   * violation shows in the observation field `invariant.<id>`, so fuzzing V against V!all
   * finds V's violations as divergences.
   */
  readonly invariants?: readonly InvariantSpec[];
}

export interface Pair {
  readonly id: string;
  readonly description: string;
  readonly left: string;
  readonly right: string;
  /** Overrides of the knob defaults for streams generated for this pair. */
  readonly config: Partial<SvmConfig>;
}

export function defineVersion(v: Version): Version {
  if (!v.id) throw new Error('defineVersion: a version needs an id');
  const seen = new Set<string>();
  for (const p of v.patches) {
    if (seen.has(p.id)) throw new Error(`version ${v.id}: patch ${p.id} listed twice`);
    seen.add(p.id);
  }
  return Object.freeze({ ...v, patches: Object.freeze([...v.patches]), differs: Object.freeze([...(v.differs ?? [])]) });
}

export function definePair(p: Pair): Pair {
  if (!p.id) throw new Error('definePair: a pair needs an id');
  for (const [name, value] of Object.entries(p.config)) {
    const err = checkKnob(name, value);
    if (err) throw new Error(`pair ${p.id}: ${err}`);
  }
  return Object.freeze({ ...p, config: Object.freeze({ ...p.config }) });
}

/** The function table of a version: later patches override earlier ones. */
export function buildOps(version: Version): KvmOps {
  let ops: KvmOps = { ...BASE_OPS };
  for (const p of version.patches) ops = { ...ops, ...p.replaces };
  return Object.freeze(ops);
}

/** Orders release names: v6.8-rc1 < v6.8 < v6.10. */
export function compareReleases(a: string, b: string): number {
  const key = (r: string): number[] => {
    const m = /^v(\d+)\.(\d+)(?:-rc(\d+))?$/.exec(r);
    if (!m) throw new Error(`not a release name: '${r}'`);
    return [Number(m[1]), Number(m[2]), m[3] === undefined ? 1000 : Number(m[3])];
  };
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/**
 * The upstream changes on the modelled paths, v6.4..v6.15, that the model does NOT carry
 * (docs/upstream-history.md). The rest of that history is either a patch (below) or
 * already how the base behaves (the v6.4 vNMI series, 0ec3d6d1f169, 46d6c6f3ef0e, ...).
 */
const UNMODELLED: readonly KnownDifference[] = [
  { commit: '8b703a49c9df5e74870381ad7ba9c85d8a74ed2c', subject: 'KVM: x86: Account fastpath-only VM-Exits in vCPU stats', release: 'v6.4',
    note: 'no fastpath in the model; it counts every #VMEXIT in stat.exits, which is the post-commit accounting' },
  { commit: '389fbbec261b2842fd0e34b26a2b288b122cc406', subject: "KVM: SVM: Don't defer NMI unblocking until next exit for SEV-ES guests", release: 'v6.6',
    note: 'SEV-ES only (not modelled)' },
  { commit: 'a6bb5709029756a6151afed0eec26ba2bfabed51', subject: "KVM: SVM: Don't try to pointlessly single-step SEV-ES guests for NMI window", release: 'v6.6',
    note: 'SEV-ES only (not modelled)' },
  { commit: 'fad505b2cb838fb52cb72fa22830824c80330f2f', subject: 'KVM: x86: Service NMI requests after PMI requests in VM-Enter path', release: 'v6.7',
    note: 'no PMU/PMI in the model: the request order change is invisible' },
  { commit: 'bc3d7c5570a03ab45bde4bae83697c80900fb714', subject: 'KVM: SVM: Update SEV-ES shutdown intercepts with more metadata', release: 'v6.7',
    note: 'SEV-ES only (not modelled)' },
  { commit: 'a484755ab2526ebdbe042397cdd6e427eb4b1a68', subject: 'Revert "nSVM: Check for reserved encodings of TLB_CONTROL in nested VMCB"', release: 'v6.8',
    note: 'vmcb12 has no TLB_CONTROL field in the model' },
  { commit: '1876dd69dfe8c29e249070b0e4dc941fc15ac1e4', subject: 'KVM: x86: Add fastpath handling of HLT VM-Exits (the fastpath re-entry)', release: 'v6.12',
    note: 'only the __kvm_emulate_halt half is modelled (patch 1876dd69); HLT exits take the slow path, with the same end state' },
  { commit: '2a289aed3fcd7fdd6d5c8def0f992d31a0754094', subject: 'KVM: x86: Always set mp_state to RUNNABLE on wakeup from HLT', release: 'v6.15',
    note: 'no pv_unhalted in the model; its vCPU is already RUNNABLE there' },
  { commit: 'fa662c9080732b1ffba1267b161c9e670a328caf', subject: 'KVM: SVM: Add Idle HLT intercept support', release: 'v6.15',
    note: 'the Idle HLT intercept (a CPU feature) is not modelled: HLT always exits' },
  { commit: 'a2620f8932fa9fdabc3d78ed6efb004ca409019f', subject: 'KVM: SVM: Forcibly leave SMM mode on SHUTDOWN interception', release: 'v6.15',
    note: 'SMM is not modelled' },
  { commit: 'c8e612bfedff67da0dd4abdf4de9ce7671b89f71', subject: 'KVM: nSVM: Pass next RIP, not current RIP, for nested VM-Exit on emulation', release: 'v6.15',
    note: 'the model has next_rip but no instruction emulator: no nested VM-Exit on an emulated instruction' },
];

/** The patches, in upstream order: a release carries those whose release is not after it. */
const UPSTREAM_PATCHES: readonly Patch[] = [PATCH_72046d0a, PATCH_6231c9e1, PATCH_b4bd5564, PATCH_1876dd69, PATCH_be45bc4e];

/** A release's version: every upstream patch up to it, every unmodelled change up to it. */
function release(id: string, description: string): Version {
  const upTo = (r: string | undefined): boolean => compareReleases(r!, id) <= 0;
  return defineVersion({
    id, description,
    patches: UPSTREAM_PATCHES.filter((p) => upTo(p.release)),
    differs: UNMODELLED.filter((d) => upTo(d.release)),
  });
}

export const BUILTIN_VERSIONS: readonly Version[] = [
  release('v6.4', 'vNMI and nested vNMI (the base); STI;VMRUN in vmenter.S'),
  release('v6.7', 'as v6.4 on the modelled paths: before both seed fixes'),
  release('v6.8-rc1', 'v6.7 + 72046d0a (seed 1) only: the SVM pull for 6.8, before the 6.8 fixes'),
  release('v6.8', 'v6.8-rc1 + 6231c9e1 (KVM_REQ_NMI iff an NMI is pending)'),
  release('v6.10', 'v6.8 + b4bd5564 (the vNMI window WARN only when NMIs are masked)'),
  release('v6.12', 'v6.10 + 1876dd69 (HLT with a wake event pending stays RUNNABLE)'),
  release('v6.13', 'as v6.12 on the modelled paths: before be45bc4e'),
  release('v6.14', 'v6.13 + be45bc4e (seed 2: VMRUN out of the STI shadow)'),
  release('v6.15', 'as v6.14 on the modelled paths'),
];

/** The config of a pair that should reach every modelled path (vNMI, vGIF, nesting, NPT). */
const EVERYTHING: Partial<SvmConfig> = { vnmi: true, vgif: true, nested: true, npt: true };

export const BUILTIN_PAIRS: readonly Pair[] = [
  // The seed pairs: each differs by exactly its seed patch.
  definePair({
    id: 'vnmi-iret', description: 'seed 1: 72046d0a alone (v6.7 vs v6.8-rc1)', left: 'v6.7', right: 'v6.8-rc1',
    config: { vnmi: true, vgif: true },
  }),
  definePair({
    id: 'sti-shadow', description: 'seed 2: be45bc4e alone (v6.13 vs v6.14)', left: 'v6.13', right: 'v6.14',
    config: { nested: true, npt: true },
  }),
  definePair({
    id: 'all', description: 'both seed fixes and everything between them (v6.7 vs v6.14)', left: 'v6.7', right: 'v6.14',
    config: EVERYTHING,
  }),
  // Consecutive releases that differ on the modelled paths.
  definePair({ id: 'v6.7-to-v6.8', description: 'release to release: 72046d0a, 6231c9e1', left: 'v6.7', right: 'v6.8', config: EVERYTHING }),
  definePair({ id: 'v6.8-to-v6.10', description: 'release to release: b4bd5564', left: 'v6.8', right: 'v6.10', config: EVERYTHING }),
  definePair({ id: 'v6.10-to-v6.12', description: 'release to release: 1876dd69', left: 'v6.10', right: 'v6.12', config: EVERYTHING }),
];
