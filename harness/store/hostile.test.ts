// Nothing a crafted entry, bucket, id or version name says can make a command write
// outside the directory the user named (issue: crash corpora travel between people).
// Every command that writes runs in a sandbox; afterwards every file under the sandbox
// must be inside the directory that command was told to write to, and a decoy file
// beside it must be untouched.

import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { root, runIn, tmp } from '../testing/cli.js';

const packr = new Packr({ useRecords: false });

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** A sandbox with a decoy file, and a check that nothing but `allowed` (and the inputs) changed. */
function sandbox() {
  const dir = tmp('svmfuzz-hostile-');
  const decoy = join(dir, 'requirements.txt');
  writeFileSync(decoy, 'original\n');
  const before = new Set(files(dir));
  return {
    dir,
    outsideWrites(allowed: string[]): string[] {
      expect(readFileSync(decoy, 'utf8')).toBe('original\n');
      return files(dir).filter((f) => !before.has(f) && !allowed.some((a) => !relative(join(dir, a), f).startsWith('..')));
    },
  };
}

/** A corpus entry with its fields replaced (raw msgpack: the crafted file a user receives). */
function crafted(dir: string, name: string, edit: (e: Record<string, unknown>) => void): string {
  const e = packr.unpack(readFileSync(join(root, 'corpus/vnmi-iret-a3f454dbaeef.msgpack'))) as Record<string, unknown>;
  edit(e);
  const file = join(dir, name);
  writeFileSync(file, packr.pack(e));
  return file;
}

const HOSTILE_PAIR = '../../../requirements.txt\nINJECTED line\x1b[31m';

describe('hostile names never steer a write', () => {
  it('promote: a crafted bucket (pair with ../ and a newline) lands inside --corpus, its .txt twin without injected lines', () => {
    const sb = sandbox();
    const bucket = join(sb.dir, 'in', 'bucket');
    mkdirSync(bucket, { recursive: true });
    crafted(bucket, 'min.msgpack', (e) => { e.pair = HOSTILE_PAIR; });
    const r = runIn(sb.dir, 'promote', bucket, '--corpus', 'corpus');
    expect(r.code, r.err).toBe(0);
    expect(sb.outsideWrites(['corpus', 'in'])).toEqual([]);
    const written = readdirSync(join(sb.dir, 'corpus'));
    expect(written).toHaveLength(2);
    const twin = readFileSync(join(sb.dir, 'corpus', written.find((f) => f.endsWith('.txt'))!), 'utf8');
    expect(twin).not.toMatch(/^INJECTED/m);
    expect(twin).not.toContain('\x1b');
  });

  it('promote: a crafted signature id or cause id is refused (exit 2), nothing written', () => {
    const sb = sandbox();
    for (const [name, edit] of [
      ['sig', (e: Record<string, unknown>) => { (e.expected as Record<string, unknown>).signatureId = '../../../x'; }],
      ['cause', (e: Record<string, unknown>) => { e.cause = { id: '../../x', kind: 'change', function: 'f', patches: [] }; }],
    ] as const) {
      const bucket = join(sb.dir, 'in', name);
      mkdirSync(bucket, { recursive: true });
      crafted(bucket, 'min.msgpack', edit);
      const r = runIn(sb.dir, 'promote', bucket, '--corpus', 'corpus');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/must be 12 hex digits/);
    }
    expect(sb.outsideWrites(['in'])).toEqual([]);
  });

  it("promote --name with a path is refused (exit 2), nothing written", () => {
    const sb = sandbox();
    const stream = join(sb.dir, 's.txt');
    writeFileSync(stream, 'config\nnmi\nnmi\nrun\niret\n');
    for (const name of ['../requirements', '../../x', '.hidden', 'a/b']) {
      const r = runIn(sb.dir, 'promote', stream, '--pair', 'vnmi-iret', '--corpus', 'corpus', '--name', name);
      expect(r.code, name).toBe(2);
      expect(r.err).toMatch(/is not a file name inside corpus|outside corpus/);
    }
    expect(sb.outsideWrites(['s.txt'])).toEqual([]);
  });

  it('fuzz, minimize, report and compare with a pair and version named like paths write only under --out (or crashes/)', () => {
    const sb = sandbox();
    const models = join(sb.dir, 'hostile.mjs');
    writeFileSync(models, [
      "import { defineVersion, definePair, BUILTIN_VERSIONS } from 'svmfuzz/models';",
      "const v = (id) => BUILTIN_VERSIONS.find((x) => x.id === id);",
      `export const versions = [defineVersion({ id: '../../evil', description: '', patches: v('v6.14').patches })];`,
      `export const pairs = [definePair({ id: ${JSON.stringify(HOSTILE_PAIR)}, description: '', left: 'v6.13', right: '../../evil', config: { nested: true, npt: true } })];`,
    ].join('\n'));
    const f = runIn(sb.dir, 'fuzz', '--models', models, '--pair', HOSTILE_PAIR, '--runs', '3000', '--workers', '1', '--seed', '1', '--out', 'out', '--corpus', 'in');
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/NEW_BUCKET/);
    const bucket = files(join(sb.dir, 'out')).find((p) => p.endsWith('samples/0000.msgpack'))!;
    copyFileSync(bucket, join(sb.dir, 'entry.msgpack'));
    expect(runIn(sb.dir, 'minimize', 'entry.msgpack', '--models', models).code).toBe(0);
    expect(runIn(sb.dir, 'report', 'out', '--models', models).code).toBe(0);
    const c = runIn(sb.dir, 'compare', 'v6.13', '../../evil', '--models', models, '--runs', '2000', '--workers', '1', '--seed', '1', '--corpus', 'in');
    expect(c.code, c.err).toBe(0);
    expect(sb.outsideWrites(['out', 'crashes', 'entry.msgpack', 'entry.min.msgpack', 'entry.min.txt', 'hostile.mjs'])).toEqual([]);
    expect(readdirSync(join(sb.dir, 'crashes'))).toHaveLength(1);
  }, 60_000);
});

