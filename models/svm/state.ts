// Plain-data vCPU state: three VMCBs, KVM's NMI/IRQ/exception tracking (struct vcpu_svm,
// struct kvm_vcpu_arch), the L1/L2 guests' architectural bits, and counters.
// Plain data only (numbers, booleans, strings, arrays, objects): it crosses worker threads
// by structured clone and is compared field by field for latent divergences.

import { defaultConfig, type SvmConfig } from './config.js';
import type { VcpuEvents } from './kvm/x86.js';
import {
  bit, INTERCEPT, DB_VECTOR, UD_VECTOR, PF_VECTOR, AC_VECTOR, MC_VECTOR, V_INTR_MASKING_MASK,
  V_NMI_ENABLE_MASK, V_GIF_ENABLE_MASK, V_GIF_MASK, X86_EFLAGS_IF, SVM_EXIT_NONE, GP_VECTOR,
} from './constants.js';

/** One VMCB (control area fields that matter, plus the save-area bits we model). */
export interface Vmcb {
  intercepts: number; // bitmask over INTERCEPT
  exceptions: number; // bit n: exception vector n intercepted
  intCtl: number;
  intVector: number;
  intState: number;
  eventInj: number;
  eventInjErr: number;
  exitCode: number;
  exitInfo1: number;
  exitIntInfo: number;
  exitIntInfoErr: number;
  /** control.next_rip: the next instruction's RIP, written by the CPU on instruction exits and read by it when injecting a soft event. */
  nextRip: number;
  /** save.rip, save.rflags and save.cs.base of the guest this VMCB runs. */
  rip: number;
  rflags: number;
  csBase: number;
  /** save.idtr.limit: long-mode gates are 16 bytes, so vector n needs a limit of at least 16n + 15. */
  idtLimit: number;
}

/** A frame the guest pushed when it took an event; IRET pops it. */
export interface GuestFrame {
  type: 'NMI' | 'INTR' | 'EXCP';
  vector: number;
  /** The RFLAGS image pushed (IRET restores its IF, TF and RF). */
  savedRflags: number;
  savedRip: number;
}

/** The parts of a guest (L1 or L2) that are not in a VMCB: its handler stack and what it received. */
export interface GuestCpu {
  frames: GuestFrame[];
  nmis: number;
  irqs: number;
  exceptions: number;
  /**
   * The guest's last software-interrupt instruction (INTn, INT3, INTO): where it is and
   * its length, what KVM's emulator decodes at that RIP (any other RIP holds a 1-byte one).
   */
  softRip: number;
  softLen: number;
}

export type Phase = 'host' | 'guest' | 'delivery';
export type MpState = 'RUNNABLE' | 'HALTED';

