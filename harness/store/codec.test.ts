// The entry codec: encode→decode is the identity (property), the bytes are plain msgpack
// any decoder reads, and every kind of bad file is rejected with its name and the reason.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Packr, unpack } from 'msgpackr';
import { eventArb, configArb } from '../engine/arbitraries.js';
import { encodeEntry, decodeEntry, readEntryFile, writeEntryFile, EntryError } from './codec.js';
import { ENTRY_SCHEMA, ALPHABET_VERSION, type CorpusEntry } from './entry.js';
import { defaultConfig } from '../../models/svm/config.js';
import { defaultEvent } from '../../models/svm/events.js';

const primitiveArb = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.boolean(), fc.string(), fc.constant(null));
// '__proto__' is no field path, and msgpackr (rightly) refuses to decode it as a key.
const keyArb = fc.string({ minLength: 1 }).filter((k) => k !== '__proto__');
const observationArb = fc.option(fc.dictionary(keyArb, primitiveArb, { maxKeys: 8 }), { nil: null });
const versionArb = fc.record({ id: fc.string(), patches: fc.array(fc.string(), { maxLength: 4 }) });

const entryArb: fc.Arbitrary<CorpusEntry> = fc.record({
  schema: fc.constant(ENTRY_SCHEMA),
  alphabet: fc.constant(ALPHABET_VERSION),
  pair: fc.string(),
  left: versionArb,
  right: versionArb,
  config: configArb,
  events: fc.array(eventArb, { maxLength: 30 }),
  origin: fc.option(fc.record({
    seed: fc.nat(), lane: fc.nat(64), iteration: fc.maxSafeNat(), lineage: fc.array(fc.string(), { maxLength: 5 }),
  }), { nil: null }),
  expected: fc.oneof(
    fc.constant({ outcome: 'equal' as const }),
    fc.record({ outcome: fc.constant('diverges' as const), signature: fc.string(), signatureId: fc.stringMatching(/^[0-9a-f]{12}$/) }),
  ),
  divergence: fc.option(fc.record({
    kind: fc.constantFrom('observable' as const, 'latent' as const, 'left-throws' as const, 'right-throws' as const),
    step: fc.nat(100),
    event: fc.string(),
    fields: fc.array(fc.record({ path: fc.string(), left: primitiveArb, right: primitiveArb }), { maxLength: 5 }),
    left: observationArb,
    right: observationArb,
    error: fc.string(),
  }, { requiredKeys: ['kind', 'step', 'event', 'fields', 'left', 'right'] }), { nil: null }),
});

const sample = (): CorpusEntry => ({
  schema: ENTRY_SCHEMA, alphabet: ALPHABET_VERSION, pair: 'seed1',
  left: { id: '6.7', patches: [] }, right: { id: '6.7+seed1', patches: ['72046d0a'] },
  config: defaultConfig(),
  events: [defaultEvent('nmi'), defaultEvent('run'), defaultEvent('vmrun'), defaultEvent('get_vcpu_events')],
  origin: { seed: 1, lane: 2, iteration: 3, lineage: ['InsertEvent', 'ChangeField'] },
  expected: { outcome: 'diverges', signature: 'seed1 vmrun {exits}', signatureId: 'abc123abc123' },
  divergence: { kind: 'observable', step: 2, event: 'vmrun', fields: [{ path: 'exits', left: 'L2:NMI', right: '' }], left: { exits: 'L2:NMI' }, right: { exits: '' } },
});

/** Packs an arbitrary (possibly broken) plain object the way the codec would. */
const packRaw = (x: unknown): Uint8Array => new Packr({ useRecords: false }).pack(x);

function rejects(bytes: Uint8Array, reason: RegExp): void {
  let err: unknown;
  try {
    decodeEntry(bytes, 'crashes/x/y/min.msgpack');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EntryError);
  expect((err as EntryError).file).toBe('crashes/x/y/min.msgpack');
  expect((err as EntryError).message).toMatch(/^crashes\/x\/y\/min\.msgpack: /);
  expect((err as EntryError).reason).toMatch(reason);
}

/** A sample entry as a plain object, changed by `edit`, then packed. */
function broken(edit: (o: Record<string, any>) => void): Uint8Array {
  const o = structuredClone(sample()) as Record<string, any>;
  edit(o);
  return packRaw(o);
}

