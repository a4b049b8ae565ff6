// The crash corpus on disk: <out>/<pair>/<bucketId>/ with description.txt, the first few
// samples/NNNN.msgpack, and min.msgpack + min.txt once minimized. Everything is read
// back from disk (no in-memory index), so a restarted campaign continues where it stopped.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CorpusEntry } from './entry.js';
import { writeEntryFile } from './codec.js';
import { writeFileAtomic } from './fsutil.js';

export interface CrashStoreOptions {
  /** Serialized samples per bucket: a few show the spread, more only cost disk. */
  samplesPerBucket?: number;
}

export interface BucketInfo {
  pair: string;
  id: string;
  dir: string;
  samples: number;
  minimized: boolean;
}

/**
 * Names come from user-defined pairs and signatures; keep them to one safe path segment
 * (no leading '.', so never '..' and never hidden from listBuckets).
 */
export function segment(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_') || '_';
}

/** The causes of a pair live beside its buckets (bucket ids are hex, so never this name). */
export const CAUSES_DIR = 'causes';

const SAMPLE_RE = /^(\d+)\.msgpack$/;

function sampleIndices(dir: string): number[] {
  try {
    return fs.readdirSync(dir).flatMap((f) => {
      const m = SAMPLE_RE.exec(f);
      return m ? [Number(m[1])] : [];
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class CrashStore {
  readonly samplesPerBucket: number;

  constructor(readonly outDir: string, opts: CrashStoreOptions = {}) {
    this.samplesPerBucket = opts.samplesPerBucket ?? 4;
  }

  bucketDir(pair: string, bucketId: string): string {
    return path.join(this.outDir, segment(pair), segment(bucketId));
  }

  /** <out>/<pair>/causes/<causeId>/: description.txt, cause.json, min.msgpack + min.txt. */
  causeDir(pair: string, causeId: string): string {
    return path.join(this.outDir, segment(pair), CAUSES_DIR, segment(causeId));
  }

  /** Creates a cause's directory with its description (once; the first triage describes it). */
  addCause(pair: string, causeId: string, description: string, info: unknown): string {
    const dir = this.causeDir(pair, causeId);
    fs.mkdirSync(dir, { recursive: true });
    const descFile = path.join(dir, 'description.txt');
    if (!fs.existsSync(descFile)) writeFileAtomic(descFile, description.endsWith('\n') ? description : description + '\n');
    writeFileAtomic(path.join(dir, 'cause.json'), JSON.stringify(info, null, 2) + '\n');
    return dir;
  }

  writeCauseReproducer(pair: string, causeId: string, entry: CorpusEntry, text: string): { msgpack: string; txt: string } {
    const dir = this.causeDir(pair, causeId);
    fs.mkdirSync(dir, { recursive: true });
    const msgpack = path.join(dir, 'min.msgpack');
    const txt = path.join(dir, 'min.txt');
    writeEntryFile(msgpack, entry);
    writeFileAtomic(txt, text);
    return { msgpack, txt };
  }

  /**
   * Records one example of a bucket. The first creates the bucket (isNew) with its
   * description; after the cap, samples are counted by the caller but not written.
   */
  addSample(bucketId: string, description: string, entry: CorpusEntry): { path: string | null; isNew: boolean } {
    const dir = this.bucketDir(entry.pair, bucketId);
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    let isNew = true;
    try {
      fs.mkdirSync(dir); // the atomic "first one here" test
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      isNew = false;
    }
    // Also when missing in an old bucket: a run killed between mkdir and this write.
    const descFile = path.join(dir, 'description.txt');
    if (isNew || !fs.existsSync(descFile)) writeFileAtomic(descFile, description.endsWith('\n') ? description : description + '\n');

    const samplesDir = path.join(dir, 'samples');
    const have = sampleIndices(samplesDir);
    if (have.length >= this.samplesPerBucket) return { path: null, isNew };
    const next = have.length ? Math.max(...have) + 1 : 0;
    const file = path.join(samplesDir, `${String(next).padStart(4, '0')}.msgpack`);
    writeEntryFile(file, entry);
    return { path: file, isNew };
  }

  writeMinimized(bucketId: string, entry: CorpusEntry, text: string): { msgpack: string; txt: string } {
    const dir = this.bucketDir(entry.pair, bucketId);
    const msgpack = path.join(dir, 'min.msgpack');
    const txt = path.join(dir, 'min.txt');
    writeEntryFile(msgpack, entry);
    writeFileAtomic(txt, text);
    return { msgpack, txt };
  }

  writeSummary(summary: unknown): string {
    const file = path.join(this.outDir, 'summary.json');
    writeFileAtomic(file, JSON.stringify(summary, null, 2) + '\n', true);
    return file;
  }

  /** Buckets on disk, sorted by pair then id (a stable order for reports and tests). */
  listBuckets(pair?: string): BucketInfo[] {
    const pairs = pair === undefined ? subdirs(this.outDir) : [segment(pair)];
    const out: BucketInfo[] = [];
    for (const p of pairs.sort(byName)) {
      for (const id of subdirs(path.join(this.outDir, p)).sort(byName)) {
        if (id === CAUSES_DIR) continue;
        const dir = path.join(this.outDir, p, id);
        out.push({
          pair: p, id, dir,
          samples: sampleIndices(path.join(dir, 'samples')).length,
          minimized: fs.existsSync(path.join(dir, 'min.msgpack')),
        });
      }
    }
    return out;
  }
}
