// A real Slurm run (npm run test:slurm, and .ci/run as root): a one-node cluster on this
// machine (deploy/slurm/local-cluster.sh installs and starts it when missing, and this
// test stops what it started), the project's own array script submitted as a user would
// (deploy/slurm/submit.sh), and the merged result checked. Skipped unless
// SVMFUZZ_SLURM_TEST=1: the default test run does not install system packages.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { root, tmp, unsharded } from '../testing/cli.js';

const enabled = process.env.SVMFUZZ_SLURM_TEST === '1';
const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = unsharded()) => spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env });
const running = (name: string) => sh('pgrep', ['-x', name]).status === 0;

describe.runIf(enabled)('Slurm: the array script and the merge job on a one-node cluster', () => {
  const startedHere = enabled && !running('slurmctld');
  afterAll(() => {
    if (startedHere) sh('bash', [join(root, 'deploy/slurm/local-cluster.sh'), 'stop']);
  });

  it('3 shards as a job array, then the merge job: every shard finished, every bucket in the merge', () => {
    const up = sh('bash', [join(root, 'deploy/slurm/local-cluster.sh')]);
    expect(up.status, up.stderr + up.stdout).toBe(0);
    const out = join(tmp('svmfuzz-slurm-'), 'campaign');
    const env = { ...unsharded(), SVMFUZZ_SEED: '7', SVMFUZZ_OUT: out, SVMFUZZ_RUNS: '2000', SVMFUZZ_ARGS: '--no-minimize' };
    const r = sh('bash', [join(root, 'deploy/slurm/submit.sh'), '3', '--wait'], env);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^submitted shards: job array \d+ \(0-2\)$/m);
    const shards = [0, 1, 2].map((i) => JSON.parse(readFileSync(join(out, `shard-${i}-of-3`, 'summary.json'), 'utf8')));
    for (const s of shards) expect(s.execs).toBe(2000);
    expect(new Set(shards.map((s) => s.seed)).size).toBe(3);
    const merged = JSON.parse(readFileSync(join(out, 'merged', 'summary.json'), 'utf8'));
    expect(merged.execs).toBe(6000);
    expect(merged.merged).toHaveLength(3);
    const union = new Set(shards.flatMap((s) => s.buckets.map((b: { id: string }) => b.id)));
    expect(merged.buckets.map((b: { id: string }) => b.id).sort()).toEqual([...union].sort());
    expect(existsSync(join(out, 'merged', 'report.html'))).toBe(true);
    // The shards exchanged inputs (on a node with fewer cores than shards, one may run
    // after another finished: then it sees the other's files only).
    for (const s of shards) expect(s.sync.peers).toBeGreaterThanOrEqual(1);
    expect(shards.some((s) => s.sync.imported > 0)).toBe(true);
  }, 300_000);
});
