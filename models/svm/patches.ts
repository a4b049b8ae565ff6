// Each upstream fix as a named patch: data that replaces entries of the function table.
// `scope` declares the observation (and latent) fields the fix is meant to change;
// `svmfuzz compare` calls any other changed field collateral (a possible regression).

import { SVM_EVTINJ_TYPE_NMI, evtinj } from './constants.js';
import { cur, createState, type VcpuState } from './state.js';
import { OBSERVATION_KEYS, LATENT } from './observe.js';
import { hw_vmrun } from './hardware.js';
import { BASE_OPS } from './kvm/base.js';
import type { KvmOps } from './kvm/ops.js';
import { set_vcpu_events, emulate_halt, type SetVcpuEvents } from './kvm/x86.js';
import { enable_nmi_window } from './kvm/svm.js';

export interface Patch {
  /** Short hash, used in version definitions and reports. */
  readonly id: string;
  readonly subject: string;
  /** Full upstream commit hash (or a description for a user's own patch). */
  readonly upstream: string;
  /** The first release (or -rc tag) that carried it, e.g. 'v6.8-rc1'; absent for a user's own patch. */
  readonly release?: string;
  readonly replaces: Partial<KvmOps>;
  /**
   * Field paths (observation or latent, or a model state path as `state.<path>`; a
   * trailing `*` matches a prefix) this patch is meant to change. A divergence outside every responsible patch's scope is collateral.
   */
  readonly scope: readonly string[];
}

/** Every path a scope may name: observation fields, latent fields, and `state.<path>` of every state leaf. */
function scopePaths(): string[] {
  const out = [...OBSERVATION_KEYS, ...LATENT.map(([name]) => name)];
  const walk = (x: unknown, path: string): void => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) { out.push(path); return; }
    for (const [k, v] of Object.entries(x)) if (path !== 'state' || (k !== 'cfg' && k !== 'log')) walk(v, `${path}.${k}`);
  };
  walk(createState(), 'state');
  return out;
}
let knownPaths: string[] | null = null;

/** Why a scope entry names no field (null when it does): a typo would make every difference collateral. */
export function checkScopePath(path: string): string | null {
  knownPaths ??= scopePaths();
  const ok = path.endsWith('*') ? knownPaths.some((k) => k.startsWith(path.slice(0, -1))) : knownPaths.includes(path);
  return ok ? null : `scope path '${path}' is not an observation field, a latent field or a state path (state.<path>); see \`svmfuzz list --json\``;
}

/** Validates and freezes a patch: every replaced name must exist in the base table, every scope path must name a field. */
export function definePatch(p: Patch): Patch {
  if (!p.id || typeof p.id !== 'string') throw new Error('definePatch: a patch needs a string id');
  if (!Array.isArray(p.scope)) throw new Error(`patch ${p.id}: 'scope' must be a list of field paths`);
  for (const path of p.scope) {
    const err = checkScopePath(path);
    if (err) throw new Error(`patch ${p.id}: ${err}`);
  }
  for (const name of Object.keys(p.replaces)) {
    if (!(name in BASE_OPS)) throw new Error(`patch ${p.id}: replaces unknown function '${name}'`);
    if (typeof (p.replaces as Record<string, unknown>)[name] !== 'function') {
      throw new Error(`patch ${p.id}: replacement for '${name}' is not a function`);
    }
  }
  return Object.freeze({ ...p, replaces: Object.freeze({ ...p.replaces }), scope: Object.freeze([...p.scope]) });
}

/** Does `path` fall inside a scope list? */
export function inScope(scope: readonly string[], path: string): boolean {
  return scope.some((s) => (s.endsWith('*') ? path.startsWith(s.slice(0, -1)) : s === path));
}

/**
 * 72046d0a "KVM: SVM: Don't intercept IRET when injecting NMI and vNMI is enabled"
 * (svm.c, merged for 6.8). With vNMI the CPU sets V_NMI_BLOCKING for an EVENTINJ NMI
 * (APM 15.21.10) and delivers a pending vNMI when unblocked, so KVM no longer sets
 * nmi_masked nor intercepts IRET; before, one needless IRET #VMEXIT followed.
 */
export const PATCH_72046d0a = definePatch({
  id: '72046d0a',
  subject: "KVM: SVM: Don't intercept IRET when injecting NMI and vNMI is enabled",
  upstream: '72046d0a077a8f70d4d1e5bdeed324c1a310da8c',
  release: 'v6.8-rc1',
  replaces: {
    svm_inject_nmi(k: KvmOps, v: VcpuState): void {
      cur(v).eventInj = evtinj(SVM_EVTINJ_TYPE_NMI, 0);
      if (v.nmiL1ToL2) return;
      // Hardware tracks NMI blocking and windows itself when vNMI is on.
      if (!k.is_vnmi_enabled(k, v)) {
        v.nmiMasked = true;
        k.svm_set_iret_intercept(k, v);
      }
      v.stat.nmi_injections++;
    },
  },
  // docs/model.md (A.5), "Observable differences right after the injection" and "later":
  // the IRET #VMEXIT (in L1, or in L2 once the intercept reached vmcb02) and its
  // nmi_window_exits; the stale nmi_masked and IRET intercept (latent); and, while L2 runs
  // with the stale mask, when NMIs are accepted and delivered (the single-step window,
  // nmi.pending/nmi.masked as userspace reads them). Anything else, e.g. a WARN, a nested
  // #VMEXIT L1 sees, is not what the commit claims ("essentially an unnecessary VM-Exit").
  scope: [
    'exits', 'stat.exits', 'stat.nmi_window_exits', 'stat.nmi_injections', 'delivered',
    'events.nmi_masked', 'events.nmi_pending',
    'nmi_masked', 'awaiting_iret_completion', 'vmcb01.intercepts', 'vmcb02.intercepts', 'nmi_singlestep',
    'nmi_pending', 'L1.rflags', 'L2.rflags',
  ],
});

