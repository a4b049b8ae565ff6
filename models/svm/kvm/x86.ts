// KVM common x86 code (arch/x86/kvm/x86.c, v6.4–v6.14 era; read at a post-6.14 copy and,
// for RFLAGS, exception merging, the request block, fast PIO and kvm_vcpu_reset, at
// AMDESE/linux-kvm 5217a662 (v6.8..v6.12 era) and kvm-x86/linux 042007c2 (v6.16+);
// differences noted): NMI queueing and process_nmi, kvm_check_and_inject_events,
// the vcpu_run / vcpu_enter_guest loop, exception/interrupt queues, RFLAGS, userspace
// I/O completion, INIT, and the KVM_{GET,SET}_VCPU_EVENTS ioctls. Every call to another model function goes through
// the table `k`, so a patch that replaces an entry is seen by all callers.

import {
  EBUSY, EINTR, KVM_X86_SHADOW_INT_STI, V_NMI_PENDING_MASK, DB_VECTOR, DF_VECTOR, X86_EFLAGS_TF, X86_EFLAGS_RF,
  X86_EFLAGS_FIXED, EXCPT_CONTRIBUTORY, EXCPT_PF, EXCPT_BENIGN, EXCPT_FAULT, exception_class, exception_type,
  PF_VECTOR, BP_VECTOR, OF_VECTOR, NMI_VECTOR, DR_TRAP_BITS, DR6_BIT12,
} from '../constants.js';
import { MAX_ENTRIES_PER_STEP } from '../config.js';
import {
  REQ, cur, kvm_make_request, kvm_check_request, kvm_test_request, kvm_clear_request, WARN_ON_ONCE, DR6_ACTIVE_LOW, type VcpuState,
} from '../state.js';
import { hw_resume_retry, livelock } from '../hardware.js';
import { oracle_nmi_resync } from '../oracle.js';
import type { KvmOps } from './ops.js';
import type { NestedState } from './nested.js';

/**
 * What kvm_check_and_inject_events returns: r (-EBUSY becomes 0 with an immediate exit
 * requested, as the kernel's `if (r == -EBUSY)` at its end). The two common results are
 * shared constants (read only), so the hot path does not allocate one per call.
 */
