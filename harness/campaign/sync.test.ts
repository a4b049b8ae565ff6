// Corpus exchange through a sync directory: members of one pair read each other's new
// inputs once, never a foreign pair's, skip what is unreadable or invalid without
// stopping, and two running shards with --sync import each other's inputs.

import { mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync, utimesSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SyncDir, CLAIM_STALE_MS } from './sync.js';
import { readEntryFile } from '../store/codec.js';
import { executeGuarded } from '../engine/oracle.js';
import { signatureKey } from '../engine/signature.js';
import { causeId, type Cause } from '../triage/cause.js';
import type { SharedInput } from './protocol.js';
import { Registry } from '../../models/registry.js';
import { makeModel } from '../../models/svm/model.js';
import { generateStream } from '../engine/generate.js';
import { Rng } from '../engine/rng.js';
import { cli, run, tmp as tmpDir, unsharded } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-sync-');
const reg = new Registry();
const sel = reg.select({ pair: 'all' });
const inputs = (n: number, seed: number): SharedInput[] => Array.from({ length: n }, (_, i) => ({
  stream: generateStream(new Rng(seed * 1000 + i), makeModel(sel.left), sel.config, 12),
  origin: { seed, lane: 0, iteration: i, lineage: ['generate'] },
}));

/** A member of pair all in dir. */
const member = (dir: string, name: string) => new SyncDir(dir, name, 'all', sel.left.id, sel.right!.id);
/** A fresh sync directory with members a and b of pair all and one member of another pair. */
function members(): { dir: string; a: SyncDir; b: SyncDir; foreign: SyncDir } {
  const dir = tmp();
  return { dir, a: member(dir, 'a'), b: member(dir, 'b'), foreign: new SyncDir(dir, 'c', 'sti-shadow', 'v6.13', 'v6.14') };
}

describe('SyncDir', () => {
  it('members of one pair read each other\'s new inputs once; a foreign pair, a corrupt file and an invalid event are skipped', () => {
    const { dir, a, b, foreign } = members();
    a.publish(inputs(3, 1));
    foreign.publish(inputs(2, 2));
    expect(b.collect().inputs.map((x) => x.origin.iteration)).toEqual([0, 1, 2]);
    expect(b.collect()).toEqual({ inputs: [], minimized: [], triaged: [] }); // read once
    a.publish(inputs(1, 3));
    writeFileSync(join(dir, 'a', '00000099.msgpack'), 'not msgpack');
    const bad = inputs(1, 4);
    (bad[0]!.stream.events as unknown[]).push({ kind: 'no-such-event' });
    a.publish(bad);
    expect(b.collect().inputs).toHaveLength(1);
    expect(b.stats).toMatchObject({ imported: 4, skipped: 2, peers: 1 });
    expect(a.collect()).toEqual({ inputs: [], minimized: [], triaged: [] }); // b published nothing; c is another pair
  });

  it('a resumed member numbers on after its files; a vanished directory costs an exchange, not the campaign', () => {
    const dir = tmp();
    member(dir, 'a').publish(inputs(1, 1));
    const again = member(dir, 'a');
    again.publish(inputs(1, 2));
    expect(readdirSync(join(dir, 'a')).filter((f) => f.endsWith('.msgpack')).sort()).toEqual(['00000000.msgpack', '00000001.msgpack']);
    expect(() => new SyncDir(dir, 'a', 'sti-shadow', 'v6.13', 'v6.14')).toThrow(/a member of the sync directory for pair all/);
    const b = member(dir, 'b');
    rmSync(dir, { recursive: true });
    expect(b.collect()).toEqual({ inputs: [], minimized: [], triaged: [] });
    mkdirSync(dir);
  });
});

