// Serves lane requests in whatever thread it is loaded in. It knows nothing of threads or
// pools (tests drive it in-process); harness/campaign/worker.ts hands it to piscina.

import { loadRegistry } from '../../models/registry.js';
import { Lane, ProbeStop, type Focus, type LaneConfig } from '../engine/lane.js';
import { applyPatches } from '../triage/attribute.js';
import { focusLabel } from '../triage/focus.js';
import type { LaneInit, LaneRequest, LaneResponse } from './protocol.js';

const lanes = new Map<number, { lane: Lane; epoch: number }>();

async function makeLane(i: LaneInit): Promise<Lane> {
  const reg = await loadRegistry(i.modelFiles);
  const lane = new Lane({
    seed: i.seed, lane: i.lane, pair: i.pair, left: reg.version(i.left), right: reg.version(i.right), config: i.config,
    maxLen: i.maxLen, samplesPerBucket: i.samplesPerBucket, corpusCap: i.corpusCap, hangMs: i.hangMs,
    progress: i.progress ? new Float64Array(i.progress) : undefined,
  });
  lane.iteration = i.iteration;
  lane.skip = new Set(i.skip ?? []);
  for (const [id, n] of Object.entries(i.knownSamples)) lane.knowSamples(id, n);
  for (const input of i.corpus) lane.addInput(input.stream, input.origin);
  return lane;
}

export async function handle(req: LaneRequest): Promise<LaneResponse> {
  if (req.type === 'init') {
    const i = req.init;
    const lane = await makeLane(i);
    lanes.set(i.lane, { lane, epoch: i.epoch });
    return { type: 'ready', lane: i.lane, epoch: i.epoch, coverage: lane.coverage.size, corpus: lane.corpusSize };
  }
  if (req.type === 'probe') {
    // The lane is deterministic: rebuilt from the same init and sent the same batches, it
    // draws the same inputs; the one of `stopAt` is returned before it runs.
    const lane = await makeLane({ ...req.init, progress: undefined });
    lane.stopAt = req.stopAt;
    try {
      for (const b of req.batches) {
        for (const input of b.shared) lane.addInput(input.stream, input.origin);
        lane.setFocus(focusOf(lane.cfg, b.focus));
        lane.runBatch(b.runs);
      }
    } catch (err) {
      if (err instanceof ProbeStop) return { type: 'probed', stream: err.stream, origin: err.origin };
      throw err;
    }
    return { type: 'not-reached', iteration: lane.iteration };
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
