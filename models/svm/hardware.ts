// The CPU side: VMRUN, EVENTINJ delivery (completed or cut short by a #VMEXIT), vNMI
// delivery, virtual-interrupt (V_IRQ) delivery, the interrupt shadow, single-step traps,
// guest instructions and #VMEXIT. KVM code reaches the CPU only through __svm_vcpu_run
// (hw_vmrun); the CPU hands control back to KVM at #VMEXIT through the function table
// (svm_vcpu_run_after_vmrun), so a patched KVM sees every exit.
//
// Sources: AMD APM vol. 2 ch. 15 (docs/model.md, sections 0, B.2, C.3).

import { MAX_ENTRIES_PER_STEP } from './config.js';
import {
  SVM_INTERRUPT_SHADOW_MASK, V_NMI_ENABLE_MASK, V_NMI_PENDING_MASK, V_NMI_BLOCKING_MASK, V_IRQ_MASK,
  V_INTR_PRIO_MASK, V_INTR_PRIO_SHIFT, V_IGN_TPR_MASK, V_TPR_MASK,
  V_GIF_ENABLE_MASK, V_GIF_MASK, INTERCEPT, bit, isValid, evtType, evtVector, evtinj, SVM_EVTINJ_TYPE_NMI,
  SVM_EVTINJ_TYPE_INTR, SVM_EVTINJ_TYPE_EXEPT, SVM_EVTINJ_TYPE_SOFT, SVM_EXIT_INTR, SVM_EXIT_NMI,
  SVM_EXIT_VINTR, SVM_EXIT_IRET, SVM_EXIT_EXCP_BASE, SVM_EXIT_ERR, SVM_EXIT_SHUTDOWN, X86_EFLAGS_IF, X86_EFLAGS_TF, X86_EFLAGS_RF,
  DB_VECTOR, DF_VECTOR, GP_VECTOR, EXCPT_BENIGN, exception_class, exitName, exceptionHasErrorCode, type InterceptName,
} from './constants.js';
import { cur, curGuest, level, WARN_ON_ONCE, type VcpuState, type Vmcb, type GuestFrame } from './state.js';
import type { KvmOps } from './kvm/ops.js';
import { oracle_iret, oracle_l2_event, oracle_l2_taken, oracle_nmi_taken, oracle_vmrun } from './oracle.js';

/** Model abstraction of the NPF cause (exit_info_1): whose page tables miss the page. */
export const NPF_IN_L0_TABLES = 1;
export const NPF_IN_L1_TABLES = 2;
/** Deepest handler nesting the model tracks per guest (frames beyond are not pushed). */
const MAX_FRAMES = 8;

const intercepted = (vmcb: Vmcb, name: InterceptName): boolean => (vmcb.intercepts & bit(INTERCEPT[name])) !== 0;
const shadowed = (vmcb: Vmcb): boolean => (vmcb.intState & SVM_INTERRUPT_SHADOW_MASK) !== 0;
const setShadow = (vmcb: Vmcb, on: boolean): void => {
  vmcb.intState = on ? vmcb.intState | SVM_INTERRUPT_SHADOW_MASK : vmcb.intState & ~SVM_INTERRUPT_SHADOW_MASK;
};

/** GIF as the running guest sees it: V_GIF when the VMCB virtualises GIF, else 1 (hardware GIF=1 in guest). */
function guestGifSet(vmcb: Vmcb): boolean {
  return (vmcb.intCtl & V_GIF_ENABLE_MASK) === 0 || (vmcb.intCtl & V_GIF_MASK) !== 0;
}

/** VMRUN on svm->vmcb. `stiShadow`: the instruction before VMRUN was an STI that set IF (pre-be45bc4e). */
export function hw_vmrun(k: KvmOps, v: VcpuState, stiShadow: boolean): void {
  const vmcb = cur(v);
  oracle_vmrun(v);
  oracle_l2_event(v, vmcb.eventInj);
  v.hw.entries++;
  v.hw.vmrunInStiShadow = stiShadow;
  if (v.guestMode) v.hw.leakedShadow = false; // kept while L1 handles the exit that carried it
  v.hw.hostGif = true; // VMRUN sets GIF=1 for the guest
  v.phase = 'guest';
  if (illegalEventInj(vmcb.eventInj)) {
    // APM 15.20: VMRUN exits with VMEXIT_INVALID; the guest never runs.
    hw_vmexit(k, v, SVM_EXIT_ERR, 0);
    return;
  }
  if (isValid(vmcb.eventInj)) {
    startDelivery(v, 'eventinj', true);
    return;
  }
  hw_instruction_boundary(k, v, true);
}

