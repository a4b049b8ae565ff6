// Shards: one campaign split over the tasks of a batch engine's array (Slurm job arrays,
// Kubernetes Indexed Jobs) or over processes a user starts by hand. Each shard is an
// ordinary campaign in its own directory under the output root, whose seed derives from
// (campaign seed, shard index): lanes' seeds derive from it and the lane, so no two shards
// draw the same streams, and every finding reproduces from its shard's seed, lane and
// iteration like any other.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed } from '../engine/rng.js';
import { writeFileAtomic } from '../store/fsutil.js';

export interface Shard {
  /** 0-based index of this shard. */
  readonly index: number;
  /** How many shards the campaign has. */
  readonly count: number;
  /** Where the index came from. */
  readonly source: 'flag' | 'slurm' | 'kubernetes';
}

/** What a shard directory records about its shard (shard.json). */
export interface ShardRecord {
  schema: 1;
  campaignSeed: number;
  index: number;
  count: number;
  /** The shard's own campaign seed (its summary.json says the same). */
  seed: number;
  source: Shard['source'];
}

/** A shard option or environment that cannot be used; the message names it. */
export class ShardError extends Error {}

const MAX_SHARDS = 100_000;
/** Keeps shard seeds apart from other derivations of the same campaign seed. */
const SHARD_TAG = 0x5348;

function int(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d+$/.test(text.trim())) throw new ShardError(`${what} must be a non-negative integer (got '${text ?? ''}')`);
  return Number(text.trim());
}

function checked(index: number, count: number, source: Shard['source'], what: string): Shard {
  if (count < 1 || count > MAX_SHARDS) throw new ShardError(`${what}: the shard count must be 1..${MAX_SHARDS} (got ${count})`);
  if (index >= count) throw new ShardError(`${what}: shard index ${index} is not below the count ${count}`);
  return { index, count, source };
}

/**
 * The shard this process runs: `--shard I/N` if given; else a Slurm array task
 * (SLURM_ARRAY_TASK_ID, _COUNT, _MIN and _STEP: the index is the task's position in the
 * array); else a Kubernetes Indexed Job pod (JOB_COMPLETION_INDEX, with the count from
 * `--shard-count`, which the pod's environment does not carry); else null (no shards).
 */
export function resolveShard(flag: string | undefined, countFlag: string | undefined, env: Record<string, string | undefined>): Shard | null {
  if (flag !== undefined) {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(flag);
    if (!m) throw new ShardError(`--shard takes I/N, the 0-based shard index and the shard count (got '${flag}')`);
    if (countFlag !== undefined) throw new ShardError('--shard I/N already gives the count: leave out --shard-count');
    return checked(Number(m[1]), Number(m[2]), 'flag', '--shard');
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = int(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID');
    const count = int(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN');
    const step = env.SLURM_ARRAY_TASK_STEP === undefined ? 1 : int(env.SLURM_ARRAY_TASK_STEP, 'SLURM_ARRAY_TASK_STEP');
    if (step < 1 || id < min || (id - min) % step !== 0) {
      throw new ShardError(`SLURM_ARRAY_TASK_ID ${id} is not in the array ${min}..(step ${step}); run the array as --array=0-N or give --shard I/N`);
    }
    if (countFlag !== undefined && int(countFlag, '--shard-count') !== count) {
      throw new ShardError(`--shard-count ${countFlag} disagrees with SLURM_ARRAY_TASK_COUNT ${count}`);
    }
    return checked((id - min) / step, count, 'slurm', 'SLURM_ARRAY_TASK_ID');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (countFlag === undefined) throw new ShardError("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give --shard-count N, the Job's completions");
    return checked(int(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX'), int(countFlag, '--shard-count'), 'kubernetes', 'JOB_COMPLETION_INDEX');
  }
  if (countFlag !== undefined) throw new ShardError('--shard-count needs a shard index: --shard I/N, a Slurm array task or JOB_COMPLETION_INDEX');
  return null;
}

/** The shard's campaign seed, derived from the campaign seed and the shard index: unsigned, as `--seed` takes it. */
export function shardSeed(campaignSeed: number, shard: Shard): number {
  return deriveSeed(campaignSeed, SHARD_TAG, shard.index) >>> 0;
}

/** The shard's directory under the output root. */
export function shardDir(out: string, shard: Shard): string {
  return join(out, `shard-${shard.index}-of-${shard.count}`);
}

/** Reads a shard directory's shard.json, or null when it has none (a fresh shard). */
export function readShardRecord(dir: string): ShardRecord | null {
  let text: string;
  try {
    text = readFileSync(join(dir, 'shard.json'), 'utf8');
  } catch {
    return null;
  }
  try {
    const r = JSON.parse(text) as ShardRecord;
    if (r.schema !== 1 || !Number.isInteger(r.campaignSeed) || !Number.isInteger(r.index) || !Number.isInteger(r.count)) throw new Error('fields missing');
    return r;
  } catch (err) {
    throw new ShardError(`${join(dir, 'shard.json')}: not a shard record (${(err as Error).message}); move it away to start the shard afresh`);
  }
}

/** Writes shard.json (atomically: a killed write leaves the old one or none). */
export function writeShardRecord(dir: string, r: ShardRecord): void {
  writeFileAtomic(join(dir, 'shard.json'), `${JSON.stringify(r, null, 2)}\n`, true);
}
