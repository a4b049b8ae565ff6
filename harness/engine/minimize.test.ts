// The minimizer: it keeps the signature, never grows a stream, ends 1-minimal (no single
// event can go) with every field and knob the oracle does not care about at its default,
// counts every oracle call against a pass, and never runs the oracle twice on one stream.
// Checked with synthetic oracles (property) and with the real models on the seed scenarios.

import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { eventArb, configArb, fieldArb } from './arbitraries.js';
import { minimize, simpler, PASSES, MinimizeError, type Oracle, type MinimizeResult } from './minimize.js';
import { parseStream, printStream, type Stream } from '../text/text.js';
import { runPair, type Divergence } from './execute.js';
import { Registry } from '../../models/registry.js';
import { EVENT_KINDS, specOf, defaultEvent, type EventKind, type SvmEvent } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, defaultConfig, type SvmConfig } from '../../models/svm/config.js';

// ---- helpers --------------------------------------------------------------------------

const PASS_NAMES = ['truncate', 'remove-chunks', 'remove-single', 'reset-fields', 'simplify-config'];

/** A random event of one of these kinds, fields from the alphabet table. */
const eventOfKind = (kinds: readonly EventKind[]): fc.Arbitrary<SvmEvent> => fc.constantFrom(...kinds).chain((kind) => {
  const fields = Object.entries(specOf(kind)!.fields);
  return fc.tuple(...fields.map(([, f]) => fieldArb(f))).map((values) => {
    const e: Record<string, unknown> = { kind };
    fields.forEach(([name], i) => { e[name] = values[i]; });
    return e as SvmEvent;
  });
});

const without = (s: Stream, i: number): Stream => ({ config: s.config, events: s.events.filter((_, j) => j !== i) });

/** Wraps an oracle to count its calls and remember every stream it saw (as text). */
function recording(oracle: Oracle): { oracle: Oracle; seen: string[] } {
  const seen: string[] = [];
  return { seen, oracle: (s) => { seen.push(printStream(s)); return oracle(s); } };
}

/** Removing any single event makes the oracle reject. */
function expectOneMinimal(s: Stream, oracle: Oracle): void {
  for (let i = 0; i < s.events.length; i++) {
    expect(oracle(without(s, i)).keep, `removing event #${i} of\n${printStream(s)}`).toBe(false);
  }
}

/** Every non-default field and knob left in the result is one the oracle needs. */
function expectFieldsNeeded(s: Stream, oracle: Oracle): void {
  s.events.forEach((e, i) => {
    const def = defaultEvent(e.kind) as unknown as Record<string, unknown>;
    for (const name of Object.keys(specOf(e.kind)!.fields)) {
      const value = (e as unknown as Record<string, unknown>)[name];
      if (JSON.stringify(value) === JSON.stringify(def[name])) continue;
      const events = [...s.events];
      events[i] = { ...e, [name]: def[name] } as SvmEvent;
      expect(oracle({ config: s.config, events }).keep, `resetting ${e.kind}.${name} at #${i}`).toBe(false);
    }
  });
  for (const name of KNOB_NAMES) {
    if (s.config[name] === KNOBS[name].default) continue;
    expect(oracle({ config: { ...s.config, [name]: KNOBS[name].default }, events: s.events }).keep, `resetting knob ${name}`).toBe(false);
  }
}

function expectStatsConsistent(r: MinimizeResult, seen: readonly string[]): void {
  expect(Object.keys(r.passes)).toEqual(PASS_NAMES);
  let sum = 0;
  for (const st of Object.values(r.passes)) {
    expect(st.calls).toBeGreaterThanOrEqual(st.successes);
    sum += st.calls;
  }
  expect(sum).toBe(r.executions);
  expect(seen.length).toBe(r.executions);
  expect(new Set(seen).size).toBe(seen.length); // the cache: no stream is run twice
}

// ---- the pass table and the order ------------------------------------------------------

