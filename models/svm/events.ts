// THE event alphabet, as one data table. For each event kind: its fields (small integer
// domains, enums, flag sets, booleans) with defaults, a doc line, its legality predicate
// on the current state, and its effect. Generation, mutation, minimization, validation,
// the text printer/parser and the msgpack codec read this table; none of them names an
// event kind. An event that is illegal in the current state is skipped (and the skip is
// observed), so every stream is valid.
//
// Phases (state.phase): 'host' = the vCPU is not running guest code (userspace ioctls);
// 'guest' = the CPU runs L1 or L2; 'delivery' = VMRUN is vectoring an event. Guest events
// in 'delivery' first complete the delivery (the CPU vectors before it executes).

import {
  bit, evtinj, INTERCEPT, SVM_EVTINJ_TYPE_INTR, SVM_EVTINJ_TYPE_NMI, SVM_EVTINJ_TYPE_EXEPT, SVM_EVTINJ_TYPE_SOFT, SVM_EXIT_NPF,
  SVM_EXIT_EXCP_BASE, SVM_EXIT_TASK_SWITCH, SVM_EXIT_SHUTDOWN, V_INTR_MASKING_MASK, V_IRQ_MASK, V_NMI_ENABLE_MASK,
  V_NMI_PENDING_MASK, V_NMI_BLOCKING_MASK, X86_EFLAGS_IF, DB_VECTOR, UD_VECTOR, SS_VECTOR, GP_VECTOR, PF_VECTOR,
  V_IGN_TPR_MASK, V_GIF_MASK, V_GIF_ENABLE_MASK, V_INTR_PRIO_SHIFT,
  type InterceptName,
} from './constants.js';
import { cur, IDT_LIMIT_FULL, type VcpuState } from './state.js';
import { guest_execute, hw_delivery_fault, insn, async, NPF_IN_L0_TABLES, NPF_IN_L1_TABLES } from './hardware.js';
import type { KvmOps } from './kvm/ops.js';
import { nested_state_round_trip, type VcpuEvents, type SetVcpuEvents } from './kvm/x86.js';
import { oracle_l2_event, oracle_nmi_raised, oracle_nmi_resync } from './oracle.js';

// ---- field descriptions ---------------------------------------------------------------

export type FieldSpec =
  | { readonly type: 'int'; readonly min: number; readonly max: number; readonly default: number; readonly doc: string }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly default: string; readonly doc: string }
  | { readonly type: 'flags'; readonly values: readonly string[]; readonly default: readonly string[]; readonly doc: string }
  | { readonly type: 'bool'; readonly default: boolean; readonly doc: string };

type FieldValue<F> = F extends { type: 'int' } ? number
  : F extends { type: 'bool' } ? boolean
  : F extends { type: 'enum'; values: readonly (infer V)[] } ? V
  : F extends { type: 'flags'; values: readonly (infer V)[] } ? V[]
  : never;
export type FieldsOf<F> = { -readonly [N in keyof F]: FieldValue<F[N]> };

/** Where an event kind may occur: the phases it is legal in. */
export type Where = 'host' | 'guest' | 'delivery';

export interface EventSpec<F extends Record<string, FieldSpec>> {
  readonly doc: string;
  readonly where: Where;
  readonly fields: F;
  /** Extra legality beyond `where` (e.g. L1 only, needs nesting). */
  readonly legal?: (v: VcpuState, e: FieldsOf<F>) => boolean;
  /**
   * How often generation draws this kind among the kinds of its phase, relative to the
   * others (default 1; tenths are the finest step). A kind that ends what most streams
   * explore for the rest of the stream (INIT resets the vCPU out of nesting) is rare.
   */
  readonly weight?: number;
  /**
   * A guest event that is an instruction the guest executes (not an exception, an NPF or
   * an asynchronous event): the liveness invariants count these (oracle.ts).
   */
  readonly instruction?: boolean;
  /** The effect. May return the KVM_GET_VCPU_EVENTS view when the event reads it. */
  readonly apply: (k: KvmOps, v: VcpuState, e: FieldsOf<F>) => VcpuEvents | void;
}

/** Identity helper that keeps each entry's field types precise (`as const` inference). */
const ev = <const F extends Record<string, FieldSpec>>(spec: EventSpec<F>): EventSpec<F> => spec;