/** What the CPU is in the middle of: modelled state of the hardware, not of KVM. */
export interface HardwareState {
  /** Which event delivery is in progress while phase === 'delivery'. */
  delivering: 'none' | 'eventinj' | 'vnmi' | 'soft';
  /** The guest's own INTn/INT3/INTO being vectored (delivering = 'soft'): its EXITINTINFO encoding and return RIP. */
  softEvent: number;
  softNextRip: number;
  /** The delivery was started by the VMRUN itself (the quirk can only hit then). */
  deliveryAtVmrun: boolean;
  /** int_state.shadow the guest had when the delivery started. */
  deliveryShadow: boolean;
  /** VMRUN executed in the host's STI shadow (pre-be45bc4e). */
  vmrunInStiShadow: boolean;
  /**
   * An oracle's record, not CPU state: the last #VMEXIT from L2 left int_state's shadow set
   * by the host's STI shadow alone (the be45bc4e quirk), not by L2's own (cleared when L2
   * is entered again). Invariants read it; the model's KVM never does.
   */
  leakedShadow: boolean;
  /**
   * Oracle records, not CPU state: #DBs a guest or userspace asked for (the guest raised one,
   * its event delivery raised one, or KVM_SET_VCPU_EVENTS set one), and #DBs a guest took. No event of the alphabet sets
   * TF, so a #DB beyond those is one nobody asked for. The model's KVM never reads them.
   */
  dbAsked: number;
  dbTaken: number;
  /**
   * Oracle records for the NMI and interrupt rules (invariants.ts), not CPU state; the
   * model's KVM never reads them. `nmiBlocked`: L1's NMI blocking as the architecture
   * defines it (1 from the NMI it takes until the next IRET it retires; KVM_SET_VCPU_EVENTS
   * outside guest mode sets it), 0 when unblocked, -1 when unknown (after an INIT,
   * KVM_SET_NESTED_STATE, an NMI replaced by an exception, or what L2 did to NMI
   * blocking, until one of those events). `nmiOwedMin`/`nmiOwedMax`: bounds on
   * the NMIs raised and neither taken by a guest nor dropped by the at-most-two rule;
   * `nmiSpurious`: NMIs a guest took beyond those raised. oracle.ts keeps them all.
   * `nmiStarved`/`irqStarved`: L1 instructions in a row that ended with an NMI (an
   * interrupt) pending and unblocked. `haltStuck`: the last KVM_RUN left L1 halted with an
   * unblocked NMI or interrupt pending ('' if not).
   */
  nmiBlocked: number;
  nmiOwedMin: number;
  nmiOwedMax: number;
  nmiSpurious: number;
  nmiStarved: number;
  irqStarved: number;
  haltStuck: '' | 'nmi' | 'irq';
  /**
   * Oracle records for vmcb12-exit-int-info: `l2Events`, a set (one bit per event kind and
   * vector, hashed) of the events in flight to L2 since L1's last VMRUN: EVENTINJ at a
   * VMRUN in guest mode, the CPU's EXITINTINFO at an exit from L2, what KVM took back from
   * EVENTINJ (svm_cancel_injection), what userspace set as injected in guest mode; an
   * event L2 takes leaves the set.
   * `strayExitIntInfo`: the first vmcb12.exit_int_info of this step that names none of
   * them (0 if none).
   */
  l2Events: number;
  strayExitIntInfo: number;
  /** Host GIF (CLGI/STGI around VMRUN; cleared by every #VMEXIT). */
  hostGif: boolean;
  /** A physical interrupt (self-IPI, kick) is pending: #VMEXIT(INTR) at the next boundary. */
  physIntrPending: boolean;
  /** An intercepted instruction that did not execute and is retried on re-entry. */
  retry: 'iret' | null;
  /** VMRUNs within the current stream step (bounded by MAX_ENTRIES_PER_STEP). */
  entries: number;
}

/** What one step showed the world, collected while it runs (reset every step). */
export interface StepLog {
  exits: string[];
  reflected: string[];
  delivered: string[];
  warns: string[];
  userspaceExit: string;
  /** The event was illegal in the state and did nothing (set by advance()). */
  skipped: boolean;
  /** The KVM_GET_VCPU_EVENTS view the event read, if it read one (set by advance()). */
  read: VcpuEvents | null;
  /** The error an ioctl of this step returned ('EINVAL'), or ''. */
  ioctl: string;
  /** The KVM_GET_NESTED_STATE flags a nested_state event read ('guest_mode|run_pending|gif'), or null. */
  nested: string | null;
  /** A checked version (models/svm/invariants.ts): the invariant this step broke, '' if none, and what broke it. */
  violation: string;
  violationMessage: string;
}

export interface Stat {
  nmi_injections: number;
  nmi_window_exits: number;
  irq_injections: number;
  irq_window_exits: number;
  irq_exits: number;
  exits: number;
  nested_run: number;
  halt_exits: number;
}

export interface VcpuState {
  cfg: SvmConfig;
  phase: Phase;
  mpState: MpState;
  hw: HardwareState;

  vmcb01: Vmcb;
  vmcb02: Vmcb;
  /** vmcb12 as it sits in L1's memory (what L1 reads after a nested #VMEXIT). */
  vmcb12: Vmcb;
  /** svm->nested.ctl: KVM's cache of vmcb12's control area, taken at nested VMRUN. */
  nestedCtl: Vmcb;
  guestMode: boolean;
  nestedRunPending: boolean;
  /** svm->guest_gif (GIF when vGIF is not in use). */
  guestGif: boolean;

