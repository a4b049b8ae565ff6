// What one step lets the outside world see (the observation) and what only KVM's
// insides hold (the latent record). Both are flat records of primitives with a fixed
// key order, so comparing two is a loop over keys and a divergence names field paths.
//
// Observable = exits and their reasons (perf/tracepoints, the VMM's exit counters), what
// L1 reads in vmcb12, what userspace reads with KVM_GET_VCPU_EVENTS (only at a
// get_vcpu_events step), KVM's debugfs stats, WARNs, and what the guests receive.
// Latent = KVM-internal state (intercept bits, nmi_masked, vmcb01/02 contents, queues)
// and the guests' architectural registers: compared at the end of a stream.

import { exitName, V_IRQ_MASK, V_NMI_BLOCKING_MASK, V_NMI_PENDING_MASK, V_NMI_ENABLE_MASK, V_GIF_MASK, INTERCEPT, bit } from './constants.js';
import { sameArray, type VcpuState, type Vmcb, type GuestCpu } from './state.js';
import { INVARIANT_IDS } from './invariants.js';
import type { VcpuEvents } from './kvm/x86.js';

export type Primitive = number | boolean | string | null;

/** Observation fields that hold lists (comma- or semicolon-separated items). */
export const LIST_FIELDS: readonly string[] = ['exits', 'reflected', 'delivered', 'warns'];
export type Observation = Record<string, Primitive>;

/** Hex text of small recurring values (exit_int_info, int_ctl bits, event_inj), cached: observe() runs every step. */
const hexCache = new Map<number, string>();
const hex = (n: number): string => {
  let s = hexCache.get(n);
  if (s === undefined) {
    s = `0x${(n >>> 0).toString(16)}`;
    if (hexCache.size < 4096) hexCache.set(n, s);
  }
  return s;
};

const VMCB12_INT_CTL_SHOWN = V_IRQ_MASK | V_GIF_MASK | V_NMI_PENDING_MASK | V_NMI_BLOCKING_MASK;

/** The observation fields, with what each means (shown by `svmfuzz list`). */
export const OBSERVATION_FIELDS: Readonly<Record<string, string>> = {
  skipped: 'the event was illegal in this state and did nothing',
  exits: 'the #VMEXITs of this step, in order, as LEVEL:REASON',
  reflected: 'nested #VMEXITs KVM synthesised to L1 in this step (exit reasons)',
  delivered: 'events the guests took in this step (LEVEL:NMI, LEVEL:INTR:vector, ...)',
  userspace: "KVM_RUN returned to userspace in this step: kvm_run's exit reason (IO, SHUTDOWN, FAIL_ENTRY, INTERNAL_ERROR) or EINTR; '' if it did not",
  running: 'the guest is running at the end of the step',
  level: 'which guest runs (or would run): L1 or L2',
  mp_state: 'RUNNABLE or HALTED',
  warns: 'WARN_ON_ONCE sites that fired in this step',
  ioctl: "the error an ioctl of this step returned (EINVAL), '' if none",
  'stat.nmi_injections': 'debugfs nmi_injections',
  'stat.nmi_window_exits': 'debugfs nmi_window_exits',
  'stat.irq_injections': 'debugfs irq_injections',
  'stat.irq_window_exits': 'debugfs irq_window_exits',
  'stat.exits': 'debugfs exits',
  'stat.nested_run': 'debugfs nested_run',
  'vmcb12.exit_code': 'vmcb12.control.exit_code as L1 reads it',
  'vmcb12.exit_info_1': 'vmcb12.control.exit_info_1 (an exception exit: its error code)',
  'vmcb12.next_rip': 'vmcb12.control.next_rip (written back at nested #VMEXIT when L1 has NRIPS)',
  'vmcb12.exit_int_info': 'vmcb12.control.exit_int_info',
  'vmcb12.exit_int_info_err': 'vmcb12.control.exit_int_info_err (the error code of the event in exit_int_info)',
  'vmcb12.int_state': 'vmcb12.control.int_state (bit 0: interrupt shadow)',
  'vmcb12.int_ctl': 'vmcb12.control.int_ctl bits V_IRQ/V_GIF/V_NMI_PENDING/V_NMI_BLOCKING',
  'vmcb12.event_inj': 'vmcb12.control.event_inj',
  'events.nmi_pending': 'KVM_GET_VCPU_EVENTS nmi.pending (null when not read this step)',
  'events.nmi_injected': 'KVM_GET_VCPU_EVENTS nmi.injected',
  'events.nmi_masked': 'KVM_GET_VCPU_EVENTS nmi.masked',
  'events.shadow': 'KVM_GET_VCPU_EVENTS interrupt.shadow (STI|MOV_SS = 3)',
  'events.interrupt': 'KVM_GET_VCPU_EVENTS interrupt.injected/nr',
  'events.exception': "KVM_GET_VCPU_EVENTS exception: injected, pending or both (without the payload capability a pending one reads as both), ':' nr, '/err=' the error code, '/payload=' the payload; 'none'",
  'events.triple_fault': 'KVM_GET_VCPU_EVENTS triple_fault.pending (null without KVM_CAP_X86_TRIPLE_FAULT_EVENT)',
  'events.latched_init': 'KVM_GET_VCPU_EVENTS smi.latched_init (an INIT is pending)',
  nested_state: "KVM_GET_NESTED_STATE flags at a nested_state step (guest_mode|run_pending|gif; '' none), null otherwise",
  ...Object.fromEntries(INVARIANT_IDS.map((id) => [`invariant.${id}`, `a checked version (V!all): what broke the invariant ${id} in this step, else null`])),
  'invariant.user': "a checked version: what broke an invariant of a user's model file in this step ('id: message'), else null",
};