const VECTORS = ['DB', 'UD', 'SS', 'GP', 'PF'] as const;
const VECTOR_NUM: Record<(typeof VECTORS)[number], number> = { DB: DB_VECTOR, UD: UD_VECTOR, SS: SS_VECTOR, GP: GP_VECTOR, PF: PF_VECTOR };
const IRQ_VECTORS = ['0x30', '0x68', '0xec'] as const;
/** Exceptions vmcb12 may intercept: the ones guests raise here, and those KVM synthesises (#DF) or userspace injects. */
const VMCB12_EXCEPTIONS = [...VECTORS, 'DF', 'TS', 'NP', 'BP', 'OF'] as const;
/** Exceptions vectoring an event can raise: a bad gate or descriptor (#NP, #TS, #GP), the stack (#SS), a page (#PF), #DF. */
const DELIVERY_FAULT_VECTORS = [...VECTORS, 'DF', 'TS', 'NP'] as const;

const VMCB12_INTERCEPTS = ['nmi', 'intr', 'vintr', 'iret', 'hlt', 'ioio', 'cpuid', 'shutdown', 'init'] as const;
const VMCB12_INT_CTL = ['v_intr_masking', 'v_irq', 'v_nmi_enable', 'v_nmi_pending', 'v_nmi_blocking', 'v_ign_tpr', 'v_gif', 'v_gif_enable'] as const;
const INT_CTL_BITS: Record<(typeof VMCB12_INT_CTL)[number], number> = {
  v_intr_masking: V_INTR_MASKING_MASK, v_irq: V_IRQ_MASK, v_nmi_enable: V_NMI_ENABLE_MASK,
  v_nmi_pending: V_NMI_PENDING_MASK, v_nmi_blocking: V_NMI_BLOCKING_MASK, v_ign_tpr: V_IGN_TPR_MASK,
  v_gif: V_GIF_MASK, v_gif_enable: V_GIF_ENABLE_MASK,
};
const VMCB12_INJECT = ['none', 'intr_0x68', 'intr_0x30', 'nmi', 'GP', 'SS', 'soft_0x30', 'BP', 'DE', 'exc_2', 'exc_32', 'type_1'] as const;

/** Vectors KVM_SET_VCPU_EVENTS may name: the modelled exceptions, and two it must refuse. */
const EXCEPTION_NRS = ['DB', 'BP', 'OF', 'UD', 'DF', 'TS', 'NP', 'SS', 'GP', 'PF', 'NMI', '32'] as const;
const EXCEPTION_NR: Record<(typeof EXCEPTION_NRS)[number], number> = {
  DB: DB_VECTOR, BP: 3, OF: 4, UD: UD_VECTOR, DF: 8, TS: 10, NP: 11, SS: SS_VECTOR, GP: GP_VECTOR, PF: PF_VECTOR, NMI: 2, '32': 32,
};

/** The fields of `set_vcpu_events` (apart, so that setVcpuEventsArgs can name their types). */
const SET_VCPU_EVENTS_FIELDS = {
  nmi_pending: { type: 'enum', values: ['keep', '0', '1', '2'], default: 'keep', doc: "nmi.pending ('keep': VALID_NMI_PENDING not set)" },
  nmi_injected: { type: 'bool', default: false, doc: 'nmi.injected' },
  nmi_masked: { type: 'bool', default: false, doc: 'nmi.masked' },
  shadow: { type: 'enum', values: ['keep', '0', '1'], default: 'keep', doc: "interrupt.shadow ('keep': VALID_SHADOW not set)" },
  exception: { type: 'enum', values: ['keep', 'none', 'pending', 'injected'], default: 'keep', doc: "exception.pending/injected ('keep': the exception fields as read)" },
  exception_nr: { type: 'enum', values: EXCEPTION_NRS, default: 'GP', doc: 'exception.nr (NMI and 32: invalid, -EINVAL when pending or injected)' },
  error_code: { type: 'enum', values: ['none', '0', '0xdeadbeef'], default: 'none', doc: 'exception.has_error_code and error_code' },
  payload: { type: 'enum', values: ['none', '0x4000', '0xdead000'], default: 'none', doc: 'exception_has_payload and exception_payload (DR6 bits for #DB, CR2 for #PF)' },
  payload_flag: { type: 'enum', values: ['as_read', '0', '1'], default: 'as_read', doc: "KVM_VCPUEVENT_VALID_PAYLOAD ('as_read': set when GET set it, i.e. the capability is on)" },
  interrupt: { type: 'enum', values: ['keep', 'none', 'injected', 'soft'], default: 'keep', doc: "interrupt.injected/soft ('keep': as read)" },
  interrupt_nr: { type: 'enum', values: IRQ_VECTORS, default: '0x30', doc: 'interrupt.nr' },
  triple_fault: { type: 'enum', values: ['as_read', 'none', '0', '1'], default: 'as_read', doc: "triple_fault.pending ('none': VALID_TRIPLE_FAULT not set; 'as_read': as GET reported it)" },
  latched_init: { type: 'enum', values: ['none', 'as_read', '0', '1'], default: 'none', doc: "smi.latched_init ('none': VALID_SMM not set; the SMM fields are 0)" },
  bad_flag: { type: 'bool', default: false, doc: 'a flag bit KVM does not define (-EINVAL)' },
} as const satisfies Record<string, FieldSpec>;