  // KVM NMI tracking (x86.c kvm_vcpu_arch + svm.h vcpu_svm)
  nmiQueued: number;
  nmiPending: number;
  nmiInjected: boolean;
  nmiMasked: boolean;
  awaitingIretCompletion: boolean;
  nmiIretRip: number;
  nmiSinglestep: boolean;
  nmiSinglestepGuestRflags: number;
  nmiL1ToL2: boolean;
  /** svm->soft_int_*: a soft event KVM (or L1) injected, tracked to re-inject it if its delivery is cut. */
  softIntInjected: boolean;
  softIntCsbase: number;
  softIntOldRip: number;
  softIntNextRip: number;
  /** svm->next_rip: set by an exit handler that knows the next RIP (io_interception), 0 after every VMRUN. */
  svmNextRip: number;

  interrupt: { injected: boolean; nr: number; soft: boolean };
  /** vcpu->arch.exception (kvm_queued_exception): has_payload/payload are CR2 for #PF, DR6 bits for #DB. */
  exception: { pending: boolean; injected: boolean; vector: number; hasErrorCode: boolean; errorCode: number; hasPayload: boolean; payload: number };
  exceptionVmexit: { pending: boolean; vector: number; hasErrorCode: boolean; errorCode: number; hasPayload: boolean; payload: number };
  /**
   * vcpu->arch.exception_from_userspace: KVM_SET_VCPU_EVENTS set a pending exception; the
   * next KVM_RUN turns it into an exception VM-exit if L2 runs and L1 intercepts it.
   */
  exceptionFromUserspace: boolean;
  /** CR2 and DR6 of the running guest, where an exception's payload lands (kvm_deliver_exception_payload). */
  cr2: number;
  dr6: number;
  /** In-kernel LAPIC IRR: pending vectors, highest first. */
  apicIrr: number[];
  /** apic->pending_events KVM_APIC_INIT: an INIT signal KVM has not accepted yet (latched while GIF=0). */
  apicInit: boolean;
  /** KVM requests, bitmask over REQ. */
  requests: number;
  /** A signal is pending for the vCPU thread: KVM_RUN returns -EINTR after the next exit. */
  signalPending: boolean;
  /** kvm_run->exit_reason of the last exit to userspace (KVM_EXIT_*, without the prefix). */
  runExitReason: string;
  /** vcpu->arch.complete_userspace_io: what the next KVM_RUN completes first ('' = nothing). */
  completeUserspaceIo: '' | 'complete_fast_pio_out';
  /** vcpu->arch.pio.linear_rip: the RIP of the port access userspace completes. */
  pioLinearRip: number;
  /** L1's EFER.SVME (set from the start when nesting is on; INIT clears it). */
  l1Svme: boolean;

  l1: GuestCpu;
  l2: GuestCpu;
  stat: Stat;
  /** WARN_ON_ONCE sites that fired (each fires once per vCPU). */
  warned: string[];
  log: StepLog;
}

/**
 * KVM requests (kvm_host.h KVM_REQ_*), as bits. MMU_SYNC and TLB_FLUSH_CURRENT stand for the
 * MMU work nested transitions request (nested_svm_transition_tlb_flush): the model has no
 * MMU, but a request pending at vcpu_enter_guest's late check cancels the injection and
 * makes KVM go round once more, as in the kernel.
 */
export const REQ = { NMI: 1, EVENT: 2, TRIPLE_FAULT: 4, MMU_SYNC: 8, TLB_FLUSH_CURRENT: 16 } as const;

/** An IDT with all 256 gates. */
export const IDT_LIMIT_FULL = 0xfff;

export function emptyVmcb(): Vmcb {
  return {
    intercepts: 0, exceptions: 0, intCtl: 0, intVector: 0, intState: 0, eventInj: 0, eventInjErr: 0,
    exitCode: SVM_EXIT_NONE, exitInfo1: 0, exitIntInfo: 0, exitIntInfoErr: 0, nextRip: 0, rip: 0x1000, rflags: 0x2, csBase: 0,
    idtLimit: IDT_LIMIT_FULL,
  };
}

const newGuest = (): GuestCpu => ({ frames: [], nmis: 0, irqs: 0, exceptions: 0, softRip: -1, softLen: 0 });
export const newStepLog = (): StepLog => ({ exits: [], reflected: [], delivered: [], warns: [], userspaceExit: '', skipped: false, read: null, ioctl: '', nested: null, violation: '', violationMessage: '' });