/** The observation key of each invariant (a checked version shows its violations there). */
const INVARIANT_KEYS = INVARIANT_IDS.map((id) => `invariant.${id}`);

/** The observation's keys in order (OBSERVATION_FIELDS lists the same ones). */
export const OBSERVATION_KEYS: readonly string[] = Object.keys(OBSERVATION_FIELDS);

export function observe(v: VcpuState, skipped: boolean, events: VcpuEvents | null): Observation {
  const log = v.log;
  const vmcb12 = v.vmcb12;
  return {
    skipped,
    exits: log.exits.join(','),
    reflected: log.reflected.join(','),
    delivered: log.delivered.join(','),
    userspace: log.userspaceExit,
    running: v.phase !== 'host',
    level: v.guestMode ? 'L2' : 'L1',
    mp_state: v.mpState,
    warns: log.warns.join(';'),
    ioctl: log.ioctl,
    'stat.nmi_injections': v.stat.nmi_injections,
    'stat.nmi_window_exits': v.stat.nmi_window_exits,
    'stat.irq_injections': v.stat.irq_injections,
    'stat.irq_window_exits': v.stat.irq_window_exits,
    'stat.exits': v.stat.exits,
    'stat.nested_run': v.stat.nested_run,
    'vmcb12.exit_code': exitName(vmcb12.exitCode),
    'vmcb12.exit_info_1': hex(vmcb12.exitInfo1),
    'vmcb12.next_rip': hex(vmcb12.nextRip),
    'vmcb12.exit_int_info': hex(vmcb12.exitIntInfo),
    'vmcb12.exit_int_info_err': hex(vmcb12.exitIntInfoErr),
    'vmcb12.int_state': vmcb12.intState,
    'vmcb12.int_ctl': hex(vmcb12.intCtl & VMCB12_INT_CTL_SHOWN),
    'vmcb12.event_inj': hex(vmcb12.eventInj),
    'events.nmi_pending': events ? events.nmiPending : null,
    'events.nmi_injected': events ? events.nmiInjected : null,
    'events.nmi_masked': events ? events.nmiMasked : null,
    'events.shadow': events ? events.interruptShadow : null,
    'events.interrupt': events ? (events.interruptInjected ? hex(events.interruptNr) : 'none') : null,
    'events.exception': events ? exceptionText(events) : null,
    'events.triple_fault': events ? events.tripleFault : null,
    'events.latched_init': events ? events.latchedInit : null,
    nested_state: log.nested,
    ...invariantFields(log.violation, log.violationMessage),
  };
}