describe('malformed entries never crash a command (exit 3)', () => {
  // Each is a real entry with one field broken; every command that reads entries must
  // refuse it with exit 2 (or, for a well-formed but odd one, handle it), never exit 3.
  const breakages: [string, (e: Record<string, any>) => void][] = [
    ['divergence.step beyond the events', (e) => { e.divergence.step = 10_000; }],
    ['negative step', (e) => { e.divergence.step = -1; }],
    ['NaN seed', (e) => { e.origin.seed = NaN; }],
    ['events not a list', (e) => { e.events = { 0: e.events[0] }; }],
    ['an event with a field of the wrong type', (e) => { e.events[0] = { ...e.events[0], kind: 42 }; }],
    ['config knob of the wrong type', (e) => { e.config = { ...e.config, vnmi: 'yes' }; }],
    ['left without patches', (e) => { delete e.left.patches; }],
    ['pair not a string', (e) => { e.pair = ['all']; }],
    ['divergence fields with objects', (e) => { e.divergence.fields = [{ path: 'x', left: { a: 1 }, right: 1 }]; }],
    ['lineage with numbers', (e) => { e.origin.lineage = [1, 2]; }],
    ['expected.signature not a string', (e) => { e.expected.signature = 5; }],
    ['schema from the future', (e) => { e.schema = 99; }],
    ['a huge integer field', (e) => { e.events[0] = { ...e.events[0], kind: 'vmrun', int_state: 2 ** 60 }; }],
    ['prototype pollution attempt', (e) => { e.__proto__ = { polluted: true }; e.constructor = { prototype: { polluted: true } }; }],
  ];

  it(`${breakages.length} broken entries x print, trace, replay, minimize, promote: exit 2 or a clean result, never 3`, () => {
    const sb = sandbox();
    for (const [name, edit] of breakages) {
      const file = crafted(sb.dir, `${name.replace(/\W+/g, '-')}.msgpack`, edit);
      for (const args of [['print', file], ['trace', file], ['replay', file], ['minimize', file], ['promote', file, '--corpus', join(sb.dir, 'corpus')]]) {
        const r = runIn(sb.dir, ...args);
        expect([0, 1, 2], `${name}: ${args[0]} exited ${r.code}: ${r.err.slice(0, 300)}`).toContain(r.code);
        expect(r.err, `${name}: ${args[0]}`).not.toMatch(/internal error/);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 120_000);
});
