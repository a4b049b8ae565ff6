// The supervisor <-> lane worker protocol: one discriminated union each way. Workers
// never send per-stream messages: one request per batch, one report back.

import type { SvmConfig } from '../../models/svm/config.js';
import type { BatchReport } from '../engine/lane.js';
import type { Origin } from '../store/entry.js';
import type { Stream } from '../text/text.js';

export interface SharedInput {
  stream: Stream;
  origin: Origin;
}

export interface LaneInit {
  lane: number;
  /** Bumped each time the supervisor (re)creates the lane, e.g. after its thread died. */
  epoch: number;
  seed: number;
  pair: string;
  left: string;
  right: string;
  modelFiles: string[];
  config: SvmConfig;
  maxLen: number;
  samplesPerBucket: number;
  corpusCap: number;
  hangMs: number;
  /** First iteration to run (a resumed lane continues its numbering). */
  iteration: number;
  corpus: SharedInput[];
  knownSamples: Record<string, number>;
}

export type LaneRequest =
  | { type: 'init'; init: LaneInit }
  | { type: 'batch'; lane: number; epoch: number; runs: number; deadline: number; shared: SharedInput[]; focus: string[] };

export type LaneResponse =
  | { type: 'ready'; lane: number; epoch: number; coverage: number; corpus: number }
  | { type: 'report'; lane: number; epoch: number; iteration: number; report: BatchReport; rssBytes: number }
  | { type: 'no-lane'; lane: number; epoch: number };