/**
 * The EVENTINJ consistency check of VMRUN (APM 15.20): a reserved TYPE (1, 5, 6, 7), or
 * TYPE 3 (exception) with a vector that is no exception: the NMI vector 2, or above 31.
 * The reserved bits 30:12 are documented as SBZ, not as checked: the model ignores them.
 * (Exception vectors below 32 that the architecture leaves undefined are not offered.)
 */
function illegalEventInj(info: number): boolean {
  if (!isValid(info)) return false;
  const t = evtType(info) >> 8;
  if (t === 1 || t >= 5) return true;
  const vector = evtVector(info);
  return t === 3 && (vector === 2 || vector > 31);
}

function startDelivery(v: VcpuState, what: 'eventinj' | 'vnmi', atVmrun: boolean): void {
  v.phase = 'delivery';
  v.hw.delivering = what;
  v.hw.deliveryAtVmrun = atVmrun;
  v.hw.deliveryShadow = shadowed(cur(v));
}

/**
 * Interrupt recognition at an instruction boundary (and right after VMRUN):
 * physical INTR (intercepted by L0) > virtual NMI > virtual INTR (V_IRQ).
 */
export function hw_instruction_boundary(k: KvmOps, v: VcpuState, atVmrun = false): void {
  const vmcb = cur(v);
  if (v.hw.physIntrPending && intercepted(vmcb, 'INTR')) {
    v.hw.physIntrPending = false;
    hw_vmexit(k, v, SVM_EXIT_INTR, 0);
    return;
  }
  const gif = guestGifSet(vmcb);
  if ((vmcb.intCtl & V_NMI_ENABLE_MASK) && (vmcb.intCtl & V_NMI_PENDING_MASK) && !(vmcb.intCtl & V_NMI_BLOCKING_MASK)
      && gif && !(shadowed(vmcb) && v.cfg.vnmiHonoursShadow)) {
    startDelivery(v, 'vnmi', atVmrun);
    return;
  }
  const ifSet = (vmcb.rflags & X86_EFLAGS_IF) !== 0;
  // APM 15.21.4: a virtual interrupt is taken when its V_INTR_PRIO is above V_TPR (or
  // V_IGN_TPR is set), IF and GIF are set and no interrupt shadow holds.
  const prio = (vmcb.intCtl & V_INTR_PRIO_MASK) >>> V_INTR_PRIO_SHIFT;
  const aboveTpr = (vmcb.intCtl & V_IGN_TPR_MASK) !== 0 || prio > (vmcb.intCtl & V_TPR_MASK);
  if ((vmcb.intCtl & V_IRQ_MASK) && ifSet && !shadowed(vmcb) && gif && aboveTpr) {
    if (intercepted(vmcb, 'VINTR')) {
      hw_vmexit(k, v, SVM_EXIT_VINTR, 0);
      return;
    }
    // L1 gave L2 a virtual interrupt without intercepting VINTR: the CPU takes it.
    vmcb.intCtl &= ~V_IRQ_MASK;
    hw_vector(k, v, evtinj(SVM_EVTINJ_TYPE_INTR, vmcb.intVector), 0, false);
  }
}

/** The IDT gate of the event's vector lies within the IDT limit (16-byte long-mode gates). */
function gatePresent(vmcb: Vmcb, info: number): boolean {
  const vector = evtType(info) === SVM_EVTINJ_TYPE_NMI ? 2 : evtVector(info);
  return vector * 16 + 15 <= vmcb.idtLimit;
}

/**
 * Vectoring an event whose IDT gate is beyond the IDT limit (APM vol. 2, 8.4.2 and 8.2.9):
 * it raises #GP with the gate's index as its error code (vector * 8, IDT bit 2, and EXT,
 * bit 0, for an event from outside the program: an interrupt or an NMI). The #GP is first
 * checked against the exception intercepts: intercepted, it is a #VMEXIT whose exit_info_1
 * is the error code and whose exit_int_info is the event being delivered (through
 * hw_delivery_fault while VMRUN vectors one). Not intercepted, it merges with that event:
 * after a contributory exception or #PF it becomes #DF (itself checked against the
 * intercepts), after a #DF a triple fault (the SHUTDOWN #VMEXIT), after anything else it
 * is delivered as is, through its own gate, which may be missing too. Returns the
 * exception the guest takes instead, with its error code, or null after a #VMEXIT.
 */
