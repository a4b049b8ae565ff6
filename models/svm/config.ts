// The knobs of a run, as one data table: the text header, the codec, the generator and
// the config-simplifying minimizer pass all read KNOBS. A stream carries its config, so
// configurations are fuzzed like events.
//
// Every point the domain reference marks [INFER] or [UNSURE] is a knob here with the
// reference's default, tagged so: changing one is a modelling decision, not a kernel fact.

export type KnobSpec =
  | { readonly type: 'bool'; readonly default: boolean; readonly tag: KnobTag; readonly doc: string }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly default: string; readonly tag: KnobTag; readonly doc: string };

/** param: a KVM module parameter or guest CPUID bit. INFER/UNSURE: a modelling decision, see docs/model.md (one section per knob). */
export type KnobTag = 'param' | 'INFER' | 'UNSURE';

export const KNOBS = {
  vnmi: {
    type: 'bool', default: true, tag: 'param',
    doc: 'kvm_amd.vnmi; effective only with vgif (svm_hardware_setup: vnmi = vgif && vnmi && CPU VNMI).',
  },
  vgif: { type: 'bool', default: true, tag: 'param', doc: 'kvm_amd.vgif: GIF virtualised in int_ctl.V_GIF; STGI/CLGI not intercepted.' },
  nested: { type: 'bool', default: true, tag: 'param', doc: 'kvm_amd.nested and L1 has SVM with EFER.SVME=1: L1 may VMRUN.' },
  npt: { type: 'bool', default: true, tag: 'param', doc: 'kvm_amd.npt, and L1 uses nested paging for L2 (NPF in L1 tables possible).' },
  l1Vnmi: { type: 'bool', default: true, tag: 'param', doc: 'vNMI exposed to L1 in CPUID (svm->vnmi_enabled): L1 may use nested vNMI.' },
  l1Vgif: {
    type: 'bool', default: true, tag: 'param',
    doc: 'vGIF exposed to L1 in CPUID (guest_cpu_cap_has X86_FEATURE_VGIF; with vgif): a vmcb12 with V_GIF_ENABLE runs L2 with nested vGIF.',
  },
  gpErratumIntercept: {
    type: 'bool', default: true, tag: 'param',
    doc: 'svm_gp_erratum_intercept: #GP intercepted in vmcb01 once L1 sets EFER.SVME (svm_set_efer).',
  },
  vnmiDeliveryInExitIntInfo: {
    type: 'bool', default: true, tag: 'UNSURE',
    doc: 'E.1/A.5(b): a hardware vNMI whose delivery is cut by #VMEXIT is reported in exit_int_info as an NMI (else it stays V_NMI_PENDING).',
  },
  vnmiHonoursShadow: { type: 'bool', default: true, tag: 'UNSURE', doc: 'E.2/C.3: hardware does not deliver a pending vNMI inside an interrupt shadow.' },
  shadowLeakScope: {
    type: 'enum', values: ['eventinj', 'any-delivery'], default: 'eventinj', tag: 'UNSURE',
    doc: 'E.3/B.2: the VMRUN STI shadow leaks into int_state on a #VMEXIT during EVENTINJ delivery only, or also during hardware vNMI delivery.',
  },
  entryShadowOnDeliveryExit: {
    type: 'enum', values: ['kept', 'cleared'], default: 'kept', tag: 'UNSURE',
    doc: 'E.3/B.2: int_state on a delivery-time #VMEXIT is the guest\'s own entry shadow OR the leak (kept), or the leak alone (cleared).',
  },
  shadowClearedByDelivery: {
    type: 'bool', default: true, tag: 'INFER',
    doc: 'B.4/C.3: a completed event delivery ends the interrupt shadow the guest was entered with.',
  },
  nrips: {
    type: 'bool', default: true, tag: 'param',
    doc: 'kvm_amd.nrips: KVM uses the VMCB next_rip (the CPU is assumed to have NRIPS, so the CPU itself always reads it for soft events).',
  },
  l1Nrips: { type: 'bool', default: true, tag: 'param', doc: "NRIPS in L1's CPUID (with nrips): vmcb12.next_rip is synced to vmcb02 and back." },
  exceptionPayload: {
    type: 'bool', default: true, tag: 'param',
    doc: 'KVM_CAP_EXCEPTION_PAYLOAD enabled by userspace (QEMU and the selftests do): GET/SET_VCPU_EVENTS carry pending exceptions and payloads apart.',
  },
  tripleFaultEvent: {
    type: 'bool', default: true, tag: 'param',
    doc: 'KVM_CAP_X86_TRIPLE_FAULT_EVENT enabled by userspace: GET/SET_VCPU_EVENTS carry triple_fault.pending.',
  },
  intStateAtVmexit: {
    type: 'enum', values: ['kept', 'shadow-only'], default: 'kept', tag: 'UNSURE',
    doc: 'int_state bits other than the shadow (bit 1, SEV-ES only, and the reserved ones) at #VMEXIT: the CPU leaves them as VMRUN found them (kept), or writes only the shadow (shadow-only).',
  },
  setVcpuEventsClearsVnmiPending: {
    type: 'bool', default: false, tag: 'UNSURE',
    doc: 'E.4/A.3: KVM_SET_VCPU_EVENTS with a valid nmi.pending=0 also clears V_NMI_PENDING (source read: it does not).',
  },
} as const satisfies Record<string, KnobSpec>;

export type KnobName = keyof typeof KNOBS;
type KnobValue<S> = S extends { type: 'bool' } ? boolean : S extends { type: 'enum'; values: readonly (infer V)[] } ? V : never;
export type SvmConfig = { -readonly [K in KnobName]: KnobValue<(typeof KNOBS)[K]> };

export const KNOB_NAMES = Object.keys(KNOBS) as KnobName[];

export function defaultConfig(overrides: Partial<SvmConfig> = {}): SvmConfig {
  const cfg = {} as Record<string, unknown>;
  for (const name of KNOB_NAMES) cfg[name] = KNOBS[name].default;
  return { ...(cfg as SvmConfig), ...overrides };
}

/** Checks a value against its knob; returns an error message or null. */
export function checkKnob(name: string, value: unknown): string | null {
  const spec = (KNOBS as Record<string, KnobSpec>)[name];
  if (!spec) return `unknown config knob '${name}' (known: ${KNOB_NAMES.join(', ')})`;
  if (spec.type === 'bool') return typeof value === 'boolean' ? null : `knob '${name}' takes 0 or 1`;
  return spec.values.includes(value as string) ? null : `knob '${name}' takes one of ${spec.values.join('|')}`;
}

/**
 * Upper bound on VMRUNs KVM performs within one stream step before the model gives up
 * with a WARN. A real vCPU loops forever in such a case; 16 is well above the longest
 * legitimate chain (exit → re-entry with immediate exit → single-step #DB → ...: at most 5).
 */
export const MAX_ENTRIES_PER_STEP = 16;
