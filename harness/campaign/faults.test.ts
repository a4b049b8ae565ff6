// The fault contract of a campaign, tested the way SQLite tests I/O errors: signals
// (a first one stops at once with the summary written, a second exits at once with the
// state saved, SIGHUP too), a closed stdout, --duration as a wall-time bound, a model that
// kills the supervisor thread (exit, out of memory) during minimization, bad output paths
// and a full disk.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, root, run, tmp as tmpDir, unsharded } from '../testing/cli.js';
import { writeKillerModel } from '../testing/killer-model.js';

const tmp = () => tmpDir('svmfuzz-faults-');
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[]) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: unsharded() });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exit, get out() { return out; }, get err() { return err; } };
}

/** Waits until `pred` holds (polling), at most `ms`. */
async function until(pred: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!pred() && Date.now() - t0 < ms) await sleep(20);
}

describe('signals', () => {
  it('SIGINT stops within 2 s with the summary written (stopped: signal); a second SIGINT exits at once (130) with the state saved, and --resume continues', async () => {
    const out = tmp();
    const a = start(['fuzz', '--pair', 'all', '--workers', '2', '--seed', '3', '--duration', '60s', '--out', out]);
    await until(() => /pulse/.test(a.out), 20_000);
    const t0 = Date.now();
    a.child.kill('SIGINT');
    expect(await a.exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000 + 1000); // + the report, written at the end
    expect(json(join(out, 'summary.json')).stopped).toBe('signal');

    const out2 = tmp();
    const b = start(['fuzz', '--pair', 'all', '--workers', '2', '--seed', '3', '--duration', '60s', '--out', out2]);
    await until(() => /pulse/.test(b.out) && existsSync(join(out2, 'campaign.json')), 20_000);
    b.child.kill('SIGINT');
    await sleep(150); // two signals sent at once arrive as one
    b.child.kill('SIGINT');
    const t1 = Date.now();
    expect(await b.exit).toBe(130);
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(b.err).toMatch(/exiting now; the campaign state is saved/);
    expect(existsSync(join(out2, '.lock'))).toBe(false);
    const r = run('fuzz', '--pair', 'all', '--workers', '1', '--runs', String(json(join(out2, 'campaign.json')).execs + 2000), '--out', out2, '--resume');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^RESUME /m);
  }, 90_000);

  it('SIGHUP (a closed terminal) stops like SIGINT, with the summary', async () => {
    const out = tmp();
    const a = start(['fuzz', '--pair', 'vnmi-iret', '--workers', '1', '--seed', '3', '--duration', '60s', '--out', out]);
    await until(() => /pulse/.test(a.out), 20_000);
    a.child.kill('SIGHUP');
    expect(await a.exit).toBe(0);
    expect(json(join(out, 'summary.json')).stopped).toBe('signal');
  }, 60_000);

  it('a closed stdout (`| head -1`) does not kill the campaign: it finishes and writes its summary', () => {
    const out = tmp();
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" fuzz --pair all --workers 1 --seed 2 --runs 6000 --out "${out}" | head -1`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('INFO: seed: 2');
    expect(json(join(out, 'summary.json')).execs).toBe(6000);
  }, 60_000);
});

describe('kill -9 at spread-out moments, then --resume', () => {
  // SVMFUZZ_KILL_TRIALS=50 npm test -- faults  runs the long form (figures in the README).
  const trials = Number(process.env.SVMFUZZ_KILL_TRIALS ?? 3);
  it(`${trials} trials: no bucket lost, no file unreadable`, async () => {
    let lost = 0;
    let unreadable = 0;
    let buckets = 0;
    for (let t = 0; t < trials; t++) {
      const out = tmp();
      const a = start(['fuzz', '--pair', 'all', '--workers', '2', '--seed', String(100 + t), '--duration', '60s', '--out', out]);
      await sleep(400 + ((t * 733) % 3000));
      a.child.kill('SIGKILL');
      await a.exit;
      const store = join(out, 'all');
      const before = existsSync(store) ? readdirSync(store).filter((d) => existsSync(join(store, d, 'samples', '0000.msgpack'))) : [];
      buckets += before.length;
      const rep = run('replay', out);
      unreadable += (rep.out.match(/^ERROR /gm) ?? []).length;
      const r = run('fuzz', '--pair', 'all', '--workers', '2', '--resume', '--runs', '1', '--out', out, '--no-minimize');
      if (before.length === 0 && !existsSync(join(out, 'campaign.json'))) continue; // killed before anything was written
      expect(r.code, r.err).toBe(0);
      const after = new Set(json(join(out, 'summary.json')).buckets.map((b: { id: string }) => b.id));
      lost += before.filter((id) => !after.has(id)).length;
    }
    console.log(`kill -9 trials: ${trials}, buckets on disk at the kill: ${buckets}, lost after --resume: ${lost}, unreadable files: ${unreadable}`);
    expect(lost).toBe(0);
    expect(unreadable).toBe(0);
  }, 600_000);
});

describe('budgets', () => {
  it('--duration bounds wall time, minimization included, also with throwing and hanging models', () => {
    const out = tmp();
    const t0 = Date.now();
    const r = run('fuzz', '--models', join(root, 'models/examples/fault-models.js'), '--pair', 'faults', '--workers', '1', '--seed', '1',
      '--duration', '4s', '--hang-timeout', '1s', '--out', out);
    const wall = Date.now() - t0;
    expect(r.code, r.err).toBe(0);
    // 4 s of budget, one hang-timeout for the execution in flight, the report and the
    // process start-up (measured: about 6 s; the old code took 20 s and more).
    expect(wall).toBeLessThan(4000 + 1000 + 4000);
    expect(json(join(out, 'summary.json')).stopped).toBe('duration');
  }, 60_000);
});