function hw_gate_fault(k: KvmOps, v: VcpuState, info: number, infoErr: number): [number, number] | null {
  const vmcb = cur(v);
  const inDelivery = v.phase === 'delivery';
  let event = info;
  let eventErr = infoErr;
  let ext = evtType(info) === SVM_EVTINJ_TYPE_NMI || evtType(info) === SVM_EVTINJ_TYPE_INTR;
  const exit = (first: boolean, exitCode: number, exitInfo1: number): null => {
    if (inDelivery) hw_delivery_fault(k, v, exitCode, exitInfo1, first ? undefined : [event, eventErr]);
    else hw_vmexit(k, v, exitCode, exitInfo1, event, eventErr);
    return null;
  };
  for (let first = true; ; first = false) {
    const t = evtType(event);
    const vector = t === SVM_EVTINJ_TYPE_NMI ? 2 : evtVector(event);
    const gpErr = (vector << 3) | 2 | (ext ? 1 : 0);
    if (vmcb.exceptions & bit(GP_VECTOR)) return exit(first, SVM_EXIT_EXCP_BASE + GP_VECTOR, gpErr);
    const isException = t === SVM_EVTINJ_TYPE_EXEPT;
    if (isException && vector === DF_VECTOR) return exit(first, SVM_EXIT_SHUTDOWN, 0);
    let next = GP_VECTOR;
    let nextErr = gpErr;
    if (isException && exception_class(vector) !== EXCPT_BENIGN) {
      next = DF_VECTOR;
      nextErr = 0;
      if (vmcb.exceptions & bit(DF_VECTOR)) return exit(first, SVM_EXIT_EXCP_BASE + DF_VECTOR, 0);
    }
    // An NMI whose vectoring raised an exception the guest takes (or whose own vectoring
    // exits) is consumed: the oracle counts it as taken.
    if (t === SVM_EVTINJ_TYPE_NMI) oracle_nmi_taken(v, true);
    event = evtinj(SVM_EVTINJ_TYPE_EXEPT, next, true);
    eventErr = nextErr;
    if (gatePresent(vmcb, event)) return [event, eventErr];
    ext = false;
  }
}

/**
 * The CPU vectors an event in the current guest: through its IDT gate, or, when the gate
 * is beyond the IDT limit, the exception that raises (hw_gate_fault). Returns false when
 * that ended in a #VMEXIT.
 */
function hw_vector(k: KvmOps, v: VcpuState, info: number, infoErr: number, fault: boolean): boolean {
  if (gatePresent(cur(v), info)) {
    guest_take_event(v, info, fault);
    return true;
  }
  const r = hw_gate_fault(k, v, info, infoErr);
  if (!r) return false;
  guest_take_event(v, r[0], true);
  return true;
}

/** The in-progress delivery completes: the guest enters the handler. */
export function hw_deliver(k: KvmOps, v: VcpuState): void {
  const vmcb = cur(v);
  const d = v.hw.delivering;
  const info = d === 'eventinj' ? vmcb.eventInj : d === 'soft' ? v.hw.softEvent : evtinj(SVM_EVTINJ_TYPE_NMI, 2);
  if (!gatePresent(vmcb, info)) {
    // The gate is missing: the exception that raises is delivered instead (or exits).
    const r = hw_gate_fault(k, v, info, d === 'eventinj' ? vmcb.eventInjErr : 0);
    if (!r) return;
    if (d === 'eventinj') vmcb.eventInj = 0;
    // The vNMI was taken (pending cleared, NMIs blocked from the start of its delivery, as
    // when it completes: APM 15.21.10); its handler never runs, the fault's does.
    else if (d === 'vnmi') vmcb.intCtl = (vmcb.intCtl & ~V_NMI_PENDING_MASK) | V_NMI_BLOCKING_MASK;
    guest_take_event(v, r[0], true);
  } else if (d === 'eventinj') {
    const ev = vmcb.eventInj;
    vmcb.eventInj = 0;
    // A soft event (INTn, or #BP/#OF as exceptions) pushes next_rip as its return address
    // (APM 15.20; the modelled CPU has NRIPS, and no VMCB bit says "ignore next_rip").
    if (is_evtinj_soft(ev)) vmcb.rip = vmcb.nextRip;
    guest_take_event(v, ev);
    // APM 15.21.10 (quoted in P1q): an EVENTINJ NMI with vNMI enabled sets V_NMI_BLOCKING.
    if (evtType(ev) === SVM_EVTINJ_TYPE_NMI && (vmcb.intCtl & V_NMI_ENABLE_MASK)) vmcb.intCtl |= V_NMI_BLOCKING_MASK;
  } else if (v.hw.delivering === 'soft') {
    vmcb.rip = v.hw.softNextRip; // the guest's own INTn/INT3/INTO returns past itself
    guest_take_event(v, v.hw.softEvent);
  } else {
    vmcb.intCtl = (vmcb.intCtl & ~V_NMI_PENDING_MASK) | V_NMI_BLOCKING_MASK;
    guest_take_event(v, evtinj(SVM_EVTINJ_TYPE_NMI, 2));
  }
  if (v.cfg.shadowClearedByDelivery) setShadow(vmcb, false); // [INFER] B.4
  v.hw.delivering = 'none';
  v.phase = 'guest';
  hw_instruction_boundary(k, v);
}

