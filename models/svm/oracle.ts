// The oracle's bookkeeping for the NMI, interrupt and exit_int_info invariants
// (invariants.ts): what the architecture says, kept beside the model's KVM and CPU, never
// read by them. The hardware (hardware.ts), the event alphabet (events.ts) and three KVM
// functions whose effect no event shows (kvm_vcpu_reset, nested_svm_vmexit,
// svm_cancel_injection) call these where the architectural event happens; advance()
// (model.ts) calls oracle_after_step.
//
// What is tracked, and why each rule is what it is (docs/model.md, section 6.2):
// - L1's NMI blocking (hw.nmiBlocked): an NMI L1 takes blocks NMIs until the next IRET L1
//   retires (APM vol. 2, 8.2.6 and 15.21.10). Whatever L2 does to NMI blocking (an NMI it
//   takes, an IRET it retires) may or may not be L1's too (without vNMI one CPU holds one
//   blocking state; with it, nested_svm_vmexit copies vmcb02's V_NMI_BLOCKING back), so it
//   makes L1's blocking unknown (-1), as do INIT and KVM_SET_NESTED_STATE, until L1's next
//   NMI or IRET, or a KVM_SET_VCPU_EVENTS outside guest mode, says it again.
// - NMIs owed to the guests (hw.nmiOwedMin/Max): every KVM_NMI raises one for the vCPU
//   (L1); a guest taking an NMI KVM injected pays one (L1 always; L2 only one that is not
//   L1's own: L1's EVENTINJ NMI or its nested vNMI); a nested #VMEXIT whose exit_int_info
//   hands an interrupted NMI of KVM's to L1, and an injected NMI KVM drops by design for
//   an exception, lower the least owed but not the most (the NMI left KVM, freeing one
//   of its two slots). x86 keeps at most one NMI latched while another is handled, and
//   KVM, which cannot react as fast, at most two (the "at
//   most two" rule of process_nmi, x86.c): so at most two are owed (nmiOwedMax), and at
//   least one is owed while any raise is unpaid (nmiOwedMin; the bound is 1 because how
//   many of two simultaneous NMIs survive depends on KVM's view of the blocking, which
//   the kernel defines in terms of its own IRET tracking). Userspace state writes
//   (KVM_SET_VCPU_EVENTS, KVM_SET_NESTED_STATE) and INIT set the count to what KVM holds.
// - Liveness (hw.nmiStarved, hw.irqStarved): L1 instructions in a row that ended with L1
//   running, an NMI (an interrupt) that KVM holds for L1 pending, and nothing the
//   architecture knows blocking it: NMI blocking, GIF, the interrupt shadow (and IF, for
//   an interrupt). KVM needs at most one instruction to open its windows (the IRET
//   intercept and single-step, the STGI intercept, the VINTR intercept, a single-step
//   after an injected exception), so the invariants allow two.
// - Halt (hw.haltStuck): a KVM_RUN that returns with L1 halted although an NMI or an
//   interrupt L1 could take is pending (a halted CPU wakes for them: APM vol. 3, HLT).
// - Events in flight to L2 (hw.l2Events): what L2 was given since L1's VMRUN and has not
//   taken; a nested #VMEXIT's exit_int_info must name one of them (hw.strayExitIntInfo).

import {
  SVM_INTERRUPT_SHADOW_MASK, V_GIF_ENABLE_MASK, V_GIF_MASK, V_NMI_ENABLE_MASK, V_NMI_PENDING_MASK,
  SVM_EVTINJ_TYPE_NMI, SVM_EVTINJ_TYPE_EXEPT, SVM_EXIT_ERR, X86_EFLAGS_IF, X86_EFLAGS_TF, isValid, evtType,
} from './constants.js';
import { cur, type VcpuState } from './state.js';

/** At most two NMIs are owed (process_nmi's rule: one being handled or injected, one pending). */
const MAX_OWED = 2;

const isNmi = (info: number): boolean => isValid(info) && evtType(info) === SVM_EVTINJ_TYPE_NMI;

/** A KVM_NMI (or LAPIC NMI) for the vCPU. */
export function oracle_nmi_raised(v: VcpuState): void {
  const h = v.hw;
  h.nmiOwedMax = Math.min(h.nmiOwedMax + 1, MAX_OWED);
  h.nmiOwedMin = Math.min(h.nmiOwedMin + 1, 1);
}

/**
 * A guest takes an NMI (its handler runs, or, `faulted`, its IDT gate was missing and the
 * fault's handler runs instead). Called by the CPU before it clears `delivering`.
 */
export function oracle_nmi_taken(v: VcpuState, faulted: boolean): void {
  const h = v.hw;
  if (!v.guestMode) {
    h.nmiBlocked = faulted ? -1 : 1;
    payOwed(v);
    return;
  }
  h.nmiBlocked = -1;
  // L1's own NMI for L2: its EVENTINJ NMI (nmiL1ToL2) or its nested vNMI. Neither survives
  // every path as such (a nested vNMI whose delivery L0 cuts comes back as KVM's
  // nmi_injected, vnmiDeliveryInExitIntInfo), so an NMI in L2 never counts as spurious.
  if (h.delivering !== 'vnmi' && !v.nmiL1ToL2) payOwed(v, false);
}

