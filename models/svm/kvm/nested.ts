// Nested SVM (arch/x86/kvm/svm/nested.c; vNMI hunks from 0977cfac6e76 "nested VNMI",
// the rest read at a post-6.14 copy whose relevant parts match the 6.7–6.14 era, and at
// AMDESE/linux-kvm 8b79f266 for the RFLAGS, TLB-flush, triple-fault and leave-nested steps):
// L1's VMRUN, vmcb02 construction, intercept merging, nested #VMEXIT and the
// nested event checks.

import {
  INTERCEPT, bit, isValid, evtType, SVM_EVTINJ_TYPE_NMI, SVM_EVTINJ_TYPE_INTR, SVM_EVTINJ_TYPE_SOFT,
  SVM_EVTINJ_TYPE_EXEPT, SVM_EVTINJ_VALID, SVM_EVTINJ_VALID_ERR, V_INTR_MASKING_MASK, V_TPR_MASK,
  V_IRQ_INJECTION_BITS_MASK, V_GIF_MASK, V_GIF_ENABLE_MASK, V_NMI_PENDING_MASK, V_NMI_ENABLE_MASK,
  V_NMI_BLOCKING_MASK, V_IRQ_MASK, X86_EFLAGS_IF, X86_EFLAGS_TF, X86_EFLAGS_FIXED, SVM_EXIT_ERR, SVM_EXIT_EXCP_BASE,
  SVM_EXIT_INTR, SVM_EXIT_NMI, SVM_EXIT_NPF, SVM_EXIT_SHUTDOWN, SVM_EXIT_INIT, DB_VECTOR, PF_VECTOR, EBUSY, EINVAL, exitName, type InterceptName,
} from '../constants.js';
import { REQ, kvm_make_request, kvm_clear_request, vnmiParam, WARN_ON_ONCE, type VcpuState, type Vmcb } from '../state.js';
import { NESTED_EXIT_CONTINUE, NESTED_EXIT_DONE, NESTED_EXIT_HOST } from './svm.js';
import { is_evtinj_soft } from '../hardware.js';
import { oracle_nested_vmexit } from '../oracle.js';
import type { KvmOps } from './ops.js';

/** Exit code → the vmcb12 intercept that makes L1 want it (nested_svm_intercept). */
const EXIT_INTERCEPT: Readonly<Record<number, InterceptName>> = {
  0x60: 'INTR', 0x61: 'NMI', 0x63: 'INIT', 0x64: 'VINTR', 0x72: 'CPUID', 0x74: 'IRET', 0x78: 'HLT', 0x7b: 'IOIO',
  0x7d: 'TASK_SWITCH', 0x7f: 'SHUTDOWN', 0x80: 'VMRUN', 0x84: 'STGI', 0x85: 'CLGI',
};

const ctlIntercepts = (v: VcpuState, name: InterceptName): boolean => (v.nestedCtl.intercepts & bit(INTERCEPT[name])) !== 0;

/** NRIPS in L1's CPUID, and KVM offers it (guest_can_use / guest_cpu_cap_has X86_FEATURE_NRIPS). */
const guestHasNrips = (v: VcpuState): boolean => v.cfg.nrips && v.cfg.l1Nrips;

/** nested_copy_vmcb_control_to_cache: the fields KVM caches from vmcb12. */
function copyControlToCache(v: VcpuState): void {
  Object.assign(v.nestedCtl, v.vmcb12);
}

