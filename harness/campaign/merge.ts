// `svmfuzz merge OUT DIR...`: the union of campaigns of one pair (the shards of a sharded
// campaign, or any runs of the same two versions) in one directory that report, replay,
// promote and print read like a campaign's. Nothing is lost: every bucket and cause of
// every input, each bucket's and cause's samples (all distinct ones), its shortest
// minimized reproducer, every corpus input, each input's stats. Bucket and cause ids are
// hashes of their signature and cause key, so the same finding in two shards is one.
//
// Deterministic and idempotent: the inputs are taken in sorted order and OUT is rebuilt
// from them every time, so the same inputs give the same bytes; a killed merge is run
// again. OUT must be new or a directory this command wrote (merge.json marks it).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { writeFileAtomic } from '../store/fsutil.js';
import { segment } from '../store/crashes.js';
import type { BucketSummary, CampaignSummary } from './campaign.js';
import type { CauseSummary } from '../triage/causes.js';
import { readShardRecord } from './shard.js';

const packr = new Packr({ useRecords: false });

/** An input that cannot be merged, or an OUT that is not ours; the message names it. */
export class MergeError extends Error {}

interface Input {
  dir: string;
  name: string;
  summary: CampaignSummary;
}

/** What merge.json records: the inputs, and what of OUT this command wrote (removed on the next run). */
interface MergeRecord {
  schema: 1;
  complete: boolean;
  inputs: string[];
  wrote: string[];
}

const MARK = 'merge.json';

function readSummary(dir: string): CampaignSummary {
  const file = path.join(dir, 'summary.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MergeError(code === 'ENOENT'
      ? `${dir}: no summary.json (not a finished campaign: let it finish, or run fuzz --resume on it, first)`
      : `${file}: ${(err as Error).message}`);
  }
  try {
    const s = JSON.parse(text) as CampaignSummary;
    if (s.schema !== 1 || !Array.isArray(s.buckets) || !Array.isArray(s.causes) || typeof s.pair !== 'string') throw new Error('fields missing');
    return s;
  } catch (err) {
    throw new MergeError(`${file}: not a campaign summary (${(err as Error).message})`);
  }
}

const versionsOf = (s: CampaignSummary): string => `${s.left.id} [${s.left.patches.join(' ')}] vs ${s.right.id} [${s.right.patches.join(' ')}]`;

/** Checks OUT (new, empty, or an earlier merge's) and clears what an earlier merge wrote. */
function prepareOut(out: string, inputs: readonly Input[]): void {
  const resolved = path.resolve(out);
  for (const i of inputs) {
    const d = path.resolve(i.dir);
    if (d === resolved || d.startsWith(resolved + path.sep) || resolved.startsWith(d + path.sep)) {
      throw new MergeError(`${out}: the output may not be, hold or lie inside an input (${i.dir})`);
    }
  }
  if (!fs.existsSync(out)) return;
  const entries = fs.readdirSync(out);
  if (!entries.length) return;
  let rec: MergeRecord;
  try {
    rec = JSON.parse(fs.readFileSync(path.join(out, MARK), 'utf8')) as MergeRecord;
  } catch {
    throw new MergeError(`${out}: exists and is not a merge directory (no ${MARK}): give a new directory`);
  }
  for (const name of rec.wrote ?? []) fs.rmSync(path.join(out, segment(name)), { recursive: true, force: true });
}

