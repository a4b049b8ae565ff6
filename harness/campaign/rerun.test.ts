// The rerun contract and resume from anywhere: a second campaign into an --out that holds
// one is refused (exit 2, as AFL++ does) instead of hiding its findings behind the first
// one's buckets; --resume continues it from another cwd, after the directory moved, after
// a kill before the first state save, and refuses a damaged campaign.json.

import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, run, runIn, tmp as tmpDir, unsharded } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-rerun-');
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const fuzz = (out: string, ...extra: string[]) => run('fuzz', '--pair', 'all', '--workers', '1', '--seed', '5', '--runs', '3000', '--out', out, ...extra);

describe('rerun and resume', () => {
  it('a second campaign into the same --out is refused, naming --resume; the first one is untouched', () => {
    const out = tmp();
    expect(fuzz(out).code).toBe(0);
    const before = readFileSync(join(out, 'summary.json'), 'utf8');
    const r = fuzz(out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${out} holds an earlier run (${join(out, 'campaign.json')}): continue it with --resume, or give another --out`);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(before);
    // Another pair cannot resume it either.
    const other = run('fuzz', '--pair', 'vnmi-iret', '--workers', '1', '--seed', '5', '--runs', '100', '--out', out, '--resume');
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/fuzzed all \(v6\.7 vs v6\.14\), not vnmi-iret/);
  }, 60_000);

  it('--resume after the directory moved, from another working directory: buckets kept, counters continue', () => {
    const first = join(tmp(), 'run');
    expect(fuzz(first).code).toBe(0);
    const s1 = json(join(first, 'summary.json'));
    const moved = join(tmp(), 'elsewhere');
    cpSync(first, moved, { recursive: true });
    const r = runIn(dirname(moved), 'fuzz', '--pair', 'all', '--workers', '1', '--seed', '5', '--runs', '6000', '--out', 'elsewhere', '--resume');
    expect(r.code, r.err).toBe(0);
    const s2 = json(join(moved, 'summary.json'));
    expect(s2.execs).toBe(6000);
    const ids = (s: { buckets: { id: string }[] }) => s.buckets.map((b) => b.id);
    expect(ids(s2)).toEqual(expect.arrayContaining(ids(s1)));
    // campaign.json keeps bucket directories relative to --out.
    for (const b of json(join(moved, 'campaign.json')).buckets) expect(existsSync(join(moved, b.dir))).toBe(true);
  }, 60_000);

  it('a campaign killed before its first state save resumes from its buckets, with its own seed', async () => {
    const out = tmp();
    const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--workers', '1', '--seed', '77', '--duration', '60s', '--out', out], { stdio: 'ignore', env: unsharded() });
    // Kill as soon as the first bucket's first sample is on disk and before campaign.json.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        const all = join(out, 'all');
        const has = existsSync(all) && readdirSync(all).some((d) => existsSync(join(all, d, 'samples', '0000.msgpack'))) && !existsSync(join(out, 'campaign.json'));
        if (has || existsSync(join(out, 'campaign.json'))) { clearInterval(t); child.kill('SIGKILL'); resolve(); }
      }, 5);
    });
    await new Promise((r) => child.on('exit', r));
    if (existsSync(join(out, 'campaign.json'))) return; // the save came first on this machine: covered by the kill -9 test
    const r = run('fuzz', '--pair', 'all', '--workers', '1', '--runs', '2000', '--out', out, '--resume');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^INFO: seed: 77$/m);
    expect(r.out).toMatch(/RESUME_FROM_DISK/);
  }, 60_000);

  it('a damaged campaign.json is refused with exit 2 and the reason, not trusted', () => {
    const out = tmp();
    expect(fuzz(out).code).toBe(0);
    const st = json(join(out, 'campaign.json'));
    for (const damage of [{ ...st, laneIterations: [-1] }, { ...st, execs: 'many' }, { ...st, buckets: [{ id: '../x', dir: '.', count: 1 }] }]) {
      writeFileSync(join(out, 'campaign.json'), JSON.stringify(damage));
      const r = fuzz(out, '--resume');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/damaged campaign state/);
    }
  }, 60_000);
});
