// The msgpack codec of corpus/crash entries: plain maps (readable by any msgpack
// decoder), and a decoder that validates every field against the alphabet and knob
// tables so a stale or damaged file is rejected with its name, never half-run.

import { Packr } from 'msgpackr';
import { checkEvent, specOf, type SvmEvent } from '../../models/svm/events.js';
import { checkKnob, defaultConfig, type SvmConfig } from '../../models/svm/config.js';
import { ENTRY_SCHEMA, ALPHABET_VERSION, type CorpusEntry, type VersionRef, type Origin, type Expected, type EntryDivergence, type EntryCause } from './entry.js';
import type { DivergenceKind, FieldDiff } from '../engine/execute.js';
import type { Observation } from '../../models/svm/observe.js';
import { writeFileAtomic, readInputFile, InputFileError } from './fsutil.js';

// useRecords:false: msgpackr's record extension would make files unreadable elsewhere.
const packr = new Packr({ useRecords: false });

export class EntryError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

/** A Record over the kind union, so a new DivergenceKind fails to compile until listed. */
const DIVERGENCE_KINDS: Record<DivergenceKind, true> = { observable: true, latent: true, 'left-throws': true, 'right-throws': true, hang: true, crash: true };

/**
 * Drops `undefined` members (e.g. an absent `error`): msgpackr writes undefined as an
 * extension type that other decoders do not know.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value;
}

export function encodeEntry(e: CorpusEntry): Uint8Array {
  // Copy: pack() returns a view into msgpackr's shared buffer, which must not be
  // handed on (a transfer to a worker would detach it).
  return new Uint8Array(packr.pack(plain(e)));
}

// ---- validation -----------------------------------------------------------------------

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && [Object.prototype, null].includes(Object.getPrototypeOf(x));
const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const isPrimitive = (x: unknown): boolean => x === null || ['number', 'boolean', 'string'].includes(typeof x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Thrown inside the decoder; decodeEntry adds the file name. */
class Bad extends Error {}
/** Signature and cause ids: 12 lower-case hex digits (sha1 prefixes). */
const ID_RE = /^[0-9a-f]{12}$/;

function need(ok: boolean, reason: string): asserts ok {
  if (!ok) throw new Bad(reason);
}

function versionRef(x: unknown, side: string): VersionRef {
  need(isObj(x), `'${side}' is missing or not an object`);
  need(typeof x.id === 'string', `'${side}.id' must be a string`);
  need(isStringArray(x.patches), `'${side}.patches' must be a list of strings`);
  return { id: x.id, patches: x.patches };
}

/** Missing knobs take their defaults: entries written before a knob existed still load. */
function config(x: unknown): SvmConfig {
  need(isObj(x), "'config' is missing or not an object");
  const cfg = defaultConfig() as Obj;
  for (const [name, value] of Object.entries(x)) {
    const err = checkKnob(name, value);
    need(err === null, `config: ${err}`);
    cfg[name] = value;
  }
  return cfg as SvmConfig;
}

/**
 * Missing fields take their defaults, as missing knobs do: an entry written before a field
 * joined its event kind still loads (a new field's default keeps the old meaning).
 */
function events(x: unknown): SvmEvent[] {
  need(Array.isArray(x), "'events' is missing or not a list");
  return x.map((e, i) => {
    const spec = isObj(e) && typeof e.kind === 'string' ? specOf(e.kind) : undefined;
    let full = e;
    if (spec && isObj(e) && Object.keys(spec.fields).some((name) => !(name in e))) {
      const filled: Obj = { ...e };
      for (const [name, f] of Object.entries(spec.fields)) if (!(name in filled)) filled[name] = Array.isArray(f.default) ? [...f.default] : f.default;
      full = filled;
    }
    const err = checkEvent(full);
    need(err === null, `event #${i}: ${err}`);
    return full as SvmEvent;
  });
}

function origin(x: unknown): Origin | null {
  if (x === null || x === undefined) return null;
  need(isObj(x), "'origin' must be null or an object");
  for (const k of ['seed', 'lane', 'iteration'] as const) need(Number.isSafeInteger(x[k]), `'origin.${k}' must be an integer`);
  need(isStringArray(x.lineage), "'origin.lineage' must be a list of strings");
  return { seed: x.seed as number, lane: x.lane as number, iteration: x.iteration as number, lineage: x.lineage };
}