describe('SyncDir: shared minimization', () => {
  it('one member claims a bucket, the others wait until it releases it or its claim goes stale; its reproducers reach them', () => {
    const { dir, a, b, foreign: other } = members();
    expect(a.claim('b1')).toBe(true);
    expect(a.claim('b1')).toBe(true); // its own claim (a resumed member)
    expect(b.claim('b1')).toBe(false);
    expect(b.stats.deferred).toBe(1);
    expect(b.claimLapsed('b1')).toBe(false);
    expect(other.claim('b1')).toBe(true); // another pair's bucket of the same id is not ours
    a.release('b1');
    expect(b.claimLapsed('b1')).toBe(true);
    expect(b.claim('b1')).toBe(true);
    // A member killed while minimizing: its claim goes stale and is taken over.
    expect(a.claim('b2')).toBe(true);
    const claim = readdirSync(join(dir, '.claims')).map((d) => join(dir, '.claims', d, 'b2')).find((f) => existsSync(f))!;
    const old = (Date.now() - CLAIM_STALE_MS - 1000) / 1000;
    utimesSync(claim, old, old);
    expect(b.claimLapsed('b2')).toBe(true);
    expect(b.claim('b2')).toBe(true);
    // Reproducers travel with the inputs; a broken one is skipped.
    const [x, y] = inputs(2, 5);
    const broken = { pair: 'all', bucket: 'b4', signature: 's', stream: { config: x!.stream.config, events: [{ kind: 'nope' }] } } as never;
    a.publish([], [{ pair: 'all', bucket: 'b3', signature: 'sig', stream: y!.stream }, broken]);
    const got = b.collect();
    expect(got.inputs).toEqual([]);
    expect(got.minimized.map((m) => m.bucket)).toEqual(['b3']);
    expect(b.stats.skipped).toBe(1);
    expect(a.stats.minimizedPublished).toBe(2);
    // Triaged buckets travel too; a cause whose id is not the hash of its kind, function and patches is skipped.
    const cause: Cause = {
      id: causeId('change', 'svm_inject_nmi', ['72046d0a']), kind: 'change', function: 'svm_inject_nmi', patches: ['72046d0a'], fields: ['nmi_masked'],
      values: [], verdict: 'intended', outOfScope: [], stack: ['svm_inject_nmi'], step: 2, origin: null, declared: true, words: 'w',
    };
    a.publish([], [], [{ pair: 'all', bucket: 'b5', signature: 'sig', cause }, { pair: 'all', bucket: 'b6', signature: 'sig', cause: { ...cause, id: 'forged' } }]);
    const t = b.collect();
    expect(t.triaged.map((x) => [x.bucket, x.cause])).toEqual([['b5', cause]]);
    expect(b.stats.skipped).toBe(2);
  });
});

