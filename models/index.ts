// The public model API (`import ... from 'svmfuzz/models'`): what a user's model file
// needs to define its own patches, versions and pairs on top of the base table.

export { BASE_OPS } from './svm/kvm/base.js';
export type { KvmOps, OpName } from './svm/kvm/ops.js';
export { definePatch, checkScopePath, inScope, PATCH_72046d0a, PATCH_be45bc4e, BUILTIN_PATCHES, type Patch } from './svm/patches.js';
export { defineVersion, definePair, buildOps, BUILTIN_VERSIONS, BUILTIN_PAIRS, type Version, type Pair } from './svm/versions.js';
export { ALPHABET, EVENT_KINDS, defaultEvent, checkEvent, isLegal, specOf, type SvmEvent, type EventKind, type FieldSpec } from './svm/events.js';
export { KNOBS, KNOB_NAMES, defaultConfig, checkKnob, type SvmConfig, type KnobName } from './svm/config.js';
export { createState, cur, type VcpuState, type Vmcb } from './svm/state.js';
// For patch bodies: KVM's helpers and names, so a user's patch needs no magic numbers.
export { REQ, kvm_make_request, kvm_check_request, kvm_test_request, kvm_clear_request, WARN_ON_ONCE } from './svm/state.js';
export {
  SVM_EXIT_EXCP_BASE, SVM_EXIT_INTR, SVM_EXIT_NMI, SVM_EXIT_VINTR, SVM_EXIT_CPUID, SVM_EXIT_IRET, SVM_EXIT_HLT,
  SVM_EXIT_IOIO, SVM_EXIT_TASK_SWITCH, SVM_EXIT_SHUTDOWN, SVM_EXIT_VMRUN, SVM_EXIT_STGI, SVM_EXIT_CLGI, SVM_EXIT_NPF,
  SVM_EXIT_ERR, SVM_EXIT_NONE,
} from './svm/constants.js';
export { makeModel, step, runStream, type Model } from './svm/model.js';
export { observe, latent, architectural, diffRecords, OBSERVATION_FIELDS, type Observation, type Primitive } from './svm/observe.js';
export * as constants from './svm/constants.js';
export * as hardware from './svm/hardware.js';
export { Registry, RegistryError, type Selection } from './registry.js';
export { INVARIANTS, defineInvariant, type InvariantSpec } from './svm/invariants.js';
