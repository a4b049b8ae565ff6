// The model's function table: every KVM function by its kernel name. Functions call
// each other only through this table (`k.fn(k, v, ...)`), so a patch that replaces one
// entry changes the behaviour of every caller, as the kernel fix does.
// Implementations: x86.ts (x86.c), svm.ts (svm.c/svm.h), nested.ts (nested.c).

import type { VcpuState } from '../state.js';
import type { InterceptName } from '../constants.js';
import type { VcpuEvents, SetVcpuEvents } from './x86.js';

export interface KvmOps {
  // x86.c
  kvm_inject_nmi(k: KvmOps, v: VcpuState): void;
  kvm_apic_set_irq(k: KvmOps, v: VcpuState, vector: number): void;
  process_nmi(k: KvmOps, v: VcpuState): void;
  kvm_get_nr_pending_nmis(k: KvmOps, v: VcpuState): number;
  kvm_cpu_has_injectable_intr(k: KvmOps, v: VcpuState): boolean;
  kvm_cpu_get_interrupt(k: KvmOps, v: VcpuState): number;
  kvm_queue_interrupt(k: KvmOps, v: VcpuState, vector: number, soft: boolean): void;
  kvm_clear_interrupt_queue(k: KvmOps, v: VcpuState): void;
  kvm_clear_exception_queue(k: KvmOps, v: VcpuState): void;
  kvm_queue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void;
  kvm_requeue_exception(k: KvmOps, v: VcpuState, vector: number, hasErrorCode: boolean, errorCode: number): void;
  kvm_event_needs_reinjection(k: KvmOps, v: VcpuState): boolean;
  kvm_inject_exception(k: KvmOps, v: VcpuState): void;
  kvm_check_nested_events(k: KvmOps, v: VcpuState): number;
  kvm_check_and_inject_events(k: KvmOps, v: VcpuState): { r: number; reqImmediateExit: boolean };
  kvm_vcpu_running(k: KvmOps, v: VcpuState): boolean;
  kvm_vcpu_has_events(k: KvmOps, v: VcpuState): boolean;
  vcpu_enter_guest(k: KvmOps, v: VcpuState): number;
  vcpu_enter_guest_after_run(k: KvmOps, v: VcpuState): void;
  vcpu_run(k: KvmOps, v: VcpuState, r: number, afterExit: boolean): void;
  kvm_arch_vcpu_ioctl_run(k: KvmOps, v: VcpuState, signal: boolean): void;
  kvm_skip_emulated_instruction(k: KvmOps, v: VcpuState): number;
  kvm_emulate_halt(k: KvmOps, v: VcpuState): number;
  kvm_vcpu_ioctl_x86_get_vcpu_events(k: KvmOps, v: VcpuState): VcpuEvents;
  kvm_vcpu_ioctl_x86_set_vcpu_events(k: KvmOps, v: VcpuState, e: SetVcpuEvents): void;
  // svm.c
  is_vnmi_enabled(k: KvmOps, v: VcpuState): boolean;
  svm_is_vnmi_pending(k: KvmOps, v: VcpuState): boolean;
  svm_set_vnmi_pending(k: KvmOps, v: VcpuState): boolean;
  svm_get_nmi_mask(k: KvmOps, v: VcpuState): boolean;
  svm_set_nmi_mask(k: KvmOps, v: VcpuState, masked: boolean): void;
  svm_set_intercept(k: KvmOps, v: VcpuState, name: InterceptName): void;
  svm_clr_intercept(k: KvmOps, v: VcpuState, name: InterceptName): void;
  svm_set_iret_intercept(k: KvmOps, v: VcpuState): void;
  svm_clr_iret_intercept(k: KvmOps, v: VcpuState): void;
  svm_inject_nmi(k: KvmOps, v: VcpuState): void;
  svm_inject_irq(k: KvmOps, v: VcpuState, reinjected: boolean): void;
  svm_inject_exception(k: KvmOps, v: VcpuState): void;
  svm_nmi_blocked(k: KvmOps, v: VcpuState): boolean;
  svm_nmi_allowed(k: KvmOps, v: VcpuState, forInjection: boolean): number;
  svm_get_if_flag(k: KvmOps, v: VcpuState): boolean;
  svm_interrupt_blocked(k: KvmOps, v: VcpuState): boolean;
  svm_interrupt_allowed(k: KvmOps, v: VcpuState, forInjection: boolean): number;
  svm_enable_nmi_window(k: KvmOps, v: VcpuState): void;
  disable_nmi_singlestep(k: KvmOps, v: VcpuState): void;
  svm_enable_irq_window(k: KvmOps, v: VcpuState): void;
  svm_set_vintr(k: KvmOps, v: VcpuState): void;
  svm_clear_vintr(k: KvmOps, v: VcpuState): void;
  gif_set(k: KvmOps, v: VcpuState): boolean;
  svm_set_gif(k: KvmOps, v: VcpuState, value: boolean): void;
  svm_get_interrupt_shadow(k: KvmOps, v: VcpuState): number;
  svm_set_interrupt_shadow(k: KvmOps, v: VcpuState, mask: number): void;
  svm_skip_emulated_instruction(k: KvmOps, v: VcpuState): number;
  svm_complete_interrupts(k: KvmOps, v: VcpuState): void;
  svm_cancel_injection(k: KvmOps, v: VcpuState): void;
  svm_vcpu_run(k: KvmOps, v: VcpuState): void;
  svm_vcpu_enter_exit(k: KvmOps, v: VcpuState): void;
  svm_vcpu_run_after_vmrun(k: KvmOps, v: VcpuState): void;
  svm_handle_exit(k: KvmOps, v: VcpuState): number;
  intr_interception(k: KvmOps, v: VcpuState): number;
  nmi_interception(k: KvmOps, v: VcpuState): number;
  interrupt_window_interception(k: KvmOps, v: VcpuState): number;
  cpuid_interception(k: KvmOps, v: VcpuState): number;
  iret_interception(k: KvmOps, v: VcpuState): number;
  halt_interception(k: KvmOps, v: VcpuState): number;
  io_interception(k: KvmOps, v: VcpuState): number;
  task_switch_interception(k: KvmOps, v: VcpuState): number;
  shutdown_interception(k: KvmOps, v: VcpuState): number;
  vmrun_interception(k: KvmOps, v: VcpuState): number;
  stgi_interception(k: KvmOps, v: VcpuState): number;
  clgi_interception(k: KvmOps, v: VcpuState): number;
  npf_interception(k: KvmOps, v: VcpuState): number;
  db_interception(k: KvmOps, v: VcpuState): number;
  ud_interception(k: KvmOps, v: VcpuState): number;
  gp_interception(k: KvmOps, v: VcpuState): number;
  pf_interception(k: KvmOps, v: VcpuState): number;
  // nested.c
  nested_vnmi_enabled(k: KvmOps, v: VcpuState): boolean;
  nested_exit_on_nmi(k: KvmOps, v: VcpuState): boolean;
  nested_exit_on_intr(k: KvmOps, v: VcpuState): boolean;
  recalc_intercepts(k: KvmOps, v: VcpuState): void;
  nested_vmcb_check_controls(k: KvmOps, v: VcpuState): boolean;
  nested_svm_vmrun(k: KvmOps, v: VcpuState): number;
  enter_svm_guest_mode(k: KvmOps, v: VcpuState): void;
  nested_vmcb02_prepare_control(k: KvmOps, v: VcpuState): void;
  nested_sync_control_from_vmcb02(k: KvmOps, v: VcpuState): void;
  nested_save_pending_event_to_vmcb12(k: KvmOps, v: VcpuState): void;
  nested_svm_vmexit(k: KvmOps, v: VcpuState): void;
  nested_svm_simple_vmexit(k: KvmOps, v: VcpuState, exitCode: number): void;
  nested_svm_inject_npf_exit(k: KvmOps, v: VcpuState): void;
  nested_svm_is_exception_vmexit(k: KvmOps, v: VcpuState, vector: number): boolean;
  nested_svm_inject_exception_vmexit(k: KvmOps, v: VcpuState): void;
  nested_svm_exit_special(k: KvmOps, v: VcpuState): number;
  nested_svm_exit_handled(k: KvmOps, v: VcpuState): number;
  svm_check_nested_events(k: KvmOps, v: VcpuState): number;
}
export type OpName = keyof KvmOps;
