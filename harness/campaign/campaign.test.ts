// End to end: overnight-campaign behaviour through the CLI: worker lanes, stats, resume
// after kill -9, determinism, a user's model file, and models that throw, hang or kill
// their thread.

import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEntryFile } from '../store/codec.js';
import { root, cli, run, tmp as tmpDir, unsharded } from '../testing/cli.js';

const faults = join(root, 'models/examples/fault-models.js');
const tmp = () => tmpDir('svmfuzz-camp-');
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const SEED1 = 'all|observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits';
const SEED2 = 'all|observable|delivery_fault|vmcb12.int_state';

describe('campaign with worker lanes', () => {
  it('2 workers for a few seconds: both seed buckets, stats.jsonl per interval, summary, reproducers', () => {
    const out = tmp();
    const r = run('fuzz', '--pair', 'all', '--workers', '2', '--seed', '4', '--duration', '6s', '--out', out);
    expect(r.code).toBe(0);
    const s = json(join(out, 'summary.json'));
    expect(s.workers).toBe(2);
    expect(s.stopped).toBe('duration');
    const sigs = s.buckets.map((b: { signature: string }) => b.signature);
    expect(sigs).toContain(SEED1);
    expect(sigs).toContain(SEED2);
    // The end of --duration stops minimization at once (the queue waits for --resume): on a
    // loaded machine a seed bucket may be among those left, and the campaign says so; then
    // `svmfuzz minimize` gives its reproducer.
    for (const b of s.buckets.filter((x: { signature: string }) => x.signature === SEED1 || x.signature === SEED2)) {
      if (!existsSync(join(b.dir, 'min.msgpack'))) {
        expect(r.out + r.err).toMatch(/MINIMIZE_LEFT \d+ bucket\(s\) not minimized \(stopped by duration\)/);
        expect(run('minimize', b.dir).code).toBe(0);
      }
      expect(existsSync(join(b.dir, 'min.msgpack'))).toBe(true);
      expect(existsSync(join(b.dir, 'min.txt'))).toBe(true);
    }
    const stats = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(stats.length).toBeGreaterThanOrEqual(3);
    for (const st of stats) {
      expect(st).toMatchObject({ execs: expect.any(Number), execPerSec: expect.any(Number), coverage: expect.any(Number), buckets: expect.any(Number), rssMb: expect.any(Number) });
      expect(st.lanes).toHaveLength(2);
    }
    expect(stats.at(-1).execs).toBe(s.execs);
  });

  it('is deterministic with --runs and the same --workers', () => {
    const [a, b] = [tmp(), tmp()];
    for (const out of [a, b]) expect(run('fuzz', '--pair', 'all', '--workers', '2', '--seed', '11', '--runs', '12000', '--out', out).code).toBe(0);
    const ids = (out: string) => json(join(out, 'summary.json')).buckets.map((x: { id: string; count: number }) => `${x.id}:${x.count}`).sort();
    expect(ids(a)).toEqual(ids(b));
    for (const id of readdirSync(join(a, 'all')).filter((d) => d !== 'causes')) {
      expect(readFileSync(join(a, 'all', id, 'min.msgpack')).equals(readFileSync(join(b, 'all', id, 'min.msgpack')))).toBe(true);
    }
    // Causes too: the same ids, and byte-identical cause reproducers, with two lanes.
    const causes = (out: string) => json(join(out, 'summary.json')).causes.map((c: { id: string }) => c.id);
    expect(causes(a)).toEqual(causes(b));
    for (const id of causes(a)) {
      expect(readFileSync(join(a, 'all', 'causes', id, 'min.msgpack')).equals(readFileSync(join(b, 'all', 'causes', id, 'min.msgpack')))).toBe(true);
    }
  });

  it('kill -9 at a random moment, then --resume: files readable, buckets kept, counters continue', async () => {
    const out = tmp();
    const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--workers', '2', '--seed', '21', '--duration', '60s', '--out', out], { stdio: 'ignore', env: unsharded() });
    await new Promise((r) => setTimeout(r, 2500 + Math.floor(Math.random() * 1500)));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const before = json(join(out, 'campaign.json'));
    const bucketsBefore = readdirSync(join(out, 'all')).filter((d) => d !== 'causes');
    // Every entry the killed campaign left decodes (atomic writes: no half-written file).
    // A kill right after a bucket's directory was made leaves it without samples yet (the
    // store fills it in when the bucket is seen again).
    const withSamples: string[] = [];
    for (const id of bucketsBefore) {
      const dir = join(out, 'all', id);
      if (existsSync(join(dir, 'samples'))) {
        withSamples.push(id);
        for (const f of readdirSync(join(dir, 'samples'))) expect(readEntryFile(join(dir, 'samples', f)).pair).toBe('all');
      }
      if (existsSync(join(dir, 'min.msgpack'))) expect(readEntryFile(join(dir, 'min.msgpack')).pair).toBe('all');
    }
    expect(withSamples.length).toBeGreaterThan(0);
    expect(run('print', join(out, 'all', withSamples[0]!)).code).toBe(0);
    const r = run('fuzz', '--pair', 'all', '--workers', '2', '--resume', '--duration', '2s', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^RESUME \d+ execs/m);
    const after = json(join(out, 'summary.json'));
    expect(after.seed).toBe(21);
    expect(after.execs).toBeGreaterThan(before.execs);
    const ids = after.buckets.map((b: { id: string }) => b.id);
    // Every bucket that had a sample on disk is kept (one with none yet held nothing to keep).
    for (const id of withSamples) expect(ids).toContain(id);
  });

  it('a second campaign on the same directory is refused', async () => {
    const out = tmp();
    const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--workers', '1', '--duration', '20s', '--out', out], { stdio: 'ignore', env: unsharded() });
    await new Promise((r) => setTimeout(r, 1500));
    const r = run('fuzz', '--pair', 'all', '--runs', '10', '--out', out);
    child.kill('SIGINT');
    await new Promise((res) => child.on('exit', res));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is in use by a running campaign \(pid \d+\)/);
    expect(json(join(out, 'summary.json')).stopped).toBe('signal');
  });
});

