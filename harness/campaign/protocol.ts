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
  /** Float64Array memory the lane writes its current iteration into (see LaneConfig.progress). */
  progress?: SharedArrayBuffer;
  /** Iterations the lane skips: their inputs killed its thread (stored as crash findings). */
  skip?: number[];
}

/** A batch as the lane ran it: what it was sent, and how many executions it did. */
export interface RanBatch {
  shared: SharedInput[];
  focus: string[];
  runs: number;
}

export type LaneRequest =
  | { type: 'init'; init: LaneInit }
  | { type: 'batch'; lane: number; epoch: number; runs: number; deadline: number; shared: SharedInput[]; focus: string[] }
  /** Rebuild a lane from `init`, replay `batches`, and return the input of iteration `stopAt` without running it. */
  | { type: 'probe'; init: LaneInit; batches: RanBatch[]; stopAt: number };

export type LaneResponse =
  | { type: 'ready'; lane: number; epoch: number; coverage: number; corpus: number }
  | { type: 'report'; lane: number; epoch: number; iteration: number; report: BatchReport; rssBytes: number }
  | { type: 'no-lane'; lane: number; epoch: number }
  | { type: 'probed'; stream: Stream; origin: Origin }
  | { type: 'not-reached'; iteration: number };
