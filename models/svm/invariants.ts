// Invariants: rules any correct KVM on correct hardware keeps, whatever the version, as
// one data table (like the alphabet). Each names its source (the APM section, the KVM ABI
// or the kernel function whose contract it states) and checks what the model exposes
// after a step: the state, the step's log and the event. A differential run only finds
// what two versions do differently; an invariant also finds what every version does
// wrong.
//
// A check returns null, or a message naming what broke the rule. violations.ts runs a
// stream against them; a checked version (`V!all`, versions.ts) checks them every step.

import { INTERCEPT, SVM_EVTINJ_VALID, X86_EFLAGS_TF, bit } from './constants.js';
import type { SvmEvent } from './events.js';
import type { VcpuState } from './state.js';
import { kvm_nmis_held } from './oracle.js';

/** L1 instructions an unblocked pending NMI or interrupt may wait (oracle.ts says why two). */
export const LIVENESS_BOUND = 2;
const MAX_NMIS_OWED = 2;

export interface InvariantSpec {
  readonly id: string;
  readonly doc: string;
  /** Where the rule comes from (APM section, KVM ABI, the kernel function whose contract it states). */
  readonly source: string;
  /** After each step that ran (not skipped): null, or what broke the rule. */
  readonly check: (v: VcpuState, e: SvmEvent) => string | null;
  /** The model file that defined it (a user's invariant); absent for the built-in ones. */
  readonly file?: string;
}

/** WARN sites that are the model's own guards, not the kernel's. */
const MODEL_WARN = 'model:';

/** A nested #VMEXIT that reached L1 in this step, other than a failed VMRUN (ERR). */
const reflectedExit = (v: VcpuState): boolean => {
  const r = v.log.reflected;
  for (let i = 0; i < r.length; i++) if (r[i] !== 'ERR') return true;
  return false;
};

