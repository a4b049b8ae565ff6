// KVM's AMD SVM vendor code (arch/x86/kvm/svm/svm.c and svm.h), read at
// 72046d0a077a (S1) and be45bc4eff33 (S2), and for RFLAGS, I/O, SHUTDOWN/INIT at
// AMDESE/linux-kvm 5217a662 and kvm-x86/linux 0149b498. Pre-fix bodies of the seed fixes live here
// as the base; the fixed bodies are in ../patches.ts and replace these table entries.

import {
  EBUSY, INTERCEPT, bit, evtinj, isValid, evtType, evtVector, SVM_EVTINJ_TYPE_NMI, SVM_EVTINJ_TYPE_INTR,
  SVM_EVTINJ_TYPE_EXEPT, SVM_EVTINJ_TYPE_SOFT, SVM_EVTINJ_VALID, SVM_EVTINJ_VALID_ERR,
  SVM_INTERRUPT_SHADOW_MASK, V_NMI_BLOCKING_MASK, V_NMI_ENABLE_MASK, V_NMI_PENDING_MASK, V_GIF_MASK, V_IRQ_MASK,
  V_INTR_PRIO_MASK, V_INTR_PRIO_SHIFT, V_IRQ_INJECTION_BITS_MASK, X86_EFLAGS_IF, X86_EFLAGS_TF, X86_EFLAGS_RF,
  KVM_X86_SHADOW_INT_MOV_SS, KVM_X86_SHADOW_INT_STI, SVM_EXIT_ERR, SVM_EXIT_EXCP_BASE, DB_VECTOR, GP_VECTOR,
  UD_VECTOR, PF_VECTOR, EIO, exceptionHasErrorCode, type InterceptName,
} from '../constants.js';
import { REQ, cur, curGuest, kvm_make_request, vnmiParam, WARN_ON_ONCE, init_vmcb, emptyVmcb, type VcpuState, type Vmcb } from '../state.js';
import { kvm_exception_is_soft } from './x86.js';
import { hw_vmrun, guest_take_event, NPF_IN_L1_TABLES } from '../hardware.js';
import { oracle_l2_event } from '../oracle.js';
import type { KvmOps } from './ops.js';

/** kvm_is_linear_rip (x86.c): CS.base + RIP is this linear address (64-bit mode: no truncation). */
const kvm_is_linear_rip = (v: VcpuState, linear: number): boolean => cur(v).csBase + cur(v).rip === linear;

/**
 * What KVM's emulator decodes at RIP to skip an instruction (EMULTYPE_SKIP): the guest's
 * last INTn/INT3/INTO when RIP is at it, else a 1-byte instruction (the model's others).
 */
function emulatorInsnLength(v: VcpuState): number {
  const g = curGuest(v);
  return g.softRip === cur(v).rip ? g.softLen : 1;
}

/** svm_handle_exit's dispatch table (svm_exit_handlers[]): exit code → table entry. */
export const SVM_EXIT_HANDLERS: Readonly<Record<number, keyof KvmOps>> = {
  [SVM_EXIT_EXCP_BASE + DB_VECTOR]: 'db_interception',
  [SVM_EXIT_EXCP_BASE + UD_VECTOR]: 'ud_interception',
  [SVM_EXIT_EXCP_BASE + GP_VECTOR]: 'gp_interception',
  [SVM_EXIT_EXCP_BASE + PF_VECTOR]: 'pf_interception',
  0x60: 'intr_interception',
  0x61: 'nmi_interception',
  0x64: 'interrupt_window_interception',
  0x72: 'cpuid_interception',
  0x74: 'iret_interception',
  0x78: 'halt_interception',
  0x7b: 'io_interception',
  0x7d: 'task_switch_interception',
  0x7f: 'shutdown_interception',
  0x80: 'vmrun_interception',
  0x84: 'stgi_interception',
  0x85: 'clgi_interception',
  0x400: 'npf_interception',
};

const hasIntercept = (vmcb: Vmcb, name: InterceptName): boolean => (vmcb.intercepts & bit(INTERCEPT[name])) !== 0;

/**
 * get_vgif_vmcb (svm.h; nested vGIF predates v6.4): where L1's GIF lives when vGIF
 * is on: vmcb02 while L2 runs without nested vGIF (vmcb02 took vmcb01's V_GIF bits), else
 * vmcb01 (with nested vGIF, vmcb02's V_GIF is the GIF L1 gave L2).
 */
