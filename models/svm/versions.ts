// Model versions = the base table + ordered patches, and model pairs = two versions and a
// default config. A version id names the kernel whose behaviour it models on these paths:
// "v6.8" is "the base model with 72046d0a", not every change that went into 6.8.

import { BASE_OPS } from './kvm/base.js';
import type { KvmOps } from './kvm/ops.js';
import { PATCH_72046d0a, PATCH_be45bc4e, type Patch } from './patches.js';
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

// Known differences from the releases, from docs/upstream-history.md (issue: versions that
// match their releases on the modelled paths).
const KVM_REQ_NMI_IFF_PENDING: KnownDifference = {
  commit: '6231c9e1a9f35b535c66709aa8a6eda40dbc4132', subject: 'KVM: x86: make KVM_REQ_NMI request iff NMI pending for vcpu', release: 'v6.8',
  note: 'the base already has it: real v6.7 requests KVM_REQ_NMI on every KVM_SET_VCPU_EVENTS that sets NMI state',
};
const WARN_IFF_MASKED: KnownDifference = {
  commit: 'b4bd556467477420ee3a91fbcba73c579669edc6', subject: 'KVM: SVM: WARN on vNMI + NMI window iff NMIs are outright masked', release: 'v6.10',
  note: 'not modelled: svm_enable_nmi_window keeps the unconditional vNMI WARN, so this version WARNs where real v6.10+ does not (CVE-2024-39483)',
};
const FASTPATH_HLT: KnownDifference = {
  commit: '1876dd69dfe8c29e249070b0e4dc941fc15ac1e4', subject: 'KVM: x86: Add fastpath handling of HLT VM-Exits', release: 'v6.12',
  note: 'not modelled: HLT exits take the slow path; same end state, another internal path',
};

export const BUILTIN_VERSIONS: readonly Version[] = [
  defineVersion({ id: 'v6.7', description: 'before both seed fixes (vNMI since v6.4, STI;VMRUN in vmenter.S)', patches: [], differs: [KVM_REQ_NMI_IFF_PENDING] }),
  defineVersion({ id: 'v6.8', description: 'with 72046d0a (no IRET intercept for EVENTINJ NMIs under vNMI)', patches: [PATCH_72046d0a] }),
  defineVersion({ id: 'v6.14', description: 'with 72046d0a and be45bc4e (VMRUN out of the STI shadow)', patches: [PATCH_72046d0a, PATCH_be45bc4e], differs: [WARN_IFF_MASKED, FASTPATH_HLT] }),
];

export const BUILTIN_PAIRS: readonly Pair[] = [
  definePair({
    id: 'vnmi-iret', description: 'seed 1: 72046d0a alone (v6.7 vs v6.8)', left: 'v6.7', right: 'v6.8',
    config: { vnmi: true, vgif: true },
  }),
  definePair({
    id: 'sti-shadow', description: 'seed 2: be45bc4e alone (v6.8 vs v6.14)', left: 'v6.8', right: 'v6.14',
    config: { nested: true, npt: true },
  }),
  definePair({
    id: 'all', description: 'both seed fixes (v6.7 vs v6.14)', left: 'v6.7', right: 'v6.14',
    config: { vnmi: true, vgif: true, nested: true, npt: true },
  }),
];