export const nested = {
  nested_vnmi_enabled(k: KvmOps, v: VcpuState): boolean {
    return vnmiParam(v.cfg) && v.cfg.l1Vnmi && (v.nestedCtl.intCtl & V_NMI_ENABLE_MASK) !== 0;
  },
  nested_exit_on_nmi(k: KvmOps, v: VcpuState): boolean {
    return ctlIntercepts(v, 'NMI');
  },
  nested_exit_on_intr(k: KvmOps, v: VcpuState): boolean {
    return ctlIntercepts(v, 'INTR');
  },
  nested_exit_on_init(k: KvmOps, v: VcpuState): boolean {
    return ctlIntercepts(v, 'INIT');
  },
  /**
   * nested_vgif_enabled (svm.h): L1 has vGIF in CPUID (KVM offers it only with the vgif
   * param) and vmcb12 sets V_GIF_ENABLE: L2 runs with the virtual GIF L1 gave it.
   */
  nested_vgif_enabled(k: KvmOps, v: VcpuState): boolean {
    return v.cfg.vgif && v.cfg.l1Vgif && (v.nestedCtl.intCtl & V_GIF_ENABLE_MASK) !== 0;
  },

  /** recalc_intercepts: vmcb02 = vmcb01 intercepts (with tweaks) OR vmcb12 intercepts. */
  recalc_intercepts(k: KvmOps, v: VcpuState): void {
    if (!v.guestMode) return;
    const c = v.vmcb02;
    const h = v.vmcb01;
    const g = v.nestedCtl;
    c.intercepts = h.intercepts;
    c.exceptions = h.exceptions;
    if (g.intCtl & V_INTR_MASKING_MASK) {
      // L2's IF and CR8 don't affect L1's interrupts; with L1's IF=0 an L0 IRQ window
      // for L1 can never open while L2 runs.
      c.intercepts &= ~bit(INTERCEPT.CR8_WRITE);
      if (!(h.rflags & X86_EFLAGS_IF)) c.intercepts &= ~bit(INTERCEPT.VINTR);
    }
    c.intercepts |= g.intercepts;
    c.exceptions |= g.exceptions;
  },

  /** nested_vmcb_check_controls: __nested_vmcb_check_controls on the vmcb12 cache. */
  nested_vmcb_check_controls(k: KvmOps, v: VcpuState): boolean {
    return k.__nested_vmcb_check_controls(k, v, v.nestedCtl);
  },
  /** __nested_vmcb_check_controls (the checks the model's control areas can fail). */
  __nested_vmcb_check_controls(k: KvmOps, v: VcpuState, c: Vmcb): boolean {
    if (!(c.intercepts & bit(INTERCEPT.VMRUN))) return false;
    if ((c.intCtl & V_NMI_ENABLE_MASK) && !(c.intercepts & bit(INTERCEPT.NMI))) return false;
    return true;
  },

  /** nested_svm_vmrun: L1 executed VMRUN (intercepted by L0). */
  nested_svm_vmrun(k: KvmOps, v: VcpuState): number {
    const ret = k.kvm_skip_emulated_instruction(k, v); // VMRUN is skipped before entry
    copyControlToCache(v);
    if (!k.nested_vmcb_check_controls(k, v)) {
      v.vmcb12.exitCode = SVM_EXIT_ERR;
      v.vmcb12.exitInfo1 = 0;
      v.log.reflected.push('ERR');
      return ret;
    }
    // Save L1's state in vmcb01 (RIP is already past VMRUN): RFLAGS through kvm_get_rflags,
    // so KVM's own NMI single-step TF|RF are not saved as L1's.
    v.vmcb01.rflags = k.kvm_get_rflags(k, v);
    v.nestedRunPending = true;
    k.enter_svm_guest_mode(k, v);
    return ret;
  },

  enter_svm_guest_mode(k: KvmOps, v: VcpuState): void {
    v.hw.retry = null;
    k.nested_vmcb02_prepare_control(k, v, v.vmcb12.rip, v.vmcb12.csBase);
    // nested_vmcb02_prepare_save: L2's RFLAGS (kvm_set_rflags: an event request, and KVM's
    // TF|RF if the NMI single-step is armed) and RIP come from vmcb12.
    k.kvm_set_rflags(k, v, v.vmcb12.rflags | X86_EFLAGS_FIXED);
    v.vmcb02.rip = v.vmcb12.rip;
    v.vmcb02.csBase = v.vmcb12.csBase;
    v.vmcb02.idtLimit = v.vmcb12.idtLimit; // save.idtr (a new vmcb12, or VMCB_DT dirty: always here)
    k.svm_set_gif(k, v, true);
  },

  /** nested_svm_transition_tlb_flush: every nested transition syncs the MMU and flushes the current TLB. */
  nested_svm_transition_tlb_flush(k: KvmOps, v: VcpuState): void {
    kvm_make_request(v, REQ.MMU_SYNC);
    kvm_make_request(v, REQ.TLB_FLUSH_CURRENT);
  },

  /** svm_leave_nested: leave guest mode without telling L1 (INIT, EFER.SVME cleared). */
  svm_leave_nested(k: KvmOps, v: VcpuState): void {
    if (!v.guestMode) return;
    v.nestedRunPending = false;
    v.guestMode = false; // leave_guest_mode + svm_switch_vmcb(vmcb01)
    v.hw.retry = null;
  },

  /** nested_svm_triple_fault: a triple fault in L2 is L1's SHUTDOWN exit if L1 intercepts it. */
  nested_svm_triple_fault(k: KvmOps, v: VcpuState): void {
    if (!ctlIntercepts(v, 'SHUTDOWN')) return;
    kvm_clear_request(v, REQ.TRIPLE_FAULT);
    k.nested_svm_simple_vmexit(k, v, SVM_EXIT_SHUTDOWN);
  },

  /**
   * nested_vmcb02_prepare_control(vmcb12_rip, vmcb12_csbase): vmcb02's control area from
   * the vmcb12 cache and vmcb01. The RIP and CS base are vmcb12's at VMRUN, and L2's
   * current ones at KVM_SET_NESTED_STATE.
   */
  nested_vmcb02_prepare_control(k: KvmOps, v: VcpuState, vmcb12Rip: number, vmcb12Csbase: number): void {
    const vmcb01 = v.vmcb01;
    const vmcb02 = v.vmcb02;
    const ctl = v.nestedCtl;
    let vmcb01Bits = V_INTR_MASKING_MASK;
    let vmcb12Bits = V_TPR_MASK | V_IRQ_INJECTION_BITS_MASK;
    // Nested vGIF: L2's V_GIF and V_GIF_ENABLE are vmcb12's; without it, vmcb01's (L1's GIF).
    if (k.nested_vgif_enabled(k, v)) vmcb12Bits |= V_GIF_MASK | V_GIF_ENABLE_MASK;
    else vmcb01Bits |= V_GIF_MASK | V_GIF_ENABLE_MASK;
    if (vnmiParam(v.cfg)) {
      // L1's vNMI is off while L2 runs: a hardware-pending NMI for L1 becomes software-pending.
      if (vmcb01.intCtl & V_NMI_PENDING_MASK) {
        v.nmiPending++;
        kvm_make_request(v, REQ.EVENT);
      }
      if (k.nested_vnmi_enabled(k, v)) vmcb12Bits |= V_NMI_PENDING_MASK | V_NMI_ENABLE_MASK | V_NMI_BLOCKING_MASK;
    }
    vmcb02.intCtl = (ctl.intCtl & vmcb12Bits) | (vmcb01.intCtl & vmcb01Bits);
    vmcb02.intVector = ctl.intVector;
    vmcb02.intState = ctl.intState; // verbatim
    vmcb02.eventInj = ctl.eventInj;
    vmcb02.eventInjErr = ctl.eventInjErr;
    vmcb02.exitIntInfo = 0;
    // next_rip (00f08d99dd7d, v6.0): vmcb12's when L1 has NRIPS, else L2's RIP (a CPU without
    // NRIPS pushes RIP as is: L1 advanced it itself).
    vmcb02.nextRip = guestHasNrips(v) ? ctl.nextRip : vmcb12Rip;
    v.nmiL1ToL2 = isValid(vmcb02.eventInj) && evtType(vmcb02.eventInj) === SVM_EVTINJ_TYPE_NMI;
    // A soft event L1 injects is tracked as KVM's own would be, from vmcb12's RIP and CS
    // base (da0b93d65e5b), so that a delivery L0 cuts short is re-injected.
    if (is_evtinj_soft(vmcb02.eventInj)) {
      v.softIntInjected = true;
      v.softIntCsbase = vmcb12Csbase;
      v.softIntOldRip = vmcb12Rip;
      v.softIntNextRip = guestHasNrips(v) ? ctl.nextRip : vmcb12Rip;
    }
    // These two come last, as before 46d6c6f3ef0e (v6.14) moved them to the start; nothing
    // in between reads them.
    k.nested_svm_transition_tlb_flush(k, v);
    v.guestMode = true; // enter_guest_mode
    k.recalc_intercepts(k, v);
  },

  /** nested_sync_control_from_vmcb02: after every L2 exit, refresh the vmcb12 cache. */
  nested_sync_control_from_vmcb02(k: KvmOps, v: VcpuState): void {
    const ctl = v.nestedCtl;
    const vmcb02 = v.vmcb02;
    ctl.eventInj = vmcb02.eventInj;
    ctl.eventInjErr = vmcb02.eventInjErr;
    let mask = V_IRQ_MASK | V_TPR_MASK;
    // V_IRQ is L0's own IRQ-window request when L0 set VINTR that L1 doesn't intercept.
    if ((vmcb02.intercepts & bit(INTERCEPT.VINTR)) && !ctlIntercepts(v, 'VINTR')) mask &= ~V_IRQ_MASK;
    if (k.nested_vgif_enabled(k, v)) mask |= V_GIF_MASK;
    if (k.nested_vnmi_enabled(k, v)) mask |= V_NMI_BLOCKING_MASK | V_NMI_PENDING_MASK;
    ctl.intCtl = (ctl.intCtl & ~mask) | (vmcb02.intCtl & mask);
  },

  /** nested_save_pending_event_to_vmcb12: KVM's injected event becomes vmcb12.exit_int_info. */
  nested_save_pending_event_to_vmcb12(k: KvmOps, v: VcpuState): void {
    let info = 0;
    if (v.exception.injected) {
      info = v.exception.vector | SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT;
      if (v.exception.hasErrorCode) {
        info |= SVM_EVTINJ_VALID_ERR;
        v.vmcb12.exitIntInfoErr = v.exception.errorCode;
      }
    } else if (v.nmiInjected) {
      info = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI;
    } else if (v.interrupt.injected) {
      info = v.interrupt.nr | SVM_EVTINJ_VALID | (v.interrupt.soft ? SVM_EVTINJ_TYPE_SOFT : SVM_EVTINJ_TYPE_INTR);
    }
    v.vmcb12.exitIntInfo = info >>> 0;
  },

  /** nested_svm_vmexit: emulate #VMEXIT from L2 to L1. */
  nested_svm_vmexit(k: KvmOps, v: VcpuState): void {
    const vmcb01 = v.vmcb01;
    const vmcb02 = v.vmcb02;
    const vmcb12 = v.vmcb12;
    const ctl = v.nestedCtl;
    // svm->vmcb is still vmcb02 until svm_switch_vmcb below, so L2's RFLAGS are read (through
    // kvm_get_rflags: KVM's NMI single-step TF|RF hidden from L1) while cur() is vmcb02,
    // although the kernel leaves guest mode first.
    const l2Rflags = k.kvm_get_rflags(k, v);
    const l0NmiInjected = v.nmiInjected && !v.nmiL1ToL2; // not KVM: for the NMI oracle below
    v.guestMode = false; // leave_guest_mode
    v.hw.retry = null;
    WARN_ON_ONCE(v, v.nestedRunPending, 'nested_svm_vmexit: nested_run_pending');
    if (v.mpState === 'HALTED') v.mpState = 'RUNNABLE'; // in case we halted in L2

    vmcb12.rip = vmcb02.rip;
    vmcb12.rflags = l2Rflags;
    vmcb12.idtLimit = vmcb02.idtLimit;
    vmcb12.intState = vmcb02.intState; // verbatim: the be45bc4e leak reaches L1 here
    vmcb12.exitCode = vmcb02.exitCode;
    vmcb12.exitInfo1 = vmcb02.exitInfo1;
    if (vmcb12.exitCode !== SVM_EXIT_ERR) k.nested_save_pending_event_to_vmcb12(k, v);
    if (guestHasNrips(v)) vmcb12.nextRip = vmcb02.nextRip;
    vmcb12.intCtl = ctl.intCtl;
    vmcb12.eventInj = ctl.eventInj;
    vmcb12.eventInjErr = ctl.eventInjErr;

    // svm_switch_vmcb(vmcb01) happened with leave_guest_mode (cur() follows guestMode).
    if (!k.nested_exit_on_intr(k, v)) kvm_make_request(v, REQ.EVENT);
    if (vnmiParam(v.cfg)) {
      vmcb01.intCtl = vmcb02.intCtl & V_NMI_BLOCKING_MASK ? vmcb01.intCtl | V_NMI_BLOCKING_MASK : vmcb01.intCtl & ~V_NMI_BLOCKING_MASK;
      if (v.nmiPending > 0) {
        v.nmiPending--;
        vmcb01.intCtl |= V_NMI_PENDING_MASK;
      } else {
        vmcb01.intCtl &= ~V_NMI_PENDING_MASK;
      }
    }
    // On vmexit GIF is set to false and no event can be injected in L1.
    k.svm_set_gif(k, v, false);
    vmcb01.exitIntInfo = 0;

    // Restore L1's RFLAGS: an event request on every nested #VMEXIT, and KVM's TF|RF if the
    // NMI single-step armed for L2 is still armed (then the #DB check below fires).
    k.kvm_set_rflags(k, v, vmcb01.rflags);
    k.nested_svm_transition_tlb_flush(k, v);

    // Drop what svm_complete_interrupts picked up for L2 so it doesn't end up in L1.
    v.nmiInjected = false;
    k.kvm_clear_exception_queue(k, v);
    k.kvm_clear_interrupt_queue(k, v);
    if (vmcb01.rflags & X86_EFLAGS_TF) k.kvm_queue_exception(k, v, DB_VECTOR, false, 0);
    v.log.reflected.push(exitName(vmcb12.exitCode));
    oracle_nested_vmexit(v, l0NmiInjected); // not KVM: the NMI oracle (oracle.ts) sees an NMI handed to L1
  },

  nested_svm_simple_vmexit(k: KvmOps, v: VcpuState, exitCode: number): void {
    v.vmcb02.exitCode = exitCode;
    v.vmcb02.exitInfo1 = 0;
    k.nested_svm_vmexit(k, v);
  },

  /** nested_svm_inject_npf_exit: the fault is in L1's nested page tables. */
  nested_svm_inject_npf_exit(k: KvmOps, v: VcpuState): void {
    v.vmcb02.exitCode = SVM_EXIT_NPF;
    k.nested_svm_vmexit(k, v);
  },

  /** nested_svm_is_exception_vmexit: L1 intercepts this exception vector. */
  nested_svm_is_exception_vmexit(k: KvmOps, v: VcpuState, vector: number): boolean {
    return (v.nestedCtl.exceptions & bit(vector)) !== 0;
  },

  /**
   * nested_svm_inject_exception_vmexit (nested.c, the v6.1+ form on exception_vmexit): the
   * exit code; exit_info_1 = the error code, when there is one (else it keeps what it held);
   * a #DB's payload lands in DR6 (DR7.GD not modelled); any other vector but #PF with a
   * payload is a WARN_ON. exit_info_2 (#PF: the payload or CR2) is not modelled.
   */
  nested_svm_inject_exception_vmexit(k: KvmOps, v: VcpuState): void {
    const ex = v.exceptionVmexit;
    v.vmcb02.exitCode = SVM_EXIT_EXCP_BASE + ex.vector;
    if (ex.hasErrorCode) v.vmcb02.exitInfo1 = ex.errorCode;
    if (ex.vector === DB_VECTOR) k.kvm_deliver_exception_payload(k, v, ex);
    else if (ex.vector !== PF_VECTOR) WARN_ON_ONCE(v, ex.hasPayload, 'nested_svm_inject_exception_vmexit: payload on an exception without one');
    v.exceptionVmexit.pending = false;
    k.nested_svm_vmexit(k, v);
  },

  /** nested_svm_exit_special: exits L0 always handles itself. */
  nested_svm_exit_special(k: KvmOps, v: VcpuState): number {
    const code = v.vmcb02.exitCode;
    if (code === SVM_EXIT_INTR || code === SVM_EXIT_NMI || code === SVM_EXIT_NPF) return NESTED_EXIT_HOST;
    if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
      if (v.vmcb01.exceptions & bit(code - SVM_EXIT_EXCP_BASE)) return NESTED_EXIT_HOST;
    }
    return NESTED_EXIT_CONTINUE;
  },

  /** nested_svm_exit_handled: reflect the exit to L1 if vmcb12 intercepts it. */
  nested_svm_exit_handled(k: KvmOps, v: VcpuState): number {
    const code = v.vmcb02.exitCode;
    let vmexit = NESTED_EXIT_HOST;
    if (code === SVM_EXIT_ERR) vmexit = NESTED_EXIT_DONE;
    else if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
      if (v.nestedCtl.exceptions & bit(code - SVM_EXIT_EXCP_BASE)) vmexit = NESTED_EXIT_DONE;
    } else {
      const icpt = EXIT_INTERCEPT[code];
      if (icpt && ctlIntercepts(v, icpt)) vmexit = NESTED_EXIT_DONE;
    }
    if (vmexit === NESTED_EXIT_DONE) k.nested_svm_vmexit(k, v);
    return vmexit;
  },

  /** svm_check_nested_events: events that must become a nested #VMEXIT before injection. */
  svm_check_nested_events(k: KvmOps, v: VcpuState): number {
    const blockNestedExceptions = v.nestedRunPending;
    const blockNestedEvents = blockNestedExceptions || k.kvm_event_needs_reinjection(k, v);
    // A pending INIT first: L1's INIT intercept makes it a nested #VMEXIT(INIT). The INIT
    // stays pending; after the exit GIF is 0, so it is latched until L1 sets GIF again.
    if (v.apicInit) {
      if (blockNestedEvents) return EBUSY;
      if (!k.nested_exit_on_init(k, v)) return 0;
      k.nested_svm_simple_vmexit(k, v, SVM_EXIT_INIT);
      return 0;
    }
    if (v.exceptionVmexit.pending) {
      if (blockNestedExceptions) return EBUSY;
      k.nested_svm_inject_exception_vmexit(k, v);
      return 0;
    }
    if (v.exception.pending) return blockNestedExceptions ? EBUSY : 0;
    if (v.nmiPending > 0 && !k.svm_nmi_blocked(k, v)) {
      if (blockNestedEvents) return EBUSY;
      if (!k.nested_exit_on_nmi(k, v)) return 0;
      k.nested_svm_simple_vmexit(k, v, SVM_EXIT_NMI);
      return 0;
    }
    if (k.kvm_cpu_has_injectable_intr(k, v) && !k.svm_interrupt_blocked(k, v)) {
      if (blockNestedEvents) return EBUSY;
      if (!k.nested_exit_on_intr(k, v)) return 0;
      k.nested_svm_simple_vmexit(k, v, SVM_EXIT_INTR);
      return 0;
    }
    return 0;
  },
};

