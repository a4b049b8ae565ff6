// Shards: which shard a process runs (flag, Slurm array, Kubernetes Indexed Job), the
// seeds they derive, and `fuzz --shard` end to end: a directory per shard, reproducible
// shards, distinct streams, resume, and exit 2 for what cannot be used.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveShard, shardSeed, shardDir } from './shard.js';
import { cli, run, tmp as tmpDir, unsharded } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-shard-');
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

describe('resolveShard', () => {
  it('reads --shard I/N, a Slurm array task (min and step included) and a Kubernetes index with --shard-count', () => {
    expect(resolveShard('2/5', undefined, {})).toEqual({ index: 2, count: 5, source: 'flag' });
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 3, count: 4, source: 'slurm' });
    // --array=10-16:2 has tasks 10, 12, 14, 16: task 14 is the third.
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '14', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '2' }))
      .toEqual({ index: 2, count: 4, source: 'slurm' });
    expect(resolveShard(undefined, '8', { JOB_COMPLETION_INDEX: '7' })).toEqual({ index: 7, count: 8, source: 'kubernetes' });
    // The flag wins over the environment.
    expect(resolveShard('0/2', undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' })).toMatchObject({ index: 0, source: 'flag' });
    expect(resolveShard(undefined, undefined, {})).toBeNull();
  });

  it('refuses what would run the wrong shard, naming the flag or variable', () => {
    expect(() => resolveShard('3/3', undefined, {})).toThrow(/shard index 3 is not below the count 3/);
    expect(() => resolveShard('1-3', undefined, {})).toThrow(/--shard takes I\/N/);
    expect(() => resolveShard('0/0', undefined, {})).toThrow(/count must be 1\.\./);
    expect(() => resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '1' })).toThrow(/JOB_COMPLETION_INDEX is set .* give --shard-count N/);
    expect(() => resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '1' })).toThrow(/SLURM_ARRAY_TASK_COUNT must be a non-negative integer/);
    expect(() => resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '13', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '2' }))
      .toThrow(/not in the array/);
    expect(() => resolveShard(undefined, '3', {})).toThrow(/--shard-count needs a shard index/);
    expect(() => resolveShard('1/2', '2', {})).toThrow(/leave out --shard-count/);
  });

  it('gives every shard its own seed and directory', () => {
    const seeds = new Set(Array.from({ length: 64 }, (_, i) => shardSeed(1, { index: i, count: 64, source: 'flag' })));
    expect(seeds.size).toBe(64);
    for (const s of seeds) expect(s).toBeGreaterThanOrEqual(0);
    expect(shardDir('out', { index: 3, count: 8, source: 'flag' })).toBe(join('out', 'shard-3-of-8'));
  });
});

describe('svmfuzz fuzz --shard', () => {
  const fuzz = (out: string, ...extra: string[]) => run('fuzz', '--pair', 'all', '--runs', '3000', '--workers', '1', '--no-minimize', '--out', out, ...extra);

  it('runs each shard in OUT/shard-I-of-N with its own seed; the same shard twice gives the same buckets; other shards draw other streams', () => {
    const [a, b] = [tmp(), tmp()];
    expect(fuzz(a, '--seed', '9', '--shard', '0/2').code).toBe(0);
    expect(fuzz(a, '--seed', '9', '--shard', '1/2').code).toBe(0);
    expect(fuzz(b, '--seed', '9', '--shard', '1/2').code).toBe(0);
    const s0 = summaryOf(join(a, 'shard-0-of-2'));
    const s1 = summaryOf(join(a, 'shard-1-of-2'));
    const rec = JSON.parse(readFileSync(join(a, 'shard-1-of-2', 'shard.json'), 'utf8'));
    expect(rec).toEqual({ schema: 1, campaignSeed: 9, index: 1, count: 2, seed: s1.seed, source: 'flag' });
    expect(s0.seed).not.toBe(s1.seed);
    const ids = (s: { buckets: { id: string }[] }) => s.buckets.map((x) => x.id).sort();
    expect(ids(summaryOf(join(b, 'shard-1-of-2')))).toEqual(ids(s1));
    // A shard is an ordinary campaign: the same run without --shard, from the shard's seed.
    const plain = tmp();
    expect(fuzz(plain, '--seed', String(s1.seed)).code).toBe(0);
    expect(ids(summaryOf(plain))).toEqual(ids(s1));
    expect(existsSync(join(a, 'summary.json'))).toBe(false);
  }, 120_000);

  it('takes the shard from a Slurm array task, and resumes a shard without --seed', () => {
    const out = tmp();
    const env = { ...unsharded(), SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3' };
    const r = spawnSync(process.execPath, [cli, 'fuzz', '--pair', 'all', '--runs', '2000', '--workers', '1', '--no-minimize', '--seed', '4', '--out', out], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^INFO: shard 2\/3 \(Slurm array task\) of campaign seed 4$/m);
    const dir = join(out, 'shard-2-of-3');
    expect(summaryOf(dir).execs).toBe(2000);
    const resumed = run('fuzz', '--pair', 'all', '--runs', '4000', '--workers', '1', '--no-minimize', '--shard', '2/3', '--resume', '--out', out);
    expect(resumed.code, resumed.err).toBe(0);
    expect(summaryOf(dir).execs).toBe(4000);
    // Another campaign's seed in the same directory is refused.
    const other = run('fuzz', '--pair', 'all', '--runs', '5000', '--shard', '2/3', '--seed', '5', '--resume', '--out', out);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/shard-2-of-3 holds shard 2\/3 of campaign seed 4, not shard 2\/3 of seed 5/);
  }, 120_000);

  it('bad shard input: exit 2 naming it, nothing written', () => {
    const out = tmp();
    const noSeed = fuzz(out, '--shard', '0/2');
    expect(noSeed.code).toBe(2);
    expect(noSeed.err).toMatch(/a sharded campaign needs --seed S/);
    const bad = fuzz(out, '--seed', '1', '--shard', '2/2');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--shard: shard index 2 is not below the count 2/);
    expect(existsSync(join(out, 'shard-0-of-2'))).toBe(false);
  });
});
