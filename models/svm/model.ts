// A model instance (a version's function table) and the step function that drives it.

import { ALPHABET, isLegal, type SvmEvent } from './events.js';
import { createState, emptyArray, type VcpuState } from './state.js';
import { observe, latent, type Observation } from './observe.js';
import { buildOps, type Version } from './versions.js';
import type { SvmConfig } from './config.js';
import type { KvmOps } from './kvm/ops.js';
import type { VcpuEvents } from './kvm/x86.js';
import type { InvariantSpec } from './invariants.js';
import { oracle_after_step } from './oracle.js';

export interface Model {
  readonly version: Version;
  readonly ops: KvmOps;
  /** The invariants checked after every step (a checked version), or null. */
  readonly invariants: readonly InvariantSpec[] | null;
}

/** Models by version object: a version is immutable data, and building its table costs (triage makes many). */
const built = new WeakMap<Version, Model>();

export function makeModel(version: Version): Model {
  let m = built.get(version);
  if (!m) {
    m = Object.freeze({ version, ops: buildOps(version), invariants: version.invariants?.length ? version.invariants : null });
    built.set(version, m);
  }
  return m;
}

/** Clears what one step shows (the step log, the VMRUN count) before the step runs. */
export function beginStep(v: VcpuState): void {
  // Reuse the step log's arrays: a step runs ~30 times per execution (emptyArray keeps
  // their storage, so the next push allocates nothing).
  const log = v.log;
  emptyArray(log.exits);
  emptyArray(log.reflected);
  emptyArray(log.delivered);
  emptyArray(log.warns);
  log.userspaceExit = '';
  if (log.ioctl) log.ioctl = '';
  if (log.violation) log.violation = log.violationMessage = '';
  if (log.nested !== null) log.nested = null;
  v.hw.entries = 0;
  v.hw.strayExitIntInfo = 0;
}

/**
 * step(state, event) → Observation: mutates the state in place and returns what the
 * outside world saw. An event illegal in the current state is skipped (and observed so).
 */
export function step(model: Model, v: VcpuState, e: SvmEvent): Observation {
  advance(model, v, e);
  return observe(v, v.log.skipped, v.log.read);
}

/**
 * The step without its observation record: the state moves on and the step log (v.log)
 * holds what it showed, `skipped` and `read` included. The fuzzing hot path compares two
 * step logs with sameObservation() and builds observe() records only where they differ.
 */
export function advance(model: Model, v: VcpuState, e: SvmEvent): void {
  beginStep(v);
  const log = v.log;
  if (!isLegal(v, e)) {
    log.skipped = true;
    log.read = null;
    return;
  }
  log.skipped = false;
  log.read = null;
  const spec = ALPHABET[e.kind] as unknown as { apply: (k: KvmOps, v: VcpuState, e: SvmEvent) => VcpuEvents | void };
  log.read = spec.apply(model.ops, v, e) ?? null;
  const where = (spec as unknown as { where: string; instruction?: boolean });
  oracle_after_step(v, where.where !== 'host', where.instruction === true, e.kind === 'run' && e.until !== 'immediate_exit');
  const invariants = model.invariants;
  if (invariants) {
    for (let i = 0; i < invariants.length; i++) {
      const message = invariants[i]!.check(v, e);
      if (message !== null) {
        log.violation = invariants[i]!.id;
        log.violationMessage = message;
        break;
      }
    }
  }
}

/** Runs a whole stream from a fresh state; returns every observation and the final latent record. */
export function runStream(model: Model, config: SvmConfig, events: readonly SvmEvent[]): { observations: Observation[]; latent: Observation; state: VcpuState } {
  const v = createState(config);
  const observations = events.map((e) => step(model, v, e));
  return { observations, latent: latent(v), state: v };
}

/** Runs a whole stream from a fresh state without building observations; returns the final state. */
export function advanceStream(model: Model, config: SvmConfig, events: readonly SvmEvent[]): VcpuState {
  const v = createState(config);
  for (let i = 0; i < events.length; i++) advance(model, v, events[i]!);
  return v;
}