/**
 * be45bc4e "KVM: SVM: Set RFLAGS.IF=1 in C code, to get VMRUN out of the STI shadow"
 * (svm.c + vmenter.S, 6.14). svm_vcpu_enter_exit now does raw_local_irq_enable() before
 * __svm_vcpu_run, whose assembly no longer has STI right before VMRUN: a #VMEXIT during
 * event delivery no longer leaks the host's STI shadow into int_state (and so into
 * vmcb12.int_state via nested_svm_vmexit, and into KVM_GET_VCPU_EVENTS).
 */
export const PATCH_be45bc4e = definePatch({
  id: 'be45bc4e',
  subject: 'KVM: SVM: Set RFLAGS.IF=1 in C code, to get VMRUN out of the STI shadow',
  upstream: 'be45bc4eff33d9a7dae84a2150f242a91a617402',
  release: 'v6.14',
  replaces: {
    svm_vcpu_enter_exit(k: KvmOps, v: VcpuState): void {
      // raw_local_irq_enable(); amd_clear_divider(); __svm_vcpu_run (no STI inside).
      hw_vmrun(k, v, false);
    },
  },
  // docs/model.md (B.4): vmcb12.int_state after a nested #VMEXIT during delivery, the
  // KVM_GET_VCPU_EVENTS shadow in the transient window, and int_state in vmcb01/vmcb02.
  // The fix's own change is to the CPU state VMRUN starts in: no STI shadow (a model
  // state path, named so for triage).
  scope: ['vmcb12.int_state', 'events.shadow', 'vmcb01.int_state', 'vmcb02.int_state', 'state.hw.vmrunInStiShadow'],
});

/**
 * 6231c9e1a9f3 "KVM: x86: make KVM_REQ_NMI request iff NMI pending for vcpu" (x86.c,
 * kvm-x86 fixes for 6.8, Feb 2024). KVM_SET_VCPU_EVENTS with a valid nmi.pending of 0 no
 * longer requests KVM_REQ_NMI; before, the request alone counted as a wake event
 * (kvm_vcpu_has_events), so QEMU's state writes woke a halted vCPU for nothing.
 */
export const PATCH_6231c9e1 = definePatch({
  id: '6231c9e1',
  subject: 'KVM: x86: make KVM_REQ_NMI request iff NMI pending for vcpu',
  upstream: '6231c9e1a9f35b535c66709aa8a6eda40dbc4132',
  release: 'v6.8',
  replaces: {
    kvm_vcpu_ioctl_x86_set_vcpu_events(k: KvmOps, v: VcpuState, e: SetVcpuEvents): void {
      set_vcpu_events(k, v, e, true);
    },
  },
  // The request itself, and a halted vCPU that stays halted: it does not run, exit or
  // take events until a real wake event.
  scope: ['state.requests', 'mp_state', 'running', 'exits', 'stat.exits', 'userspace', 'delivered', 'state.mpState', 'phase'],
});

/**
 * b4bd55646747 "KVM: SVM: WARN on vNMI + NMI window iff NMIs are outright masked" (svm.c,
 * v6.10, CVE-2024-39483). With vNMI, KVM legitimately requests an NMI window when a second
 * NMI arrives while the vCPU is in an interrupt shadow or has GIF=0; only the "masked"
 * case is unexpected.
 */
export const PATCH_b4bd5564 = definePatch({
  id: 'b4bd5564',
  subject: 'KVM: SVM: WARN on vNMI + NMI window iff NMIs are outright masked',
  upstream: 'b4bd556467477420ee3a91fbcba73c579669edc6',
  release: 'v6.10',
  replaces: {
    svm_enable_nmi_window(k: KvmOps, v: VcpuState): void {
      enable_nmi_window(k, v, true);
    },
  },
  scope: ['warns', 'state.warned'],
});

/**
 * 1876dd69dfe8 "KVM: x86: Add fastpath handling of HLT VM-Exits" (x86.c, v6.12), its
 * __kvm_emulate_halt half: a vCPU that executes HLT with a wake event already pending stays
 * RUNNABLE instead of going HALTED and being woken by vcpu_block. (The fastpath re-entry
 * itself is not modelled; the end state is the same.)
 */
export const PATCH_1876dd69 = definePatch({
  id: '1876dd69',
  subject: 'KVM: x86: Add fastpath handling of HLT VM-Exits',
  upstream: '1876dd69dfe8c29e249070b0e4dc941fc15ac1e4',
  release: 'v6.12',
  replaces: {
    kvm_emulate_halt(k: KvmOps, v: VcpuState): number {
      return emulate_halt(k, v, true);
    },
  },
  scope: ['mp_state', 'state.mpState'],
});

export const BUILTIN_PATCHES: readonly Patch[] = [PATCH_72046d0a, PATCH_6231c9e1, PATCH_b4bd5564, PATCH_1876dd69, PATCH_be45bc4e];