describe('entry codec', () => {
  it('decode(encode(entry)) is the entry', () => {
    fc.assert(fc.property(entryArb, (e) => {
      expect(decodeEntry(encodeEntry(e), 'f')).toEqual(e);
    }), { numRuns: 300 });
  });

  it('writes plain msgpack maps that any decoder reads as the same object', () => {
    fc.assert(fc.property(entryArb, (e) => {
      const plain = unpack(encodeEntry(e));
      expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
      expect(plain).toEqual(e);
    }), { numRuns: 100 });
  });

  it('leaves out undefined members (an extension type elsewhere)', () => {
    const e = sample();
    e.divergence!.error = undefined;
    const plain = unpack(encodeEntry(e)) as CorpusEntry;
    expect('error' in plain.divergence!).toBe(false);
  });

  it('returns bytes that later encodes do not overwrite', () => {
    const a = sample();
    const bytes = encodeEntry(a);
    const copy = Uint8Array.from(bytes);
    for (let i = 0; i < 50; i++) encodeEntry({ ...a, pair: `p${i}`.repeat(100) });
    expect(bytes).toEqual(copy);
  });

  it('fills knobs missing from an older entry with their defaults', () => {
    const bytes = broken((o) => { delete o.config.vnmi; delete o.config.shadowLeakScope; });
    expect(decodeEntry(bytes, 'f').config).toEqual(defaultConfig());
  });

  it('fills event fields missing from an older entry with their defaults (a field added to a kind)', () => {
    const bytes = broken((o) => {
      o.events = [{ kind: 'set_vcpu_events', nmi_pending: '1', nmi_injected: false, nmi_masked: true, shadow: 'keep' }];
    });
    expect(decodeEntry(bytes, 'f').events).toEqual([{ ...defaultEvent('set_vcpu_events'), nmi_pending: '1', nmi_masked: true }]);
    // A field with a value outside its domain is still an error, named.
    rejects(broken((o) => { o.events = [{ kind: 'set_vcpu_events', exception: 'maybe' }]; }), /event #0: set_vcpu_events: field 'exception' must be one of/);
  });

  it('round-trips through a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svmfuzz-codec-'));
    try {
      const file = path.join(dir, 'a', 'b.msgpack');
      writeEntryFile(file, sample());
      expect(readEntryFile(file)).toEqual(sample());
      expect(fs.readdirSync(path.dirname(file))).toEqual(['b.msgpack']); // no temp files left
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the file and the errno when it cannot be read', () => {
    expect(() => readEntryFile('/nonexistent/x.msgpack')).toThrow(EntryError);
    expect(() => readEntryFile('/nonexistent/x.msgpack')).toThrow(/^\/nonexistent\/x\.msgpack: cannot read: ENOENT/);
  });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['truncated bytes', () => encodeEntry(sample()).subarray(0, 20), /^not a msgpack corpus entry: /],
    ['trailing garbage', () => new Uint8Array([...encodeEntry(sample()), 1, 2]), /^not a msgpack corpus entry: /],
    ['a text stream', () => new TextEncoder().encode('config vnmi=1\nnmi\n'), /^not a msgpack corpus entry: .*looks like a text stream/],
    ['a non-map value', () => packRaw([1, 2, 3]), /not a corpus entry \(the msgpack value is not a map\)/],
    ['a scalar value', () => packRaw(42), /not a corpus entry/],
    ['a newer schema', () => broken((o) => { o.schema = ENTRY_SCHEMA + 1; }), new RegExp(`^schema ${ENTRY_SCHEMA + 1}, this svmfuzz reads schema ${ENTRY_SCHEMA}`)],
    ['another alphabet', () => broken((o) => { o.alphabet = 99; }), /^alphabet version 99, this svmfuzz has alphabet version/],
    ['missing pair', () => broken((o) => { delete o.pair; }), /'pair' is missing or not a string/],
    ['ill-typed left', () => broken((o) => { o.left.patches = [1]; }), /'left\.patches' must be a list of strings/],
    ['missing right', () => broken((o) => { delete o.right; }), /'right' is missing or not an object/],
    ['missing config', () => broken((o) => { delete o.config; }), /'config' is missing or not an object/],
    ['unknown knob', () => broken((o) => { o.config.turbo = true; }), /^config: unknown config knob 'turbo'/],
    ['bad knob value', () => broken((o) => { o.config.vnmi = 1; }), /^config: knob 'vnmi' takes 0 or 1/],
    ['events not a list', () => broken((o) => { o.events = {}; }), /'events' is missing or not a list/],
    ['unknown event kind', () => broken((o) => { o.events[3] = { kind: 'x' }; }), /^event #3: unknown event kind 'x'/],
    ['bad event field', () => broken((o) => { o.events[2].int_state = 8; }), /^event #2: vmrun: field 'int_state' must be an integer in 0\.\.7/],
    ['unknown event field', () => broken((o) => { o.events[0].count = 2; }), /^event #0: nmi: unknown field 'count'/],
    ['missing expected', () => broken((o) => { delete o.expected; }), /'expected' is missing or not an object/],
    ['unknown outcome', () => broken((o) => { o.expected = { outcome: 'maybe' }; }), /'expected\.outcome' must be 'equal' or 'diverges', got "maybe"/],
    ['divergence without signature', () => broken((o) => { delete o.expected.signatureId; }), /needs string 'signature' and 'signatureId'/],
    ['a signature id that is not 12 hex digits (it names a directory)', () => broken((o) => { o.expected.signatureId = '../../x'; }), /'expected\.signatureId' must be 12 hex digits/],
    ['bad origin', () => broken((o) => { o.origin.seed = 'one'; }), /'origin\.seed' must be an integer/],
    ['bad divergence kind', () => broken((o) => { o.divergence.kind = 'weird'; }), /'divergence\.kind' must be one of/],
    ['bad divergence observation', () => broken((o) => { o.divergence.left = { x: [1] }; }), /'divergence\.left' must be null or a record of primitives/],
  ];
  for (const [name, bytes, reason] of cases) {
    it(`rejects ${name} with the file name and reason`, () => rejects(bytes(), reason));
  }
});