/**
 * A #VMEXIT cuts the in-progress delivery (the IDT/stack page misses in a nested page
 * table, or vectoring raises an intercepted exception, a task switch or a triple fault).
 * The interrupted event goes to exit_int_info. The AMD quirk (be45bc4e, B.2): when the
 * VMRUN ran in the host's STI shadow, the shadow shows up in int_state.
 */
export function hw_delivery_fault(k: KvmOps, v: VcpuState, exitCode: number, exitInfo1: number, inFlight?: [number, number]): void {
  const vmcb = cur(v);
  const cfg = v.cfg;
  let info = 0;
  let infoErr = 0;
  if (inFlight) {
    // An exception the failed delivery raised was itself being delivered (hw_gate_fault).
    [info, infoErr] = inFlight;
  } else if (v.hw.delivering === 'eventinj') {
    info = vmcb.eventInj;
    infoErr = vmcb.eventInjErr;
  } else if (v.hw.delivering === 'soft') {
    // APM 15.7.2: INTn is reported as a software interrupt, INT3/INTO as exceptions; RIP
    // still points at the instruction and nRIP is zero (not an instruction intercept).
    info = v.hw.softEvent;
  } else {
    // vNMI series (V): the vNMI mask is cleared when its delivery is interrupted.
    vmcb.intCtl &= ~V_NMI_BLOCKING_MASK;
    if (cfg.vnmiDeliveryInExitIntInfo) {
      vmcb.intCtl &= ~V_NMI_PENDING_MASK;
      info = evtinj(SVM_EVTINJ_TYPE_NMI, 2);
    }
  }
  const leakScope = v.hw.delivering === 'eventinj' || cfg.shadowLeakScope === 'any-delivery';
  const leak = v.hw.deliveryAtVmrun && v.hw.vmrunInStiShadow && leakScope;
  const own = cfg.entryShadowOnDeliveryExit === 'kept' && v.hw.deliveryShadow;
  setShadow(vmcb, own || leak);
  v.hw.leakedShadow = leak && !own;
  hw_vmexit(k, v, exitCode, exitInfo1, info, infoErr);
}

/**
 * The step log's labels ("L1:IRET", "L2:NMI", "L1:INTR:0x20"): built once per distinct
 * label and reused, so a step logs an exit or a delivery without allocating a string.
 */
const EXIT_LABELS = { L1: new Map<number, string>(), L2: new Map<number, string>() };
function exitLabel(lv: 'L1' | 'L2', exitCode: number): string {
  const m = EXIT_LABELS[lv];
  let s = m.get(exitCode);
  if (s === undefined) {
    s = `${lv}:${exitName(exitCode)}`;
    if (m.size < 4096) m.set(exitCode, s);
  }
  return s;
}
type DeliveryKind = 'NMI' | 'EXCP' | 'INTR' | 'SOFT';
const byKind = (): Record<DeliveryKind, string[]> => ({ NMI: [], EXCP: [], INTR: [], SOFT: [] });
const DELIVERY_LABELS = { L1: byKind(), L2: byKind() };
function deliveryLabel(lv: 'L1' | 'L2', kind: DeliveryKind, vector: number): string {
  const byVector = DELIVERY_LABELS[lv][kind];
  const n = vector & 0xff;
  let s = byVector[n];
  if (s === undefined) byVector[n] = s = `${lv}:${kind}${kind === 'NMI' ? '' : `:0x${n.toString(16)}`}`;
  return s;
}