const INJECT_OK = Object.freeze({ r: 0, reqImmediateExit: false });
const INJECT_BUSY = Object.freeze({ r: 0, reqImmediateExit: true });
function injectResult(r: number, reqImmediateExit: boolean): { r: number; reqImmediateExit: boolean } {
  if (r === EBUSY) return INJECT_BUSY;
  if (r === 0) return reqImmediateExit ? INJECT_BUSY : INJECT_OK;
  return { r, reqImmediateExit };
}

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

  /**
   * __apic_accept_irq (lapic.c), the APIC_DM_INIT case: another vCPU's INIT IPI marks INIT
   * pending, requests an event and kicks this vCPU. (Fixed interrupts: kvm_apic_set_irq.)
   */
  __apic_accept_irq(k: KvmOps, v: VcpuState): void {
    v.apicInit = true;
    kvm_make_request(v, REQ.EVENT);
  },

  /** kvm_apic_init_sipi_allowed (lapic.h): not in SMM (not modelled) and INIT not blocked by the vendor. */
  kvm_apic_init_sipi_allowed(k: KvmOps, v: VcpuState): boolean {
    return !k.svm_apic_init_signal_blocked(k, v);
  },

  /**
   * kvm_apic_accept_events (lapic.c, the v6.1+ form): with an INIT pending, in guest mode
   * the nested events are checked first (L1's INIT intercept gives a nested #VMEXIT(INIT);
   * -EBUSY means "later"), and processing goes on after such an exit. A blocked INIT
   * (GIF=0) stays latched. Else it is accepted: kvm_vcpu_reset(init_event), and the vCPU,
   * the BSP in this model, is RUNNABLE (an AP would wait for a SIPI in INIT_RECEIVED; SIPI
   * is not modelled). Returns 0 (KVM's error returns are not reachable here).
   */
  kvm_apic_accept_events(k: KvmOps, v: VcpuState): number {
    if (!v.apicInit) return 0;
    if (v.guestMode) {
      const r = k.kvm_check_nested_events(k, v);
      if (r < 0) return r === EBUSY ? 0 : r;
    }
    if (!k.kvm_apic_init_sipi_allowed(k, v)) return 0;
    v.apicInit = false;
    k.kvm_vcpu_reset(k, v, true);
    v.mpState = 'RUNNABLE';
    return 0;
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
   * kvm_multiple_exception (x86.c; the v6.4..v6.14 form, with `reinject`; payloads are not
   * modelled). In guest mode a new exception L1 intercepts becomes exception_vmexit. Else,
   * with no exception pending or injected, it is queued (injected when re-injected). With
   * one there: after a #DF, a triple fault; contributory after contributory, or #PF/
   * contributory after #PF, a #DF; otherwise the new one replaces the old.
   */
  kvm_multiple_exception(k: KvmOps, v: VcpuState, nr: number, hasError: boolean, errorCode: number, reinject: boolean): void {
    kvm_make_request(v, REQ.EVENT);
    // A re-injected exception was checked for interception when it was first queued.
    if (!reinject && v.guestMode && k.nested_svm_is_exception_vmexit(k, v, nr)) {
      v.exceptionVmexit = { pending: true, vector: nr, hasErrorCode: hasError, errorCode, hasPayload: false, payload: 0 };
      return;
    }
    const ex = v.exception;
    if (ex.pending || ex.injected) {
      const prev = ex.vector;
      if (prev === DF_VECTOR) {
        kvm_make_request(v, REQ.TRIPLE_FAULT); // triple fault -> shutdown
        return;
      }
      const class1 = exception_class(prev);
      const class2 = exception_class(nr);
      if ((class1 === EXCPT_CONTRIBUTORY && class2 === EXCPT_CONTRIBUTORY) || (class1 === EXCPT_PF && class2 !== EXCPT_BENIGN)) {
        // Synthesize #DF; drop the first exception so it cannot trigger a shutdown.
        ex.injected = false;
        ex.pending = false;
        k.kvm_queue_exception(k, v, DF_VECTOR, true, 0);
        return;
      }
      // Otherwise replace it, in the hope that re-execution regenerates the lost one.
    }
    if (reinject) {
      WARN_ON_ONCE(v, k.kvm_is_exception_pending(k, v), 'kvm_multiple_exception: reinjection with an exception pending');
      ex.injected = true;
    } else {
      ex.pending = true;
      ex.injected = false;
    }
    ex.hasErrorCode = hasError;
    ex.vector = nr;
    ex.errorCode = errorCode;
    ex.hasPayload = false; // the model's own exceptions carry no payload
    ex.payload = 0;
  },
  /** kvm_queue_exception / kvm_queue_exception_e: a new exception. */
  kvm_queue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void {
    k.kvm_multiple_exception(k, v, vector, hasErrorCode, errorCode, false);
  },
  /**
   * kvm_requeue_exception(_e): an exception whose delivery was interrupted is re-injected as
   * is, through kvm_multiple_exception (until b50cb2b1555d, v6.15: PATCH_b50cb2b1).
   */
  kvm_requeue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void {
    k.kvm_multiple_exception(k, v, vector, hasErrorCode, errorCode, true);
  },
  /** kvm_is_exception_pending (x86.h): a pending exception, exception VM-exit or triple fault. */
  kvm_is_exception_pending(k: KvmOps, v: VcpuState): boolean {
    return v.exception.pending || v.exceptionVmexit.pending || kvm_test_request(v, REQ.TRIPLE_FAULT);
  },

  /** kvm_event_needs_reinjection (x86.h): an injected exception, interrupt (soft ones too) or NMI. */
  kvm_event_needs_reinjection(k: KvmOps, v: VcpuState): boolean {
    return v.exception.injected || v.interrupt.injected || v.nmiInjected;
  },

  kvm_inject_exception(k: KvmOps, v: VcpuState): void {
    k.svm_inject_exception(k, v);
  },

  /** kvm_check_nested_events: a pending triple fault first (nested_ops->triple_fault), then nested_ops->check_events. */
  kvm_check_nested_events(k: KvmOps, v: VcpuState): number {
    if (kvm_test_request(v, REQ.TRIPLE_FAULT)) {
      k.nested_svm_triple_fault(k, v);
      return 1;
    }
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
    else if (k.kvm_is_exception_pending(k, v)) { /* the new exception takes precedence */ }
    else if (v.nmiInjected) k.svm_inject_nmi(k, v);
    else if (v.interrupt.injected) k.svm_inject_irq(k, v, true);
    WARN_ON_ONCE(v, v.exception.injected && v.exception.pending, 'x86.c: exception.injected && exception.pending');

    if (r < 0) return injectResult(r, reqImmediateExit);

    let canInject = !k.kvm_event_needs_reinjection(k, v);

    // 3. A new exception. A fault is injected with RF set, so that an instruction
    // breakpoint does not hit again when the instruction is restarted.
    if (v.exception.pending) {
      if (exception_type(v.exception.vector) === EXCPT_FAULT) k.__kvm_set_rflags(k, v, k.kvm_get_rflags(k, v) | X86_EFLAGS_RF);
      // A #DB's payload reaches DR6 before the injection (DR7.GD is not modelled).
      if (v.exception.vector === DB_VECTOR) k.kvm_deliver_exception_payload(k, v, v.exception);
      k.kvm_inject_exception(k, v);
      v.exception.pending = false;
      v.exception.injected = true;
      canInject = false;
    }

    // 4. NMI.
    if (v.nmiPending > 0) {
      r = canInject ? k.svm_nmi_allowed(k, v, true) : EBUSY;
      if (r < 0) return injectResult(r, reqImmediateExit);
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
      if (r < 0) return injectResult(r, reqImmediateExit);
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
    return injectResult(r, reqImmediateExit);
  },

  /**
   * vcpu_block (x86.c) once the vCPU is runnable again: nested events first, so that an
   * event L1 intercepts becomes a nested #VMEXIT before the halt ends (an error, -EBUSY
   * included, ends KVM_RUN: the v6.1..v6.14 form; a later kernel lets -EBUSY through), then
   * kvm_apic_accept_events, then HALTED becomes RUNNABLE.
   */
  vcpu_block(k: KvmOps, v: VcpuState): number {
    if (v.guestMode && k.kvm_check_nested_events(k, v) < 0) return 0;
    if (k.kvm_apic_accept_events(k, v) < 0) return 0;
    if (v.mpState === 'HALTED') v.mpState = 'RUNNABLE';
    return 1;
  },

  /** kvm_vcpu_running: not halted (and not shut down). */
  kvm_vcpu_running(k: KvmOps, v: VcpuState): boolean {
    return v.mpState === 'RUNNABLE';
  },

  /** kvm_vcpu_has_events (wakes a halted vCPU). */
  kvm_vcpu_has_events(k: KvmOps, v: VcpuState): boolean {
    if (v.apicInit && k.kvm_apic_init_sipi_allowed(k, v)) return true;
    if (k.kvm_is_exception_pending(k, v)) return true;
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
    if (v.requests !== 0) {
      // The requests the model has, in the kernel's order.
      kvm_check_request(v, REQ.MMU_SYNC); // kvm_mmu_sync_roots: no MMU in the model
      kvm_check_request(v, REQ.TLB_FLUSH_CURRENT); // kvm_service_local_tlb_flush_requests
      if (kvm_test_request(v, REQ.TRIPLE_FAULT)) {
        if (v.guestMode) k.nested_svm_triple_fault(k, v);
        if (kvm_check_request(v, REQ.TRIPLE_FAULT)) {
          v.runExitReason = 'SHUTDOWN';
          return 0;
        }
      }
      if (kvm_check_request(v, REQ.NMI)) k.process_nmi(k, v);
    }
    let reqImmediateExit = false;
    if (kvm_check_request(v, REQ.EVENT)) {
      if (k.kvm_apic_accept_events(k, v) < 0) return 0;
      const res = k.kvm_check_and_inject_events(k, v);
      if (res.r < 0) return 0;
      reqImmediateExit = res.reqImmediateExit;
    }
    // Host IRQs off, vcpu->mode = IN_GUEST_MODE; a request raised meanwhile (e.g. the MMU
    // requests of a nested #VMEXIT synthesised above) cancels the injection and loops.
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
        v.log.userspaceExit ||= r === EINTR ? 'EINTR' : v.runExitReason || 'exit';
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
        // vcpu_block: a halted vCPU sleeps until kvm_arch_vcpu_runnable; with no event the
        // step ends with it asleep (userspace may act meanwhile).
        if (!k.kvm_vcpu_has_events(k, v)) {
          v.phase = 'host';
          return;
        }
        r = k.vcpu_block(k, v);
        continue;
      }
      r = k.vcpu_enter_guest(k, v);
      if (r === IN_GUEST) {
        if (v.phase === 'delivery') v.hw.retry = null; // the event runs first; the guest retries later
        if (v.hw.retry) hw_resume_retry(k, v);
        return;
      }
    }
  },

  /**
   * KVM_RUN (kvm_arch_vcpu_ioctl_run). First an exception userspace made pending with
   * KVM_SET_VCPU_EVENTS: if L2 runs and L1 intercepts its vector, it becomes an exception
   * VM-exit (kvm_queue_exception_vmexit, 7709aba8f716, v6.1; the flag is cleared either
   * way). Then what userspace completed (the port access of the last KVM_EXIT_IO); then
   * kvm_run->immediate_exit returns -EINTR without entering; then the run loop. `signal`:
   * userspace will kick the vCPU, so KVM_RUN returns after the first exit.
   */
  kvm_arch_vcpu_ioctl_run(k: KvmOps, v: VcpuState, signal: boolean, immediateExit = false): void {
    v.runExitReason = '';
    const ex = v.exception;
    if (v.exceptionFromUserspace && v.guestMode && k.nested_svm_is_exception_vmexit(k, v, ex.vector)) {
      v.exceptionVmexit = {
        pending: true, vector: ex.vector, hasErrorCode: ex.hasErrorCode, errorCode: ex.errorCode, hasPayload: ex.hasPayload, payload: ex.payload,
      };
      ex.injected = false;
      ex.pending = false;
    }
    v.exceptionFromUserspace = false;
    let r = 1;
    const cui = v.completeUserspaceIo;
    if (cui) {
      v.completeUserspaceIo = '';
      r = k[cui](k, v);
    }
    if (r > 0 && immediateExit) r = EINTR;
    // The signal stays pending while the guest runs; vcpu_run consumes it at the next exit.
    v.signalPending = signal;
    k.vcpu_run(k, v, r, false);
  },

  /**
   * kvm_skip_emulated_instruction: the vendor skip (next RIP, the shadow ends); if the guest
   * had TF set, the instruction single-steps (kvm_vcpu_do_singlestep). The RFLAGS read is
   * the vendor's, which hides KVM's own NMI single-step TF.
   */
  kvm_skip_emulated_instruction(k: KvmOps, v: VcpuState): number {
    const rflags = k.svm_get_rflags(k, v);
    let r = k.svm_skip_emulated_instruction(k, v);
    if (!r) return 0;
    if (rflags & X86_EFLAGS_TF) r = k.kvm_vcpu_do_singlestep(k, v);
    return r;
  },
  /** kvm_vcpu_do_singlestep: no guest debugging in the model, so a #DB (DR6.BS, not modelled) for the guest. */
  kvm_vcpu_do_singlestep(k: KvmOps, v: VcpuState): number {
    k.kvm_queue_exception(k, v, DB_VECTOR, false, 0);
    return 1;
  },

  /** kvm_get_rflags: the vendor's view (guest debugging, which would hide its TF, is not modelled). */
  kvm_get_rflags(k: KvmOps, v: VcpuState): number {
    return k.svm_get_rflags(k, v);
  },
  /** __kvm_set_rflags: the vendor write (guest debugging, which would add its TF, is not modelled). */
  __kvm_set_rflags(k: KvmOps, v: VcpuState, rflags: number): void {
    k.svm_set_rflags(k, v, rflags);
  },
  /** kvm_set_rflags: write RFLAGS, and re-evaluate events (IF may have changed). */
  kvm_set_rflags(k: KvmOps, v: VcpuState, rflags: number): void {
    k.__kvm_set_rflags(k, v, rflags);
    kvm_make_request(v, REQ.EVENT);
  },

  /**
   * kvm_fast_pio for the model's port access, an OUT to a port no in-kernel device claims.
   * Handled in the kernel, the instruction would be skipped now; for userspace it is
   * skipped when userspace has completed it, at the next KVM_RUN.
   */
  kvm_fast_pio(k: KvmOps, v: VcpuState): number {
    const ret = k.kvm_fast_pio_out(k, v);
    return ret && k.kvm_skip_emulated_instruction(k, v);
  },
  /**
   * kvm_fast_pio_out: emulator_pio_out finds no in-kernel device (0: KVM_EXIT_IO). The
   * port is not 0x7e, whose quirk skips before the exit.
   */
  kvm_fast_pio_out(k: KvmOps, v: VcpuState): number {
    v.runExitReason = 'IO';
    v.pioLinearRip = cur(v).rip;
    v.completeUserspaceIo = 'complete_fast_pio_out';
    return 0;
  },
  /** complete_fast_pio_out: skip the OUT, unless userspace moved RIP meanwhile. */
  complete_fast_pio_out(k: KvmOps, v: VcpuState): number {
    if (cur(v).rip !== v.pioLinearRip) return 1;
    return k.kvm_skip_emulated_instruction(k, v);
  },

  /**
   * kvm_vcpu_reset (x86.c), for INIT (init_event): leave nested mode, reset the LAPIC,
   * drop every queued NMI/interrupt/exception, request an event, reset the vendor state,
   * then RFLAGS=0x2 (kvm_set_rflags), RIP=0xfff0, EFER=0. mp_state is unchanged.
   */
  kvm_vcpu_reset(k: KvmOps, v: VcpuState, initEvent: boolean): void {
    if (v.guestMode) k.svm_leave_nested(k, v); // kvm_leave_nested
    v.apicIrr = []; // kvm_lapic_reset: IRR/ISR cleared
    v.nmiQueued = 0;
    v.nmiPending = 0;
    v.nmiInjected = false;
    k.kvm_clear_interrupt_queue(k, v);
    k.kvm_clear_exception_queue(k, v);
    kvm_make_request(v, REQ.EVENT);
    k.svm_vcpu_reset(k, v, initEvent);
    k.kvm_set_rflags(k, v, X86_EFLAGS_FIXED);
    cur(v).rip = 0xfff0;
    k.svm_set_efer(k, v, false); // set_efer(vcpu, 0): EFER.SVME 1->0
    oracle_nmi_resync(v, null); // not KVM: the NMI oracle (oracle.ts) starts over from what KVM holds
  },

  /**
   * kvm_emulate_halt: skip HLT, then __kvm_emulate_halt halts the vCPU in the kernel (the
   * in-kernel LAPIC case). v6.4..v6.11 form; 1876dd69dfe8 (v6.12) keeps a vCPU that already
   * has a wake event RUNNABLE (PATCH_1876dd69).
   */
  kvm_emulate_halt(k: KvmOps, v: VcpuState): number {
    return emulate_halt(k, v, false);
  },

  /**
   * KVM_GET_VCPU_EVENTS (x86.c kvm_vcpu_ioctl_x86_get_vcpu_events; read at AMDESE/linux-kvm
   * 5217a662, the same on the modelled paths from v6.4 to v6.14). Folds queued NMIs, then
   * picks the one exception the ABI can carry: exception_vmexit only when it is pending
   * and no ordinary exception is pending or injected (7709aba8f716, v6.1). Without
   * KVM_CAP_EXCEPTION_PAYLOAD a pending exception's payload is delivered first (CR2, DR6)
   * and the exception reads as injected. Soft exceptions (#BP, #OF) read as neither
   * pending nor injected; nr, error code and payload are copied whatever the state. A soft
   * interrupt reads as not injected, and interrupt.soft is never reported. SMM is not
   * modelled (the SMI fields read as zero) but smi.latched_init, the pending INIT, is.
   */
  kvm_vcpu_ioctl_x86_get_vcpu_events(k: KvmOps, v: VcpuState): VcpuEvents {
    k.process_nmi(k, v);
    const vmexit = v.exceptionVmexit.pending && !v.exception.pending && !v.exception.injected;
    const ex = vmexit ? v.exceptionVmexit : v.exception;
    const cap = v.cfg.exceptionPayload;
    if (!cap && ex.pending && ex.hasPayload) k.kvm_deliver_exception_payload(k, v, ex);
    const hard = !kvm_exception_is_soft(ex.vector);
    const injected = vmexit ? false : v.exception.injected;
    return {
      exceptionInjected: hard && (injected || (!cap && ex.pending)),
      exceptionPending: hard && ex.pending,
      exceptionNr: ex.vector,
      exceptionHasErrorCode: ex.hasErrorCode,
      exceptionErrorCode: ex.errorCode,
      exceptionHasPayload: ex.hasPayload,
      exceptionPayload: ex.payload,
      interruptInjected: v.interrupt.injected && !v.interrupt.soft,
      interruptNr: v.interrupt.nr,
      interruptShadow: k.svm_get_interrupt_shadow(k, v),
      nmiInjected: v.nmiInjected,
      nmiPending: k.kvm_get_nr_pending_nmis(k, v),
      nmiMasked: k.svm_get_nmi_mask(k, v),
      validPayload: cap,
      tripleFault: v.cfg.tripleFaultEvent ? kvm_test_request(v, REQ.TRIPLE_FAULT) : null,
      latchedInit: v.apicInit, // smi.latched_init = kvm_lapic_latched_init
    };
  },

  /**
   * KVM_SET_VCPU_EVENTS (x86.c), as v6.4..v6.7 have it: a valid nmi.pending requests
   * KVM_REQ_NMI even when it is 0 (6231c9e1a9f3, v6.8, made that "iff pending"; see
   * PATCH_6231c9e1). The body is set_vcpu_events.
   */
  kvm_vcpu_ioctl_x86_set_vcpu_events(k: KvmOps, v: VcpuState, e: SetVcpuEvents): void {
    set_vcpu_events(k, v, e, false);
  },

  /**
   * kvm_deliver_exception_payload (x86.c): a #DB payload lands in DR6 (the trap bits
   * cleared, the active-low bits set, the payload ORed in with its active-low bits
   * flipped, bit 12 cleared), a #PF payload in CR2; then the exception carries none.
   */
  kvm_deliver_exception_payload(k: KvmOps, v: VcpuState, ex: QueuedException): void {
    if (!ex.hasPayload) return;
    if (ex.vector === DB_VECTOR) {
      let dr6 = (v.dr6 & ~DR_TRAP_BITS) | DR6_ACTIVE_LOW;
      dr6 |= ex.payload;
      dr6 ^= ex.payload & DR6_ACTIVE_LOW;
      v.dr6 = (dr6 & ~DR6_BIT12) >>> 0;
    } else if (ex.vector === PF_VECTOR) {
      v.cr2 = ex.payload;
    }
    ex.hasPayload = false;
    ex.payload = 0;
  },
};