/**
 * The struct userspace passes to KVM_SET_VCPU_EVENTS for a `set_vcpu_events` event. A
 * field at keep/as_read takes what KVM_GET_VCPU_EVENTS returns just before (QEMU's
 * put-after-get; that read is part of the round trip, not an observation).
 */
function setVcpuEventsArgs(k: KvmOps, v: VcpuState, e: FieldsOf<typeof SET_VCPU_EVENTS_FIELDS>): SetVcpuEvents {
  const read = e.exception === 'keep' || e.interrupt === 'keep' || e.payload_flag === 'as_read' || e.triple_fault === 'as_read'
    || e.latched_init === 'as_read' ? k.kvm_vcpu_ioctl_x86_get_vcpu_events(k, v) : null;
  const exception = e.exception === 'keep'
    ? {
      injected: read!.exceptionInjected, pending: read!.exceptionPending, nr: read!.exceptionNr, hasErrorCode: read!.exceptionHasErrorCode,
      errorCode: read!.exceptionErrorCode, hasPayload: read!.exceptionHasPayload, payload: read!.exceptionPayload,
    }
    : {
      injected: e.exception === 'injected', pending: e.exception === 'pending', nr: EXCEPTION_NR[e.exception_nr],
      hasErrorCode: e.error_code !== 'none', errorCode: e.error_code === 'none' ? 0 : numberOf(e.error_code),
      hasPayload: e.payload !== 'none', payload: e.payload === 'none' ? 0 : numberOf(e.payload),
    };
  const interrupt = e.interrupt === 'keep'
    ? { injected: read!.interruptInjected, nr: read!.interruptNr, soft: false }
    : { injected: e.interrupt !== 'none', nr: numberOf(e.interrupt_nr), soft: e.interrupt === 'soft' };
  return {
    flags: { payload: e.payload_flag === 'as_read' ? read!.validPayload : e.payload_flag === '1', unknown: e.bad_flag },
    exception,
    interrupt,
    nmiPending: e.nmi_pending === 'keep' ? null : Number(e.nmi_pending),
    nmiInjected: e.nmi_injected,
    nmiMasked: e.nmi_masked,
    shadow: e.shadow === 'keep' ? null : e.shadow === '1',
    tripleFault: e.triple_fault === 'as_read' ? read!.tripleFault : e.triple_fault === 'none' ? null : e.triple_fault === '1',
    latchedInit: e.latched_init === 'none' ? null : e.latched_init === 'as_read' ? read!.latchedInit : e.latched_init === '1',
  };
}

const l1Only = (v: VcpuState): boolean => !v.guestMode && v.cfg.nested;
/** L1 may VMRUN: nesting is on and L1 has EFER.SVME (an INIT clears it; L1 does not set it again here). */
const l1CanVmrun = (v: VcpuState): boolean => l1Only(v) && v.l1Svme;