describe('svmfuzz fuzz --sync', () => {
  it("shards triage and minimize a bucket once between them: a peer's cause is taken, one claims the minimization, the others adopt its reproducer, which reproduces the bucket", async () => {
    const out = tmp();
    const sync = join(tmp(), 'sync');
    const shard = (i: number) => new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--seed', '5', '--shard', `${i}/2`, '--duration', '12s', '--workers', '1', '--sync', sync, '--out', out], { stdio: 'ignore', env: unsharded() });
      child.on('exit', (code) => resolve(code));
    });
    expect(await Promise.all([shard(0), shard(1)])).toEqual([0, 0]);
    const sums = [0, 1].map((i) => JSON.parse(readFileSync(join(out, `shard-${i}-of-2`, 'summary.json'), 'utf8')));
    const adopted = sums.reduce((n, s) => n + s.sync.minimizedAdopted, 0);
    expect(adopted).toBeGreaterThan(0);
    expect(sums.reduce((n, s) => n + s.sync.deferred, 0)).toBeGreaterThan(0);
    // Triage is shared too: symptoms given a peer's cause, each under a cause of its shard.
    expect(sums.reduce((n, s) => n + s.sync.triageAdopted, 0)).toBeGreaterThan(0);
    for (const s of sums) {
      const causes = new Set(s.causes.map((c: { id: string }) => c.id));
      for (const b of s.buckets as { id: string; cause: string | null; kind: string }[]) if (b.kind !== 'crash') expect(causes.has(b.cause!), b.id).toBe(true);
      expect(s.sync.triageAdopted).toBeLessThanOrEqual(s.buckets.length);
    }
    // Every stored reproducer, minimized here or adopted, shows its bucket's signature.
    let checked = 0;
    for (const s of sums) {
      for (const b of s.buckets.filter((x: { minimizedLength: number | null }) => x.minimizedLength !== null)) {
        const e = readEntryFile(join(b.dir, 'min.msgpack'));
        if (e.pair !== 'all') continue; // a focused pair's bucket (pair all without a cause's patches)
        const ex = executeGuarded(makeModel(sel.left), makeModel(sel.right!), { config: e.config, events: e.events });
        expect(ex.divergence && signatureKey(e.pair, ex.divergence).text).toBe(b.signature);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(adopted / 2);
    // The merge of the two loses no bucket, and keeps the shorter of two reproducers.
    const merged = join(tmp(), 'merged');
    expect(run('merge', merged, join(out, 'shard-0-of-2'), join(out, 'shard-1-of-2')).code).toBe(0);
    const m = JSON.parse(readFileSync(join(merged, 'summary.json'), 'utf8'));
    const byId = new Map<string, { minimizedLength: number | null }>(m.buckets.map((b: { id: string; minimizedLength: number | null }) => [b.id, b]));
    for (const s of sums) {
      for (const b of s.buckets as { id: string; minimizedLength: number | null }[]) {
        expect(byId.has(b.id), b.id).toBe(true);
        if (b.minimizedLength !== null) expect(byId.get(b.id)!.minimizedLength).toBeLessThanOrEqual(b.minimizedLength);
      }
    }
    expect(m.merged.map((x: { sync: { minimizedAdopted: number } }) => x.sync.minimizedAdopted).reduce((a: number, b: number) => a + b, 0)).toBe(adopted);
  }, 90_000);

  it('two shards running side by side import each other\'s inputs', async () => {
    const out = tmp();
    const sync = join(tmp(), 'sync');
    const shard = (i: number) => new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--seed', '3', '--shard', `${i}/2`, '--duration', '8s', '--workers', '1', '--no-minimize', '--sync', sync, '--out', out], { stdio: 'ignore', env: unsharded() });
      child.on('exit', (code) => resolve(code));
    });
    expect(await Promise.all([shard(0), shard(1)])).toEqual([0, 0]);
    for (const i of [0, 1]) {
      const s = JSON.parse(readFileSync(join(out, `shard-${i}-of-2`, 'summary.json'), 'utf8'));
      expect(s.sync).toMatchObject({ name: `shard-${i}-of-2`, peers: 1, skipped: 0 });
      expect(s.sync.published).toBeGreaterThan(0);
      expect(s.sync.imported).toBeGreaterThan(0);
    }
  }, 60_000);

  it('bad --sync input: exit 2 naming it', () => {
    const out = tmp();
    const noName = run('fuzz', '--pair', 'all', '--runs', '100', '--sync', join(out, 's'), '--out', out);
    expect(noName.code).toBe(2);
    expect(noName.err).toMatch(/--sync: give --sync-name NAME/);
    const noDir = run('fuzz', '--pair', 'all', '--runs', '100', '--sync-name', 'x', '--out', out);
    expect(noDir.code).toBe(2);
    expect(noDir.err).toMatch(/--sync-name needs --sync DIR/);
    writeFileSync(join(out, 'file'), '');
    const notDir = run('fuzz', '--pair', 'all', '--runs', '100', '--sync', join(out, 'file'), '--sync-name', 'x', '--out', join(out, 'o'));
    expect(notDir.code).toBe(2);
    expect(notDir.err).toMatch(/fuzz --sync .*file:/);
  });
});