function get_vgif_vmcb(k: KvmOps, v: VcpuState): Vmcb | null {
  if (!v.cfg.vgif) return null;
  return v.guestMode && !k.nested_vgif_enabled(k, v) ? v.vmcb02 : v.vmcb01;
}

export const svm = {
  // ---- vNMI helpers (svm.h) -------------------------------------------------------

  /** is_vnmi_enabled: vnmi param, not in guest mode, and vmcb01 has V_NMI_ENABLE. */
  is_vnmi_enabled(k: KvmOps, v: VcpuState): boolean {
    return vnmiParam(v.cfg) && !v.guestMode && (v.vmcb01.intCtl & V_NMI_ENABLE_MASK) !== 0;
  },

  svm_is_vnmi_pending(k: KvmOps, v: VcpuState): boolean {
    if (!k.is_vnmi_enabled(k, v)) return false;
    return (v.vmcb01.intCtl & V_NMI_PENDING_MASK) !== 0;
  },

  /** svm_set_vnmi_pending: hand one NMI to hardware; counts as an injection. */
  svm_set_vnmi_pending(k: KvmOps, v: VcpuState): boolean {
    if (!k.is_vnmi_enabled(k, v)) return false;
    if (v.vmcb01.intCtl & V_NMI_PENDING_MASK) return false;
    v.vmcb01.intCtl |= V_NMI_PENDING_MASK;
    v.stat.nmi_injections++;
    return true;
  },

  svm_get_nmi_mask(k: KvmOps, v: VcpuState): boolean {
    if (k.is_vnmi_enabled(k, v)) return (cur(v).intCtl & V_NMI_BLOCKING_MASK) !== 0;
    return v.nmiMasked;
  },

  svm_set_nmi_mask(k: KvmOps, v: VcpuState, masked: boolean): void {
    if (k.is_vnmi_enabled(k, v)) {
      const vmcb = cur(v);
      vmcb.intCtl = masked ? vmcb.intCtl | V_NMI_BLOCKING_MASK : vmcb.intCtl & ~V_NMI_BLOCKING_MASK;
      return;
    }
    v.nmiMasked = masked;
    if (masked) k.svm_set_iret_intercept(k, v);
    else k.svm_clr_iret_intercept(k, v);
  },

  // ---- RFLAGS (svm.c): KVM's own TF|RF of the NMI single-step stay hidden --------------

  /** svm_get_rflags: RFLAGS of the current VMCB, without the TF/RF KVM added for its NMI single-step. */
  svm_get_rflags(k: KvmOps, v: VcpuState): number {
    let rflags = cur(v).rflags;
    if (v.nmiSinglestep) {
      if (!(v.nmiSinglestepGuestRflags & X86_EFLAGS_TF)) rflags &= ~X86_EFLAGS_TF;
      if (!(v.nmiSinglestepGuestRflags & X86_EFLAGS_RF)) rflags &= ~X86_EFLAGS_RF;
    }
    return rflags;
  },
  /** svm_set_rflags: while the NMI single-step is armed, KVM's TF|RF survive any write. */
  svm_set_rflags(k: KvmOps, v: VcpuState, rflags: number): void {
    if (v.nmiSinglestep) rflags |= X86_EFLAGS_TF | X86_EFLAGS_RF;
    cur(v).rflags = rflags;
  },

  // ---- intercepts (svm.h: always vmcb01, then recalc_intercepts) ---------------------

  svm_set_intercept(k: KvmOps, v: VcpuState, name: InterceptName): void {
    v.vmcb01.intercepts |= bit(INTERCEPT[name]);
    k.recalc_intercepts(k, v);
  },
  svm_clr_intercept(k: KvmOps, v: VcpuState, name: InterceptName): void {
    v.vmcb01.intercepts &= ~bit(INTERCEPT[name]);
    k.recalc_intercepts(k, v);
  },
  /** svm_set_iret_intercept / svm_clr_iret_intercept (no-ops for SEV-ES, not modelled). */
  svm_set_iret_intercept(k: KvmOps, v: VcpuState): void {
    k.svm_set_intercept(k, v, 'IRET');
  },
  svm_clr_iret_intercept(k: KvmOps, v: VcpuState): void {
    k.svm_clr_intercept(k, v, 'IRET');
  },

  // ---- injection --------------------------------------------------------------------

  /**
   * svm_inject_nmi, as before 72046d0a (fa4c027a7956..72046d0a^): the NMI is
   * injected via EVENTINJ and KVM marks NMIs masked and intercepts IRET
   * unconditionally, even when vNMI tracks the mask in hardware.
   */
  svm_inject_nmi(k: KvmOps, v: VcpuState): void {
    cur(v).eventInj = evtinj(SVM_EVTINJ_TYPE_NMI, 0);
    if (v.nmiL1ToL2) return; // L1's NMI for L2: no L0 masking, no stat
    v.nmiMasked = true;
    k.svm_set_iret_intercept(k, v);
    v.stat.nmi_injections++;
  },

  /** svm_inject_irq: a soft interrupt (INTn) first gets its RIP tracking; if that fails, nothing is injected. */
  svm_inject_irq(k: KvmOps, v: VcpuState, reinjected: boolean): void {
    if (v.interrupt.soft && k.svm_update_soft_interrupt_rip(k, v) < 0) return;
    const type = v.interrupt.soft ? SVM_EVTINJ_TYPE_SOFT : SVM_EVTINJ_TYPE_INTR;
    v.stat.irq_injections++;
    cur(v).eventInj = (v.interrupt.nr | SVM_EVTINJ_VALID | type) >>> 0;
  },

  /**
   * svm_inject_exception: the payload first (kvm_deliver_exception_payload), then
   * event_inj = vector | VALID | VALID_ERR (with an error code) | TYPE_EXEPT, and
   * event_inj_err = the error code, written even without one. #BP and #OF (soft
   * exceptions) first get their RIP tracking (svm_update_soft_interrupt_rip); if that
   * fails, nothing is injected.
   */
  svm_inject_exception(k: KvmOps, v: VcpuState): void {
    const ex = v.exception;
    k.kvm_deliver_exception_payload(k, v, ex);
    if (kvm_exception_is_soft(ex.vector) && k.svm_update_soft_interrupt_rip(k, v) < 0) return;
    const vmcb = cur(v);
    vmcb.eventInj = (ex.vector | SVM_EVTINJ_VALID | (ex.hasErrorCode ? SVM_EVTINJ_VALID_ERR : 0) | SVM_EVTINJ_TYPE_EXEPT) >>> 0;
    vmcb.eventInjErr = ex.errorCode;
  },

  // ---- blocking ---------------------------------------------------------------------

  svm_nmi_blocked(k: KvmOps, v: VcpuState): boolean {
    if (!k.gif_set(k, v)) return true;
    if (v.guestMode && k.nested_exit_on_nmi(k, v)) return false;
    if (k.svm_get_nmi_mask(k, v)) return true;
    return (cur(v).intState & SVM_INTERRUPT_SHADOW_MASK) !== 0;
  },

  svm_nmi_allowed(k: KvmOps, v: VcpuState, forInjection: boolean): number {
    if (v.nestedRunPending) return EBUSY;
    if (k.svm_nmi_blocked(k, v)) return 0;
    // An NMI must not be injected into L2 if it's supposed to VM-Exit.
    if (forInjection && v.guestMode && k.nested_exit_on_nmi(k, v)) return EBUSY;
    return 1;
  },

  svm_get_if_flag(k: KvmOps, v: VcpuState): boolean {
    return (cur(v).rflags & X86_EFLAGS_IF) !== 0; // SEV-ES (int_state bit 1) not modelled
  },

  svm_interrupt_blocked(k: KvmOps, v: VcpuState): boolean {
    if (!k.gif_set(k, v)) return true;
    if (v.guestMode) {
      // With V_INTR_MASKING in vmcb12, L1's IF (saved in vmcb01) gates L1's interrupts.
      const rflags = v.nestedCtl.intCtl & (1 << 24) ? v.vmcb01.rflags : cur(v).rflags;
      if (!(rflags & X86_EFLAGS_IF)) return true;
      // The shadow does not block a nested #VMEXIT(INTR).
      if (k.nested_exit_on_intr(k, v)) return false;
    } else if (!k.svm_get_if_flag(k, v)) {
      return true;
    }
    return (cur(v).intState & SVM_INTERRUPT_SHADOW_MASK) !== 0;
  },

  svm_interrupt_allowed(k: KvmOps, v: VcpuState, forInjection: boolean): number {
    if (v.nestedRunPending) return EBUSY;
    if (k.svm_interrupt_blocked(k, v)) return 0;
    if (forInjection && v.guestMode && k.nested_exit_on_intr(k, v)) return EBUSY;
    return 1;
  },

  // ---- windows ----------------------------------------------------------------------

  /**
   * svm_enable_nmi_window as v6.4..v6.9 have it (svm.c at 72046d0a): the vNMI WARN is
   * unconditional. b4bd55646747 (v6.10) moved it into the "NMIs masked" branch
   * (PATCH_b4bd5564).
   */
  svm_enable_nmi_window(k: KvmOps, v: VcpuState): void {
    enable_nmi_window(k, v, false);
  },

  disable_nmi_singlestep(k: KvmOps, v: VcpuState): void {
    v.nmiSinglestep = false;
    const vmcb = cur(v);
    if (!(v.nmiSinglestepGuestRflags & X86_EFLAGS_TF)) vmcb.rflags &= ~X86_EFLAGS_TF;
    if (!(v.nmiSinglestepGuestRflags & X86_EFLAGS_RF)) vmcb.rflags &= ~X86_EFLAGS_RF;
  },

  svm_enable_irq_window(k: KvmOps, v: VcpuState): void {
    // With GIF=0 and no vGIF the STGI intercept reopens the window later.
    if (v.cfg.vgif || k.gif_set(k, v)) k.svm_set_vintr(k, v);
  },

  /** svm_set_vintr: a dummy V_IRQ plus the VINTR intercept, to exit when the guest can take an IRQ. */
  svm_set_vintr(k: KvmOps, v: VcpuState): void {
    k.svm_set_intercept(k, v, 'VINTR');
    // recalc_intercepts may have dropped VINTR for L2 (V_INTR_MASKING with L1 IF=0).
    if (!hasIntercept(cur(v), 'VINTR')) return;
    const vmcb = cur(v);
    vmcb.intVector = 0;
    vmcb.intCtl = (vmcb.intCtl & ~V_INTR_PRIO_MASK) | V_IRQ_MASK | (0xf << V_INTR_PRIO_SHIFT);
  },

  svm_clear_vintr(k: KvmOps, v: VcpuState): void {
    k.svm_clr_intercept(k, v, 'VINTR');
    const vmcb = cur(v);
    vmcb.intCtl &= ~V_IRQ_INJECTION_BITS_MASK;
    if (v.guestMode) {
      v.vmcb01.intCtl &= ~V_IRQ_INJECTION_BITS_MASK;
      vmcb.intCtl |= v.nestedCtl.intCtl & V_IRQ_INJECTION_BITS_MASK;
      vmcb.intVector = v.nestedCtl.intVector;
    }
  },

  // ---- GIF (svm.h gif_set/enable_gif/disable_gif, svm.c svm_set_gif) ------------------

  gif_set(k: KvmOps, v: VcpuState): boolean {
    const vmcb = get_vgif_vmcb(k, v);
    return vmcb ? (vmcb.intCtl & V_GIF_MASK) !== 0 : v.guestGif;
  },

  /**
   * svm_set_gif (svm.c): setting GIF re-evaluates events when an NMI, an interrupt or an
   * INIT is waiting for it (the INIT part from a 2022 fix by Sean Christopherson, before
   * v6.4); clearing it without vGIF drops the interrupt window. SMIs are not modelled.
   */
  svm_set_gif(k: KvmOps, v: VcpuState, value: boolean): void {
    const vgifVmcb = get_vgif_vmcb(k, v);
    if (value) {
      // With vGIF the STGI intercept only served to detect the SMI/NMI window.
      if (v.cfg.vgif) k.svm_clr_intercept(k, v, 'STGI');
      if (hasIntercept(cur(v), 'VINTR')) k.svm_clear_vintr(k, v);
      if (vgifVmcb) vgifVmcb.intCtl |= V_GIF_MASK;
      else v.guestGif = true;
      if (v.nmiPending > 0 || k.kvm_cpu_has_injectable_intr(k, v) || v.apicInit) kvm_make_request(v, REQ.EVENT);
    } else {
      if (vgifVmcb) vgifVmcb.intCtl &= ~V_GIF_MASK;
      else v.guestGif = false;
      // After CLGI no interrupts should come; with vGIF the VINTR intercept stays armed.
      if (!v.cfg.vgif) k.svm_clear_vintr(k, v);
    }
  },

  /** svm_apic_init_signal_blocked (svm.c, v6.0 form): INIT is latched while GIF is clear. */
  svm_apic_init_signal_blocked(k: KvmOps, v: VcpuState): boolean {
    return !k.gif_set(k, v);
  },

  // ---- interrupt shadow ---------------------------------------------------------------

  svm_get_interrupt_shadow(k: KvmOps, v: VcpuState): number {
    return cur(v).intState & SVM_INTERRUPT_SHADOW_MASK ? KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS : 0;
  },

  svm_set_interrupt_shadow(k: KvmOps, v: VcpuState, mask: number): void {
    const vmcb = cur(v);
    vmcb.intState = mask ? vmcb.intState | SVM_INTERRUPT_SHADOW_MASK : vmcb.intState & ~SVM_INTERRUPT_SHADOW_MASK;
  },

  /**
   * __svm_skip_emulated_instruction (svm.c): the next RIP is the VMCB's next_rip (with
   * nrips, when the CPU wrote one), else svm->next_rip (an exit handler's), else what the
   * emulator decodes at RIP (EMULTYPE_SKIP; in the model the length of the instruction the
   * guest left there). With `commit`, the interrupt shadow ends. Returns 1 (the model's
   * decode does not fail). SEV-ES is not modelled.
   */
  __svm_skip_emulated_instruction(k: KvmOps, v: VcpuState, commit: boolean): number {
    const vmcb = cur(v);
    if (v.cfg.nrips && vmcb.nextRip !== 0) v.svmNextRip = vmcb.nextRip;
    if (v.svmNextRip === 0) vmcb.rip += emulatorInsnLength(v);
    else vmcb.rip = v.svmNextRip;
    if (commit) k.svm_set_interrupt_shadow(k, v, 0);
    return 1;
  },

  /** svm_skip_emulated_instruction: __svm_skip_emulated_instruction with its side effects. */
  svm_skip_emulated_instruction(k: KvmOps, v: VcpuState): number {
    return k.__svm_skip_emulated_instruction(k, v, true);
  },

  /**
   * svm_update_soft_interrupt_rip (svm.c, 6ef88d6e36c2 and 7e5b5ef8dca3, v6.0): before
   * injecting a soft event, find the next RIP by a skip (a probe without side effects with
   * nrips), record soft_int_{csbase,old_rip,next_rip} so that a cut delivery can be
   * re-injected, put RIP back with nrips, and write the VMCB's next_rip (the CPU has NRIPS:
   * 3741aec4c38f). -EIO if the skip fails.
   */
  svm_update_soft_interrupt_rip(k: KvmOps, v: VcpuState): number {
    const vmcb = cur(v);
    const oldRip = vmcb.rip;
    if (!k.__svm_skip_emulated_instruction(k, v, !v.cfg.nrips)) return EIO;
    const rip = vmcb.rip;
    v.softIntInjected = true;
    v.softIntCsbase = vmcb.csBase;
    v.softIntOldRip = oldRip;
    v.softIntNextRip = rip;
    if (v.cfg.nrips) vmcb.rip = oldRip;
    vmcb.nextRip = rip;
    return 0;
  },

  // ---- completion -------------------------------------------------------------------

  /** svm_complete_interrupts: after every exit, turn exit_int_info back into KVM's queues. */
  svm_complete_interrupts(k: KvmOps, v: VcpuState): void {
    const vmcb = cur(v);
    const exitintinfo = vmcb.exitIntInfo;
    const nmiL1ToL2 = v.nmiL1ToL2;
    const softIntInjected = v.softIntInjected;
    v.nmiL1ToL2 = false;
    v.softIntInjected = false;

    // Progress since the IRET exit means the IRET retired: NMIs are unmasked.
    if (v.awaitingIretCompletion && vmcb.rip !== v.nmiIretRip) {
      v.awaitingIretCompletion = false;
      v.nmiMasked = false;
      kvm_make_request(v, REQ.EVENT);
    }
    v.nmiInjected = false;
    k.kvm_clear_exception_queue(k, v);
    k.kvm_clear_interrupt_queue(k, v);

    if (!isValid(exitintinfo)) return;
    kvm_make_request(v, REQ.EVENT);
    const vector = evtVector(exitintinfo);
    const type = evtType(exitintinfo);
    if (softIntInjected) k.svm_complete_soft_interrupt(k, v, vector, type);
    switch (type) {
      case SVM_EVTINJ_TYPE_NMI:
        v.nmiInjected = true;
        v.nmiL1ToL2 = nmiL1ToL2;
        break;
      case SVM_EVTINJ_TYPE_EXEPT: {
        const hasErr = (exitintinfo & SVM_EVTINJ_VALID_ERR) !== 0;
        k.kvm_requeue_exception(k, v, vector, hasErr, hasErr ? vmcb.exitIntInfoErr : 0);
        break;
      }
      case SVM_EVTINJ_TYPE_INTR:
        k.kvm_queue_interrupt(k, v, vector, false);
        break;
      case SVM_EVTINJ_TYPE_SOFT:
        k.kvm_queue_interrupt(k, v, vector, true);
        break;
      default:
        break;
    }
  },

  /**
   * svm_complete_soft_interrupt (svm.c): a soft event KVM injected was cut short. With
   * nrips, if the event reported is that soft event (INTn, or #BP/#OF) and RIP is still at
   * its instruction, next_rip is stuffed again (the CPU zeroed it). Without nrips, if the
   * event is soft or any exception and RIP is past the instruction, RIP is unwound.
   */
  svm_complete_soft_interrupt(k: KvmOps, v: VcpuState, vector: number, type: number): void {
    const vmcb = cur(v);
    const isSoft = type === SVM_EVTINJ_TYPE_SOFT;
    const isException = type === SVM_EVTINJ_TYPE_EXEPT;
    if (v.cfg.nrips && (isSoft || (isException && kvm_exception_is_soft(vector))) && kvm_is_linear_rip(v, v.softIntOldRip + v.softIntCsbase)) {
      vmcb.nextRip = v.softIntNextRip;
    } else if (!v.cfg.nrips && (isSoft || isException) && kvm_is_linear_rip(v, v.softIntNextRip + v.softIntCsbase)) {
      vmcb.rip = v.softIntOldRip;
    }
  },

  /** svm_cancel_injection: an event that was set up but never run is requeued. */
  svm_cancel_injection(k: KvmOps, v: VcpuState): void {
    const vmcb = cur(v);
    oracle_l2_event(v, vmcb.eventInj); // not KVM: the oracle (oracle.ts) records what L2 was about to get
    vmcb.exitIntInfo = vmcb.eventInj;
    vmcb.exitIntInfoErr = vmcb.eventInjErr;
    vmcb.eventInj = 0;
    k.svm_complete_interrupts(k, v);
  },

  // ---- running --------------------------------------------------------------------

  /** svm_vcpu_run up to VMRUN. */
  svm_vcpu_run(k: KvmOps, v: VcpuState): void {
    // Disable single-step when injecting: our TF must not be pushed on the guest stack.
    if (v.nmiSinglestep && cur(v).eventInj) {
      k.disable_nmi_singlestep(k, v);
      v.hw.physIntrPending = true; // smp_send_reschedule: exit right after the injection
    }
    v.hw.hostGif = false; // clgi()
    k.svm_vcpu_enter_exit(k, v);
  },

  /**
   * svm_vcpu_enter_exit → __svm_vcpu_run before be45bc4e: the assembly does STI
   * immediately before VMRUN, so VMRUN executes in the host's STI shadow.
   */
  svm_vcpu_enter_exit(k: KvmOps, v: VcpuState): void {
    hw_vmrun(k, v, true);
  },

  /** The rest of svm_vcpu_run, after #VMEXIT: stgi, nested sync, svm_complete_interrupts. */
  svm_vcpu_run_after_vmrun(k: KvmOps, v: VcpuState): void {
    v.hw.hostGif = true; // stgi()
    v.svmNextRip = 0;
    if (v.guestMode) {
      k.nested_sync_control_from_vmcb02(k, v);
      if (v.nestedRunPending && cur(v).exitCode !== SVM_EXIT_ERR) v.stat.nested_run++;
      v.nestedRunPending = false;
    }
    k.svm_complete_interrupts(k, v);
    k.vcpu_enter_guest_after_run(k, v);
  },

  /** svm_handle_exit: L2 exits go to L1 when it intercepts them, else to L0's handler. */
  svm_handle_exit(k: KvmOps, v: VcpuState): number {
    if (v.guestMode) {
      let vmexit = k.nested_svm_exit_special(k, v);
      if (vmexit === NESTED_EXIT_CONTINUE) vmexit = k.nested_svm_exit_handled(k, v);
      if (vmexit === NESTED_EXIT_DONE) return 1;
    }
    const code = cur(v).exitCode;
    if (code === SVM_EXIT_ERR) {
      v.runExitReason = 'FAIL_ENTRY';
      return 0;
    }
    const handler = SVM_EXIT_HANDLERS[code];
    if (!handler) {
      WARN_ON_ONCE(v, true, `svm_handle_exit: unexpected exit 0x${code.toString(16)}`);
      v.runExitReason = 'INTERNAL_ERROR'; // svm_handle_invalid_exit
      return 0;
    }
    return (k[handler] as (k: KvmOps, v: VcpuState) => number)(k, v);
  },

  // ---- exit handlers ----------------------------------------------------------------

  intr_interception(k: KvmOps, v: VcpuState): number {
    v.stat.irq_exits++;
    return 1;
  },
  nmi_interception(k: KvmOps, v: VcpuState): number {
    return 1;
  },
  interrupt_window_interception(k: KvmOps, v: VcpuState): number {
    kvm_make_request(v, REQ.EVENT);
    k.svm_clear_vintr(k, v);
    v.stat.irq_window_exits++;
    return 1;
  },
  cpuid_interception(k: KvmOps, v: VcpuState): number {
    return k.kvm_skip_emulated_instruction(k, v);
  },
  /** iret_interception: NMIs unblock once the IRET retires (seen in svm_complete_interrupts). */
  iret_interception(k: KvmOps, v: VcpuState): number {
    v.stat.nmi_window_exits++;
    v.awaitingIretCompletion = true;
    k.svm_clr_iret_intercept(k, v);
    v.nmiIretRip = cur(v).rip;
    kvm_make_request(v, REQ.EVENT);
    return 1;
  },
  halt_interception(k: KvmOps, v: VcpuState): number {
    return k.kvm_emulate_halt(k, v);
  },
  /** io_interception: an IN/OUT (next_rip from exit_info_2) goes to kvm_fast_pio; string I/O is not modelled. */
  io_interception(k: KvmOps, v: VcpuState): number {
    v.svmNextRip = cur(v).nextRip; // exit_info_2: the next RIP, whatever nrips says
    return k.kvm_fast_pio(k, v);
  },
  /**
   * task_switch_interception: the interrupted event is delivered through the task gate by
   * kvm_task_switch (x86.c), which emulates the switch: the emulator starts from
   * kvm_get_rflags (init_emulate_ctxt: KVM's NMI single-step TF|RF hidden), saves those
   * flags in the old task's TSS (here: the frame the model keeps for the handler), and
   * writes the new task's flags back with kvm_set_rflags (svm_set_rflags re-arms KVM's
   * TF|RF while its single-step is on). Read in x86.c (init_emulate_ctxt, kvm_task_switch).
   */
  task_switch_interception(k: KvmOps, v: VcpuState): number {
    const info = cur(v).exitIntInfo;
    if (isValid(info)) {
      const t = evtType(info);
      if (t === SVM_EVTINJ_TYPE_NMI) v.nmiInjected = false;
      else if (t === SVM_EVTINJ_TYPE_EXEPT) k.kvm_clear_exception_queue(k, v);
      else k.kvm_clear_interrupt_queue(k, v);
      const saved = k.kvm_get_rflags(k, v); // init_emulate_ctxt
      const g = curGuest(v);
      const depth = g.frames.length;
      guest_take_event(v, info);
      if (g.frames.length > depth) g.frames[depth]!.savedRflags = saved; // save_state_to_tss
      k.kvm_set_rflags(k, v, cur(v).rflags); // kvm_task_switch: the new task's flags
    }
    return 1;
  },
  /**
   * shutdown_interception: the VMCB is undefined after SHUTDOWN, so KVM clears the current
   * one (vmcb02 if L2 shut down and L1 does not intercept it) and synthesises INIT
   * (kvm_vcpu_reset); userspace gets KVM_EXIT_SHUTDOWN and may run the vCPU again.
   * (SEV-ES, which skips the reset, is not modelled.)
   */
  shutdown_interception(k: KvmOps, v: VcpuState): number {
    const vmcb = cur(v);
    Object.assign(vmcb, emptyVmcb(), { rip: 0, rflags: 0 }); // clear_page(svm->vmcb)
    k.kvm_vcpu_reset(k, v, true);
    v.runExitReason = 'SHUTDOWN';
    return 0;
  },
  /**
   * svm_vcpu_reset → init_vmcb on vmcb01 (INIT: __svm_vcpu_reset, which would clear
   * nmi_masked and awaiting_iret_completion, runs only at RESET). init_vmcb ends with
   * enable_gif.
   */
  svm_vcpu_reset(k: KvmOps, v: VcpuState, initEvent: boolean): void {
    init_vmcb(v.cfg, v.vmcb01);
    if (!v.cfg.vgif) v.guestGif = true;
    if (!initEvent) {
      v.nmiMasked = false;
      v.awaitingIretCompletion = false;
    }
  },
  /**
   * svm_set_efer, for EFER.SVME: clearing it leaves nested mode, sets GIF and drops the #GP
   * erratum intercept; setting it adds that intercept.
   */
  svm_set_efer(k: KvmOps, v: VcpuState, svme: boolean): void {
    if (svme === v.l1Svme) return;
    v.l1Svme = svme;
    if (!svme) {
      k.svm_leave_nested(k, v);
      k.svm_set_gif(k, v, true);
      v.vmcb01.exceptions &= ~bit(GP_VECTOR);
    } else if (v.cfg.gpErratumIntercept) {
      v.vmcb01.exceptions |= bit(GP_VECTOR);
    }
    k.recalc_intercepts(k, v);
  },
  vmrun_interception(k: KvmOps, v: VcpuState): number {
    return k.nested_svm_vmrun(k, v);
  },
  stgi_interception(k: KvmOps, v: VcpuState): number {
    const ret = k.kvm_skip_emulated_instruction(k, v);
    k.svm_set_gif(k, v, true);
    return ret;
  },
  clgi_interception(k: KvmOps, v: VcpuState): number {
    const ret = k.kvm_skip_emulated_instruction(k, v);
    k.svm_set_gif(k, v, false);
    return ret;
  },
  /** npf_interception: L0 fixes its own tables; a miss in L1's tables becomes a nested #NPF. */
  npf_interception(k: KvmOps, v: VcpuState): number {
    if (v.guestMode && cur(v).exitInfo1 === NPF_IN_L1_TABLES) k.nested_svm_inject_npf_exit(k, v);
    return 1;
  },
  /** db_interception: the NMI single-step #DB is KVM's own; any other #DB goes to the guest. */
  db_interception(k: KvmOps, v: VcpuState): number {
    if (!v.nmiSinglestep) {
      k.kvm_queue_exception(k, v, DB_VECTOR, false, 0);
      return 1;
    }
    k.disable_nmi_singlestep(k, v);
    kvm_make_request(v, REQ.EVENT); // check for pending NMIs upon entry
    return 1;
  },
  ud_interception(k: KvmOps, v: VcpuState): number {
    k.kvm_queue_exception(k, v, UD_VECTOR, false, 0);
    return 1;
  },
  /**
   * gp_interception: a #GP with an error code (exit_info_1), or one not raised by an SVM
   * instruction (the erratum case), is reinjected with that error code.
   */
  gp_interception(k: KvmOps, v: VcpuState): number {
    k.kvm_queue_exception(k, v, GP_VECTOR, true, cur(v).exitInfo1);
    return 1;
  },
  /** pf_interception (shadow paging): the fault is the guest's own, so it is reinjected. */
  pf_interception(k: KvmOps, v: VcpuState): number {
    k.kvm_queue_exception(k, v, PF_VECTOR, exceptionHasErrorCode(PF_VECTOR), 0);
    return 1;
  },
};

