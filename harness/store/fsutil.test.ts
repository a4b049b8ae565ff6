// Atomic writes: the target is replaced whole, parents are created, and no temp file is
// left behind, also when the rename fails.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from './fsutil.js';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svmfuzz-fsutil-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('writeFileAtomic', () => {
  it('creates parent directories and replaces an existing file', () => {
    const file = path.join(dir, 'a', 'b', 'c.txt');
    writeFileAtomic(file, 'one, a longer first version\n');
    writeFileAtomic(file, 'two\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('two\n');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['c.txt']);
  });

  it('writes bytes unchanged', () => {
    const file = path.join(dir, 'x.bin');
    writeFileAtomic(file, new Uint8Array([0, 255, 1, 254]));
    expect([...fs.readFileSync(file)]).toEqual([0, 255, 1, 254]);
  });

  it('cleans up its temp file when the rename fails', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(path.join(target, 'child'), { recursive: true }); // rename over a non-empty dir fails
    expect(() => writeFileAtomic(target, 'x')).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['occupied']);
  });
});