/** kvm_emulate_halt's body; `stayIfEvents`: with 1876dd69dfe8 (no HALTED when a wake event is pending). */
export function emulate_halt(k: KvmOps, v: VcpuState, stayIfEvents: boolean): number {
  const ret = k.kvm_skip_emulated_instruction(k, v);
  v.stat.halt_exits++;
  if (!stayIfEvents || !k.kvm_vcpu_has_events(k, v)) v.mpState = 'HALTED';
  return ret;
}

/** kvm_exception_is_soft (x86.h): #BP and #OF, raised by INT3 and INTO. */
export const kvm_exception_is_soft = (vector: number): boolean => vector === BP_VECTOR || vector === OF_VECTOR;

/** What an ioctl returned: recorded in the step log and observed as `ioctl`. */
function einval(v: VcpuState): void {
  v.log.ioctl = 'EINVAL';
}

/**
 * The body of KVM_SET_VCPU_EVENTS (x86.c kvm_vcpu_ioctl_x86_set_vcpu_events, read at
 * AMDESE/linux-kvm 5217a662); `requestIffPending`: with 6231c9e1a9f3.
 * Checks first, each -EINVAL with nothing changed: an unknown flag; VALID_PAYLOAD without
 * the capability; an exception pending or injected with nr > 31 or nr = NMI. The flag,
 * not the capability, decides how pending is read: with VALID_PAYLOAD a pending exception
 * is not also injected, else pending and the payload are dropped. Then, in order:
 * process_nmi; exception_from_userspace = pending; exception_vmexit dropped; the exception
 * and interrupt fields (no flag guards them); the shadow (VALID_SHADOW); nmi.injected;
 * nmi.pending (VALID_NMI_PENDING) into nmi_queued with KVM_REQ_NMI; the NMI mask; the
 * latched INIT (VALID_SMM); the triple fault (VALID_TRIPLE_FAULT: without its capability
 * a late -EINVAL, after all of the above and without KVM_REQ_EVENT); KVM_REQ_EVENT. SIPI
 * and the rest of SMM are not modelled.
 */
