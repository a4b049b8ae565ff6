// The public model API (`import ... from 'svmfuzz/models'`): what a user's model file
// needs to define its own patches, versions and pairs on top of the base table.

export { BASE_OPS } from './svm/kvm/base.js';
export type { KvmOps, OpName } from './svm/kvm/ops.js';
export { definePatch, inScope, PATCH_72046d0a, PATCH_be45bc4e, BUILTIN_PATCHES, type Patch } from './svm/patches.js';
export { defineVersion, definePair, buildOps, BUILTIN_VERSIONS, BUILTIN_PAIRS, type Version, type Pair } from './svm/versions.js';
export { ALPHABET, EVENT_KINDS, defaultEvent, checkEvent, isLegal, specOf, type SvmEvent, type EventKind, type FieldSpec } from './svm/events.js';
export { KNOBS, KNOB_NAMES, defaultConfig, checkKnob, type SvmConfig, type KnobName } from './svm/config.js';
export { createState, cur, type VcpuState, type Vmcb } from './svm/state.js';
export { makeModel, step, runStream, type Model } from './svm/model.js';
export { observe, latent, architectural, diffRecords, OBSERVATION_FIELDS, type Observation, type Primitive } from './svm/observe.js';
export * as constants from './svm/constants.js';
export * as hardware from './svm/hardware.js';
export { Registry, RegistryError, type Selection } from './registry.js';