/** The invariant.* fields: the broken invariant's message, null for the others. */
function invariantFields(violation: string, message: string): Observation {
  const o: Observation = {};
  let builtin = false;
  for (let i = 0; i < INVARIANT_KEYS.length; i++) {
    const hit = INVARIANT_IDS[i] === violation;
    o[INVARIANT_KEYS[i]!] = hit ? message : null;
    builtin ||= hit;
  }
  o['invariant.user'] = violation && !builtin ? `${violation}: ${message}` : null;
  return o;
}

/** KVM_GET_VCPU_EVENTS' exception as one text (see OBSERVATION_FIELDS). */
function exceptionText(e: VcpuEvents): string {
  const state = e.exceptionInjected && e.exceptionPending ? 'injected+pending' : e.exceptionInjected ? 'injected' : e.exceptionPending ? 'pending' : '';
  if (!state) return 'none';
  return `${state}:${e.exceptionNr}${e.exceptionHasErrorCode ? `/err=${hex(e.exceptionErrorCode)}` : ''}${e.exceptionHasPayload ? `/payload=${hex(e.exceptionPayload)}` : ''}`;
}


/**
 * The observations of the last step of `a` and of `b` are equal, read from the states and
 * their step logs without building either record (the fuzzing hot path). It compares the
 * raw values observe() shows, so `true` means the two records are equal; `false` may be a
 * difference the records do not show (two exit codes shown by one name, a vector in a view
 * that shows 'none'), so a caller builds both records then and compares them.
 * observe.test.ts checks this contract on fuzzed pairs of versions.
 */
export function sameObservation(a: VcpuState, b: VcpuState): boolean {
  const la = a.log;
  const lb = b.log;
  if (la.skipped !== lb.skipped || la.userspaceExit !== lb.userspaceExit || la.ioctl !== lb.ioctl || la.nested !== lb.nested
    || la.violation !== lb.violation || la.violationMessage !== lb.violationMessage) return false;
  if (!sameArray(la.exits, lb.exits) || !sameArray(la.reflected, lb.reflected) || !sameArray(la.delivered, lb.delivered) || !sameArray(la.warns, lb.warns)) return false;
  if ((a.phase === 'host') !== (b.phase === 'host') || a.guestMode !== b.guestMode || a.mpState !== b.mpState) return false;
  const sa = a.stat;
  const sb = b.stat;
  if (sa.nmi_injections !== sb.nmi_injections || sa.nmi_window_exits !== sb.nmi_window_exits || sa.irq_injections !== sb.irq_injections
    || sa.irq_window_exits !== sb.irq_window_exits || sa.exits !== sb.exits || sa.nested_run !== sb.nested_run) return false;
  const x = a.vmcb12;
  const y = b.vmcb12;
  if (x.exitCode !== y.exitCode || (x.exitIntInfo >>> 0) !== (y.exitIntInfo >>> 0) || x.intState !== y.intState || (x.exitInfo1 >>> 0) !== (y.exitInfo1 >>> 0) || x.nextRip !== y.nextRip
    || (x.exitIntInfoErr >>> 0) !== (y.exitIntInfoErr >>> 0)
    || ((x.intCtl ^ y.intCtl) & VMCB12_INT_CTL_SHOWN) !== 0 || (x.eventInj >>> 0) !== (y.eventInj >>> 0)) return false;
  const ra = la.read;
  const rb = lb.read;
  if (ra === null || rb === null) return ra === rb;
  return ra.nmiPending === rb.nmiPending && ra.nmiInjected === rb.nmiInjected && ra.nmiMasked === rb.nmiMasked
    && ra.interruptShadow === rb.interruptShadow && ra.interruptInjected === rb.interruptInjected
    && (!ra.interruptInjected || ra.interruptNr === rb.interruptNr) && ra.tripleFault === rb.tripleFault && ra.latchedInit === rb.latchedInit
    && exceptionText(ra) === exceptionText(rb); // a get_vcpu_events step: rare, a string is fine
}

/** The observation of the last advance() of v (see model.ts). */
export const observeStep = (v: VcpuState): Observation => observe(v, v.log.skipped, v.log.read);

