// Replay reports each entry as pass or fail with the reason, and keeps going past
// unreadable entries.

import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { Registry } from '../../models/registry.js';
import { BUILTIN_VERSIONS, BUILTIN_PAIRS, defineVersion } from '../../models/svm/versions.js';
import { replayEntry, entryFiles } from './replay.js';
import { parseStream } from '../text/text.js';
import { makeEntry } from '../engine/lane.js';
import { writeEntryFile } from './codec.js';
import { root, run } from '../testing/cli.js';

const corpus = join(root, 'corpus');

/** The built-in registry with one version's patch list replaced. */
function flipped(id: string, patches: (typeof BUILTIN_VERSIONS)[number]['patches']): Registry {
  const reg = new Registry(false);
  for (const v of BUILTIN_VERSIONS) reg.addVersion(v.id === id ? defineVersion({ ...v, patches }) : v);
  for (const p of BUILTIN_PAIRS) reg.addPair(p);
  return reg;
}

describe('replay', () => {
  it('passes the committed corpus', () => {
    const { files } = entryFiles([corpus]);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(replayEntry(new Registry(), f).status).toBe('pass');
  });

  it('flipping a patch fails the entries it matters to, naming the changed outcome', () => {
    const reg = flipped('v6.8-rc1', []); // v6.8-rc1 without 72046d0a
    const { files } = entryFiles([corpus]);
    const results = files.map((f) => replayEntry(reg, f));
    const seed1 = results.find((r) => r.file.includes('vnmi-iret-'))!;
    expect(seed1.status).toBe('fail');
    expect(seed1.reason).toMatch(/^no longer diverges \(expected diverges: observable\|iret\|exits\{\+L1:IRET\}/);
    expect(seed1.reason).toMatch(/the versions' patches changed since the entry was made/);
    // The seed-2 reproducer does not touch 72046d0a's path: it still passes.
    expect(results.find((r) => r.file.includes('sti-shadow-'))!.status).toBe('pass');
  });

  it("a run directory's input corpus is not an entry, with or without its campaign.json (a full disk stops a campaign between the two writes)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-replay-'));
    const entry = entryFiles([corpus]).files[0]!;
    copyFileSync(entry, join(dir, 'e.msgpack'));
    writeFileSync(join(dir, 'corpus.msgpack'), new Packr({ useRecords: false }).pack([{ events: [] }]));
    expect(entryFiles([dir]).files).toEqual([join(dir, 'e.msgpack')]);
    // A corpus.msgpack that holds no array is reported (replay says it is unreadable).
    writeFileSync(join(dir, 'corpus.msgpack'), 'garbage');
    expect(entryFiles([dir]).files).toEqual([join(dir, 'corpus.msgpack'), join(dir, 'e.msgpack')]);
  });

  it('an entry recorded as equal that now diverges: started to diverge', () => {
    const stream = parseStream('config\nnmi\nnmi\nrun\niret\n');
    const v67 = BUILTIN_VERSIONS[0]!;
    // Recorded while v6.8 had no patch (so the pair was equal on it) ...
    const entry = makeEntry({ pair: 'vnmi-iret', left: v67, right: defineVersion({ id: 'v6.8', description: '', patches: [] }) }, stream, null,
      { divergence: null, at: null, transitions: [] }, null);
    const file = join(mkdtempSync(join(tmpdir(), 'svmfuzz-replay-')), 'was-equal.msgpack');
    writeEntryFile(file, entry);
    // ... replayed now that v6.8 has 72046d0a.
    const r = replayEntry(new Registry(), file);
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/^started to diverge: observable\|iret\|exits\{\+L1:IRET\}/);
  });

  it('CLI: exit 0 when all pass, 1 when one fails, 2 with a corrupt file while the rest still run', () => {
    expect(run('replay').code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-replay-'));
    for (const f of readdirSync(corpus).filter((x) => x.endsWith('.msgpack'))) copyFileSync(join(corpus, f), join(dir, f));
    const total = readdirSync(dir).length;
    // Replayed on another pair, the seed-2 reproducer no longer diverges.
    const seed2 = readdirSync(dir).find((f) => /^sti-shadow-[0-9a-f]{12}\.msgpack$/.test(f))!;
    const other = run('replay', join(dir, seed2), '--pair', 'vnmi-iret');
    expect(other.code).toBe(1);
    expect(other.out).toContain(`FAIL ${join(dir, seed2)} (vnmi-iret: v6.7 vs v6.8-rc1): no longer diverges`);
    writeFileSync(join(dir, 'broken.msgpack'), Buffer.from('not msgpack at all'));
    const r = run('replay', dir, '--json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out);
    expect(j.unreadable).toBe(1);
    expect(j.passed).toBe(total);
    expect(j.results.find((x: { status: string }) => x.status === 'error').reason).toMatch(/broken\.msgpack/);
  });

  it('CLI: an unknown version in an entry or on the command line is a clear error', () => {
    expect(run('replay', '--versions', 'v6.7,v9.9').err).toMatch(/unknown version 'v9\.9'/);
  });
});
