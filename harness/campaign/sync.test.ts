// Corpus exchange through a sync directory: members of one pair read each other's new
// inputs once, never a foreign pair's, skip what is unreadable or invalid without
// stopping, and two running shards with --sync import each other's inputs.

import { mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SyncDir } from './sync.js';
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

describe('SyncDir', () => {
  it('members of one pair read each other\'s new inputs once; a foreign pair, a corrupt file and an invalid event are skipped', () => {
    const dir = tmp();
    const a = new SyncDir(dir, 'a', 'all', sel.left.id, sel.right!.id);
    const b = new SyncDir(dir, 'b', 'all', sel.left.id, sel.right!.id);
    const foreign = new SyncDir(dir, 'c', 'sti-shadow', 'v6.13', 'v6.14');
    a.publish(inputs(3, 1));
    foreign.publish(inputs(2, 2));
    expect(b.collect().map((x) => x.origin.iteration)).toEqual([0, 1, 2]);
    expect(b.collect()).toEqual([]); // read once
    a.publish(inputs(1, 3));
    writeFileSync(join(dir, 'a', '00000099.msgpack'), 'not msgpack');
    const bad = inputs(1, 4);
    (bad[0]!.stream.events as unknown[]).push({ kind: 'no-such-event' });
    a.publish(bad);
    expect(b.collect()).toHaveLength(1);
    expect(b.stats).toMatchObject({ imported: 4, skipped: 2, peers: 1 });
    expect(a.collect()).toEqual([]); // b published nothing; c is another pair
  });

  it('a resumed member numbers on after its files; a vanished directory costs an exchange, not the campaign', () => {
    const dir = tmp();
    new SyncDir(dir, 'a', 'all', sel.left.id, sel.right!.id).publish(inputs(1, 1));
    const again = new SyncDir(dir, 'a', 'all', sel.left.id, sel.right!.id);
    again.publish(inputs(1, 2));
    expect(readdirSync(join(dir, 'a')).filter((f) => f.endsWith('.msgpack')).sort()).toEqual(['00000000.msgpack', '00000001.msgpack']);
    expect(() => new SyncDir(dir, 'a', 'sti-shadow', 'v6.13', 'v6.14')).toThrow(/a member of the sync directory for pair all/);
    const b = new SyncDir(dir, 'b', 'all', sel.left.id, sel.right!.id);
    rmSync(dir, { recursive: true });
    expect(b.collect()).toEqual([]);
    mkdirSync(dir);
  });
});

describe('svmfuzz fuzz --sync', () => {
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
