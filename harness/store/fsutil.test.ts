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

describe('DirLock', () => {
  const lockFile = () => path.join(dir, '.lock');
  const write = (info: object) => fs.writeFileSync(lockFile(), JSON.stringify(info) + '\n');

  it('refuses a directory whose holder runs (this test runner\'s parent: alive, same start time)', async () => {
    const { DirLock, LockedError } = await import('./fsutil.js');
    const held = DirLock.acquire(dir);
    // Another process would see it held; within one process the same pid counts as a restarted self.
    const info = JSON.parse(fs.readFileSync(lockFile(), 'utf8'));
    held.release();
    write({ ...info, pid: process.ppid, procStart: undefined });
    expect(() => DirLock.acquire(dir)).toThrow(LockedError);
  });

  it.skipIf(!fs.existsSync('/proc/self/stat'))('takes over a lock whose pid was reused by another process (start time differs), or is its own pid (a restarted pid 1)', async () => {
    const { DirLock } = await import('./fsutil.js');
    write({ pid: process.ppid, startedAt: 'x', procStart: '1' });
    const a = DirLock.acquire(dir);
    a.release();
    write({ pid: process.pid, startedAt: 'x', procStart: '1' }); // our pid, another start time
    const b = DirLock.acquire(dir);
    b.release();
    write({ pid: 2 ** 22 + 12345, startedAt: 'x' }); // no such pid
    DirLock.acquire(dir).release();
    expect(fs.existsSync(lockFile())).toBe(false);
  });
});