function payOwed(v: VcpuState, strict = true): void {
  const h = v.hw;
  if (h.nmiOwedMax === 0) {
    if (!strict) return;
    h.nmiSpurious++;
    return;
  }
  h.nmiOwedMax--;
  h.nmiOwedMin = Math.max(0, h.nmiOwedMin - 1);
}

/** An IRET retired in the running guest (not intercepted). */
export function oracle_iret(v: VcpuState): void {
  if (!v.guestMode) v.hw.nmiBlocked = 0;
  else if (v.hw.nmiBlocked === 1) v.hw.nmiBlocked = -1;
}

/**
 * A nested #VMEXIT reached L1: an NMI of KVM's it reports in exit_int_info is L1's to
 * re-inject now. exit_int_info carries one event: when KVM also held an injected
 * exception (an exception the NMI's vectoring raised, or userspace set both), the
 * exception is reported (nested_save_pending_event_to_vmcb12) and the NMI, which it
 * replaced as a fault in delivery replaces the event, is gone. `l0NmiInjected`: KVM's
 * nmi_injected for an NMI of its own when the exit began.
 */
export function oracle_nested_vmexit(v: VcpuState, l0NmiInjected: boolean): void {
  const info = v.vmcb12.exitIntInfo;
  const h = v.hw;
  // vmcb12-exit-int-info: a failed VMRUN (ERR) writes no exit_int_info; any other exit's
  // names an event L2 was given since L1's VMRUN. The next nested run starts afresh.
  if (v.vmcb12.exitCode !== SVM_EXIT_ERR && isValid(info) && !(h.l2Events & eventBit(info)) && !h.strayExitIntInfo) h.strayExitIntInfo = info;
  h.l2Events = 0;
  // Only the lower bound moves: the NMI left KVM's hands (L1 re-injects it, or it is gone),
  // which frees one of KVM's two slots, so two more may still reach a guest. (The NMI may
  // also be L1's nested vNMI, whose delivery the exit cut.)
  if ((isNmi(info) && !v.nmiL1ToL2) || (l0NmiInjected && isValid(info) && evtType(info) === SVM_EVTINJ_TYPE_EXEPT)) h.nmiOwedMin = Math.max(0, h.nmiOwedMin - 1);
}

/** An event's bit in hw.l2Events: NMIs share one (KVM writes vector 0, the CPU 2), the rest hash type and vector. */
const eventBit = (info: number): number => 1 << (evtType(info) === SVM_EVTINJ_TYPE_NMI ? 31 : ((evtType(info) >>> 8) * 67 + (info & 0xff)) % 31);

/** L2 is given an event (see HardwareState.l2Events): recorded while in guest mode. */
export function oracle_l2_event(v: VcpuState, info: number): void {
  if (v.guestMode && isValid(info)) v.hw.l2Events |= eventBit(info);
}

/** L2 took the event (its handler runs): no longer in flight, so no exit may report it until it is given again. */
export function oracle_l2_taken(v: VcpuState, info: number): void {
  if (v.guestMode) v.hw.l2Events &= ~eventBit(info);
}

/**
 * VMRUN: an NMI KVM still calls injected (nmi_injected) that is not what EVENTINJ carries,
 * because an exception is injected instead or still pending (one a nested VMRUN keeps
 * back), is dropped by design: kvm_check_and_inject_events
 * (x86.c) does not re-inject an NMI or interrupt while an exception is pending (the exception
 * "occurred" while the event was vectored, or userspace queued both), and the next #VMEXIT
 * forgets it. The oracle lets it go; any other NMI missing from EVENTINJ stays owed.
 */
export function oracle_vmrun(v: VcpuState): void {
  const inj = cur(v).eventInj;
  const exceptionFirst = (isValid(inj) && evtType(inj) === SVM_EVTINJ_TYPE_EXEPT) || v.exception.pending || v.exceptionVmexit.pending;
  if (v.nmiInjected && !(v.guestMode && v.nmiL1ToL2) && !isNmi(inj) && exceptionFirst) {
    const h = v.hw;
    h.nmiOwedMin = Math.max(0, h.nmiOwedMin - 1); // as in oracle_nested_vmexit: a slot is free again
    // Whether NMI blocking began with the delivery the exception cut is not settled by
    // the sources KVM's behaviour is checked against: L1's blocking is unknown until its
    // next NMI or IRET.
    if (!v.guestMode) h.nmiBlocked = -1;
  }
}

/**
 * Userspace or INIT set KVM's NMI state: the oracle takes KVM's count of NMIs as what is
 * owed, and `masked` as L1's blocking (null: unknown, as after a refused ioctl, INIT or
 * KVM_SET_NESTED_STATE).
 */