/**
 * svm_enable_nmi_window's body. `warnIffMasked`: with b4bd55646747, vNMI WARNs only when
 * NMIs are outright masked (KVM legitimately asks for a window when a second NMI arrives
 * during an STI shadow or with GIF=0).
 */
export function enable_nmi_window(k: KvmOps, v: VcpuState, warnIffMasked: boolean): void {
  if (!warnIffMasked) WARN_ON_ONCE(v, k.is_vnmi_enabled(k, v), 'svm_enable_nmi_window: vNMI enabled');
  if (k.svm_get_nmi_mask(k, v)) {
    // With vNMI, hardware unmasks NMIs on IRET and delivers a pending vNMI itself; KVM
    // should never need a window then.
    if (warnIffMasked) WARN_ON_ONCE(v, k.is_vnmi_enabled(k, v), 'svm_enable_nmi_window: vNMI enabled');
    if (!v.awaitingIretCompletion) return; // IRET will cause a vm exit
  }
  if (!k.gif_set(k, v)) {
    if (v.cfg.vgif) k.svm_set_intercept(k, v, 'STGI');
    return;
  }
  // Something prevents NMI from being injected: single step over the blocking instruction.
  // The guest's own RFLAGS, through svm_get_rflags: if the single-step is already armed
  // (re-armed before its #DB), KVM's TF|RF are not mistaken for the guest's.
  v.nmiSinglestepGuestRflags = k.svm_get_rflags(k, v);
  v.nmiSinglestep = true;
  cur(v).rflags |= X86_EFLAGS_TF | X86_EFLAGS_RF;
}

export const NESTED_EXIT_HOST = 0;
export const NESTED_EXIT_DONE = 1;
export const NESTED_EXIT_CONTINUE = 2;