/** DR6 at reset and after a #DB handler has seen it: the active-low bits set (DR6_ACTIVE_LOW). */
export const DR6_ACTIVE_LOW = 0xffff0ff0;

/** Effective vnmi module param (svm_hardware_setup: vnmi needs vgif; the CPU is assumed to have VNMI). */
export const vnmiParam = (cfg: SvmConfig): boolean => cfg.vnmi && cfg.vgif;

/**
 * init_vmcb() (svm.c) on vmcb01: the intercepts, exception intercepts and int_ctl KVM sets
 * up at vCPU creation and again at INIT, and the IDTR limit of the save area. event_inj,
 * int_state and the rest of the save area are left alone (the caller sets them).
 */
export function init_vmcb(cfg: SvmConfig, vmcb: Vmcb): void {
  const i = INTERCEPT;
  vmcb.intercepts = bit(i.INTR) | bit(i.NMI) | bit(i.SMI) | bit(i.CPUID) | bit(i.IOIO) | bit(i.TASK_SWITCH)
    | bit(i.SHUTDOWN) | bit(i.VMRUN) | bit(i.STGI) | bit(i.CLGI) | bit(i.HLT);
  vmcb.exceptions = bit(PF_VECTOR) | bit(UD_VECTOR) | bit(MC_VECTOR) | bit(AC_VECTOR) | bit(DB_VECTOR);
  if (cfg.npt) vmcb.exceptions &= ~bit(PF_VECTOR);
  vmcb.intCtl = V_INTR_MASKING_MASK;
  vmcb.idtLimit = 0xffff; // init_sys_seg(&save->idtr): the reset IDTR limit
  if (vnmiParam(cfg)) vmcb.intCtl |= V_NMI_ENABLE_MASK;
  if (cfg.vgif) {
    vmcb.intercepts &= ~(bit(i.STGI) | bit(i.CLGI));
    vmcb.intCtl |= V_GIF_ENABLE_MASK | V_GIF_MASK; // enable_gif()
  }
}

/**
 * vmcb01 at vCPU creation, plus svm_set_efer(EFER.SVME=1) when nesting is on (svm.c).
 * L1 starts running with IF=1, GIF=1, outside any handler.
 */
function init_vmcb01(cfg: SvmConfig): Vmcb {
  const vmcb = emptyVmcb();
  init_vmcb(cfg, vmcb);
  // svm_set_efer: EFER.SVME 0->1 adds the #GP erratum intercept.
  if (cfg.nested && cfg.gpErratumIntercept) vmcb.exceptions |= bit(GP_VECTOR);
  vmcb.rflags |= X86_EFLAGS_IF;
  return vmcb;
}

export function createState(cfg: SvmConfig = defaultConfig()): VcpuState {
  return {
    cfg: { ...cfg },
    phase: 'host',
    mpState: 'RUNNABLE',
    hw: {
      delivering: 'none', deliveryAtVmrun: false, deliveryShadow: false, vmrunInStiShadow: false, leakedShadow: false, dbAsked: 0, dbTaken: 0,
      nmiBlocked: 0, nmiOwedMin: 0, nmiOwedMax: 0, nmiSpurious: 0, nmiStarved: 0, irqStarved: 0, haltStuck: '', l2Events: 0, strayExitIntInfo: 0,
      hostGif: true, physIntrPending: false, retry: null, entries: 0, softEvent: 0, softNextRip: 0,
    },
    vmcb01: init_vmcb01(cfg),
    vmcb02: emptyVmcb(),
    vmcb12: emptyVmcb(),
    nestedCtl: emptyVmcb(),
    guestMode: false,
    nestedRunPending: false,
    guestGif: true,
    nmiQueued: 0,
    nmiPending: 0,
    nmiInjected: false,
    nmiMasked: false,
    awaitingIretCompletion: false,
    nmiIretRip: 0,
    nmiSinglestep: false,
    nmiSinglestepGuestRflags: 0,
    nmiL1ToL2: false,
    softIntInjected: false,
    softIntCsbase: 0,
    softIntOldRip: 0,
    softIntNextRip: 0,
    svmNextRip: 0,
    interrupt: { injected: false, nr: 0, soft: false },
    exception: { pending: false, injected: false, vector: 0, hasErrorCode: false, errorCode: 0, hasPayload: false, payload: 0 },
    exceptionVmexit: { pending: false, vector: 0, hasErrorCode: false, errorCode: 0, hasPayload: false, payload: 0 },
    exceptionFromUserspace: false,
    cr2: 0,
    dr6: DR6_ACTIVE_LOW,
    apicIrr: [],
    apicInit: false,
    requests: 0,
    signalPending: false,
    runExitReason: '',
    completeUserspaceIo: '',
    pioLinearRip: 0,
    l1Svme: cfg.nested,
    l1: newGuest(),
    l2: newGuest(),
    stat: {
      nmi_injections: 0, nmi_window_exits: 0, irq_injections: 0, irq_window_exits: 0, irq_exits: 0,
      exits: 0, nested_run: 0, halt_exits: 0,
    },
    warned: [],
    log: newStepLog(),
  };
}

