// The on-disk unit: a corpus/crash entry. Plain data, encoded with msgpack
// (Packr({useRecords:false}), readable by any msgpack decoder) and versioned by `schema`.

import type { SvmConfig } from '../../models/svm/config.js';
import type { SvmEvent } from '../../models/svm/events.js';
import type { Observation } from '../../models/svm/observe.js';
import type { DivergenceKind, FieldDiff } from '../engine/execute.js';

/** Bump when the entry layout changes incompatibly. */
export const ENTRY_SCHEMA = 1;
/** Bump when the alphabet changes so that old event lists mean something else. */
export const ALPHABET_VERSION = 1;

/** Where an input came from: it reproduces from (seed, lane, iteration) alone. */
export interface Origin {
  seed: number;
  lane: number;
  iteration: number;
  /** Names of the mutators that made it from its parent (libFuzzer's "MS:" line). */
  lineage: string[];
}

export interface VersionRef {
  id: string;
  patches: string[];
}

export type Expected =
  | { outcome: 'diverges'; signature: string; signatureId: string }
  | { outcome: 'equal' };

export interface EntryDivergence {
  kind: DivergenceKind;
  step: number;
  event: string;
  fields: FieldDiff[];
  left: Observation | null;
  right: Observation | null;
  error?: string;
}

/** The cause an entry reproduces (a cause's minimized reproducer carries it). */
export interface EntryCause {
  id: string;
  kind: string;
  function: string;
  patches: string[];
}

export interface CorpusEntry {
  schema: number;
  alphabet: number;
  pair: string;
  left: VersionRef;
  right: VersionRef;
  config: SvmConfig;
  events: SvmEvent[];
  origin: Origin | null;
  expected: Expected;
  divergence: EntryDivergence | null;
  cause?: EntryCause;
}