/** The file names of a directory, sorted ([] when it does not exist). */
function names(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Merges one finding's directory (a bucket or a cause) from every input holding it: the
 * files of `best` (its description, record and minimized reproducer), then every distinct
 * sample of every input, numbered in input order.
 */
function mergeFindingDir(target: string, sources: readonly string[], best: string): void {
  fs.mkdirSync(target, { recursive: true });
  for (const f of names(best)) {
    const p = path.join(best, f);
    if (fs.statSync(p).isFile()) fs.copyFileSync(p, path.join(target, f));
  }
  const seen = new Set<string>();
  let n = 0;
  for (const src of sources) {
    for (const f of names(path.join(src, 'samples'))) {
      if (!f.endsWith('.msgpack')) continue;
      const bytes = fs.readFileSync(path.join(src, 'samples', f));
      const key = bytes.toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      fs.mkdirSync(path.join(target, 'samples'), { recursive: true });
      fs.writeFileSync(path.join(target, 'samples', `${String(n++).padStart(4, '0')}.msgpack`), bytes);
    }
  }
}

const earlier = <T extends { firstSeen: { ms: number } }>(a: T, b: T): T => (b.firstSeen.ms < a.firstSeen.ms ? b : a);
const shorter = (a: number | null, b: number | null): boolean => b !== null && (a === null || b < a);

/** Merges the bucket summaries of one id. `dir` is OUT's copy. */
function mergeBucket(list: readonly BucketSummary[], dir: string): BucketSummary {
  let m: BucketSummary = { ...list[0]! };
  for (const b of list.slice(1)) {
    m.count += b.count;
    m.firstSeen = earlier(m, b).firstSeen;
    if (shorter(m.minimizedLength, b.minimizedLength)) m.minimizedLength = b.minimizedLength;
    m.cause ??= b.cause;
    if (b.verdict === 'collateral') m.verdict = 'collateral';
    if (b.outOfScope?.length) m.outOfScope = [...new Set([...(m.outOfScope ?? []), ...b.outOfScope])].sort();
  }
  m = { ...m, dir };
  return m;
}

/** Merges the cause summaries of one id: symptoms in order of first sight, counts summed. */
function mergeCause(list: readonly CauseSummary[], buckets: ReadonlyMap<string, BucketSummary>, reproducerDir: string, best: CauseSummary): CauseSummary {
  const m: CauseSummary = { ...best, symptoms: [], outOfScope: [], reproducer: { ...best.reproducer, dir: reproducerDir } };
  m.count = 0;
  m.samples = 0;
  m.firstSeen = list.reduce((a, b) => earlier(a, b)).firstSeen;
  const symptoms = new Set<string>();
  const scope = new Set<string>();
  for (const c of list) {
    m.count += c.count;
    m.samples += c.samples;
    for (const s of c.symptoms) symptoms.add(s);
    for (const f of c.outOfScope) scope.add(f);
    if (c.verdict === 'collateral') m.verdict = 'collateral';
    m.known ??= c.known;
  }
  const firstMs = (id: string): number => buckets.get(id)?.firstSeen.ms ?? Infinity;
  m.symptoms = [...symptoms].sort((a, b) => firstMs(a) - firstMs(b) || (a < b ? -1 : a > b ? 1 : 0));
  m.outOfScope = [...scope].sort();
  m.collateralSymptoms = m.symptoms.filter((id) => (buckets.get(id)?.outOfScope?.length ?? 0) > 0).length;
  return m;
}

export interface MergeResult {
  out: string;
  inputs: number;
  buckets: number;
  causes: number;
  execs: number;
  corpus: number;
}

/** Merges the campaign directories `dirs` into `out`. */
export function mergeCampaigns(out: string, dirs: readonly string[]): MergeResult {
  if (!dirs.length) throw new MergeError('merge: give the output directory and at least one campaign directory');
  const sorted = [...new Set(dirs.map((d) => path.resolve(d)))].sort();
  const inputs: Input[] = sorted.map((dir) => ({ dir, name: path.basename(dir), summary: readSummary(dir) }));
  const first = inputs[0]!;
  for (const i of inputs.slice(1)) {
    if (i.summary.pair !== first.summary.pair || versionsOf(i.summary) !== versionsOf(first.summary)) {
      throw new MergeError(`${i.dir}: pair ${i.summary.pair}, ${versionsOf(i.summary)}; ${first.dir}: pair ${first.summary.pair}, ${versionsOf(first.summary)}: merge takes campaigns of one pair and the same versions`);
    }
  }
  const names = new Set(inputs.map((i) => i.name));
  if (names.size !== inputs.length) throw new MergeError('merge: two inputs have the same directory name; the merge keeps per-input stats by name');
  prepareOut(out, inputs);
  fs.mkdirSync(out, { recursive: true });
  // A finding's directory, relative to its campaign's: <pair>/<id> for a bucket (the
  // campaign's pair, or a focused pair's), <pair>/causes/<id> for a cause. Taken from the
  // tail of the recorded path, which may be relative to where that campaign ran.
  const tail = (dir: string, parts: number): string => dir.split(/[\\/]/).slice(-parts).map(segment).join(path.sep);
  const pairDirs = new Set<string>([segment(first.summary.pair)]);
  for (const i of inputs) {
    for (const b of i.summary.buckets) pairDirs.add(tail(b.dir, 2).split(path.sep)[0]!);
    for (const c of i.summary.causes) pairDirs.add(tail(c.reproducer.dir, 3).split(path.sep)[0]!);
  }
  const wrote = [...[...pairDirs].sort(), 'summary.json', 'corpus.msgpack', 'shards'];
  const record = (complete: boolean): void => writeFileAtomic(path.join(out, MARK), `${JSON.stringify({ schema: 1, complete, inputs: inputs.map((i) => i.dir), wrote } satisfies MergeRecord, null, 2)}\n`, true);
  record(false);

  // Buckets: the copy with the shortest minimized reproducer supplies its files.
  const byBucket = new Map<string, { input: Input; b: BucketSummary }[]>();
  for (const input of inputs) for (const b of input.summary.buckets) {
    const l = byBucket.get(b.id) ?? [];
    l.push({ input, b });
    byBucket.set(b.id, l);
  }
  const buckets = new Map<string, BucketSummary>();
  for (const id of [...byBucket.keys()].sort()) {
    const list = byBucket.get(id)!;
    const best = list.reduce((a, x) => (shorter(a.b.minimizedLength, x.b.minimizedLength) ? x : a));
    const rel = tail(best.b.dir, 2);
    const target = path.join(out, rel);
    mergeFindingDir(target, list.map((x) => path.join(x.input.dir, tail(x.b.dir, 2))), path.join(best.input.dir, rel));
    buckets.set(id, mergeBucket(list.map((x) => x.b), target));
  }

  // Causes: the shortest reproducer wins, the rest is summed and united.
  const byCause = new Map<string, { input: Input; c: CauseSummary }[]>();
  for (const input of inputs) for (const c of input.summary.causes) {
    const l = byCause.get(c.id) ?? [];
    l.push({ input, c });
    byCause.set(c.id, l);
  }
  const causes: CauseSummary[] = [];
  for (const id of [...byCause.keys()].sort()) {
    const list = byCause.get(id)!;
    const best = list.reduce((a, x) => (shorter(a.c.reproducer.length, x.c.reproducer.length) ? x : a));
    const rel = tail(best.c.reproducer.dir, 3);
    const target = path.join(out, rel);
    mergeFindingDir(target, list.map((x) => path.join(x.input.dir, tail(x.c.reproducer.dir, 3))), path.join(best.input.dir, rel));
    causes.push(mergeCause(list.map((x) => x.c), buckets, target, best.c));
  }
  // New causes first, then by first sight (as a campaign lists them).
  causes.sort((a, b) => Number(a.known !== null) - Number(b.known !== null) || a.firstSeen.ms - b.firstSeen.ms || (a.id < b.id ? -1 : 1));

  // The corpus: every distinct input of every campaign.
  const corpus: unknown[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const file = path.join(input.dir, 'corpus.msgpack');
    if (!fs.existsSync(file)) continue;
    let items: unknown[];
    try {
      items = packr.unpack(fs.readFileSync(file)) as unknown[];
      if (!Array.isArray(items)) throw new Error('not an array');
    } catch (err) {
      throw new MergeError(`${file}: not a campaign corpus (${(err as Error).message})`);
    }
    for (const x of items) {
      const key = Buffer.from(packr.pack(x)).toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      corpus.push(x);
    }
  }
  writeFileAtomic(path.join(out, 'corpus.msgpack'), packr.pack(corpus));

  // Each input's own record: its stats and shard record, under shards/<name>/.
  const shards = inputs.map((input) => {
    const dir = path.join(out, 'shards', segment(input.name));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['stats.jsonl', 'shard.json']) if (fs.existsSync(path.join(input.dir, f))) fs.copyFileSync(path.join(input.dir, f), path.join(dir, f));
    const s = input.summary;
    // Buckets no other input found: what this shard alone contributed.
    const only = s.buckets.filter((b) => byBucket.get(b.id)!.length === 1).length;
    return {
      name: input.name, dir: input.dir, shard: readShardRecord(input.dir), seed: s.seed, workers: s.workers, execs: s.execs, durationMs: s.durationMs,
      execPerSec: Math.round((s.execs * 1000) / Math.max(1, s.durationMs)), buckets: s.buckets.length, onlyHere: only, causes: s.causes.length,
      stopped: s.stopped, sync: s.sync ?? null,
    };
  });

  const campaignSeeds = new Set(shards.map((s) => s.shard?.campaignSeed));
  const sum = (f: (s: CampaignSummary) => number): number => inputs.reduce((n, i) => n + f(i.summary), 0);
  const stops = new Set(inputs.map((i) => i.summary.stopped));
  const summary: CampaignSummary & { merged: typeof shards } = {
    schema: 1,
    seed: campaignSeeds.size === 1 && [...campaignSeeds][0] !== undefined ? [...campaignSeeds][0]! : first.summary.seed,
    pair: first.summary.pair, left: first.summary.left, right: first.summary.right,
    workers: sum((s) => s.workers),
    execs: sum((s) => s.execs),
    durationMs: Math.max(...inputs.map((i) => i.summary.durationMs)),
    // Coverage is a count per campaign (the feature sets are not stored): the largest.
    coverage: Math.max(...inputs.map((i) => i.summary.coverage)),
    corpus: corpus.length,
    lostBatches: sum((s) => s.lostBatches),
    stopped: stops.size === 1 ? first.summary.stopped : stops.has('signal') ? 'signal' : stops.has('duration') ? 'duration' : 'runs',
    causes,
    buckets: [...buckets.values()].sort((a, b) => a.firstSeen.ms - b.firstSeen.ms || (a.id < b.id ? -1 : 1)),
    triage: { symptoms: sum((s) => s.triage.symptoms), ms: sum((s) => s.triage.ms), minimizeMs: sum((s) => s.triage.minimizeMs) },
    supervisor: {
      reports: sum((s) => s.supervisor?.reports ?? 0), mergeMs: sum((s) => s.supervisor?.mergeMs ?? 0),
      roundMs: Math.max(0, ...inputs.map((i) => i.summary.supervisor?.roundMs ?? 0)),
    },
    merged: shards,
  };
  writeFileAtomic(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`, true);
  record(true);
  return { out, inputs: inputs.length, buckets: buckets.size, causes: causes.length, execs: summary.execs, corpus: corpus.length };
}