/**
 * createState(config) once per config object, shared and never written: what a fresh run
 * copies its states from (streams share their pair's config, or carry their own).
 */
const INITIAL = new WeakMap<SvmConfig, VcpuState>();
export function initialState(cfg: SvmConfig): VcpuState {
  let v = INITIAL.get(cfg);
  if (!v) INITIAL.set(cfg, (v = createState(cfg)));
  return v;
}

/** svm->vmcb: vmcb02 while L2 runs, else vmcb01. */
export const cur = (v: VcpuState): Vmcb => (v.guestMode ? v.vmcb02 : v.vmcb01);
/** The guest the CPU runs: L2 in guest mode, else L1. */
export const curGuest = (v: VcpuState): GuestCpu => (v.guestMode ? v.l2 : v.l1);
export const level = (v: VcpuState): 'L1' | 'L2' => (v.guestMode ? 'L2' : 'L1');

export const kvm_make_request = (v: VcpuState, req: number): void => { v.requests |= req; };
export const kvm_test_request = (v: VcpuState, req: number): boolean => (v.requests & req) !== 0;
export const kvm_clear_request = (v: VcpuState, req: number): void => { v.requests &= ~req; };
export function kvm_check_request(v: VcpuState, req: number): boolean {
  const had = (v.requests & req) !== 0;
  v.requests &= ~req;
  return had;
}

/** WARN_ON_ONCE(cond): records the site the first time it fires. Returns cond. */
export function WARN_ON_ONCE(v: VcpuState, cond: boolean, site: string): boolean {
  if (cond && !v.warned.includes(site)) {
    v.warned.push(site);
    v.log.warns.push(site);
  }
  return cond;
}

/**
 * A copy of the state that shares no object with it (the engine's snapshots: a mutated
 * stream runs on from its parent's state at the first edited step instead of replaying
 * the prefix): a fresh state, overwritten by copyState, with a config of its own. Fresh
 * states give copies the object shapes the model's property reads expect. The step log
 * is not copied (every step clears it first). snapshot.test.ts checks that every field is
 * copied and nothing is shared, so a field added to VcpuState and forgotten in copyState
 * fails there.
 */
export function cloneState(v: VcpuState): VcpuState {
  const d = createState(v.cfg);
  copyState(d, v);
  d.cfg = { ...v.cfg };
  return d;
}