const INTERCEPT_NAMES = Object.keys(INTERCEPT) as (keyof typeof INTERCEPT)[];
function interceptList(intercepts: number): string {
  return INTERCEPT_NAMES.filter((n) => intercepts & bit(INTERCEPT[n])).join('|');
}
/** What frames() shows of two stacks is equal. */
function sameFrames(a: readonly GuestCpu['frames'][number][], b: readonly GuestCpu['frames'][number][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.type !== y.type || (x.type !== 'NMI' && x.vector !== y.vector)) return false;
  }
  return true;
}
const frames = (g: GuestCpu): string => g.frames.map((f) => (f.type === 'NMI' ? 'NMI' : `${f.type}:${f.vector}`)).join('>');

export type Raw = number | boolean | string;
/**
 * A latent field: its name, a raw getter, how to show the raw value, and for a getter that
 * builds a string, an equality on the states that does not (latentDiff's hot path).
 */
export type LatentField = readonly [string, (v: VcpuState) => Raw, ((x: Raw) => Primitive)?, ((a: VcpuState, b: VcpuState) => boolean)?];
const asHex = (x: Raw): Primitive => hex(x as number);
const asIntercepts = (x: Raw): Primitive => interceptList(x as number);

const vmcbFields = (name: 'vmcb01' | 'vmcb02'): LatentField[] => [
  [`${name}.intercepts`, (v) => v[name].intercepts, asIntercepts],
  [`${name}.exceptions`, (v) => v[name].exceptions, asHex],
  [`${name}.int_ctl`, (v) => v[name].intCtl, asHex],
  [`${name}.int_state`, (v) => v[name].intState],
  [`${name}.event_inj`, (v) => v[name].eventInj, asHex],
];
const guestFields = (name: 'L1' | 'L2', g: (v: VcpuState) => GuestCpu, vmcb: (v: VcpuState) => Vmcb): LatentField[] => [
  [`${name}.rip`, (v) => vmcb(v).rip, asHex],
  [`${name}.rflags`, (v) => vmcb(v).rflags, asHex],
  [`${name}.frames`, (v) => frames(g(v)), undefined, (a, b) => sameFrames(g(a).frames, g(b).frames)],
  [`${name}.nmis`, (v) => g(v).nmis],
  [`${name}.irqs`, (v) => g(v).irqs],
  [`${name}.exceptions`, (v) => g(v).exceptions],
];

/** KVM-internal and architectural state, as a table (one list for building and comparing). */
/** The latent fields: name, a cheap raw getter, how to show the raw value (triage reads the table). */
export const LATENT: readonly LatentField[] = [
  ['phase', (v) => v.phase],
  ['guest_mode', (v) => v.guestMode],
  ['nested_run_pending', (v) => v.nestedRunPending],
  ['nmi_queued', (v) => v.nmiQueued],
  ['nmi_pending', (v) => v.nmiPending],
  ['nmi_injected', (v) => v.nmiInjected],
  ['nmi_masked', (v) => v.nmiMasked],
  ['awaiting_iret_completion', (v) => v.awaitingIretCompletion],
  ['nmi_singlestep', (v) => v.nmiSinglestep],
  ['nmi_l1_to_l2', (v) => v.nmiL1ToL2],
  ['soft_int_injected', (v) => v.softIntInjected],
  ['interrupt.injected', (v) => (v.interrupt.injected ? v.interrupt.nr : -1), (x) => ((x as number) < 0 ? 'none' : hex(x as number))],
  ['exception.pending', (v) => (v.exception.pending ? v.exception.vector : -1)],
  ['exception.injected', (v) => (v.exception.injected ? v.exception.vector : -1)],
  ['exception_vmexit.pending', (v) => (v.exceptionVmexit.pending ? v.exceptionVmexit.vector : -1)],
  ['cr2', (v) => v.cr2, asHex],
  ['dr6', (v) => v.dr6, asHex],
  ['apic_irr', (v) => v.apicIrr.map(hex).join(','), undefined, (a, b) => sameArray(a.apicIrr, b.apicIrr)],
  ['guest_gif', (v) => v.guestGif],
  ['apic_pending_init', (v) => v.apicInit],
  ['complete_userspace_io', (v) => v.completeUserspaceIo],
  ...vmcbFields('vmcb01'),
  ...vmcbFields('vmcb02'),
  ...guestFields('L1', (v) => v.l1, (v) => v.vmcb01),
  ...guestFields('L2', (v) => v.l2, (v) => v.vmcb02),
  ['vmcb01.v_nmi', (v) => v.vmcb01.intCtl & (V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK | V_NMI_BLOCKING_MASK), asHex],
];

