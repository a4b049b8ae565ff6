// Crash-safe file writes and the run-directory lock: a killed campaign leaves either the
// old file or the new one (never half of one), and two campaigns never share an output dir.

import * as fs from 'node:fs';
import * as path from 'node:path';

let tempCounter = 0;

/**
 * Writes via a temp file in the same directory (rename is only atomic within one
 * filesystem), so a killed process leaves the old file or the new one, never half of one.
 * `durable` also fsyncs before the rename, for power loss; the campaign's frequent writes
 * (samples, state) skip it: an fsync stalls the supervisor for milliseconds, and a killed
 * process cannot lose data the kernel already holds. The temp name starts with '.' and
 * ends in '.tmp' so directory scans skip it.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, durable = false): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tempCounter++}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export class LockedError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`${dir} is in use by a running campaign (pid ${pid}); stop it or choose another --out`);
  }
}

interface LockInfo {
  pid: number;
  startedAt: string;
  /** Linux: the holder's start time (/proc/<pid>/stat, clock ticks since boot) and boot id, to tell a reused pid from the holder. */
  procStart?: string;
  bootId?: string;
}

/** /proc/<pid>/stat's state and start time (Linux), or null where there is no /proc. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return null;
  }
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Is the lock's holder still running? Not if its pid is gone, is a zombie, belongs to
 * another boot, or has been reused by a process that started at another time (a restarted
 * container's pid 1 taking over its earlier self's lock: same pid, another start time).
 */
function holderAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else — still alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (info.bootId !== undefined && bootId() !== undefined && info.bootId !== bootId()) return false;
  const st = procStat(info.pid);
  if (st && st.state === 'Z') return false;
  if (st && info.procStart !== undefined && st.start !== info.procStart) return false;
  return true;
}

/** The lock's content, or null when unreadable or garbled (a lock nobody can own). */
function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return Number.isInteger(info.pid) && (info.pid as number) > 0 ? (info as LockInfo) : null;
  } catch {
    return null;
  }
}

/** `<dir>/.lock`, held for the life of a campaign; a lock left by a dead pid is taken over. */
export class DirLock {
  private released = false;

  private constructor(readonly file: string, readonly info: LockInfo) {}

  static acquire(dir: string): DirLock {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, '.lock');
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), procStart: procStat(process.pid)?.start, bootId: bootId() };
    // A few rounds: between removing a stale lock and creating ours another campaign may win.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(info) + '\n', { flag: 'wx' });
        return new DirLock(file, info);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readLock(file);
      if (holder && holderAlive(holder)) throw new LockedError(dir, holder.pid);
      fs.rmSync(file, { force: true }); // stale: its campaign died without releasing
    }
    const holder = readLock(file);
    throw new LockedError(dir, holder?.pid ?? 0);
  }

  /** Removes the lock if it is still ours (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const now = readLock(this.file);
    if (now && now.pid === this.info.pid && now.startedAt === this.info.startedAt) fs.rmSync(this.file, { force: true });
  }
}

/**
 * The path of `name` inside `dir`, refusing anything that would land elsewhere: a name
 * with a path separator, '..', a leading '.', or control characters. Names that come
 * from entries are made safe with `segment` first; this guards the user's own names.
 */
export function fileInside(dir: string, name: string): string {
  // eslint-disable-next-line no-control-regex
  if (!name || /[/\\\x00-\x1f\x7f]/.test(name) || name.startsWith('.')) {
    throw new UnsafeNameError(`'${name.replace(/[\x00-\x1f\x7f]/g, '?')}' is not a file name inside ${dir} (no '/', no leading '.', no control characters)`);
  }
  const file = path.join(dir, name);
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UnsafeNameError(`'${name}' would be written outside ${dir}`);
  return file;
}

export class UnsafeNameError extends Error {}

/** Inputs larger than this are refused: an entry or stream is kilobytes; a huge one is a mistake (or /dev/zero). */
export const MAX_INPUT_BYTES = 64 * 2 ** 20;

/**
 * Reads an input file the user named: a regular file of at most MAX_INPUT_BYTES. A FIFO,
 * a device or a directory would block, never end, or fail oddly: refused with the reason.
 */
export function readInputFile(file: string): Buffer {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new InputFileError(`${file}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file'})`);
  if (st.size > MAX_INPUT_BYTES) throw new InputFileError(`${file}: ${st.size} bytes, more than the ${MAX_INPUT_BYTES / 2 ** 20} MB an input may have`);
  return fs.readFileSync(file);
}

export class InputFileError extends Error {}