function copyVmcb(d: Vmcb, m: Vmcb): void {
  d.intercepts = m.intercepts; d.exceptions = m.exceptions; d.intCtl = m.intCtl; d.intVector = m.intVector;
  d.intState = m.intState; d.eventInj = m.eventInj; d.eventInjErr = m.eventInjErr; d.exitCode = m.exitCode;
  d.exitInfo1 = m.exitInfo1; d.exitIntInfo = m.exitIntInfo; d.exitIntInfoErr = m.exitIntInfoErr; d.rip = m.rip; d.rflags = m.rflags;
  d.nextRip = m.nextRip; d.csBase = m.csBase; d.idtLimit = m.idtLimit;
}
function copyGuest(d: GuestCpu, g: GuestCpu): void {
  // Frame records are d's own: overwritten in place where d has one, new where it has fewer.
  const df = d.frames;
  const gf = g.frames;
  while (df.length > gf.length) df.pop();
  for (let i = 0; i < gf.length; i++) {
    const f = gf[i]!;
    const o = df[i];
    if (o) {
      o.type = f.type; o.vector = f.vector; o.savedRflags = f.savedRflags; o.savedRip = f.savedRip;
    } else df.push({ type: f.type, vector: f.vector, savedRflags: f.savedRflags, savedRip: f.savedRip });
  }
  d.nmis = g.nmis; d.irqs = g.irqs; d.exceptions = g.exceptions; d.softRip = g.softRip; d.softLen = g.softLen;
}
function copyArray<T>(d: T[], s: readonly T[]): void {
  while (d.length > s.length) d.pop();
  for (let i = 0; i < s.length; i++) d[i] = s[i]!;
}

/**
 * Empties a list the model reuses (the step log's, a copy's): popping keeps its storage,
 * where `length = 0` makes V8 release it and the next push allocate a new one (measured:
 * ~15x slower in a loop of clear-and-push).
 */
export function emptyArray(a: unknown[]): void {
  while (a.length > 0) a.pop();
}

/**
 * Overwrites `d` with a copy of `s`, reusing d's objects (no allocation but the guests'
 * frame records): what cloneState gives, into a state the engine already owns. The two
 * share no object afterwards but the config, which models only read. Kept field by field next to cloneState; state.test.ts checks
 * both against every field of createState.
 */
export function copyState(d: VcpuState, s: VcpuState): void {
  d.cfg = s.cfg; // shared: models only read the config (a stream's config is never edited in place)
  d.phase = s.phase;
  d.mpState = s.mpState;
  const dh = d.hw;
  const sh = s.hw;
  dh.delivering = sh.delivering; dh.deliveryAtVmrun = sh.deliveryAtVmrun; dh.deliveryShadow = sh.deliveryShadow;
  dh.vmrunInStiShadow = sh.vmrunInStiShadow; dh.leakedShadow = sh.leakedShadow; dh.dbAsked = sh.dbAsked; dh.dbTaken = sh.dbTaken; dh.hostGif = sh.hostGif; dh.physIntrPending = sh.physIntrPending;
  dh.nmiBlocked = sh.nmiBlocked; dh.nmiOwedMin = sh.nmiOwedMin; dh.nmiOwedMax = sh.nmiOwedMax; dh.nmiSpurious = sh.nmiSpurious; dh.nmiStarved = sh.nmiStarved; dh.irqStarved = sh.irqStarved; dh.haltStuck = sh.haltStuck; dh.l2Events = sh.l2Events; dh.strayExitIntInfo = sh.strayExitIntInfo;
  dh.retry = sh.retry; dh.entries = sh.entries; dh.softEvent = sh.softEvent; dh.softNextRip = sh.softNextRip;
  copyVmcb(d.vmcb01, s.vmcb01);
  copyVmcb(d.vmcb02, s.vmcb02);
  copyVmcb(d.vmcb12, s.vmcb12);
  copyVmcb(d.nestedCtl, s.nestedCtl);
  d.guestMode = s.guestMode;
  d.nestedRunPending = s.nestedRunPending;
  d.guestGif = s.guestGif;
  d.nmiQueued = s.nmiQueued;
  d.nmiPending = s.nmiPending;
  d.nmiInjected = s.nmiInjected;
  d.nmiMasked = s.nmiMasked;
  d.awaitingIretCompletion = s.awaitingIretCompletion;
  d.nmiIretRip = s.nmiIretRip;
  d.nmiSinglestep = s.nmiSinglestep;
  d.nmiSinglestepGuestRflags = s.nmiSinglestepGuestRflags;
  d.nmiL1ToL2 = s.nmiL1ToL2;
  d.softIntInjected = s.softIntInjected;
  d.softIntCsbase = s.softIntCsbase;
  d.softIntOldRip = s.softIntOldRip;
  d.softIntNextRip = s.softIntNextRip;
  d.svmNextRip = s.svmNextRip;
  d.interrupt.injected = s.interrupt.injected; d.interrupt.nr = s.interrupt.nr; d.interrupt.soft = s.interrupt.soft;
  const de = d.exception;
  const se = s.exception;
  de.pending = se.pending; de.injected = se.injected; de.vector = se.vector; de.hasErrorCode = se.hasErrorCode; de.errorCode = se.errorCode;
  de.hasPayload = se.hasPayload; de.payload = se.payload;
  const dx = d.exceptionVmexit;
  const sx = s.exceptionVmexit;
  dx.pending = sx.pending; dx.vector = sx.vector; dx.hasErrorCode = sx.hasErrorCode; dx.errorCode = sx.errorCode;
  dx.hasPayload = sx.hasPayload; dx.payload = sx.payload;
  d.exceptionFromUserspace = s.exceptionFromUserspace;
  d.cr2 = s.cr2;
  d.dr6 = s.dr6;
  copyArray(d.apicIrr, s.apicIrr);
  d.apicInit = s.apicInit;
  d.requests = s.requests;
  d.signalPending = s.signalPending;
  d.runExitReason = s.runExitReason;
  d.completeUserspaceIo = s.completeUserspaceIo;
  d.pioLinearRip = s.pioLinearRip;
  d.l1Svme = s.l1Svme;
  copyGuest(d.l1, s.l1);
  copyGuest(d.l2, s.l2);
  const dt = d.stat;
  const st = s.stat;
  dt.nmi_injections = st.nmi_injections; dt.nmi_window_exits = st.nmi_window_exits; dt.irq_injections = st.irq_injections;
  dt.irq_window_exits = st.irq_window_exits; dt.irq_exits = st.irq_exits; dt.exits = st.exits; dt.nested_run = st.nested_run;
  dt.halt_exits = st.halt_exits;
  copyArray(d.warned, s.warned);
}