describe('passes and order', () => {
  it('names the passes in their order, each with a doc', () => {
    expect(PASSES.map((p) => p.name)).toEqual(PASS_NAMES);
    for (const p of PASSES) expect(p.doc.length).toBeGreaterThan(20);
  });

  it('names no event kind and no knob in its code (everything comes from the tables)', () => {
    const src = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'minimize.ts'), 'utf8');
    for (const name of [...EVENT_KINDS, ...KNOB_NAMES]) {
      expect(src, name).not.toMatch(new RegExp(`['"\`]${name}['"\`]`));
    }
  });

  it('simpler is a strict order: irreflexive and asymmetric; shorter always wins', () => {
    const streamArb = fc.record({ config: configArb, events: fc.array(eventArb, { maxLength: 6 }) });
    fc.assert(fc.property(streamArb, streamArb, (a, b) => {
      expect(simpler(a, a)).toBe(false);
      expect(simpler(a, b) && simpler(b, a)).toBe(false);
      if (a.events.length !== b.events.length) expect(simpler(a, b)).toBe(a.events.length < b.events.length);
    }), { numRuns: 300 });
  });

  it('at equal length: fewer non-default fields, then fewer knobs, then a flag set nearer its default', () => {
    const flagged = EVENT_KINDS.find((k) => Object.values(specOf(k)!.fields).some((f) => f.type === 'flags' && f.default.length > 0))!;
    const [name, f] = Object.entries(specOf(flagged)!.fields).find(([, x]) => x.type === 'flags' && x.default.length > 0)!;
    if (f.type !== 'flags') throw new Error('unreachable');
    const base = defaultEvent(flagged);
    const extra = f.values.filter((x) => !f.default.includes(x));
    const one = { ...base, [name]: f.values.filter((x) => f.default.includes(x) || x === extra[0]) } as SvmEvent;
    const two = { ...base, [name]: f.values.filter((x) => f.default.includes(x) || x === extra[0] || x === extra[1]) } as SvmEvent;
    const cfg = defaultConfig();
    const knob = KNOB_NAMES[0]!;
    const offCfg = { ...cfg, [knob]: !cfg[knob] } as SvmConfig;
    expect(simpler({ config: cfg, events: [base] }, { config: cfg, events: [one] })).toBe(true);
    expect(simpler({ config: cfg, events: [one] }, { config: cfg, events: [two] })).toBe(true); // same field count, nearer
    expect(simpler({ config: offCfg, events: [base] }, { config: cfg, events: [one] })).toBe(true); // fields before knobs
    expect(simpler({ config: cfg, events: [two] }, { config: offCfg, events: [two] })).toBe(true);
  });
});

// ---- synthetic oracles ----------------------------------------------------------------

/** Index of the event that completes "two K, then later a K2", or -1. */
function patternEnd(events: readonly SvmEvent[], k: string, k2: string): number {
  let ks = 0;
  for (let i = 0; i < events.length; i++) {
    if (ks >= 2 && events[i]!.kind === k2) return i;
    if (events[i]!.kind === k) ks++;
  }
  return -1;
}

