// fast-check arbitraries over the alphabet and knob tables: property tests and the
// fast-check baseline of scripts/bench (fast-check is a devDependency; nothing else imports this).

import fc from 'fast-check';
import { EVENT_KINDS, specOf, type SvmEvent, type FieldSpec } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, type SvmConfig, type KnobSpec } from '../../models/svm/config.js';

export function fieldArb(f: FieldSpec | KnobSpec): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'int': return fc.integer({ min: f.min, max: f.max });
    case 'bool': return fc.boolean();
    case 'enum': return fc.constantFrom(...f.values);
    case 'flags': return fc.subarray([...f.values]);
  }
}

/** Any event of the alphabet, read from the table (no kind named here). */
export const eventArb: fc.Arbitrary<SvmEvent> = fc.constantFrom(...EVENT_KINDS).chain((kind) => {
  const fields = Object.entries(specOf(kind)!.fields);
  return fc.tuple(...fields.map(([, f]) => fieldArb(f))).map((values) => {
    const e: Record<string, unknown> = { kind };
    fields.forEach(([name], i) => { e[name] = values[i]; });
    return e as SvmEvent;
  });
});

export const configArb: fc.Arbitrary<SvmConfig> = fc.tuple(...KNOB_NAMES.map((n) => fieldArb(KNOBS[n]))).map((values) => {
  const c: Record<string, unknown> = {};
  KNOB_NAMES.forEach((n, i) => { c[n] = values[i]; });
  return c as SvmConfig;
});