describe('faults in user models', () => {
  it('throw and hang are findings, each reproducible with trace; the budget is finished', () => {
    const out = tmp();
    const models = join(tmp(), 'faults-elsewhere.js'); // a model file outside the repository
    copyFileSync(faults, models);
    const r = run('fuzz', '--models', models, '--pair', 'faults', '--workers', '2', '--seed', '1', '--duration', '15s', '--hang-timeout', '300ms', '--out', out);
    expect(r.code).toBe(0);
    const s = json(join(out, 'summary.json'));
    expect(s.stopped).toBe('duration');
    const throwing = s.buckets.find((b: { kind: string }) => b.kind === 'left-throws');
    const hanging = s.buckets.find((b: { kind: string }) => b.kind === 'hang');
    expect(throwing).toBeDefined();
    expect(hanging).toBeDefined();
    const t1 = JSON.parse(run('trace', join(throwing.dir, 'min.msgpack'), '--models', models, '--json').out);
    expect(t1.firstDivergence.kind).toBe('left-throws');
    expect(t1.firstDivergence.error).toMatch(/BUG: example fault/);
    const t2 = run('trace', join(hanging.dir, 'min.msgpack'), '--models', models, '--json');
    expect(JSON.parse(t2.out).firstDivergence.kind).toBe('hang');
    // Triage: a throw and a hang are caused by the innermost table function open at that moment.
    const causeOf = (b: { cause: string }) => s.causes.find((c: { id: string }) => c.id === b.cause);
    expect(causeOf(throwing)).toMatchObject({ kind: 'throw', function: 'svm_inject_irq', patches: ['example-bug-irq-ec'] });
    expect(causeOf(hanging)).toMatchObject({ kind: 'hang', function: 'iret_interception', patches: ['example-hang-l2-iret'] });
  }, 60_000);

  it('a model that kills its thread: lanes are replaced, lost batches counted, the campaign goes on', () => {
    const out = tmp();
    const r = run('fuzz', '--models', faults, '--pair', 'lane-killer', '--workers', '2', '--seed', '1', '--duration', '4s', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^LANE_LOST lane \d: worker exited with code: 42/m);
    const s = json(join(out, 'summary.json'));
    expect(s.lostBatches).toBeGreaterThan(0);
    expect(s.execs).toBeGreaterThan(0);
    const stats = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(stats.at(-1).lostBatches).toBe(s.lostBatches);
  });

  it('a model file that does not load: exit 2 naming it', () => {
    const r = run('list', '--models', join(tmp(), 'missing.js'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.js: cannot load the model file/);
  });
});
