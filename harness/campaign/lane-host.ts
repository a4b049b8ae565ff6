// Serves lane requests in whatever thread it is loaded in. It knows nothing of threads or
// pools (tests drive it in-process); harness/campaign/worker.ts hands it to piscina.

import { loadRegistry } from '../../models/registry.js';
import { Lane, type Focus, type LaneConfig } from '../engine/lane.js';
import { applyPatches } from '../triage/attribute.js';
import { focusLabel } from '../triage/focus.js';
import type { LaneRequest, LaneResponse } from './protocol.js';

const lanes = new Map<number, { lane: Lane; epoch: number }>();

export async function handle(req: LaneRequest): Promise<LaneResponse> {
  if (req.type === 'init') {
    const i = req.init;
    const reg = await loadRegistry(i.modelFiles);
    const lane = new Lane({
      seed: i.seed, lane: i.lane, pair: i.pair, left: reg.version(i.left), right: reg.version(i.right), config: i.config,
      maxLen: i.maxLen, samplesPerBucket: i.samplesPerBucket, corpusCap: i.corpusCap, hangMs: i.hangMs,
    });
    lane.iteration = i.iteration;
    for (const [id, n] of Object.entries(i.knownSamples)) lane.knowSamples(id, n);
    for (const input of i.corpus) lane.addInput(input.stream, input.origin);
    lanes.set(i.lane, { lane, epoch: i.epoch });
    return { type: 'ready', lane: i.lane, epoch: i.epoch, coverage: lane.coverage.size, corpus: lane.corpusSize };
  }
  const held = lanes.get(req.lane);
  if (!held || held.epoch !== req.epoch) return { type: 'no-lane', lane: req.lane, epoch: req.epoch };
  for (const input of req.shared) held.lane.addInput(input.stream, input.origin);
  held.lane.setFocus(focusOf(held.lane.cfg, req.focus));
  const report = held.lane.runBatch(req.runs, req.deadline);
  return { type: 'report', lane: req.lane, epoch: req.epoch, iteration: held.lane.iteration, report, rssBytes: process.memoryUsage().rss };
}

/** The focused pair for a set of patch ids (those of the causes found so far), or null. */
export function focusOf(cfg: Pick<LaneConfig, 'pair' | 'left' | 'right'>, patches: readonly string[]): Focus | null {
  if (!patches.length) return null;
  return { label: focusLabel(cfg.pair, patches), left: applyPatches(cfg.left, cfg.right, new Set(patches)) };
}