/** #VMEXIT: EVENTINJ cleared, exit fields written (nRIP for instruction intercepts), GIF=0; control returns to KVM. */
export function hw_vmexit(k: KvmOps, v: VcpuState, exitCode: number, exitInfo1: number, exitIntInfo = 0, exitIntInfoErr = 0, nextRip = 0): void {
  const vmcb = cur(v);
  // APM 15.7.1: nRIP is saved on instruction, IOIO and MSR intercepts and on exceptions
  // raised by INT3/INTO; every other #VMEXIT resets it to zero.
  vmcb.nextRip = nextRip;
  // [UNSURE] whether the CPU writes back int_state bits other than the shadow (knob intStateAtVmexit).
  if (v.cfg.intStateAtVmexit === 'shadow-only') vmcb.intState &= SVM_INTERRUPT_SHADOW_MASK;
  vmcb.exitCode = exitCode;
  vmcb.exitInfo1 = exitInfo1;
  vmcb.exitIntInfo = exitIntInfo >>> 0;
  vmcb.exitIntInfoErr = exitIntInfoErr;
  oracle_l2_event(v, exitIntInfo);
  vmcb.eventInj = 0;
  v.hw.hostGif = false;
  v.hw.delivering = 'none';
  v.phase = 'host';
  v.stat.exits++;
  v.log.exits.push(exitLabel(level(v), exitCode));
  k.svm_vcpu_run_after_vmrun(k, v);
}

/**
 * The guest takes an event through its IDT (an interrupt gate): push RFLAGS and RIP, clear
 * IF, TF and RF, jump to the handler. `fault`: the CPU raised a fault itself, whose pushed
 * RFLAGS image has RF set (so the restarted instruction does not hit its breakpoint again).
 */
export function guest_take_event(v: VcpuState, info: number, fault = false): void {
  const vmcb = cur(v);
  const g = curGuest(v);
  const t = evtType(info);
  const type: GuestFrame['type'] = t === SVM_EVTINJ_TYPE_NMI ? 'NMI' : t === SVM_EVTINJ_TYPE_EXEPT ? 'EXCP' : 'INTR';
  const vector = t === SVM_EVTINJ_TYPE_NMI ? 2 : evtVector(info);
  if (g.frames.length < MAX_FRAMES) {
    g.frames.push({ type, vector, savedRflags: fault ? vmcb.rflags | X86_EFLAGS_RF : vmcb.rflags, savedRip: vmcb.rip });
  }
  vmcb.rflags &= ~(X86_EFLAGS_IF | X86_EFLAGS_TF | X86_EFLAGS_RF);
  vmcb.rip = 0x8000 + vector * 0x10;
  if (type === 'NMI') {
    g.nmis++;
    oracle_nmi_taken(v, false);
  }
  else if (type === 'EXCP') {
    g.exceptions++;
    if (vector === DB_VECTOR) v.hw.dbTaken++; // the oracle's count (no-unasked-db)
  }
  else g.irqs++;
  oracle_l2_taken(v, info);
  const soft = t === SVM_EVTINJ_TYPE_SOFT ? 'SOFT' : type;
  v.log.delivered.push(deliveryLabel(level(v), soft, vector));
}

/**
 * Runs one guest instruction. A pending delivery completes first (the CPU always
 * vectors the event before the next instruction); if that leaves the guest (an exit
 * handled in KVM that returned to userspace), the instruction does not run.
 */
export function guest_execute(k: KvmOps, v: VcpuState, insn: (k: KvmOps, v: VcpuState) => void): void {
  let guard = 0;
  while (v.phase === 'delivery') {
    if (++guard > MAX_ENTRIES_PER_STEP) return livelock(v);
    hw_deliver(k, v);
  }
  if (v.phase === 'guest') insn(k, v);
}

export function livelock(v: VcpuState): void {
  WARN_ON_ONCE(v, true, 'model: livelock (step budget of VMRUNs exhausted)');
  v.phase = 'host';
  v.hw.delivering = 'none';
}