export function set_vcpu_events(k: KvmOps, v: VcpuState, e: SetVcpuEvents, requestIffPending: boolean): void {
  if (e.flags.unknown) return einval(v);
  const ex = { ...e.exception };
  if (e.flags.payload) {
    if (!v.cfg.exceptionPayload) return einval(v);
    if (ex.pending) ex.injected = false;
    else ex.hasPayload = false;
  } else {
    ex.pending = false;
    ex.hasPayload = false;
  }
  if ((ex.injected || ex.pending) && (ex.nr > 31 || ex.nr === NMI_VECTOR)) return einval(v);

  k.process_nmi(k, v);
  v.exceptionFromUserspace = ex.pending;
  v.exceptionVmexit.pending = false;
  const q = v.exception;
  q.injected = ex.injected;
  q.pending = ex.pending;
  q.vector = ex.nr;
  q.hasErrorCode = ex.hasErrorCode;
  q.errorCode = ex.errorCode;
  q.hasPayload = ex.hasPayload;
  q.payload = ex.payload;
  v.interrupt.injected = e.interrupt.injected;
  v.interrupt.nr = e.interrupt.nr;
  v.interrupt.soft = e.interrupt.soft;
  if (e.shadow !== null) k.svm_set_interrupt_shadow(k, v, e.shadow ? KVM_X86_SHADOW_INT_STI : 0);
  v.nmiInjected = e.nmiInjected;
  if (e.nmiPending !== null) {
    v.nmiPending = 0;
    v.nmiQueued = e.nmiPending;
    if (e.nmiPending || !requestIffPending) kvm_make_request(v, REQ.NMI);
    // [UNSURE] E.4: the source read does not touch V_NMI_PENDING; the knob lets it.
    if (v.cfg.setVcpuEventsClearsVnmiPending && e.nmiPending === 0) cur(v).intCtl &= ~V_NMI_PENDING_MASK;
  }
  k.svm_set_nmi_mask(k, v, e.nmiMasked);
  // VALID_SMM: smi.smm, smi.pending and smm_inside_nmi are 0 here (SMM is not modelled);
  // smi.latched_init sets or clears the pending INIT.
  if (e.latchedInit !== null) v.apicInit = e.latchedInit;
  if (e.tripleFault !== null) {
    if (!v.cfg.tripleFaultEvent) return einval(v);
    if (e.tripleFault) kvm_make_request(v, REQ.TRIPLE_FAULT);
    else kvm_clear_request(v, REQ.TRIPLE_FAULT);
  }
  kvm_make_request(v, REQ.EVENT);
}

