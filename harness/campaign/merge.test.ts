// `svmfuzz merge`: the shards of a campaign in one directory, losing nothing, the same
// bytes every time, readable by replay and report; inputs that cannot be merged refused.

import { readFileSync, readdirSync, existsSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { run, tmp as tmpDir } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-merge-');
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
type Bucket = { id: string; count: number; minimizedLength: number | null; dir: string };

/** Every file under dir but report.html, with its hash: what two merges must agree on. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n !== 'report.html') out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('svmfuzz merge', () => {
  it('unites 3 shards: every bucket, summed counts and executions, the shortest reproducer, all samples; twice the same bytes; replay and report read it', () => {
    const root = tmp();
    for (let i = 0; i < 3; i++) {
      const r = run('fuzz', '--pair', 'all', '--seed', '2', '--shard', `${i}/3`, '--runs', '2500', '--workers', '1', '--out', root);
      expect(r.code, r.err).toBe(0);
    }
    const shards = [0, 1, 2].map((i) => join(root, `shard-${i}-of-3`));
    const out = join(tmp(), 'merged');
    const m = run('merge', out, ...shards);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/^MERGED 3 campaign\(s\) into .*: 7500 execs, \d+ bucket\(s\), \d+ cause\(s\), \d+ corpus input\(s\)$/m);
    const merged = summaryOf(out);
    expect(merged.execs).toBe(7500);
    const byId = new Map<string, Bucket>(merged.buckets.map((b: Bucket) => [b.id, b]));
    const all = new Map<string, Bucket[]>();
    for (const s of shards) for (const b of summaryOf(s).buckets as Bucket[]) all.set(b.id, [...(all.get(b.id) ?? []), b]);
    expect([...byId.keys()].sort()).toEqual([...all.keys()].sort());
    let shared = 0;
    for (const [id, list] of all) {
      const b = byId.get(id)!;
      expect(b.count, id).toBe(list.reduce((n, x) => n + x.count, 0));
      const lengths = list.map((x) => x.minimizedLength).filter((x): x is number => x !== null);
      expect(b.minimizedLength, id).toBe(lengths.length ? Math.min(...lengths) : null);
      expect(existsSync(join(b.dir, 'description.txt')), id).toBe(true);
      // Every distinct sample of every shard is kept.
      const distinct = new Set(list.flatMap((x) => {
        const d = join(x.dir, 'samples');
        return existsSync(d) ? readdirSync(d).map((f) => createHash('sha256').update(readFileSync(join(d, f))).digest('hex')) : [];
      }));
      expect(readdirSync(join(b.dir, 'samples')).length, id).toBe(distinct.size);
      if (list.length > 1) shared++;
    }
    expect(shared).toBeGreaterThan(0); // the shards found some of the same buckets
    const causes = new Set(shards.flatMap((s) => summaryOf(s).causes.map((c: { id: string }) => c.id)));
    expect(merged.causes.map((c: { id: string }) => c.id).sort()).toEqual([...causes].sort());
    expect(merged.merged.map((x: { name: string }) => x.name)).toEqual(['shard-0-of-3', 'shard-1-of-3', 'shard-2-of-3']);
    expect(existsSync(join(out, 'shards', 'shard-1-of-3', 'stats.jsonl'))).toBe(true);

    const before = tree(out);
    expect(run('merge', out, ...shards.reverse()).code).toBe(0);
    expect(tree(out)).toEqual(before);

    const replay = run('replay', out);
    expect(replay.code, replay.out).toBe(0);
    const report = run('report', out);
    expect(report.code, report.err).toBe(0);
    // The report shows each shard's rate, share and what it alone found.
    const page = readFileSync(join(out, 'report.html'), 'utf8');
    const section = page.slice(page.indexOf('<section id="shards">'), page.indexOf('</section>', page.indexOf('<section id="shards">')));
    expect(section).toMatch(/Shards \(3\)/);
    for (const [i, x] of (merged.merged as { name: string; execs: number; buckets: number; onlyHere: number }[]).entries()) {
      const only = x.name === 'shard-0-of-3' ? [...all.values()].filter((l) => l.length === 1 && l[0]!.dir.includes('shard-0-of-3')).length : null;
      if (only !== null) expect(x.onlyHere).toBe(only);
      expect(section).toContain(`<td><code>${x.name}</code></td><td>${i}/3</td>`);
      expect(section).toContain(`<td>${x.execs.toLocaleString('en-US')}</td><td>${((100 * x.execs) / 7500).toFixed(1)}%</td>`);
    }
    // A tampered summary cannot put markup on the page through a shard's row.
    const tampered = summaryOf(out);
    tampered.merged[0].name = '<i>n</i>';
    tampered.merged[0].sync = { published: '<i>p</i>', imported: 1 };
    writeFileSync(join(out, 'summary.json'), JSON.stringify(tampered));
    expect(run('report', out).code).toBe(0);
    const page2 = readFileSync(join(out, 'report.html'), 'utf8');
    expect(page2).not.toContain('<i>');
    expect(page2).toContain('&lt;i&gt;n&lt;/i&gt;');
  }, 180_000);

  it('refuses campaigns of different pairs, a missing summary, an OUT it did not write or inside an input: exit 2, naming them', () => {
    const a = tmp();
    const b = tmp();
    expect(run('fuzz', '--pair', 'all', '--seed', '1', '--runs', '300', '--workers', '1', '--no-minimize', '--out', a).code).toBe(0);
    expect(run('fuzz', '--pair', 'sti-shadow', '--seed', '1', '--runs', '300', '--workers', '1', '--no-minimize', '--out', b).code).toBe(0);
    const out = join(tmp(), 'm');
    const pairs = run('merge', out, a, b);
    expect(pairs.code).toBe(2);
    expect(pairs.err).toMatch(/merge takes campaigns of one pair and the same versions/);
    expect(existsSync(out)).toBe(false);
    const missing = run('merge', out, a, join(b, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope: no summary\.json/);
    const mine = tmp();
    mkdirSync(join(mine, 'notes'));
    writeFileSync(join(mine, 'notes', 'x.txt'), 'mine');
    const notOurs = run('merge', mine, a);
    expect(notOurs.code).toBe(2);
    expect(notOurs.err).toMatch(/exists and is not a merge directory/);
    expect(readFileSync(join(mine, 'notes', 'x.txt'), 'utf8')).toBe('mine');
    const inside = run('merge', join(a, 'merged'), a);
    expect(inside.code).toBe(2);
    expect(inside.err).toMatch(/may not be, hold or lie inside an input/);
  }, 60_000);
});