/** Builds vmcb12 in L1's memory from a `vmrun` event (L1 writes it before VMRUN). */
/** vmcb12.event_inj of each `inject` value (built once: writeVmcb12 runs on every VMRUN). */
function eventInjOf(inj: (typeof VMCB12_INJECT)[number]): number {
  return inj === 'none' ? 0
    : inj === 'nmi' ? evtinj(SVM_EVTINJ_TYPE_NMI, 0)
    : inj.startsWith('intr_') ? evtinj(SVM_EVTINJ_TYPE_INTR, Number(inj.slice(5)))
    : inj.startsWith('soft_') ? evtinj(SVM_EVTINJ_TYPE_SOFT, Number(inj.slice(5)))
    : inj === 'BP' ? evtinj(SVM_EVTINJ_TYPE_EXEPT, 3)
    : inj === 'DE' ? evtinj(SVM_EVTINJ_TYPE_EXEPT, 0)
    // Illegal events VMRUN must refuse (APM 15.20): an "exception" with the NMI vector or
    // vector 32, and the reserved type 1.
    : inj === 'exc_2' ? evtinj(SVM_EVTINJ_TYPE_EXEPT, 2)
    : inj === 'exc_32' ? evtinj(SVM_EVTINJ_TYPE_EXEPT, 32)
    : inj === 'type_1' ? evtinj(1 << 8, 0x30)
    : evtinj(SVM_EVTINJ_TYPE_EXEPT, VECTOR_NUM[inj as 'GP' | 'SS'], true);
}
const EVENT_INJ = Object.fromEntries(VMCB12_INJECT.map((i) => [i, eventInjOf(i)])) as Record<(typeof VMCB12_INJECT)[number], number>;
const INTERCEPT_BIT = Object.fromEntries(VMCB12_INTERCEPTS.map((f) => [f, bit(INTERCEPT[f.toUpperCase() as InterceptName])])) as Record<(typeof VMCB12_INTERCEPTS)[number], number>;

/** Number('0x30'), cached: enum values that name numbers are few. */
const NUMBERS = new Map<string, number>();
function numberOf(text: string): number {
  let n = NUMBERS.get(text);
  if (n === undefined) NUMBERS.set(text, (n = Number(text)));
  return n;
}

function writeVmcb12(v: VcpuState, e: FieldsOf<(typeof ALPHABET)['vmrun']['fields']>): void {
  const vmcb12 = v.vmcb12;
  let intercepts = bit(INTERCEPT.VMRUN); // required by nested_vmcb_check_controls
  for (const f of e.intercepts) intercepts |= INTERCEPT_BIT[f];
  let exceptions = 0;
  for (const x of e.exceptions) exceptions |= bit(EXCEPTION_NR[x]);
  let intCtl = 0;
  for (const f of e.int_ctl) intCtl |= INT_CTL_BITS[f];
  vmcb12.intercepts = intercepts;
  vmcb12.exceptions = exceptions;
  intCtl |= (numberOf(e.int_prio) << V_INTR_PRIO_SHIFT) | numberOf(e.v_tpr);
  vmcb12.intCtl = intCtl;
  vmcb12.intVector = numberOf(e.int_vector);
  vmcb12.intState = e.int_state;
  vmcb12.eventInjErr = numberOf(e.inject_err);
  vmcb12.eventInj = EVENT_INJ[e.inject];
  vmcb12.rflags = e.l2_if ? vmcb12.rflags | X86_EFLAGS_IF : vmcb12.rflags & ~X86_EFLAGS_IF;
  vmcb12.nextRip = e.next_rip === 'rip+2' ? vmcb12.rip + 2 : e.next_rip === 'rip' ? vmcb12.rip : 0;
  vmcb12.csBase = numberOf(e.cs_base);
  vmcb12.idtLimit = e.idt_limit === 'full' ? IDT_LIMIT_FULL : numberOf(e.idt_limit);
}

const guestInsn = (doc: string, fn: (k: KvmOps, v: VcpuState) => void, legal?: (v: VcpuState) => boolean, instruction = true) =>
  ev({ doc, where: 'guest', fields: {}, instruction, legal: legal ? (v) => legal(v) : undefined, apply: (k, v) => guest_execute(k, v, fn) });