/**
 * Retire an instruction: RF is cleared (IRET, which loads it, passes `keepRf`); the shadow
 * of the previous STI/MOV SS ends unless this one sets a new one; a TF set at the start
 * traps with #DB; then interrupts are recognised.
 */
function retire(k: KvmOps, v: VcpuState, tfAtStart: boolean, setsShadow = false, keepRf = false): void {
  const vmcb = cur(v);
  if (!keepRf) vmcb.rflags &= ~X86_EFLAGS_RF;
  setShadow(vmcb, setsShadow);
  if (tfAtStart) {
    hw_guest_exception(k, v, DB_VECTOR);
    return;
  }
  hw_instruction_boundary(k, v);
}

const tf = (v: VcpuState): boolean => (cur(v).rflags & X86_EFLAGS_TF) !== 0;

/** An exception raised by the guest: #VMEXIT if intercepted, else delivered in the guest. */
export function hw_guest_exception(k: KvmOps, v: VcpuState, vector: number): void {
  const vmcb = cur(v);
  if (vmcb.exceptions & bit(vector)) {
    hw_vmexit(k, v, SVM_EXIT_EXCP_BASE + vector, 0);
    return;
  }
  if (!hw_vector(k, v, evtinj(SVM_EVTINJ_TYPE_EXEPT, vector, exceptionHasErrorCode(vector)), 0, vector !== DB_VECTOR)) return;
  hw_instruction_boundary(k, v);
}

/** An instruction whose intercept exits before it executes, and that is a no-op otherwise. */
function interceptable(name: InterceptName, exitCode: number) {
  return (k: KvmOps, v: VcpuState): void => {
    const t = tf(v);
    if (intercepted(cur(v), name)) {
      hw_vmexit(k, v, exitCode, 0, 0, 0, cur(v).rip + 1);
      return;
    }
    cur(v).rip += 1;
    retire(k, v, t);
  };
}

/** is_evtinj_soft (nested.c): a software interrupt, or #BP/#OF injected as an exception. */
export function is_evtinj_soft(info: number): boolean {
  if (!isValid(info)) return false;
  const t = evtType(info);
  return t === SVM_EVTINJ_TYPE_SOFT || (t === SVM_EVTINJ_TYPE_EXEPT && (evtVector(info) === 3 || evtVector(info) === 4));
}

/**
 * INTn (2 bytes), INT3 and INTO (1 byte; INTO as if RFLAGS.OF were set, the model has no
 * arithmetic flags). Not intercepted, the CPU vectors the event itself (a delivery a
 * #VMEXIT can cut); an intercepted #BP/#OF exits with nRIP past the instruction. The
 * guest's memory remembers the instruction, for KVM's emulator to decode.
 */
function softInsn(k: KvmOps, v: VcpuState, info: number, len: number): void {
  const vmcb = cur(v);
  const g = curGuest(v);
  g.softRip = vmcb.rip;
  g.softLen = len;
  const vector = evtVector(info);
  if (evtType(info) === SVM_EVTINJ_TYPE_EXEPT && (vmcb.exceptions & bit(vector))) {
    hw_vmexit(k, v, SVM_EXIT_EXCP_BASE + vector, 0, 0, 0, vmcb.rip + len);
    return;
  }
  v.phase = 'delivery';
  v.hw.delivering = 'soft';
  v.hw.deliveryAtVmrun = false;
  v.hw.deliveryShadow = shadowed(vmcb);
  v.hw.softEvent = info;
  v.hw.softNextRip = vmcb.rip + len;
}