function expected(x: unknown): Expected {
  need(isObj(x), "'expected' is missing or not an object");
  if (x.outcome === 'equal') return { outcome: 'equal' };
  need(x.outcome === 'diverges', `'expected.outcome' must be 'equal' or 'diverges', got ${JSON.stringify(x.outcome)}`);
  need(typeof x.signature === 'string' && typeof x.signatureId === 'string',
    "'expected' with outcome 'diverges' needs string 'signature' and 'signatureId'");
  // Ids name directories and files: only the 12 hex digits svmfuzz makes.
  need(ID_RE.test(x.signatureId), `'expected.signatureId' must be 12 hex digits, got ${JSON.stringify(x.signatureId.slice(0, 40))}`);
  return { outcome: 'diverges', signature: x.signature, signatureId: x.signatureId };
}

function observation(x: unknown, where: string): Observation | null {
  if (x === null) return null;
  need(isObj(x) && Object.values(x).every(isPrimitive), `'${where}' must be null or a record of primitives`);
  return x as Observation;
}

function divergence(x: unknown): EntryDivergence | null {
  if (x === null || x === undefined) return null;
  need(isObj(x), "'divergence' must be null or an object");
  need(typeof x.kind === 'string' && x.kind in DIVERGENCE_KINDS, `'divergence.kind' must be one of ${Object.keys(DIVERGENCE_KINDS).join('|')}`);
  need(isCount(x.step), "'divergence.step' must be a non-negative integer");
  need(typeof x.event === 'string', "'divergence.event' must be a string");
  need(Array.isArray(x.fields) && x.fields.every((f) => isObj(f) && typeof f.path === 'string' && isPrimitive(f.left) && isPrimitive(f.right)),
    "'divergence.fields' must be a list of {path, left, right}");
  need(x.error === undefined || typeof x.error === 'string', "'divergence.error' must be a string");
  const d: EntryDivergence = {
    kind: x.kind as DivergenceKind, step: x.step, event: x.event, fields: x.fields as FieldDiff[],
    left: observation(x.left ?? null, 'divergence.left'), right: observation(x.right ?? null, 'divergence.right'),
  };
  if (x.error !== undefined) d.error = x.error;
  return d;
}

function cause(x: unknown): EntryCause {
  need(isObj(x), "'cause' must be an object");
  need(typeof x.id === 'string' && typeof x.kind === 'string' && typeof x.function === 'string', "'cause' needs string 'id', 'kind' and 'function'");
  need(ID_RE.test(x.id), `'cause.id' must be 12 hex digits, got ${JSON.stringify(x.id.slice(0, 40))}`);
  need(isStringArray(x.patches), "'cause.patches' must be a list of strings");
  return { id: x.id, kind: x.kind, function: x.function, patches: x.patches };
}

function entry(x: unknown): CorpusEntry {
  need(isObj(x), 'not a corpus entry (the msgpack value is not a map)');
  need(x.schema === ENTRY_SCHEMA, `schema ${String(x.schema)}, this svmfuzz reads schema ${ENTRY_SCHEMA}`);
  need(x.alphabet === ALPHABET_VERSION,
    `alphabet version ${String(x.alphabet)}, this svmfuzz has alphabet version ${ALPHABET_VERSION} (the event list would mean something else)`);
  need(typeof x.pair === 'string', "'pair' is missing or not a string");
  // Unknown top-level members are dropped: the schema number guards incompatible layouts.
  const e: CorpusEntry = {
    schema: ENTRY_SCHEMA, alphabet: ALPHABET_VERSION, pair: x.pair,
    left: versionRef(x.left, 'left'), right: versionRef(x.right, 'right'),
    config: config(x.config), events: events(x.events), origin: origin(x.origin),
    expected: expected(x.expected), divergence: divergence(x.divergence),
  };
  if (x.cause !== undefined) e.cause = cause(x.cause);
  return e;
}

/** A hint for the common mistake of passing min.txt where min.msgpack is wanted. */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 16)).trimStart();
  return head.startsWith('config') || head.startsWith('#');
}

export function decodeEntry(bytes: Uint8Array, file: string): CorpusEntry {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    const hint = looksLikeText(bytes) ? ' (this looks like a text stream; pass the .msgpack file)' : '';
    throw new EntryError(file, `not a msgpack corpus entry: ${(err as Error).message}${hint}`);
  }
  try {
    return entry(value);
  } catch (err) {
    if (err instanceof Bad) throw new EntryError(file, err.message);
    throw err;
  }
}

export function readEntryFile(file: string): CorpusEntry {
  let bytes: Uint8Array;
  try {
    bytes = readInputFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof InputFileError) throw new EntryError(file, err.message.slice(file.length + 2));
    throw new EntryError(file, `cannot read: ${e.code ?? e.message}`);
  }
  return decodeEntry(bytes, file);
}

export function writeEntryFile(file: string, e: CorpusEntry): void {
  writeFileAtomic(file, encodeEntry(e));
}