export const ALPHABET = {
  // ---- host / userspace (legal while the vCPU is not running guest code) ----
  nmi: ev({
    doc: 'KVM_NMI / LAPIC NMI: kvm_inject_nmi (repeat for "simultaneous" NMIs)',
    where: 'host', fields: {},
    apply: (k, v) => {
      k.kvm_inject_nmi(k, v);
      oracle_nmi_raised(v);
    },
  }),
  irq: ev({
    doc: 'an external interrupt arrives at the in-kernel LAPIC (kvm_apic_set_irq)',
    where: 'host',
    fields: { vector: { type: 'enum', values: IRQ_VECTORS, default: '0x30', doc: 'interrupt vector' } },
    apply: (k, v, e) => k.kvm_apic_set_irq(k, v, Number(e.vector)),
  }),
  set_vcpu_events: ev({
    doc: 'KVM_SET_VCPU_EVENTS: exception, interrupt, NMI, shadow and triple-fault state; a field left at keep/as_read is written back as KVM_GET_VCPU_EVENTS read it (a GET/modify/SET round trip)',
    where: 'host',
    fields: SET_VCPU_EVENTS_FIELDS,
    apply: (k, v, e) => {
      const args = setVcpuEventsArgs(k, v, e);
      k.kvm_vcpu_ioctl_x86_set_vcpu_events(k, v, args);
      // The oracle's count (no-unasked-db): userspace set a #DB (counted even if refused).
      if ((args.exception.pending || args.exception.injected) && args.exception.nr === DB_VECTOR) v.hw.dbAsked++;
      // The NMI oracle takes what KVM holds after the ioctl as the truth, and userspace's
      // nmi.masked as L1's blocking (unknown after an -EINVAL: the triple-fault one comes
      // after everything else was written).
      oracle_nmi_resync(v, v.log.ioctl === 'EINVAL' ? null : args.nmiMasked);
      // vmcb12-exit-int-info: in guest mode, what userspace sets as injected is L2's.
      if (v.exception.injected) oracle_l2_event(v, evtinj(SVM_EVTINJ_TYPE_EXEPT, v.exception.vector));
      if (v.interrupt.injected) oracle_l2_event(v, evtinj(v.interrupt.soft ? SVM_EVTINJ_TYPE_SOFT : SVM_EVTINJ_TYPE_INTR, v.interrupt.nr));
      if (v.nmiInjected) oracle_l2_event(v, evtinj(SVM_EVTINJ_TYPE_NMI, 0));
    },
  }),
  init: ev({
    doc: "another vCPU's INIT IPI (__apic_accept_irq, APIC_DM_INIT): INIT pending; KVM accepts it at the next event check (nested #VMEXIT(INIT) if L1 intercepts it, latched while GIF=0, else an INIT reset)",
    where: 'host', fields: {}, weight: 0.1,
    apply: (k, v) => k.__apic_accept_irq(k, v),
  }),
  nested_state: ev({
    doc: 'KVM_GET_NESTED_STATE, then KVM_SET_NESTED_STATE of the blob as read with the fields edited (a save/restore; observed as nested_state)',
    where: 'host', weight: 0.2,
    fields: {
      guest_mode: { type: 'enum', values: ['as_read', '0', '1'], default: 'as_read', doc: 'KVM_STATE_NESTED_GUEST_MODE (1 on a blob read outside guest mode: no VMCB data, -EINVAL)' },
      run_pending: { type: 'enum', values: ['as_read', '0', '1'], default: 'as_read', doc: 'KVM_STATE_NESTED_RUN_PENDING' },
      gif: { type: 'enum', values: ['as_read', '0', '1'], default: 'as_read', doc: 'KVM_STATE_NESTED_GIF_SET' },
      int_state: { type: 'enum', values: ['as_read', '0', '1'], default: 'as_read', doc: "the blob's vmcb12 control int_state (the interrupt shadow L2 gets back)" },
      bad_flag: { type: 'bool', default: false, doc: 'a flag bit KVM does not define (-EINVAL)' },
    },
    apply: (k, v, e) => {
      const read = nested_state_round_trip(k, v, (s) => {
        if (e.guest_mode !== 'as_read') s.guestMode = e.guest_mode === '1';
        if (e.run_pending !== 'as_read') s.runPending = e.run_pending === '1';
        if (e.gif !== 'as_read') s.gif = e.gif === '1';
        if (e.int_state !== 'as_read' && s.ctl) s.ctl.intState = Number(e.int_state);
        s.unknownFlag = e.bad_flag;
      });
      const flags: string[] = [];
      if (read.guestMode) flags.push('guest_mode');
      if (read.runPending) flags.push('run_pending');
      if (read.gif) flags.push('gif');
      v.log.nested = flags.join('|');
      if (v.log.ioctl !== 'EINVAL') oracle_nmi_resync(v, null);
    },
  }),
  get_vcpu_events: ev({
    doc: 'KVM_GET_VCPU_EVENTS: what userspace reads (observed as events.*)',
    where: 'host', fields: {},
    apply: (k, v) => k.kvm_vcpu_ioctl_x86_get_vcpu_events(k, v),
  }),
  run: ev({
    doc: 'KVM_RUN: enter the guest; until=first_exit: a signal ends KVM_RUN after the next exit; until=immediate_exit: kvm_run->immediate_exit, KVM_RUN returns -EINTR before entering',
    where: 'host',
    fields: { until: { type: 'enum', values: ['userspace', 'first_exit', 'immediate_exit'], default: 'userspace', doc: 'when KVM_RUN returns' } },
    apply: (k, v, e) => k.kvm_arch_vcpu_ioctl_run(k, v, e.until === 'first_exit', e.until === 'immediate_exit'),
  }),

  // ---- guest instructions (L2 in guest mode, else L1) ----
  nop: guestInsn('a plain instruction (ends a shadow, lets a single-step trap fire)', insn.nop),
  sti: guestInsn('STI (IF 0->1 opens a one-instruction shadow)', insn.sti),
  cli: guestInsn('CLI', insn.cli),
  mov_ss: guestInsn('MOV SS (one-instruction shadow)', insn.mov_ss),
  iret: guestInsn('IRET (ends the current handler; unblocks vNMI)', insn.iret),
  hlt: guestInsn('HLT', insn.hlt),
  cpuid: guestInsn('CPUID (intercepted: KVM emulates and skips it)', insn.cpuid),
  ioio: guestInsn('an I/O port access (intercepted: completed by userspace)', insn.ioio),
  clgi: guestInsn('CLGI (L1)', insn.clgi, l1Only),
  stgi: guestInsn('STGI (L1)', insn.stgi, l1Only),
  fault: ev({
    doc: 'the guest raises an exception (#VMEXIT if intercepted, else delivered in the guest)',
    where: 'guest',
    fields: { vector: { type: 'enum', values: VECTORS, default: 'GP', doc: 'exception vector' } },
    apply: (k, v, e) => guest_execute(k, v, (k2, v2) => {
      if (e.vector === 'DB') v2.hw.dbAsked++; // the oracle's count (no-unasked-db): the guest's own #DB
      async.exception(k2, v2, VECTOR_NUM[e.vector]);
    }),
  }),
  npf: ev({
    doc: "a guest access misses in L0's nested page tables (l0) or, in L2, in L1's (l1)",
    where: 'guest',
    fields: { tables: { type: 'enum', values: ['l0', 'l1'], default: 'l0', doc: 'whose tables miss the page' } },
    legal: (v, e) => e.tables === 'l0' || (v.guestMode && v.cfg.npt),
    apply: (k, v, e) => guest_execute(k, v, (k2, v2) => async.npf(k2, v2, e.tables === 'l1')),
  }),
  phys_intr: guestInsn('a host interrupt arrives while the guest runs: #VMEXIT(INTR)', async.phys_intr, undefined, false),
  host_nmi: guestInsn('a host NMI arrives while the guest runs: #VMEXIT(NMI)', async.host_nmi, undefined, false),
  int3: guestInsn('INT3: #BP raised by the instruction (a trap; the CPU vectors it, a #VMEXIT can cut the delivery)', insn.int3),
  into: guestInsn('INTO with RFLAGS.OF set: #OF raised by the instruction', insn.into),
  intn: ev({
    doc: 'INTn: a software interrupt (2 bytes; the CPU vectors it, a #VMEXIT can cut the delivery)',
    where: 'guest', instruction: true,
    fields: { vector: { type: 'enum', values: ['0x30', '0x80'], default: '0x80', doc: 'the interrupt vector' } },
    apply: (k, v, e) => guest_execute(k, v, (k2, v2) => insn.intn(k2, v2, numberOf(e.vector))),
  }),
  kick: ev({
    doc: 'userspace kicks the running vCPU (a signal to its thread, whose IPI exits the guest with #VMEXIT(INTR)): KVM_RUN returns EINTR at that exit',
    where: 'guest', fields: {},
    apply: (k, v) => guest_execute(k, v, (k2, v2) => {
      v2.signalPending = true;
      async.phys_intr(k2, v2);
    }),
  }),
  vmrun: ev({
    doc: 'L1 executes VMRUN with a vmcb12 it prepared (intercepts, event_inj, int_ctl, int_state)',
    where: 'guest', instruction: true,
    fields: {
      intercepts: { type: 'flags', values: VMCB12_INTERCEPTS, default: ['nmi', 'intr'], doc: 'vmcb12 intercepts (VMRUN is always set)' },
      exceptions: { type: 'flags', values: VMCB12_EXCEPTIONS, default: [], doc: 'vmcb12 exception intercepts' },
      inject: { type: 'enum', values: VMCB12_INJECT, default: 'none', doc: 'vmcb12.event_inj (soft_0x30: a software interrupt, INTn; BP: #BP as an exception; exc_2, exc_32, type_1: events VMRUN must refuse)' },
      int_ctl: { type: 'flags', values: VMCB12_INT_CTL, default: ['v_intr_masking'], doc: 'vmcb12.int_ctl bits' },
      int_vector: { type: 'enum', values: ['0x30', '0x68'], default: '0x30', doc: 'vmcb12.int_vector (for v_irq)' },
      inject_err: { type: 'enum', values: ['0', '0xdeadbeef'], default: '0', doc: 'vmcb12.event_inj_err (pushed when the injected exception has an error code)' },
      int_prio: { type: 'enum', values: ['0xf', '0x8', '0x1', '0x0'], default: '0xf', doc: 'vmcb12.int_ctl V_INTR_PRIO of the virtual interrupt' },
      v_tpr: { type: 'enum', values: ['0', '0xa'], default: '0', doc: "vmcb12.int_ctl V_TPR (L2's task priority for virtual interrupts)" },
      int_state: { type: 'int', min: 0, max: 7, default: 0, doc: 'vmcb12.int_state: bit 0 the interrupt shadow, bit 1 GUEST_INTERRUPT_MASK (SEV-ES only; ignored here), bit 2 reserved' },
      l2_if: { type: 'bool', default: true, doc: "L2's RFLAGS.IF" },
      next_rip: { type: 'enum', values: ['rip+2', 'rip', '0'], default: 'rip+2', doc: "vmcb12.next_rip: past a 2-byte INTn at L2's RIP (what L1 writes for a soft event), L2's RIP, or 0" },
      cs_base: { type: 'enum', values: ['0', '0x10000'], default: '0', doc: "vmcb12.save.cs.base (L2's CS base; L1's is 0)" },
      idt_limit: { type: 'enum', values: ['full', '0', '0xbf'], default: 'full', doc: "vmcb12.save.idtr.limit, L2's IDT: all 256 gates (full), none (0), or vectors 0..11 (0xbf: #SS, #GP, #PF and the interrupts miss)" },
    },
    legal: (v) => l1CanVmrun(v),
    apply: (k, v, e) => guest_execute(k, v, (k2, v2) => {
      writeVmcb12(v2, e);
      insn.vmrun(k2, v2);
    }),
  }),

  // ---- delivery-time (legal only while VMRUN vectors an event) ----
  delivery_fault: ev({
    doc: 'a #VMEXIT cuts the event delivery (IDT/stack page misses in nested tables, intercepted exception, task gate, triple fault)',
    where: 'delivery',
    fields: {
      cause: { type: 'enum', values: ['npf_l0', 'npf_l1', 'exception', 'task_switch', 'shutdown'], default: 'npf_l0', doc: 'what interrupts the delivery' },
      vector: { type: 'enum', values: DELIVERY_FAULT_VECTORS, default: 'GP', doc: 'the intercepted exception (cause=exception)' },
    },
    legal: (v, e) => e.cause === 'npf_l1' ? v.guestMode && v.cfg.npt
      : e.cause !== 'exception' || (cur(v).exceptions & bit(EXCEPTION_NR[e.vector])) !== 0,
    apply: (k, v, e) => {
      switch (e.cause) {
        case 'npf_l0': return hw_delivery_fault(k, v, SVM_EXIT_NPF, NPF_IN_L0_TABLES);
        case 'npf_l1': return hw_delivery_fault(k, v, SVM_EXIT_NPF, NPF_IN_L1_TABLES);
        case 'exception':
          // The oracle's count (no-unasked-db): a #DB the vectoring raises is the guest's (its breakpoints).
          if (e.vector === 'DB') v.hw.dbAsked++;
          return hw_delivery_fault(k, v, SVM_EXIT_EXCP_BASE + EXCEPTION_NR[e.vector], 0);
        case 'task_switch': return hw_delivery_fault(k, v, SVM_EXIT_TASK_SWITCH, 0);
        case 'shutdown': return hw_delivery_fault(k, v, SVM_EXIT_SHUTDOWN, 0);
      }
    },
  }),
} as const;

