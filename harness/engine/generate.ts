// Generation from the alphabet table, in context: a stream is built while the left model
// runs it, and each next event is drawn among the kinds legal in the state reached, so
// deep states (L2 running, an NMI in flight, a delivery in progress) come often. The
// config header is drawn too: the pair's default with a few knobs flipped now and then.

import { EVENT_KINDS, specOf, isLegal, type SvmEvent, type FieldSpec, type Where } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, type SvmConfig, type KnobSpec } from '../../models/svm/config.js';
import { copyState, createState, initialState, type VcpuState } from '../../models/svm/state.js';
import { advance, type Model } from '../../models/svm/model.js';
import type { Rng } from './rng.js';
import type { Stream } from '../text/text.js';

/** Kinds by the phase they are legal in ('guest' kinds are also legal during a delivery). */
const BY_PHASE: Record<VcpuState['phase'], string[]> = { host: [], guest: [], delivery: [] };
for (const kind of EVENT_KINDS) {
  const where: Where = specOf(kind)!.where;
  if (where === 'host') BY_PHASE.host.push(kind);
  if (where === 'guest') BY_PHASE.guest.push(kind), BY_PHASE.delivery.push(kind);
  if (where === 'delivery') BY_PHASE.delivery.push(kind);
}

/** A random value of a field; half the time its default (streams stay readable). */
export function randomField(rng: Rng, f: FieldSpec | KnobSpec, allowDefault = true): unknown {
  if (allowDefault && rng.chance(1, 2)) return Array.isArray(f.default) ? [...f.default] : f.default;
  switch (f.type) {
    case 'int': return f.min + rng.int(f.max - f.min + 1);
    case 'bool': return rng.chance(1, 2);
    case 'enum': return rng.pick(f.values);
    case 'flags': return f.values.filter(() => rng.chance(1, 2));
  }
}

/** Each kind's fields, in the table's order (looked up on every generated event). */
const FIELDS = new Map<string, [string, FieldSpec][]>(EVENT_KINDS.map((k) => [k, Object.entries(specOf(k)!.fields)]));

export function randomEvent(rng: Rng, kind: string): SvmEvent {
  const e: Record<string, unknown> = { kind };
  const fields = FIELDS.get(kind) ?? Object.entries(specOf(kind)!.fields);
  for (let i = 0; i < fields.length; i++) e[fields[i]![0]] = randomField(rng, fields[i]![1]);
  return e as SvmEvent;
}

/**
 * Kinds legal only while a delivery is in progress get this weight then: the phase lasts
 * one event, so a uniform pick among ~17 legal kinds would almost never use it (measured on
 * sti-shadow: median executions to the seed-2 bucket 1794 over seeds 1-3 before, 389 over
 * seeds 1-10 after, `npm run bench -- --sections ttfd`).
 */
const NARROW_WEIGHT = 6;
/** A kind's own weight (EventSpec.weight, in tenths: Rng.weighted takes integers). */
const own = (k: string): number => Math.max(1, Math.round(10 * (specOf(k)!.weight ?? 1)));
const WEIGHTS: Record<VcpuState['phase'], number[]> = {
  host: BY_PHASE.host.map(own),
  guest: BY_PHASE.guest.map(own),
  delivery: BY_PHASE.delivery.map((k) => (specOf(k)!.where === 'delivery' ? NARROW_WEIGHT : 1) * own(k)),
};

/** An event legal in state v (a few tries), else any event of a phase-legal kind. */
export function pickEvent(rng: Rng, v: VcpuState): SvmEvent {
  const kinds = BY_PHASE[v.phase];
  const weights = WEIGHTS[v.phase];
  const draw = () => randomEvent(rng, kinds[rng.weighted(weights)]!);
  let e = draw();
  for (let tries = 0; tries < 6 && !isLegal(v, e); tries++) e = draw();
  return e;
}

/** The pair's config, with one or two knobs flipped one time in four. */
export function fuzzConfig(rng: Rng, base: SvmConfig): SvmConfig {
  // Unchanged, the stream shares the pair's config object (configs are never written), and
  // so its initial state (initialState) and its snapshots' config.
  if (!rng.chance(1, 4)) return base;
  const cfg = { ...base } as Record<string, unknown>;
  const n = 1 + rng.int(2);
  for (let i = 0; i < n; i++) {
    const name = rng.pick(KNOB_NAMES);
    cfg[name] = randomField(rng, KNOBS[name] as KnobSpec, false);
  }
  return cfg as SvmConfig;
}

/**
 * Steps the in-context model, tolerating a model that throws: the choices then go on
 * from the state before the throw (the execution will report the throw as a finding).
 */
function stepContext(model: Model, v: VcpuState, e: SvmEvent): boolean {
  try {
    advance(model, v, e);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `model` over a prefix and returns the state reached (for in-context choices). With
 * `from`, the run starts from that state (owned by the call) after its first `step` events.
 */
export function stateAfter(model: Model, s: Stream, upto: number, from?: { state: VcpuState; step: number }): VcpuState {
  const v = from ? from.state : createState(s.config);
  for (let i = from ? from.step : 0; i < upto && i < s.events.length; i++) if (!stepContext(model, v, s.events[i]!)) break;
  return v;
}

/** With `state`, generation runs in that state (the caller's, overwritten) instead of a new one. */
export function generateStream(rng: Rng, model: Model, base: SvmConfig, maxLen: number, state?: VcpuState): Stream {
  const config = fuzzConfig(rng, base);
  let v: VcpuState;
  if (state) copyState((v = state), initialState(config));
  else v = createState(config);
  const len = 1 + rng.int(maxLen);
  const events: SvmEvent[] = [];
  let live = true;
  for (let i = 0; i < len; i++) {
    const e = pickEvent(rng, v);
    if (live) live = stepContext(model, v, e);
    events.push(e);
  }
  return { config, events };
}