describe('a model that kills a lane thread', () => {
  it('the killing input is stored as a crash finding that reproduces, and the lane moves past it', () => {
    const out = tmp();
    const r = run('fuzz', '--models', join(root, 'models/examples/fault-models.js'), '--pair', 'lane-killer', '--workers', '1', '--seed', '1',
      '--duration', '8s', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^LANE_KILLER seed 1 lane 0 iteration \d+: its input is stored as a finding/m);
    // Every killer is regenerated (the replay draws the same inputs as the lane did: the
    // lane's init is a snapshot, not the supervisor's corpus as it grows afterwards).
    const killers = r.out.split('\n').filter((l) => l.startsWith('LANE_KILLER'));
    expect(killers.length).toBeGreaterThan(1);
    expect(killers.filter((l) => !/its input is stored as a finding/.test(l))).toEqual([]);
    const s = json(join(out, 'summary.json'));
    const crash = s.buckets.find((b: { kind: string }) => b.kind === 'crash');
    expect(crash.signature).toBe('lane-killer|crash|(stream)|worker exited with code: N');
    // The terminal summary names the crash bucket (it has no cause: it is not a divergence).
    expect(r.out).toContain(`CRASH 1 bucket(s) of inputs that killed a lane thread (a model exited or exhausted memory): ${crash.dir}`);
    expect(r.out).not.toMatch(/behaved the same on every stream/);
    // The lane keeps running between deaths (it skips the inputs that killed it).
    expect(s.execs).toBeGreaterThan(500);
    // Traced in this process, the stored input kills it the same way (exit 42).
    const samples = readdirSync(join(crash.dir, 'samples')).filter((f) => f.endsWith('.msgpack'));
    expect(samples.length).toBeGreaterThan(1);
    for (const f of samples) {
      const t = run('trace', join(crash.dir, 'samples', f), '--models', join(root, 'models/examples/fault-models.js'));
      expect(t.code, f).toBe(42);
    }
  }, 60_000);
});

describe('a model that kills the supervisor thread', () => {
  // Dies only where the supervisor runs it (triage, minimization): the lanes keep finding
  // its divergences, and minimizing one kills the thread.
  const model = (dir: string, how: 'exit' | 'oom') => writeKillerModel(dir, { id: 'killer', where: 'supervisor', how, code: 43 });

  for (const how of ['exit', 'oom'] as const) {
    it(`${how}: the campaign finishes its budget, says what it skipped, and writes its summary`, () => {
      const dir = tmp();
      const out = join(dir, 'out');
      const r = run('fuzz', '--models', model(dir, how), '--versions', 'v6.14,killer', '--workers', '1', '--seed', '1', '--runs', '4000',
        '--lane-heap-mb', '128', '--out', out, '--corpus', tmp());
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^SUPERVISOR_LOST .* while (triage|minimize|minimize-cause) [0-9a-f]{12}: restarting it from its saved state, skipping that job/m);
      expect(r.out).toMatch(/^SKIPPED (triage|minimize|minimize-cause) [0-9a-f]{12}: it killed the supervisor thread before/m);
      const s = json(join(out, 'summary.json'));
      expect(s.execs).toBe(4000);
      expect(s.buckets.length).toBeGreaterThan(0);
      expect(existsSync(join(out, '.lock'))).toBe(false);
    }, 120_000);
  }
});

describe('compare with a corpus entry that makes a model exit', () => {
  it('the corpus replay thread dies, the comparison goes on and writes compare.json (exit 0)', () => {
    const dir = tmp();
    writeFileSync(join(dir, 's.txt'), 'config\nrun\nvmrun inject=nmi\ndelivery_fault cause=shutdown\n');
    expect(run('promote', join(dir, 's.txt'), '--versions', 'v6.14,v6.14', '--corpus', join(dir, 'corpus'), '--name', 'killer').code).toBe(0);
    const r = run('compare', 'v6.14', 'v6.14-exit', '--models', join(root, 'models/examples/fault-models.js'), '--corpus', join(dir, 'corpus'),
      '--runs', '2000', '--workers', '1', '--seed', '1', '--out', join(dir, 'out'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^CORPUS_LOST the corpus replay thread died \(exit code 42\)/m);
    expect(existsSync(join(dir, 'out', 'compare.json'))).toBe(true);
  }, 60_000);
});

describe('bad output paths and a full disk', () => {
  it('an --out under a file: exit 2 naming the path and the reason', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'file'), 'x');
    const r = run('fuzz', '--pair', 'all', '--workers', '1', '--seed', '1', '--runs', '100', '--out', join(dir, 'file', 'out'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/file\/out: (a path component is not a directory|already exists)/);
    expect(r.err).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('a full disk (a 1 MB tmpfs): exit 2 with ENOSPC named, the lock released, what was written readable', (ctx) => {
    const dir = tmp();
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      console.log(`skipped: cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()})`);
      ctx.skip();
    }
    try {
      const r = run('fuzz', '--pair', 'all', '--workers', '1', '--seed', '1', '--duration', '60s', '--out', join(mnt, 'out'));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/no space left on the device \(ENOSPC/);
      expect(existsSync(join(mnt, 'out', '.lock'))).toBe(false);
      const replay = run('replay', join(mnt, 'out'));
      expect(replay.out).not.toMatch(/^ERROR/m);
    } finally {
      spawnSync('umount', [mnt]);
    }
  }, 90_000);
});