describe('minimize with a synthetic oracle', () => {
  const kindArb = fc.constantFrom(...EVENT_KINDS);
  const caseArb = fc.record({
    k: kindArb,
    k2: kindArb,
    config: configArb,
    fill: fc.array(fc.array(eventArb, { maxLength: 12 }), { minLength: 4, maxLength: 4 }),
    cared: fc.option(fc.constantFrom(...KNOB_NAMES), { nil: undefined }),
  }).chain((c) => fc.record({
    c: fc.constant(c),
    first: eventOfKind([c.k]),
    second: eventOfKind([c.k]),
    last: eventOfKind([c.k2]),
  }));

  it('ends at exactly K, K, K2 with default fields, default knobs except the one it cares about', () => {
    fc.assert(fc.property(caseArb, ({ c, first, second, last }) => {
      const [a, b, d, e] = c.fill as [SvmEvent[], SvmEvent[], SvmEvent[], SvmEvent[]];
      const start: Stream = { config: c.config, events: [...a, first, ...b, second, ...d, last, ...e] };
      const base: Oracle = (s) => {
        const end = patternEnd(s.events, c.k, c.k2);
        const knobOk = c.cared === undefined || s.config[c.cared] === start.config[c.cared];
        return { keep: end >= 0 && knobOk, divergenceStep: end >= 0 ? end : null };
      };
      const rec = recording(base);
      const r = minimize(start, rec.oracle);

      expect(r.exhausted).toBe(false);
      expect(r.stream.events.length).toBeLessThanOrEqual(start.events.length);
      expect(base(r.stream).keep).toBe(true);
      expectOneMinimal(r.stream, base);
      expectFieldsNeeded(r.stream, base);
      expect(r.stream.events).toEqual([defaultEvent(c.k), defaultEvent(c.k), defaultEvent(c.k2)]);
      const want = defaultConfig(c.cared === undefined ? {} : { [c.cared]: start.config[c.cared] });
      expect(r.stream.config).toEqual(want);
      expectStatsConsistent(r, rec.seen);
    }), { numRuns: 200 });
  });

  it('any oracle that keeps the start: kept, never more complex, 1-minimal, deterministic', () => {
    // A deliberately non-monotone oracle: a checksum over kinds, positions and fields.
    const checksum = (s: Stream): number => s.events.reduce((acc, e, i) =>
      acc + (EVENT_KINDS.indexOf(e.kind) + 1) * (i % 2 ? 2 : 1) + printStream({ config: s.config, events: [e] }).length, 0);
    const streamArb = fc.record({ config: configArb, events: fc.array(eventArb, { minLength: 1, maxLength: 25 }) });
    fc.assert(fc.property(streamArb, fc.integer({ min: 2, max: 5 }), (start, mod) => {
      const base: Oracle = (s) => ({ keep: s.events.length > 0 && checksum(s) % mod === checksum(start) % mod, divergenceStep: null });
      const rec = recording(base);
      const r = minimize(start, rec.oracle);
      expect(base(r.stream).keep).toBe(true);
      expect(r.stream === start || simpler(r.stream, start)).toBe(true);
      expectOneMinimal(r.stream, base);
      expectFieldsNeeded(r.stream, base);
      expectStatsConsistent(r, rec.seen);
      const again = minimize(start, base);
      expect(printStream(again.stream)).toBe(printStream(r.stream));
      expect(again.passes).toEqual(r.passes);
      expect(again.rounds).toBe(r.rounds);
    }), { numRuns: 150 });
  });

  it('stops at maxExecutions with a stream the oracle keeps', () => {
    const streamArb = fc.record({ config: configArb, events: fc.array(eventArb, { minLength: 3, maxLength: 30 }) });
    fc.assert(fc.property(streamArb, fc.integer({ min: 0, max: 12 }), (start, max) => {
      const k = start.events[0]!.kind;
      const base: Oracle = (s) => ({ keep: s.events.some((e) => e.kind === k), divergenceStep: null });
      const rec = recording(base);
      const r = minimize(start, rec.oracle, { maxExecutions: max });
      expect(r.executions).toBeLessThanOrEqual(max);
      expect(base(r.stream).keep).toBe(true);
      expectStatsConsistent(r, rec.seen);
      if (!r.exhausted) expectOneMinimal(r.stream, base);
    }), { numRuns: 150 });
  });

  it('refuses a start stream the oracle rejects', () => {
    const start: Stream = { config: defaultConfig(), events: [defaultEvent(EVENT_KINDS[0]!)] };
    expect(() => minimize(start, () => ({ keep: false, divergenceStep: null }))).toThrow(MinimizeError);
  });
});

// ---- the real models ------------------------------------------------------------------

const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'svm', 'scenarios');
const loadScenario = (file: string): Stream => {
  const s = parseStream(readFileSync(join(scenarioDir, file), 'utf8'), file);
  return { config: s.config, events: s.events };
};

/** The same-signature predicate: divergence kind, event kind at the first differing step, sorted field paths. */
function signatureOracle(pairId: string, original: Stream): { oracle: Oracle; first: Divergence } {
  const reg = new Registry();
  const pair = reg.pair(pairId);
  const left = reg.version(pair.left);
  const right = reg.version(pair.right);
  const sig = (d: Divergence | null): string | null => d && JSON.stringify([d.kind, d.event, d.fields.map((f) => f.path).sort()]);
  const first = runPair(left, right, original).firstDivergence;
  if (!first) throw new Error(`${pairId}: the original does not diverge`);
  const want = sig(first);
  const oracle: Oracle = (s) => {
    const d = runPair(left, right, s).firstDivergence;
    return { keep: sig(d) === want, divergenceStep: d ? d.step : null };
  };
  return { oracle, first };
}