/** Guest instruction semantics, used by the event alphabet's guest events. */
export const insn = {
  int3(k: KvmOps, v: VcpuState): void {
    softInsn(k, v, evtinj(SVM_EVTINJ_TYPE_EXEPT, 3), 1);
  },
  into(k: KvmOps, v: VcpuState): void {
    softInsn(k, v, evtinj(SVM_EVTINJ_TYPE_EXEPT, 4), 1);
  },
  intn(k: KvmOps, v: VcpuState, vector: number): void {
    softInsn(k, v, evtinj(SVM_EVTINJ_TYPE_SOFT, vector), 2);
  },
  nop(k: KvmOps, v: VcpuState): void {
    const t = tf(v);
    cur(v).rip += 1;
    retire(k, v, t);
  },
  sti(k: KvmOps, v: VcpuState): void {
    const vmcb = cur(v);
    const t = tf(v);
    const wasSet = (vmcb.rflags & X86_EFLAGS_IF) !== 0;
    vmcb.rflags |= X86_EFLAGS_IF;
    vmcb.rip += 1;
    retire(k, v, t, !wasSet); // only STI that sets IF (0->1) opens a shadow
  },
  cli(k: KvmOps, v: VcpuState): void {
    const vmcb = cur(v);
    const t = tf(v);
    vmcb.rflags &= ~X86_EFLAGS_IF;
    vmcb.rip += 1;
    retire(k, v, t);
  },
  mov_ss(k: KvmOps, v: VcpuState): void {
    const t = tf(v);
    cur(v).rip += 1;
    retire(k, v, t, true);
  },
  iret(k: KvmOps, v: VcpuState): void {
    const vmcb = cur(v);
    const t = tf(v);
    if (intercepted(vmcb, 'IRET')) {
      // SVM's IRET intercept is taken before the instruction executes: it is retried.
      v.hw.retry = 'iret';
      hw_vmexit(k, v, SVM_EXIT_IRET, 0, 0, 0, vmcb.rip + 1);
      return;
    }
    const frame = curGuest(v).frames.pop();
    const popped = X86_EFLAGS_IF | X86_EFLAGS_TF | X86_EFLAGS_RF;
    if (frame) {
      vmcb.rflags = (vmcb.rflags & ~popped) | (frame.savedRflags & popped);
      vmcb.rip = frame.savedRip;
    } else {
      vmcb.rip += 1;
      vmcb.rflags &= ~X86_EFLAGS_RF;
    }
    // IRET ends virtual NMI blocking; a pending vNMI is then taken at the boundary.
    if (vmcb.intCtl & V_NMI_ENABLE_MASK) vmcb.intCtl &= ~V_NMI_BLOCKING_MASK;
    oracle_iret(v);
    retire(k, v, t, false, true);
  },
  hlt: interceptable('HLT', 0x78),
  cpuid: interceptable('CPUID', 0x72),
  ioio: interceptable('IOIO', 0x7b),
  vmrun: interceptable('VMRUN', 0x80),
  clgi(k: KvmOps, v: VcpuState): void {
    setGifInsn(k, v, false);
  },
  stgi(k: KvmOps, v: VcpuState): void {
    setGifInsn(k, v, true);
  },
} as const;

function setGifInsn(k: KvmOps, v: VcpuState, value: boolean): void {
  const vmcb = cur(v);
  const t = tf(v);
  if (intercepted(vmcb, value ? 'STGI' : 'CLGI')) {
    hw_vmexit(k, v, value ? 0x84 : 0x85, 0, 0, 0, vmcb.rip + 1);
    return;
  }
  // vGIF: the CPU toggles V_GIF itself.
  vmcb.intCtl = value ? vmcb.intCtl | V_GIF_MASK : vmcb.intCtl & ~V_GIF_MASK;
  vmcb.rip += 1;
  retire(k, v, t);
}

/** Events that are not instructions but happen while the guest runs. */
export const async = {
  /** A host interrupt arrives (host RFLAGS.IF=1 while the guest runs): #VMEXIT(INTR). */
  phys_intr(k: KvmOps, v: VcpuState): void {
    v.hw.physIntrPending = true;
    hw_instruction_boundary(k, v);
  },
  /** The guest raises an exception (the faulting instruction does not retire). */
  exception(k: KvmOps, v: VcpuState, vector: number): void {
    hw_guest_exception(k, v, vector);
  },
  /** A host NMI: always intercepted by L0. */
  host_nmi(k: KvmOps, v: VcpuState): void {
    hw_vmexit(k, v, SVM_EXIT_NMI, 0);
  },
  /** A guest access misses in L0's (or, in L2, L1's) nested page tables. */
  npf(k: KvmOps, v: VcpuState, inL1Tables: boolean): void {
    hw_vmexit(k, v, 0x400, inL1Tables ? NPF_IN_L1_TABLES : NPF_IN_L0_TABLES);
  },
};

/** After an IRET intercept was handled and KVM re-entered without injecting: run it again. */
export function hw_resume_retry(k: KvmOps, v: VcpuState): void {
  const r = v.hw.retry;
  v.hw.retry = null;
  if (r === 'iret' && v.phase === 'guest') insn.iret(k, v);
}


