// Bad inputs get a clear error and lose nothing: a directory with a dangling symlink or a
// link loop, a FIFO or a device given as a file, a huge entry, a model that throws or
// hangs under `trace --version`.

import { mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { root, run, tmp } from '../testing/cli.js';

const packr = new Packr({ useRecords: false });
const entry = join(root, 'corpus/vnmi-iret-a3f454dbaeef.msgpack');

describe('bad inputs', () => {
  it('replay: a dangling symlink is reported, a link loop is walked once; the other entries still run', () => {
    const dir = tmp('svmfuzz-inputs-');
    copyFileSync(entry, join(dir, 'good.msgpack'));
    symlinkSync(join(dir, 'nowhere.msgpack'), join(dir, 'dangling.msgpack'));
    mkdirSync(join(dir, 'sub'));
    symlinkSync(dir, join(dir, 'sub', 'loop'));
    const r = run('replay', dir);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^PASS .*good\.msgpack/m);
    expect(r.out).toMatch(/^ERROR .*dangling\.msgpack: cannot read: ENOENT/m);
    expect(r.out.match(/^PASS /gm)).toHaveLength(1);
  });

  it('a FIFO, a device or a directory as the input file: exit 2 naming it, no hang', () => {
    const dir = tmp('svmfuzz-inputs-');
    const fifo = join(dir, 'fifo.txt');
    const mk = spawnSync('mkfifo', [fifo]);
    const inputs = ['/dev/zero', dir, ...(mk.status === 0 ? [fifo] : [])];
    for (const f of inputs) {
      const r = run('trace', f, '--version', 'v6.14');
      expect(r.code, f).toBe(2);
      expect(r.err).toMatch(/not a regular file \((a device|a directory|a FIFO)\)/);
    }
    const m = run('print', '/dev/zero');
    expect(m.code).toBe(2);
  });

  it('print of a 200,000-event entry works (no argument-limit crash)', () => {
    const dir = tmp('svmfuzz-inputs-');
    const e = packr.unpack(readFileSync(entry)) as Record<string, unknown>;
    e.events = Array.from({ length: 200_000 }, () => ({ kind: 'nop' }));
    e.divergence = null;
    e.expected = { outcome: 'equal' };
    writeFileSync(join(dir, 'big.msgpack'), packr.pack(e));
    const r = run('print', join(dir, 'big.msgpack'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('stream (200000 events):');
  });

  it('trace --version of a model that throws: the steps before it and the throw, exit 0', () => {
    const dir = tmp('svmfuzz-inputs-');
    writeFileSync(join(dir, 's.txt'), 'config\nirq vector=0xec\nrun\nnop\n');
    const r = run('trace', join(dir, 's.txt'), '--version', 'v6.14-bug', '--models', join(root, 'models/examples/fault-models.js'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^!! #1 run\n {6}v6\.14-bug: throws: BUG: example fault/m);
  });
});