const seeds = [
  { file: 'a5-seed1-two-nmis.txt', pair: 'vnmi-iret', upToDivergence: 4 }, // nmi, nmi, run, iret
  { file: 'b4-seed2-nested-npf.txt', pair: 'sti-shadow', upToDivergence: 3 }, // run, vmrun, delivery_fault
];

describe('minimize on the real models (same signature)', () => {
  for (const { file, pair, upToDivergence } of seeds) {
    const scenario = loadScenario(file);
    const { oracle, first } = signatureOracle(pair, scenario);

    it(`${file} on ${pair}: the scenario itself shrinks to the events up to the divergence`, () => {
      expect(first.step + 1).toBe(upToDivergence);
      const rec = recording(oracle);
      const r = minimize(scenario, rec.oracle);
      expect(printStream(r.stream)).toBe(printStream({ config: defaultConfig(), events: scenario.events.slice(0, upToDivergence) }));
      expect(r.exhausted).toBe(false);
      expectOneMinimal(r.stream, oracle);
      expectStatsConsistent(r, rec.seen);
    });

    // Padding: events of kinds the scenario does not use, random fields, random places. A
    // padded stream counts as "still the seed divergence" when the oracle keeps it and it
    // first diverges at the scenario's own divergence event (not at a padding event, and not
    // at a later scenario event because the padding opened a second route to the bug).
    const used = new Set(scenario.events.map((e) => e.kind));
    const others = EVENT_KINDS.filter((k) => !used.has(k));
    const paddedArb = fc.array(fc.tuple(fc.nat(), eventOfKind(others)), { minLength: 1, maxLength: 30 }).map((padding) => {
      const tagged = scenario.events.map((e, i) => ({ e, i }));
      for (const [pos, e] of padding) tagged.splice(pos % (tagged.length + 1), 0, { e, i: -1 });
      const stream: Stream = { config: scenario.config, events: tagged.map((t) => t.e) };
      return { stream, divergenceAt: tagged.findIndex((t) => t.i === first.step) };
    });
    const stillTheSeed = ({ stream, divergenceAt }: { stream: Stream; divergenceAt: number }): boolean => {
      const v = oracle(stream);
      return v.keep && v.divergenceStep === divergenceAt;
    };

    it(`${file} on ${pair}: padded with irrelevant events, keeps the signature and ends 1-minimal`, () => {
      fc.assert(fc.property(paddedArb, (padded) => {
        fc.pre(stillTheSeed(padded));
        const rec = recording(oracle);
        const r = minimize(padded.stream, rec.oracle);
        expect(r.exhausted).toBe(false);
        expect(oracle(r.stream).keep).toBe(true);
        expect(r.stream.events.length).toBeLessThanOrEqual(padded.stream.events.length);
        expectOneMinimal(r.stream, oracle);
        expectFieldsNeeded(r.stream, oracle);
        expectStatsConsistent(r, rec.seen);
      }), { numRuns: 100 });
    });

    // 1-minimal is not minimum: padding can build a second route to the same signature
    // whose 1-minimal form is longer (measured on seed 1: 1 padded stream in 35000 that
    // passes stillTheSeed, 6 in 35000 without it, end at 5-7 events, through a vNMI
    // delivery cut by a delivery_fault and re-injected by EVENTINJ). So the length bound
    // is checked on a fixed sample: deterministic, no flaky CI.
    it(`${file} on ${pair}: padded streams shrink to at most the ${upToDivergence} events up to the divergence (fixed sample)`, () => {
      fc.assert(fc.property(paddedArb, (padded) => {
        fc.pre(stillTheSeed(padded));
        const r = minimize(padded.stream, oracle);
        expect(oracle(r.stream).keep).toBe(true);
        expect(r.stream.events.length, printStream(r.stream)).toBeLessThanOrEqual(upToDivergence);
        expectOneMinimal(r.stream, oracle);
      }), { numRuns: 200, seed: 0x5eed1 });
    });
  }
});
