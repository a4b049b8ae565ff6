// The crash corpus and the run-directory lock on a real (temporary) filesystem: caps and
// descriptions hold across restarts, and two campaigns never share a directory.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CrashStore } from './crashes.js';
import { DirLock, LockedError } from './fsutil.js';
import { readEntryFile } from './codec.js';
import { ENTRY_SCHEMA, ALPHABET_VERSION, type CorpusEntry } from './entry.js';
import { defaultConfig } from '../../models/svm/config.js';
import { defaultEvent } from '../../models/svm/events.js';

const entry = (pair: string, n = 1): CorpusEntry => ({
  schema: ENTRY_SCHEMA, alphabet: ALPHABET_VERSION, pair,
  left: { id: 'a', patches: [] }, right: { id: 'b', patches: ['p1'] },
  config: defaultConfig(), events: Array.from({ length: n }, () => defaultEvent('nmi')),
  origin: null, expected: { outcome: 'equal' }, divergence: null,
});

let out: string;
beforeEach(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), 'svmfuzz-crashes-')); });
afterEach(() => { fs.rmSync(out, { recursive: true, force: true }); });

describe('CrashStore', () => {
  it('keeps at most the cap of samples per bucket, also across a restart', () => {
    const first = new CrashStore(out, { samplesPerBucket: 3 });
    const a = first.addSample('sig1', 'first description', entry('seed1', 1));
    expect(a.isNew).toBe(true);
    expect(a.path).toBe(path.join(out, 'seed1', 'sig1', 'samples', '0000.msgpack'));
    expect(first.addSample('sig1', 'ignored', entry('seed1', 2))).toEqual({
      path: path.join(out, 'seed1', 'sig1', 'samples', '0001.msgpack'), isNew: false,
    });

    const restarted = new CrashStore(out, { samplesPerBucket: 3 });
    const c = restarted.addSample('sig1', 'ignored too', entry('seed1', 3));
    expect(c).toEqual({ path: path.join(out, 'seed1', 'sig1', 'samples', '0002.msgpack'), isNew: false });
    expect(restarted.addSample('sig1', 'x', entry('seed1', 4))).toEqual({ path: null, isNew: false });
    expect(first.addSample('sig1', 'x', entry('seed1', 5))).toEqual({ path: null, isNew: false });

    expect(fs.readdirSync(path.join(out, 'seed1', 'sig1', 'samples')).sort()).toEqual(['0000.msgpack', '0001.msgpack', '0002.msgpack']);
    expect(readEntryFile(c.path!).events).toHaveLength(3);
    expect(fs.readFileSync(path.join(out, 'seed1', 'sig1', 'description.txt'), 'utf8')).toBe('first description\n');
  });

  it('defaults to four samples per bucket', () => {
    const store = new CrashStore(out);
    const paths = Array.from({ length: 6 }, () => store.addSample('s', 'd', entry('p')).path);
    expect(paths.filter((p) => p !== null)).toHaveLength(4);
  });

  it('sanitizes the pair and bucket names into one path segment', () => {
    const store = new CrashStore(out);
    expect(store.bucketDir('mine/../x y', 'ab:cd')).toBe(path.join(out, 'mine_.._x_y', 'ab_cd'));
    expect(store.bucketDir('..', '.')).toBe(path.join(out, '_.', '_'));
    store.addSample('b', 'd', entry('a b'));
    expect(fs.existsSync(path.join(out, 'a_b', 'b', 'description.txt'))).toBe(true);
  });

  it('writes the minimized reproducer in both forms', () => {
    const store = new CrashStore(out);
    store.addSample('sig1', 'd', entry('seed1', 5));
    const files = store.writeMinimized('sig1', entry('seed1', 1), 'config vnmi=1\nnmi\n');
    expect(files).toEqual({ msgpack: path.join(out, 'seed1', 'sig1', 'min.msgpack'), txt: path.join(out, 'seed1', 'sig1', 'min.txt') });
    expect(readEntryFile(files.msgpack)).toEqual(entry('seed1', 1));
    expect(fs.readFileSync(files.txt, 'utf8')).toBe('config vnmi=1\nnmi\n');
  });

  it('lists buckets by pair then id, with sample counts and minimization', () => {
    const store = new CrashStore(out);
    store.addSample('zz', 'd', entry('seed2'));
    store.addSample('bb', 'd', entry('seed1'));
    store.addSample('aa', 'd', entry('seed1'));
    store.addSample('aa', 'd', entry('seed1'));
    store.writeMinimized('bb', entry('seed1'), 'config\n');
    store.writeSummary({ runs: 1 });
    fs.writeFileSync(path.join(out, 'README.md'), 'not a pair\n');
    const lock = DirLock.acquire(out);
    try {
      expect(store.listBuckets()).toEqual([
        { pair: 'seed1', id: 'aa', dir: path.join(out, 'seed1', 'aa'), samples: 2, minimized: false },
        { pair: 'seed1', id: 'bb', dir: path.join(out, 'seed1', 'bb'), samples: 1, minimized: true },
        { pair: 'seed2', id: 'zz', dir: path.join(out, 'seed2', 'zz'), samples: 1, minimized: false },
      ]);
      expect(store.listBuckets('seed2').map((b) => b.id)).toEqual(['zz']);
      expect(store.listBuckets('nope')).toEqual([]);
    } finally {
      lock.release();
    }
    expect(new CrashStore(path.join(out, 'missing')).listBuckets()).toEqual([]);
  });

  it('writes summary.json as pretty JSON with a trailing newline', () => {
    const summary = { pairs: { seed1: { buckets: 2 } }, runs: 1234 };
    const file = new CrashStore(out).writeSummary(summary);
    expect(file).toBe(path.join(out, 'summary.json'));
    const text = fs.readFileSync(file, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "runs": 1234');
    expect(JSON.parse(text)).toEqual(summary);
  });
});

describe('DirLock', () => {
  it('refuses a second campaign on the same directory, naming the holder', () => {
    const lock = DirLock.acquire(out);
    try {
      expect(() => DirLock.acquire(out)).toThrow(LockedError);
      expect(() => DirLock.acquire(out)).toThrow(`${out} is in use by a running campaign (pid ${process.pid}); stop it or choose another --out`);
      const info = JSON.parse(fs.readFileSync(path.join(out, '.lock'), 'utf8'));
      expect(info.pid).toBe(process.pid);
      expect(typeof info.startedAt).toBe('string');
    } finally {
      lock.release();
    }
  });

  it('takes over a lock left by a dead process', () => {
    fs.writeFileSync(path.join(out, '.lock'), JSON.stringify({ pid: 999999, startedAt: '2020-01-01T00:00:00Z' }));
    const lock = DirLock.acquire(out);
    expect(JSON.parse(fs.readFileSync(path.join(out, '.lock'), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a garbled lock file', () => {
    fs.writeFileSync(path.join(out, '.lock'), '');
    DirLock.acquire(out).release();
  });

  it('release removes the lock, and the directory can be locked again', () => {
    const lock = DirLock.acquire(out);
    lock.release();
    expect(fs.existsSync(path.join(out, '.lock'))).toBe(false);
    lock.release(); // idempotent
    DirLock.acquire(out).release();
  });

  it('creates the directory it locks', () => {
    const dir = path.join(out, 'new', 'run');
    const lock = DirLock.acquire(dir);
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(true);
    lock.release();
  });
});