export type Alphabet = typeof ALPHABET;
export type EventKind = keyof Alphabet;
type FieldsOfKind<K extends EventKind> = Alphabet[K] extends EventSpec<infer F> ? FieldsOf<F> : never;
/** One event of a stream: `{ kind, ...fields }`. A new kind in ALPHABET extends this union. */
export type SvmEvent = { [K in EventKind]: { kind: K } & FieldsOfKind<K> }[EventKind];

export const EVENT_KINDS = Object.keys(ALPHABET) as EventKind[];

/** The spec of a kind, seen through the generic interface the engine uses. */
export function specOf(kind: string): EventSpec<Record<string, FieldSpec>> | undefined {
  return (ALPHABET as unknown as Record<string, EventSpec<Record<string, FieldSpec>>>)[kind];
}

/** Is the event legal in this state? (phase, then the kind's own predicate) */
export function isLegal(v: VcpuState, e: SvmEvent): boolean {
  const spec = specOf(e.kind)!;
  const phaseOk = spec.where === 'host' ? v.phase === 'host'
    : spec.where === 'delivery' ? v.phase === 'delivery'
    : v.phase === 'guest' || v.phase === 'delivery';
  return phaseOk && (spec.legal ? spec.legal(v, e as never) : true);
}

/** The event of this kind with every field at its default. */
export function defaultEvent(kind: EventKind): SvmEvent {
  const spec = specOf(kind)!;
  const e: Record<string, unknown> = { kind };
  for (const [name, f] of Object.entries(spec.fields)) e[name] = Array.isArray(f.default) ? [...f.default] : f.default;
  return e as SvmEvent;
}