const sameVmcb = (a: Vmcb, b: Vmcb): boolean => a.intercepts === b.intercepts && a.exceptions === b.exceptions
  && a.intCtl === b.intCtl && a.intVector === b.intVector && a.intState === b.intState && a.eventInj === b.eventInj
  && a.eventInjErr === b.eventInjErr && a.exitCode === b.exitCode && a.exitInfo1 === b.exitInfo1
  && a.exitIntInfo === b.exitIntInfo && a.exitIntInfoErr === b.exitIntInfoErr && a.rip === b.rip && a.rflags === b.rflags
  && a.nextRip === b.nextRip && a.csBase === b.csBase && a.idtLimit === b.idtLimit;
function sameGuest(a: GuestCpu, b: GuestCpu): boolean {
  if (a.nmis !== b.nmis || a.irqs !== b.irqs || a.exceptions !== b.exceptions || a.frames.length !== b.frames.length) return false;
  if (a.softRip !== b.softRip || a.softLen !== b.softLen) return false;
  for (let i = 0; i < a.frames.length; i++) {
    const f = a.frames[i]!;
    const g = b.frames[i]!;
    if (f.type !== g.type || f.vector !== g.vector || f.savedRflags !== g.savedRflags || f.savedRip !== g.savedRip) return false;
  }
  return true;
}
/** Two lists hold the same items in the same order. */
export function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Are two states equal in every field (the config and the step log aside)? Checks that
 * copies are exact (state tests).
 */
export function sameState(a: VcpuState, b: VcpuState): boolean {
  const ah = a.hw;
  const bh = b.hw;
  return ah.delivering === bh.delivering && ah.deliveryAtVmrun === bh.deliveryAtVmrun && ah.deliveryShadow === bh.deliveryShadow
    && ah.vmrunInStiShadow === bh.vmrunInStiShadow && ah.leakedShadow === bh.leakedShadow && ah.dbAsked === bh.dbAsked && ah.dbTaken === bh.dbTaken && ah.hostGif === bh.hostGif && ah.physIntrPending === bh.physIntrPending
    && ah.nmiBlocked === bh.nmiBlocked && ah.nmiOwedMin === bh.nmiOwedMin && ah.nmiOwedMax === bh.nmiOwedMax && ah.nmiSpurious === bh.nmiSpurious && ah.nmiStarved === bh.nmiStarved
    && ah.irqStarved === bh.irqStarved && ah.haltStuck === bh.haltStuck && ah.l2Events === bh.l2Events && ah.strayExitIntInfo === bh.strayExitIntInfo
    && ah.retry === bh.retry && ah.entries === bh.entries && ah.softEvent === bh.softEvent && ah.softNextRip === bh.softNextRip
    && a.requests === b.requests && sameApartFromHardware(a, b);
}