export const INVARIANTS: readonly InvariantSpec[] = [
  {
    id: 'no-warn',
    doc: 'no WARN_ON_ONCE fires (a guest- or userspace-triggerable WARN is a host DoS under panic_on_warn)',
    source: "KVM's rule that a WARN means a KVM bug (Documentation/process/coding-style.rst, 'Do not crash the kernel'; panic_on_warn)",
    check: (v) => {
      for (const site of v.log.warns) if (!site.startsWith(MODEL_WARN)) return `WARN_ON_ONCE: ${site}`;
      return null;
    },
  },
  {
    id: 'vmcb12-event-inj-consumed',
    doc: "after a nested #VMEXIT, vmcb12.event_inj is not valid: the CPU consumes EVENTINJ at VMRUN and an interrupted event goes to exit_int_info",
    source: 'APM vol. 2, 15.20 (event injection) and 15.7.2 (EXITINTINFO); the model writes it in hw_vmexit',
    check: (v) => (reflectedExit(v) && (v.vmcb12.eventInj & SVM_EVTINJ_VALID) !== 0
      ? `vmcb12.event_inj = 0x${(v.vmcb12.eventInj >>> 0).toString(16)} after a nested #VMEXIT (${v.log.reflected.join(',')})` : null),
  },
  {
    id: 'vmcb12-int-state-own',
    doc: "after a nested #VMEXIT, vmcb12.int_state's shadow is L2's own, never the host's STI shadow",
    source: "APM vol. 2, chapter 15 (the VMCB's INTERRUPT_SHADOW: the guest's own shadow); be45bc4eff33 (v6.14) names the leak",
    check: (v) => (reflectedExit(v) && (v.vmcb12.intState & 1) !== 0 && v.hw.leakedShadow
      ? 'vmcb12.int_state = 1 comes from the host STI shadow VMRUN ran in, not from L2' : null),
  },
  {
    id: 'no-kvm-tf-visible',
    doc: "RFLAGS a guest or its hypervisor can read never carry KVM's own TF: not in vmcb12 after a nested #VMEXIT, not in a frame a guest's handler pushed (no event of the alphabet sets TF, so any TF there is KVM's)",
    source: 'svm_get_rflags / kvm_get_rflags (svm.c, x86.c): KVM hides the TF|RF of its NMI single-step from everything it reports',
    check: (v) => {
      if (reflectedExit(v) && (v.vmcb12.rflags & X86_EFLAGS_TF) !== 0) return `vmcb12.rflags = 0x${v.vmcb12.rflags.toString(16)} carries TF`;
      for (const [name, g] of [['L1', v.l1], ['L2', v.l2]] as const) {
        for (const f of g.frames) if (f.savedRflags & X86_EFLAGS_TF) return `${name} pushed RFLAGS 0x${f.savedRflags.toString(16)} with TF (a ${f.type} frame)`;
      }
      return null;
    },
  },
  {
    id: 'no-unasked-db',
    doc: 'a guest takes a #DB only when it or userspace asked for one (the guest raised it, or KVM_SET_VCPU_EVENTS set it): no event of the alphabet sets TF, so any other #DB comes from KVM',
    source: 'kvm_vcpu_do_singlestep, db_interception and nested_svm_vmexit (x86.c, svm.c, nested.c): KVM queues a #DB for the guest only for a single-step the guest asked for',
    check: (v) => (v.hw.dbTaken > v.hw.dbAsked ? `the guest took #DB number ${v.hw.dbTaken}, but only ${v.hw.dbAsked} were asked for` : null),
  },
  {
    id: 'vmcb02-covers-vmcb12',
    doc: "while L2 runs, vmcb02 intercepts everything vmcb12 intercepts (instructions, events and exceptions), so L1 sees every exit it asked for",
    source: 'recalc_intercepts (nested.c): vmcb02 = vmcb01 | vmcb12',
    check: (v) => {
      if (!v.guestMode) return null;
      const want = v.nestedCtl.intercepts;
      const have = v.vmcb02.intercepts;
      if ((want & have) !== want) {
        const missing = (Object.keys(INTERCEPT) as (keyof typeof INTERCEPT)[]).filter((n) => (want & bit(INTERCEPT[n])) && !(have & bit(INTERCEPT[n])));
        return `vmcb02 lacks vmcb12's intercepts ${missing.join('|')}`;
      }
      if ((v.nestedCtl.exceptions & v.vmcb02.exceptions) !== v.nestedCtl.exceptions) return `vmcb02 lacks vmcb12's exception intercepts 0x${(v.nestedCtl.exceptions & ~v.vmcb02.exceptions).toString(16)}`;
      return null;
    },
  },
  {
    id: 'vmcb12-exit-int-info',
    doc: "after a nested #VMEXIT, a valid vmcb12.exit_int_info names an event L2 was being given in that nested run: L1's EVENTINJ, an event KVM injected into L2 (or took back before VMRUN), one userspace set as injected, or one the CPU reported interrupted",
    source: 'APM vol. 2, 15.7.2 (EXITINTINFO: the event whose delivery the intercept interrupted); nested_save_pending_event_to_vmcb12 (nested.c: the event KVM had injected)',
    check: (v) => (v.hw.strayExitIntInfo
      ? `vmcb12.exit_int_info = 0x${(v.hw.strayExitIntInfo >>> 0).toString(16)} names no event L2 was given since L1's VMRUN` : null),
  },
  {
    id: 'nmi-accounting',
    doc: "every NMI raised (KVM_NMI) is taken by a guest, handed to L1 in a nested #VMEXIT's exit_int_info, still held by KVM, or dropped by the at-most-two rule; no guest takes an NMI nobody raised",
    source: 'process_nmi and kvm_get_nr_pending_nmis (x86.c: at most two NMIs pending or in flight); APM vol. 2, 8.2.6 (one NMI latched while another is handled) and 15.7.2 (EXITINTINFO)',
    check: (v) => {
      if (v.hw.nmiSpurious > 0) return `a guest took ${v.hw.nmiSpurious} NMI(s) beyond those raised (at most ${MAX_NMIS_OWED} are held at once)`;
      const held = kvm_nmis_held(v);
      return held < v.hw.nmiOwedMin ? `an NMI was raised and not taken, yet KVM holds ${held} (nmi_pending, V_NMI_PENDING and nmi_injected all clear)` : null;
    },
  },
  {
    id: 'nmi-delivered',
    doc: `an NMI pending for L1 while L1 runs with NMIs, GIF and the interrupt shadow not blocking it is taken within ${LIVENESS_BOUND} L1 instructions (scope: L1 outside guest mode)`,
    source: 'APM vol. 2, 8.2.6 and 15.17 (an unblocked NMI is taken at the next instruction boundary); svm_enable_nmi_window (svm.c: the IRET intercept, single-step and STGI intercept windows)',
    check: (v) => (v.hw.nmiStarved > LIVENESS_BOUND ? `an unblocked NMI has been pending for ${v.hw.nmiStarved} L1 instructions` : null),
  },
  {
    id: 'irq-delivered',
    doc: `an interrupt in the LAPIC's IRR while L1 runs with IF and GIF set and no interrupt shadow is taken within ${LIVENESS_BOUND} L1 instructions (scope: L1 outside guest mode)`,
    source: 'APM vol. 2, 8.2 and 15.17 (a maskable interrupt is taken when IF and GIF are set, outside a shadow); svm_enable_irq_window (svm.c: the VINTR window)',
    check: (v) => (v.hw.irqStarved > LIVENESS_BOUND ? `interrupt 0x${(v.apicIrr[0] ?? 0).toString(16)} has been pending and unblocked for ${v.hw.irqStarved} L1 instructions` : null),
  },
  {
    id: 'halt-wakes',
    doc: 'KVM_RUN does not return with L1 halted while an NMI or interrupt L1 can take is pending (a halted CPU wakes for it)',
    source: 'APM vol. 3, HLT (an NMI, or an interrupt with IF set, resumes execution); kvm_vcpu_has_events and kvm_arch_vcpu_runnable (x86.c)',
    check: (v) => (v.hw.haltStuck ? `KVM_RUN left L1 halted with an unblocked ${v.hw.haltStuck === 'nmi' ? 'NMI' : 'interrupt'} pending` : null),
  },
];