/**
 * kvm_arch_vcpu_ioctl, case KVM_GET_NESTED_STATE then KVM_SET_NESTED_STATE (x86.c): the
 * blob userspace read, edited, written back (a migration's save/restore). The generic
 * checks come first, each -EINVAL: a flag no vendor defines, RUN_PENDING without
 * GUEST_MODE ("nested_run_pending implies guest_mode"); then svm_set_nested_state. The
 * read is returned for the observation.
 */
export function nested_state_round_trip(k: KvmOps, v: VcpuState, edit: (s: NestedState) => void): NestedState {
  const s = k.svm_get_nested_state(k, v);
  const read = { ...s };
  edit(s);
  if (s.unknownFlag || (s.runPending && !s.guestMode)) einval(v);
  else if (k.svm_set_nested_state(k, v, s) < 0) einval(v);
  return read;
}

/** struct kvm_queued_exception as the model holds it (exception and exception_vmexit). */
export type QueuedException = VcpuState['exception'] | VcpuState['exceptionVmexit'];

export interface VcpuEvents {
  exceptionInjected: boolean;
  exceptionPending: boolean;
  exceptionNr: number;
  exceptionHasErrorCode: boolean;
  exceptionErrorCode: number;
  exceptionHasPayload: boolean;
  exceptionPayload: number;
  interruptInjected: boolean;
  interruptNr: number;
  interruptShadow: number;
  nmiInjected: boolean;
  nmiPending: number;
  nmiMasked: boolean;
  /** KVM_VCPUEVENT_VALID_PAYLOAD in flags: the capability is on. */
  validPayload: boolean;
  /** triple_fault.pending with KVM_VCPUEVENT_VALID_TRIPLE_FAULT, or null without the capability. */
  tripleFault: boolean | null;
  /** smi.latched_init (flags always carry KVM_VCPUEVENT_VALID_SMM). */
  latchedInit: boolean;
}

export interface SetVcpuEvents {
  /** The flags without a field of their own below (VALID_PAYLOAD, an undefined bit). */
  flags: { payload: boolean; unknown: boolean };
  exception: { injected: boolean; pending: boolean; nr: number; hasErrorCode: boolean; errorCode: number; hasPayload: boolean; payload: number };
  interrupt: { injected: boolean; nr: number; soft: boolean };
  /** null: KVM_VCPUEVENT_VALID_NMI_PENDING not set. */
  nmiPending: number | null;
  nmiInjected: boolean;
  nmiMasked: boolean;
  /** null: KVM_VCPUEVENT_VALID_SHADOW not set. */
  shadow: boolean | null;
  /** null: KVM_VCPUEVENT_VALID_TRIPLE_FAULT not set; else triple_fault.pending. */
  tripleFault: boolean | null;
  /** null: KVM_VCPUEVENT_VALID_SMM not set; else smi.latched_init (the SMM fields are 0). */
  latchedInit: boolean | null;
}