/** Validates a plain object against the alphabet; returns an error message or null. */
export function checkEvent(e: unknown): string | null {
  if (typeof e !== 'object' || e === null) return 'event is not an object';
  const kind = (e as { kind?: unknown }).kind;
  const spec = typeof kind === 'string' ? specOf(kind) : undefined;
  if (!spec) return `unknown event kind '${String(kind)}'`;
  for (const [name, f] of Object.entries(spec.fields)) {
    const err = checkField(name, f, (e as Record<string, unknown>)[name]);
    if (err) return `${kind}: ${err}`;
  }
  for (const key of Object.keys(e)) {
    if (key !== 'kind' && !(key in spec.fields)) return `${kind}: unknown field '${key}'`;
  }
  return null;
}

export function checkField(name: string, f: FieldSpec, value: unknown): string | null {
  switch (f.type) {
    case 'int':
      return Number.isInteger(value) && (value as number) >= f.min && (value as number) <= f.max ? null
        : `field '${name}' must be an integer in ${f.min}..${f.max}`;
    case 'bool':
      return typeof value === 'boolean' ? null : `field '${name}' must be 0 or 1`;
    case 'enum':
      return f.values.includes(value as string) ? null : `field '${name}' must be one of ${f.values.join('|')}`;
    case 'flags': {
      if (!Array.isArray(value)) return `field '${name}' must be a set of ${f.values.join('|')}`;
      let last = -1;
      for (const x of value) {
        const i = f.values.indexOf(x as string);
        if (i < 0) return `field '${name}': unknown flag '${String(x)}' (known: ${f.values.join('|')})`;
        if (i <= last) return `field '${name}': flags must be distinct and in table order`;
        last = i;
      }
      return null;
    }
  }
}