/** The invariants by id. */
export const INVARIANT_IDS: readonly string[] = INVARIANTS.map((i) => i.id);


/** The invariants named in `ids`, from `known` (the built-ins by default), or an error naming the unknown one. */
export function selectInvariants(ids: readonly string[], known: readonly InvariantSpec[] = INVARIANTS): InvariantSpec[] {
  return ids.map((id) => {
    const inv = known.find((i) => i.id === id);
    if (!inv) throw new Error(`unknown invariant '${id}' (known: ${known.map((i) => i.id).join(', ')})`);
    return inv;
  });
}

const INVARIANT_ID = /^[a-z][a-z0-9-]{0,47}$/;

/**
 * A user's invariant, checked: an id of lower-case letters, digits and '-' (at most 48,
 * not a built-in one: it names a cause and a directory), a doc line, its source, and a
 * check function (state after the step, the event) returning null or what broke the rule.
 * A model file exports these as `invariants`; `V!all` then checks them with the built-ins,
 * and a violation shows in the observation field `invariant.user` as `id: message`.
 */
export function defineInvariant(spec: InvariantSpec): InvariantSpec {
  const s = spec as Partial<InvariantSpec> | null;
  if (!s || typeof s !== 'object') throw new Error(`an invariant must be an object with id, doc, source and check (got ${s === null ? 'null' : typeof s})`);
  if (typeof s.id !== 'string' || !INVARIANT_ID.test(s.id)) throw new Error(`invariant id ${JSON.stringify(s.id)}: use lower-case letters, digits and '-', starting with a letter, at most 48`);
  if (INVARIANT_IDS.includes(s.id)) throw new Error(`invariant '${s.id}' is a built-in one: choose another id`);
  for (const k of ['doc', 'source'] as const) {
    if (typeof s[k] !== 'string' || !s[k]!.trim()) throw new Error(`invariant '${s.id}': '${k}' must be a non-empty string`);
  }
  if (typeof s.check !== 'function') throw new Error(`invariant '${s.id}': 'check' must be a function (state, event) => string | null`);
  return Object.freeze({ id: s.id, doc: s.doc!, source: s.source!, check: s.check, ...(s.file ? { file: s.file } : {}) });
}