/**
 * sameState without the hardware's in-flight state (hw) and KVM's pending requests: the
 * fields the two versions of a fix most often leave different at the end of a run with
 * equal latent records (be45bc4e changes hw.vmrunInStiShadow on every nested entry). The
 * engine asks it before the latent table's field-by-field comparison, which it then skips
 * when they are equal: so no latent field may read hw or requests (the state tests check
 * that a change the latent table sees is always seen here).
 */
export function sameApartFromHardware(a: VcpuState, b: VcpuState): boolean {
  return a.phase === b.phase && a.mpState === b.mpState
    && sameVmcb(a.vmcb01, b.vmcb01) && sameVmcb(a.vmcb02, b.vmcb02) && sameVmcb(a.vmcb12, b.vmcb12) && sameVmcb(a.nestedCtl, b.nestedCtl)
    && a.guestMode === b.guestMode && a.nestedRunPending === b.nestedRunPending && a.guestGif === b.guestGif
    && a.nmiQueued === b.nmiQueued && a.nmiPending === b.nmiPending && a.nmiInjected === b.nmiInjected && a.nmiMasked === b.nmiMasked
    && a.awaitingIretCompletion === b.awaitingIretCompletion && a.nmiIretRip === b.nmiIretRip && a.nmiSinglestep === b.nmiSinglestep
    && a.nmiSinglestepGuestRflags === b.nmiSinglestepGuestRflags && a.nmiL1ToL2 === b.nmiL1ToL2 && a.softIntInjected === b.softIntInjected
    && a.softIntCsbase === b.softIntCsbase && a.softIntOldRip === b.softIntOldRip && a.softIntNextRip === b.softIntNextRip
    && a.svmNextRip === b.svmNextRip
    && a.interrupt.injected === b.interrupt.injected && a.interrupt.nr === b.interrupt.nr && a.interrupt.soft === b.interrupt.soft
    && a.exception.pending === b.exception.pending && a.exception.injected === b.exception.injected && a.exception.vector === b.exception.vector
    && a.exception.hasErrorCode === b.exception.hasErrorCode && a.exception.errorCode === b.exception.errorCode
    && a.exception.hasPayload === b.exception.hasPayload && a.exception.payload === b.exception.payload
    && a.exceptionVmexit.pending === b.exceptionVmexit.pending && a.exceptionVmexit.vector === b.exceptionVmexit.vector
    && a.exceptionVmexit.hasErrorCode === b.exceptionVmexit.hasErrorCode && a.exceptionVmexit.errorCode === b.exceptionVmexit.errorCode
    && a.exceptionVmexit.hasPayload === b.exceptionVmexit.hasPayload && a.exceptionVmexit.payload === b.exceptionVmexit.payload
    && a.exceptionFromUserspace === b.exceptionFromUserspace && a.cr2 === b.cr2 && a.dr6 === b.dr6
    && sameArray(a.apicIrr, b.apicIrr) && a.apicInit === b.apicInit && a.signalPending === b.signalPending
    && a.runExitReason === b.runExitReason && a.completeUserspaceIo === b.completeUserspaceIo && a.pioLinearRip === b.pioLinearRip
    && a.l1Svme === b.l1Svme && sameGuest(a.l1, b.l1) && sameGuest(a.l2, b.l2)
    && a.stat.nmi_injections === b.stat.nmi_injections && a.stat.nmi_window_exits === b.stat.nmi_window_exits
    && a.stat.irq_injections === b.stat.irq_injections && a.stat.irq_window_exits === b.stat.irq_window_exits
    && a.stat.irq_exits === b.stat.irq_exits && a.stat.exits === b.stat.exits && a.stat.nested_run === b.stat.nested_run
    && a.stat.halt_exits === b.stat.halt_exits && sameArray(a.warned, b.warned);
}