/** KVM-internal and architectural state: compared at the end of a stream (latent divergences). */
export function latent(v: VcpuState): Observation {
  const o: Observation = {};
  for (const [name, get, show] of LATENT) {
    const x = get(v);
    o[name] = show ? show(x) : x;
  }
  return o;
}

/**
 * diffRecords(latent(a), latent(b)) without building the records: the fields whose shown
 * values differ, in LATENT order (the fuzzing hot path, where half the executions of a
 * pair like `all` end in a latent divergence).
 */
export function latentDiff(a: VcpuState, b: VcpuState): { path: string; left: Primitive; right: Primitive }[] {
  const out: { path: string; left: Primitive; right: Primitive }[] = [];
  for (let i = 0; i < LATENT.length; i++) {
    const [name, get, show, same] = LATENT[i]!;
    if (same ? same(a, b) : get(a) === get(b)) continue;
    const x = get(a);
    const y = get(b);
    const l = show ? show(x) : x;
    const r = show ? show(y) : y;
    if (l !== r) out.push({ path: name, left: l, right: r });
  }
  return out;
}

/** Architectural state of the guests only: what "same final architectural state" compares. */
export function architectural(v: VcpuState): Observation {
  const l = latent(v);
  const out: Observation = {};
  for (const key of Object.keys(l)) if (key.startsWith('L1.') || key.startsWith('L2.')) out[key] = l[key]!;
  return out;
}

/** Field-by-field difference of two records with the same keys. */
export function diffRecords(a: Observation, b: Observation): { path: string; left: Primitive; right: Primitive }[] {
  const out: { path: string; left: Primitive; right: Primitive }[] = [];
  for (const key in a) {
    if (a[key] !== b[key]) out.push({ path: key, left: a[key]!, right: b[key]! });
  }
  return out;
}

/** How many low bits of abstractState() are independent feature flags. */
export const ABSTRACT_FLAG_BITS = 16;

/**
 * Abstract state for model-state coverage: a small "mode" (phase, L1/L2, runnable/halted:
 * 12 values) in the high bits, and 16 flags that steer the NMI/IRQ/nested paths
 * in the low bits (NMI tracking, vNMI bits, shadow, EVENTINJ, the intercepts KVM toggles,
 * queued events). Counters, RIPs, vectors and handler depth are left out. The engine
 * counts mode transitions and flag flips per event kind rather than whole-state
 * transitions: the product of 16 flags would make nearly every input "new".
 */
export function abstractState(v: VcpuState): number {
  const c = v.guestMode ? v.vmcb02 : v.vmcb01;
  const mode = (v.phase === 'host' ? 0 : v.phase === 'guest' ? 1 : 2) * 4 + (v.guestMode ? 2 : 0)
    + (v.mpState === 'RUNNABLE' ? 0 : 1);
  // Written out bit by bit: this runs twice per step on the fuzzing hot path.
  const h = (v.nestedRunPending ? 1 : 0) | (v.nmiPending > 0 ? 2 : 0) | (v.nmiInjected ? 4 : 0) | (v.nmiMasked ? 8 : 0)
    | (v.awaitingIretCompletion ? 16 : 0) | (v.nmiSinglestep ? 32 : 0) | (v.interrupt.injected ? 64 : 0)
    | (v.exception.pending || v.exception.injected || v.exceptionVmexit.pending ? 128 : 0)
    | (c.intState & 1 ? 256 : 0) | (c.eventInj >>> 31 ? 512 : 0) | (v.vmcb01.intCtl & V_NMI_PENDING_MASK ? 1024 : 0)
    | (c.intCtl & V_NMI_BLOCKING_MASK ? 2048 : 0) | (c.intercepts & bit(INTERCEPT.IRET) ? 4096 : 0)
    | (c.intercepts & bit(INTERCEPT.VINTR) ? 8192 : 0) | (c.intCtl & V_GIF_MASK ? 16384 : 0) | (v.vmcb12.intState & 1 ? 32768 : 0);
  return (mode << ABSTRACT_FLAG_BITS) | h;
}