/**
 * struct kvm_nested_state for SVM as the model holds it: the header flags
 * (KVM_STATE_NESTED_GUEST_MODE, _RUN_PENDING, _GIF_SET, and any other bit) and, when the
 * size covers it, the vmcb data: vmcb12's control area (the cache) and L1's save area.
 */
export interface NestedState {
  guestMode: boolean;
  runPending: boolean;
  gif: boolean;
  unknownFlag: boolean;
  /** The data area holds a VMCB (kvm_state->size includes KVM_STATE_NESTED_SVM_VMCB_SIZE). */
  ctl: Vmcb | null;
  save: { rip: number; rflags: number; csBase: number; idtLimit: number } | null;
}

export const nestedState = {
  /**
   * svm_get_nested_state (nested.c): the flags (GUEST_MODE, RUN_PENDING in guest mode,
   * GIF_SET from gif_set) and, in guest mode only, the vmcb12 control cache
   * (nested_copy_vmcb_cache_to_control: int_state, int_ctl, event_inj as KVM last synced
   * them) and vmcb01's save area (L1's state at VMRUN).
   */
  svm_get_nested_state(k: KvmOps, v: VcpuState): NestedState {
    const g = v.guestMode;
    return {
      guestMode: g, runPending: g && v.nestedRunPending, gif: k.gif_set(k, v), unknownFlag: false,
      ctl: g ? { ...v.nestedCtl } : null,
      save: g ? { rip: v.vmcb01.rip, rflags: v.vmcb01.rflags, csBase: v.vmcb01.csBase, idtLimit: v.vmcb01.idtLimit } : null,
    };
  },

  /**
   * svm_set_nested_state (nested.c, read at AMDESE/linux-kvm 8b79f266; the same on these
   * steps from v6.4): -EINVAL for an unknown flag; with EFER.SVME clear, for any flags but
   * GIF_SET alone; without GUEST_MODE it leaves nested mode and sets GIF. With GUEST_MODE:
   * -EINVAL without the VMCB data or with controls that fail __nested_vmcb_check_controls
   * (the save-area checks are not modelled); then leave nested mode (or copy L1's save area
   * to vmcb02), set GIF, nested_run_pending from RUN_PENDING, L1's save area into vmcb01,
   * the controls into the cache, and vmcb02 is prepared with L2's current RIP and CS base.
   * KVM_REQ_GET_NESTED_STATE_PAGES (the MSR bitmap merge) is not modelled.
   */
  svm_set_nested_state(k: KvmOps, v: VcpuState, s: NestedState): number {
    if (s.unknownFlag) return EINVAL;
    if (!v.l1Svme && (s.guestMode || s.runPending || !s.gif)) return EINVAL;
    if (!s.guestMode) {
      k.svm_leave_nested(k, v);
      k.svm_set_gif(k, v, s.gif);
      return 0;
    }
    if (!s.ctl || !s.save) return EINVAL;
    if (!k.__nested_vmcb_check_controls(k, v, s.ctl)) return EINVAL;
    if (v.guestMode) k.svm_leave_nested(k, v);
    else {
      v.vmcb02.rip = v.vmcb01.rip;
      v.vmcb02.rflags = v.vmcb01.rflags;
      v.vmcb02.csBase = v.vmcb01.csBase;
      v.vmcb02.idtLimit = v.vmcb01.idtLimit;
    }
    k.svm_set_gif(k, v, s.gif);
    v.nestedRunPending = s.runPending;
    // svm_copy_vmrun_state
    v.vmcb01.rip = s.save.rip;
    v.vmcb01.rflags = s.save.rflags | X86_EFLAGS_FIXED;
    v.vmcb01.csBase = s.save.csBase;
    v.vmcb01.idtLimit = s.save.idtLimit;
    copyVmcbInto(v.nestedCtl, s.ctl); // nested_copy_vmcb_control_to_cache
    // svm_switch_vmcb(vmcb02): cur() follows guestMode, which prepare_control sets.
    k.nested_vmcb02_prepare_control(k, v, v.vmcb02.rip, v.vmcb02.csBase);
    return 0;
  },
};

function copyVmcbInto(d: Vmcb, s: Vmcb): void {
  Object.assign(d, s);
}

/** The vmcb12 control fields a stream sets at L1's VMRUN (see events.ts). */
export type Vmcb12Spec = Pick<Vmcb, 'intercepts' | 'exceptions' | 'intCtl' | 'intVector' | 'intState' | 'eventInj' | 'eventInjErr' | 'rflags'>;