export function oracle_nmi_resync(v: VcpuState, masked: boolean | null): void {
  const h = v.hw;
  h.nmiOwedMax = kvm_nmis_held(v);
  h.nmiOwedMin = Math.min(h.nmiOwedMax, 1);
  h.nmiSpurious = 0;
  h.nmiBlocked = masked === null || v.guestMode ? -1 : masked ? 1 : 0;
  if (!v.guestMode) h.l2Events = 0;
}

/**
 * The NMIs KVM holds for the vCPU, not yet taken by a guest: queued (KVM_NMI not yet
 * processed), pending, the one in vmcb01's V_NMI_PENDING (outside guest mode: inside,
 * nested_vmcb02_prepare_control moved it to nmi_pending and the bit is stale), and the
 * one being injected (KVM's nmi_injected before VMRUN; EVENTINJ while the CPU delivers
 * it), unless that one is L1's own NMI for L2.
 */
export function kvm_nmis_held(v: VcpuState): number {
  let n = v.nmiQueued + v.nmiPending;
  const ic = v.vmcb01.intCtl;
  if (!v.guestMode && (ic & V_NMI_ENABLE_MASK) && (ic & V_NMI_PENDING_MASK)) n++;
  const l1Own = v.guestMode && v.nmiL1ToL2;
  if (v.phase === 'host') {
    if (v.nmiInjected && !l1Own) n++;
  } else if (v.phase === 'delivery' && v.hw.delivering === 'eventinj' && isNmi(cur(v).eventInj) && !l1Own) {
    n++;
  }
  return n;
}

/** L1's GIF: V_GIF when vmcb01 virtualises GIF, else KVM's guest_gif. */
const l1Gif = (v: VcpuState): boolean => {
  const ic = v.vmcb01.intCtl;
  return ic & V_GIF_ENABLE_MASK ? (ic & V_GIF_MASK) !== 0 : v.guestGif;
};

/** An NMI KVM holds for L1 that nothing the architecture knows blocks (L1 running or halted, not in guest mode). */
export function l1_nmi_deliverable(v: VcpuState): boolean {
  return v.hw.nmiBlocked === 0 && l1Gif(v) && (v.vmcb01.intState & SVM_INTERRUPT_SHADOW_MASK) === 0
    && v.nmiQueued + v.nmiPending + ((v.vmcb01.intCtl & V_NMI_ENABLE_MASK) && (v.vmcb01.intCtl & V_NMI_PENDING_MASK) ? 1 : 0) > 0;
}

/** An interrupt in the LAPIC's IRR that L1 can take (IF, GIF, no shadow). */
export function l1_irq_deliverable(v: VcpuState): boolean {
  const vmcb = v.vmcb01;
  return v.apicIrr.length > 0 && (vmcb.rflags & X86_EFLAGS_IF) !== 0 && l1Gif(v) && (vmcb.intState & SVM_INTERRUPT_SHADOW_MASK) === 0;
}

/**
 * After every step that ran: the liveness counters. `guestStep`: the event was a guest
 * one (an instruction, an exception or an asynchronous event while the guest runs);
 * `instruction`: it was an instruction (only those count; an exception or an interrupt
 * that exits retires none, but may deliver what was pending); `run`: a KVM_RUN that was
 * allowed to enter (not immediate_exit).
 */
export function oracle_after_step(v: VcpuState, guestStep: boolean, instruction: boolean, run: boolean): void {
  const h = v.hw;
  h.haltStuck = '';
  if (!guestStep) {
    h.nmiStarved = h.irqStarved = 0;
    if (run && v.phase === 'host' && !v.guestMode && v.mpState === 'HALTED') {
      h.haltStuck = l1_nmi_deliverable(v) ? 'nmi' : l1_irq_deliverable(v) ? 'irq' : '';
    }
    return;
  }
  if (v.phase === 'delivery' && !v.guestMode) return; // the CPU is vectoring an event in L1: no instruction ran
  if (v.phase !== 'guest' || v.guestMode) {
    h.nmiStarved = h.irqStarved = 0;
    return;
  }
  // KVM's NMI window is a single-step it armed (svm_enable_nmi_window): an event the
  // guest takes before the trap pushes KVM's TF into its frame (RFLAGS has it no more),
  // and the window stays shut until the guest's IRET restores it. That TF is
  // no-kvm-tf-visible's finding; the delay it causes is not counted again here. A
  // single-step that is still armed in RFLAGS traps at the next instruction, and counts.
  const tfLost = v.nmiSinglestep && (v.vmcb01.rflags & X86_EFLAGS_TF) === 0;
  const step = instruction ? 1 : 0;
  h.nmiStarved = l1_nmi_deliverable(v) && !tfLost ? h.nmiStarved + step : 0;
  h.irqStarved = l1_irq_deliverable(v) ? h.irqStarved + step : 0;
}
