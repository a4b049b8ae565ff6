// End to end: `svmfuzz fuzz`, `minimize`, `print` and `trace` on entries, run as a user
// runs them (node dist/harness/cli.js).

import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, tmp as tmpDir } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-fuzz-');
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));

const SEED1 = 'vnmi-iret|observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits';
const SEED2 = (pair: string) => `${pair}|observable|delivery_fault|vmcb12.int_state`;

describe('svmfuzz fuzz', () => {
  it('finds and minimizes the seed-1 divergence; prints the seed first and a status line', () => {
    const out = tmp();
    const r = run('fuzz', '--pair', 'vnmi-iret', '--seed', '1', '--runs', '5000', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('INFO: seed: 1');
    expect(r.out).toMatch(/^#\d+\s+DONE\s+cov: \d+ corp: \d+ exec\/s: \d+ causes: \d+ buckets: \d+ last-new: \d+s$/m);
    const s = summaryOf(out);
    expect(s.execs).toBe(5000);
    expect(s.seed).toBe(1);
    const b = s.buckets.find((x: { signature: string }) => x.signature === SEED1);
    expect(b).toBeDefined();
    expect(b.minimizedLength).toBeLessThanOrEqual(4);
    expect(readFileSync(join(b.dir, 'min.txt'), 'utf8')).toMatch(/\niret\n$/);
    expect(readdirSync(join(b.dir, 'samples')).length).toBeGreaterThan(0);
    expect(readFileSync(join(b.dir, 'description.txt'), 'utf8')).toContain(SEED1);
  });

  it('the same command twice gives the same buckets and byte-identical min.msgpack files', () => {
    const [a, b] = [tmp(), tmp()];
    for (const out of [a, b]) expect(run('fuzz', '--pair', 'sti-shadow', '--seed', '3', '--runs', '6000', '--out', out).code).toBe(0);
    const ids = (out: string) => summaryOf(out).buckets.map((x: { id: string }) => x.id).sort();
    expect(ids(a)).toEqual(ids(b));
    for (const id of ids(a)) {
      const f = (out: string) => readFileSync(join(out, 'sti-shadow', id, 'min.msgpack'));
      expect(Buffer.compare(f(a), f(b))).toBe(0);
    }
  });

  it('pair all reports seed 1 and seed 2 as two different buckets', () => {
    const out = tmp();
    expect(run('fuzz', '--pair', 'all', '--seed', '2', '--runs', '30000', '--out', out).code).toBe(0);
    const sigs = summaryOf(out).buckets.map((x: { signature: string }) => x.signature);
    expect(sigs).toContain(SEED1.replace('vnmi-iret', 'all'));
    expect(sigs).toContain(SEED2('all'));
  });

  it('two identical versions never diverge', () => {
    const out = tmp();
    const r = run('fuzz', '--versions', 'v6.14,v6.14', '--seed', '5', '--runs', '30000', '--out', out);
    expect(r.code).toBe(0);
    const s = summaryOf(out);
    expect(s.execs).toBe(30000);
    expect(s.buckets).toEqual([]);
  });

  it('refuses a second campaign on a locked directory, and bad flags, with exit 2', () => {
    const out = tmp();
    writeFileSync(join(out, '.lock'), JSON.stringify({ pid: process.pid, startedAt: 0 }));
    const r = run('fuzz', '--pair', 'all', '--runs', '10', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is in use by a running campaign/);
    expect(run('fuzz', '--pair', 'all', '--runs', 'many').err).toMatch(/--runs: expected an integer/);
    expect(run('fuzz', '--pair', 'all', '--duration', 'soon').code).toBe(2);
    expect(run('fuzz', '--pair', 'nope', '--runs', '1').err).toMatch(/unknown pair 'nope'/);
  });
});

describe('svmfuzz minimize, print, trace on entries', () => {
  it('re-minimizes a raw sample under its signature, prints it, traces it', () => {
    const out = tmp();
    run('fuzz', '--pair', 'vnmi-iret', '--seed', '1', '--runs', '3000', '--out', out, '--no-minimize');
    const b = summaryOf(out).buckets.find((x: { signature: string }) => x.signature === SEED1);
    expect(existsSync(join(b.dir, 'min.msgpack'))).toBe(false);
    const m = run('minimize', b.dir);
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/minimized \d+ -> [1-4] events/);
    expect(existsSync(join(b.dir, 'min.msgpack'))).toBe(true);
    const p = run('print', join(b.dir, 'min.msgpack'));
    expect(p.code).toBe(0);
    expect(p.out).toContain(SEED1);
    const t = JSON.parse(run('trace', join(b.dir, 'min.msgpack'), '--json').out);
    expect(t.left).toBe('v6.7');
    expect(t.firstDivergence.event).toBe('iret');
  });

  it('a corrupt entry: exit 2 naming the file', () => {
    const f = join(tmp(), 'bad.msgpack');
    writeFileSync(f, Buffer.from([0xc1, 0x00, 0x13]));
    for (const cmd of ['print', 'trace', 'minimize']) {
      const r = run(cmd, f);
      expect(r.code).toBe(2);
      expect(r.err).toContain('bad.msgpack');
    }
  });
});
