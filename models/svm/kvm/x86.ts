// KVM common x86 code (arch/x86/kvm/x86.c, v6.7–v6.14 era; read at a post-6.14 copy,
// differences noted): NMI queueing and process_nmi, kvm_check_and_inject_events,
// the vcpu_run / vcpu_enter_guest loop, exception/interrupt queues, and the
// KVM_{GET,SET}_VCPU_EVENTS ioctls. Every call to another model function goes through
// the table `k`, so a patch that replaces an entry is seen by all callers.

import { EBUSY, EINTR, KVM_X86_SHADOW_INT_STI, V_NMI_PENDING_MASK } from '../constants.js';
import { MAX_ENTRIES_PER_STEP } from '../config.js';
import { REQ, cur, kvm_make_request, kvm_check_request, WARN_ON_ONCE, type VcpuState } from '../state.js';
import { hw_resume_retry, livelock } from '../hardware.js';
import type { KvmOps } from './ops.js';

/** vcpu_enter_guest's result when the CPU is now running the guest (the step returns to the stream). */
export const IN_GUEST = 2;

export const x86 = {
  /** kvm_inject_nmi (KVM_NMI ioctl, LAPIC NMI): count it, let process_nmi sort it out. */
  kvm_inject_nmi(k: KvmOps, v: VcpuState): void {
    v.nmiQueued++;
    kvm_make_request(v, REQ.NMI);
  },

  /** kvm_apic_set_irq for a fixed-mode interrupt: set IRR, KVM_REQ_EVENT, kick. */
  kvm_apic_set_irq(k: KvmOps, v: VcpuState, vector: number): void {
    if (!v.apicIrr.includes(vector)) {
      v.apicIrr.push(vector);
      v.apicIrr.sort((a, b) => b - a);
    }
    kvm_make_request(v, REQ.EVENT);
  },

  /** process_nmi (x86.c): at most two NMIs "in flight"; one may go to V_NMI_PENDING. */
  process_nmi(k: KvmOps, v: VcpuState): void {
    // x86 allows one NMI to be pending while another is in service; KVM allows two
    // "simultaneous" NMIs unless NMIs are masked or one is already being injected.
    let limit = k.svm_get_nmi_mask(k, v) || v.nmiInjected ? 1 : 2;
    // A vNMI pending in hardware counts against the limit.
    if (k.svm_is_vnmi_pending(k, v)) limit--;
    v.nmiPending = Math.min(v.nmiPending + v.nmiQueued, limit);
    v.nmiQueued = 0;
    if (v.nmiPending > 0 && k.svm_set_vnmi_pending(k, v)) v.nmiPending--;
    if (v.nmiPending > 0) kvm_make_request(v, REQ.EVENT);
  },

  /** kvm_get_nr_pending_nmis: software-pending plus the one in V_NMI_PENDING. */
  kvm_get_nr_pending_nmis(k: KvmOps, v: VcpuState): number {
    return v.nmiPending + (k.svm_is_vnmi_pending(k, v) ? 1 : 0);
  },

  kvm_cpu_has_injectable_intr(k: KvmOps, v: VcpuState): boolean {
    return v.apicIrr.length > 0;
  },

  /** kvm_cpu_get_interrupt: the highest IRR vector moves to service (ISR not modelled). */
  kvm_cpu_get_interrupt(k: KvmOps, v: VcpuState): number {
    return v.apicIrr.shift() ?? -1;
  },

  kvm_queue_interrupt(k: KvmOps, v: VcpuState, vector: number, soft: boolean): void {
    v.interrupt = { injected: true, nr: vector, soft };
  },
  kvm_clear_interrupt_queue(k: KvmOps, v: VcpuState): void {
    v.interrupt.injected = false;
  },
  kvm_clear_exception_queue(k: KvmOps, v: VcpuState): void {
    v.exception.pending = false;
    v.exception.injected = false;
    v.exceptionVmexit.pending = false;
  },

  /**
   * kvm_multiple_exception for a new exception: in guest mode an exception L1 intercepts
   * becomes exception_vmexit (nested_ops->is_exception_vmexit); otherwise pending.
   * Exception merging (#DF) is not modelled: a new one replaces a pending one.
   */
  kvm_queue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void {
    if (v.guestMode && k.nested_svm_is_exception_vmexit(k, v, vector)) {
      v.exceptionVmexit = { pending: true, vector, hasErrorCode, errorCode };
    } else {
      v.exception = { pending: true, injected: false, vector, hasErrorCode, errorCode };
    }
    kvm_make_request(v, REQ.EVENT);
  },
  /** kvm_requeue_exception(_e): an exception whose delivery was interrupted is re-injected as is. */
  kvm_requeue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void {
    v.exception = { pending: false, injected: true, vector, hasErrorCode, errorCode };
  },

  /** kvm_event_needs_reinjection */
  kvm_event_needs_reinjection(k: KvmOps, v: VcpuState): boolean {
    return v.exception.injected || (v.interrupt.injected && !v.interrupt.soft) || v.nmiInjected;
  },

  kvm_inject_exception(k: KvmOps, v: VcpuState): void {
    k.svm_inject_exception(k, v);
  },

  /** kvm_check_nested_events: triple fault first (not modelled), then nested_ops->check_events. */
  kvm_check_nested_events(k: KvmOps, v: VcpuState): number {
    return k.svm_check_nested_events(k, v);
  },

  /**
   * kvm_check_and_inject_events (x86.c). Returns 0, or <0 for an error; sets
   * v.reqImmediateExit through the returned flag.
   */
  kvm_check_and_inject_events(k: KvmOps, v: VcpuState): { r: number; reqImmediateExit: boolean } {
    let reqImmediateExit = false;
    // 1. Nested #VMEXITs supersede re-injection of L2's events.
    let r = v.guestMode ? k.kvm_check_nested_events(k, v) : 0;

    // 2. Re-inject what was being injected when the last exit happened.
    if (v.exception.injected) k.kvm_inject_exception(k, v);
    else if (v.exception.pending) { /* the new exception takes precedence */ }
    else if (v.nmiInjected) k.svm_inject_nmi(k, v);
    else if (v.interrupt.injected) k.svm_inject_irq(k, v, true);
    WARN_ON_ONCE(v, v.exception.injected && v.exception.pending, 'x86.c: exception.injected && exception.pending');

    const out = (): { r: number; reqImmediateExit: boolean } => {
      if (r === EBUSY) return { r: 0, reqImmediateExit: true };
      return { r, reqImmediateExit };
    };
    if (r < 0) return out();

    let canInject = !k.kvm_event_needs_reinjection(k, v);

    // 3. A new exception (RF for faults is not modelled: no instruction breakpoints here).
    if (v.exception.pending) {
      k.kvm_inject_exception(k, v);
      v.exception.pending = false;
      v.exception.injected = true;
      canInject = false;
    }

    // 4. NMI.
    if (v.nmiPending > 0) {
      r = canInject ? k.svm_nmi_allowed(k, v, true) : EBUSY;
      if (r < 0) return out();
      if (r > 0) {
        v.nmiPending--;
        v.nmiInjected = true;
        k.svm_inject_nmi(k, v);
        canInject = false;
        WARN_ON_ONCE(v, k.svm_nmi_allowed(k, v, true) < 0, 'x86.c: nmi_allowed < 0 after inject_nmi');
      }
      if (v.nmiPending > 0) k.svm_enable_nmi_window(k, v);
    }

    // 5. External interrupt from the in-kernel LAPIC.
    if (k.kvm_cpu_has_injectable_intr(k, v)) {
      r = canInject ? k.svm_interrupt_allowed(k, v, true) : EBUSY;
      if (r < 0) return out();
      if (r > 0) {
        const irq = k.kvm_cpu_get_interrupt(k, v);
        if (!WARN_ON_ONCE(v, irq === -1, 'x86.c: no interrupt to inject')) {
          k.kvm_queue_interrupt(k, v, irq, false);
          k.svm_inject_irq(k, v, false);
          WARN_ON_ONCE(v, k.svm_interrupt_allowed(k, v, true) < 0, 'x86.c: interrupt_allowed < 0 after inject_irq');
        }
      }
      if (k.kvm_cpu_has_injectable_intr(k, v)) k.svm_enable_irq_window(k, v);
    }

    // 6. nested_ops->has_events: SVM has none (VMX only).
    WARN_ON_ONCE(v, v.exception.pending, 'x86.c: exception still pending after injection');
    r = 0;
    return out();
  },

  /** kvm_vcpu_running: not halted (and not shut down). */
  kvm_vcpu_running(k: KvmOps, v: VcpuState): boolean {
    return v.mpState === 'RUNNABLE';
  },

  /** kvm_vcpu_has_events (wakes a halted vCPU). */
  kvm_vcpu_has_events(k: KvmOps, v: VcpuState): boolean {
    if (v.exception.pending || v.exceptionVmexit.pending) return true;
    if ((v.requests & REQ.NMI) || (v.nmiPending > 0 && k.svm_nmi_allowed(k, v, false) !== 0)) return true;
    if (k.kvm_cpu_has_injectable_intr(k, v) && k.svm_interrupt_allowed(k, v, false) !== 0) return true;
    return false;
  },

  /**
   * vcpu_enter_guest up to VMRUN (x86.c): requests, event injection, late-request
   * cancellation, immediate-exit forcing, then kvm_x86_ops.vcpu_run.
   * Returns IN_GUEST when the CPU now runs the guest, else r (>0: loop, <=0: to userspace).
   */
  vcpu_enter_guest(k: KvmOps, v: VcpuState): number {
    if (kvm_check_request(v, REQ.NMI)) k.process_nmi(k, v);
    let reqImmediateExit = false;
    if (kvm_check_request(v, REQ.EVENT)) {
      const res = k.kvm_check_and_inject_events(k, v);
      if (res.r < 0) return 0;
      reqImmediateExit = res.reqImmediateExit;
    }
    // Host IRQs off, vcpu->mode = IN_GUEST_MODE; a request raised meanwhile (e.g. by a
    // nested #VMEXIT synthesised above) cancels the injection and loops.
    if (v.requests !== 0) {
      if (reqImmediateExit) kvm_make_request(v, REQ.EVENT);
      k.svm_cancel_injection(k, v);
      return 1;
    }
    if (reqImmediateExit) {
      kvm_make_request(v, REQ.EVENT);
      v.hw.physIntrPending = true; // __kvm_request_immediate_exit: self-IPI
    }
    k.svm_vcpu_run(k, v);
    return IN_GUEST;
  },

  /** vcpu_enter_guest after kvm_x86_ops.vcpu_run returned (handle_exit_irqoff, handle_exit). */
  vcpu_enter_guest_after_run(k: KvmOps, v: VcpuState): void {
    const r = k.svm_handle_exit(k, v);
    k.vcpu_run(k, v, r, true);
  },

  /**
   * vcpu_run (x86.c): enter the guest while handlers return >0. `afterExit` is true when
   * this continues the loop after a #VMEXIT (then a pending signal ends KVM_RUN).
   * When the guest is running again the stream takes over.
   */
  vcpu_run(k: KvmOps, v: VcpuState, r: number, afterExit: boolean): void {
    for (;;) {
      if (r <= 0) {
        v.phase = 'host';
        v.log.userspaceExit ||= r === EINTR ? 'EINTR' : 'exit';
        return;
      }
      if (afterExit && v.signalPending) {
        // xfer_to_guest_mode_handle_work: a signal makes KVM_RUN return -EINTR.
        v.signalPending = false;
        r = EINTR;
        continue;
      }
      afterExit = true;
      if (v.hw.entries >= MAX_ENTRIES_PER_STEP) return livelock(v);
      if (!k.kvm_vcpu_running(k, v)) {
        // vcpu_block: a halted vCPU sleeps until it has an event.
        if (v.mpState === 'HALTED' && k.kvm_vcpu_has_events(k, v)) {
          v.mpState = 'RUNNABLE';
          continue;
        }
        v.phase = 'host';
        return;
      }
      r = k.vcpu_enter_guest(k, v);
      if (r === IN_GUEST) {
        if (v.phase === 'delivery') v.hw.retry = null; // the event runs first; the guest retries later
        if (v.hw.retry) hw_resume_retry(k, v);
        return;
      }
    }
  },

  /** KVM_RUN. `signal`: userspace will kick the vCPU, so KVM_RUN returns after the first exit. */
  kvm_arch_vcpu_ioctl_run(k: KvmOps, v: VcpuState, signal: boolean): void {
    // The signal stays pending while the guest runs; vcpu_run consumes it at the next exit.
    v.signalPending = signal;
    k.vcpu_run(k, v, 1, false);
  },

  /** kvm_skip_emulated_instruction → svm_skip_emulated_instruction (+ single-step #DB not modelled). */
  kvm_skip_emulated_instruction(k: KvmOps, v: VcpuState): number {
    return k.svm_skip_emulated_instruction(k, v);
  },

  /** kvm_emulate_halt: skip HLT, then halt the vCPU in the kernel. */
  kvm_emulate_halt(k: KvmOps, v: VcpuState): number {
    k.kvm_skip_emulated_instruction(k, v);
    v.stat.halt_exits++;
    v.mpState = 'HALTED';
    return 1;
  },

  /** KVM_GET_VCPU_EVENTS (x86.c kvm_vcpu_ioctl_x86_get_vcpu_events). Calls process_nmi first. */
  kvm_vcpu_ioctl_x86_get_vcpu_events(k: KvmOps, v: VcpuState): VcpuEvents {
    k.process_nmi(k, v);
    const ex = v.exception;
    return {
      exceptionInjected: ex.injected,
      exceptionPending: ex.pending,
      exceptionNr: ex.injected || ex.pending ? ex.vector : 0,
      interruptInjected: v.interrupt.injected && !v.interrupt.soft,
      interruptNr: v.interrupt.injected ? v.interrupt.nr : 0,
      interruptShadow: k.svm_get_interrupt_shadow(k, v),
      nmiInjected: v.nmiInjected,
      nmiPending: k.kvm_get_nr_pending_nmis(k, v),
      nmiMasked: k.svm_get_nmi_mask(k, v),
    };
  },

  /**
   * KVM_SET_VCPU_EVENTS (x86.c) for the NMI fields and the shadow. Exception and
   * interrupt fields are written back as read, as a GET→modify→SET round trip does.
   */
  kvm_vcpu_ioctl_x86_set_vcpu_events(k: KvmOps, v: VcpuState, e: SetVcpuEvents): void {
    k.process_nmi(k, v);
    if (e.shadow !== null) k.svm_set_interrupt_shadow(k, v, e.shadow ? KVM_X86_SHADOW_INT_STI : 0);
    v.nmiInjected = e.nmiInjected;
    if (e.nmiPending !== null) {
      v.nmiPending = 0;
      v.nmiQueued = e.nmiPending;
      if (e.nmiPending) kvm_make_request(v, REQ.NMI);
      // [UNSURE] E.4: the source read does not touch V_NMI_PENDING; the knob lets it.
      if (v.cfg.setVcpuEventsClearsVnmiPending && e.nmiPending === 0) cur(v).intCtl &= ~V_NMI_PENDING_MASK;
    }
    k.svm_set_nmi_mask(k, v, e.nmiMasked);
    kvm_make_request(v, REQ.EVENT);
  },
};

export interface VcpuEvents {
  exceptionInjected: boolean;
  exceptionPending: boolean;
  exceptionNr: number;
  interruptInjected: boolean;
  interruptNr: number;
  interruptShadow: number;
  nmiInjected: boolean;
  nmiPending: number;
  nmiMasked: boolean;
}

export interface SetVcpuEvents {
  /** null: KVM_VCPUEVENT_VALID_NMI_PENDING not set. */
  nmiPending: number | null;
  nmiInjected: boolean;
  nmiMasked: boolean;
  /** null: KVM_VCPUEVENT_VALID_SHADOW not set. */
  shadow: boolean | null;
}

