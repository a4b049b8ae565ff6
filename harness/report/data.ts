// What a run directory holds, read for the report: the campaign's summary.json (or, when
// the campaign was killed before writing it, its last saved campaign.json and the bucket
// directories on disk), stats.jsonl, and for a comparison compare.json. Every file may be
// missing, partial or stale; what is missing or odd becomes a note on the page ("what
// happened") instead of an error, so a report of an empty or interrupted run still renders.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { CrashStore, segment, type BucketInfo } from '../store/crashes.js';
import { readEntryFile } from '../store/codec.js';
import type { BucketSummary, CampaignState, CampaignSummary } from '../campaign/campaign.js';
import type { ComparedBucket, CompareReport } from '../compare/compare.js';
import type { CauseSummary } from '../triage/causes.js';

/** One record of stats.jsonl (see Campaign.stats). */
export interface StatsRecord {
  t: string;
  elapsedMs: number;
  execs: number;
  execPerSec: number;
  coverage: number;
  corpus: number;
  buckets: number;
  lostBatches: number;
  lanes: { lane: number; execs: number; execPerSec: number }[];
}

/** The part of campaign.json (the resumable state) the report reads. */
type SavedState = Pick<CampaignState, 'seed' | 'pair' | 'left' | 'right' | 'workers' | 'execs' | 'elapsedMs' | 'lostBatches' | 'buckets' | 'causes'>;

export interface ReportBucket {
  id: string;
  pair: string;
  signature: string;
  words: string;
  kind: string;
  event: string;
  /** Hits; for a bucket seen on disk only, the samples written (a lower bound). */
  count: number;
  countIsLowerBound: boolean;
  firstSeen: { execs: number; ms: number } | null;
  minimizedLength: number | null;
  /** The bucket directory on disk, if there is one. */
  dir: string | null;
  /** Files of the bucket, relative to the run directory (links on the page). */
  files: { dir: string | null; description: string | null; min: string | null; minTxt: string | null; samples: string[] };
  /** The cause it is a symptom of (null: not triaged, e.g. a run of an older svmfuzz). */
  cause: string | null;
  compare: {
    source: ComparedBucket['source'];
    verdict: ComparedBucket['verdict'];
    responsible: string[];
    outOfScope: string[];
    corpusFile: string | null;
    reproducerText: string;
  } | null;
}

export type RunStatus = 'complete' | 'interrupted' | 'running';

export interface RunData {
  dir: string;
  kind: 'fuzz' | 'compare';
  status: RunStatus;
  /** What happened, in words: shown at the top of the page. */
  notes: string[];
  pair: string | null;
  left: { id: string; patches: string[] | null } | null;
  right: { id: string; patches: string[] | null } | null;
  seed: number | null;
  workers: number | null;
  execs: number | null;
  durationMs: number | null;
  coverage: number | null;
  corpus: number | null;
  lostBatches: number | null;
  stopped: CampaignSummary['stopped'] | null;
  compare: CompareReport | null;
  stats: StatsRecord[];
  /** What changed and why (declared changes first): the page leads with them. */
  causes: ReportCause[];
  buckets: ReportBucket[];
  /** A merged directory (`svmfuzz merge`): its inputs, one row each (empty otherwise). */
  shards: ShardRow[];
}

/** One input of a merged directory, as merge.ts records it in summary.json's `merged`. */
export interface ShardRow {
  name: string;
  /** "I/N" when the input was a shard, else null. */
  shard: string | null;
  seed: number;
  workers: number | null;
  execs: number;
  durationMs: number;
  execPerSec: number;
  buckets: number;
  /** Buckets no other input found (null: merged by an svmfuzz that did not count them). */
  onlyHere: number | null;
  causes: number;
  sync: { published: number; imported: number; minimizedPublished?: number; minimizedAdopted?: number; deferred?: number; triagePublished?: number; triageAdopted?: number } | null;
}

/** A shard's sync figures, numbers only (the page prints them: nothing else from the file gets there). */
function syncRow(x: unknown): ShardRow['sync'] {
  const r = x as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || !isNum(r.published) || !isNum(r.imported)) return null;
  const out: NonNullable<ShardRow['sync']> = { published: r.published, imported: r.imported };
  for (const k of ['minimizedPublished', 'minimizedAdopted', 'deferred', 'triagePublished', 'triageAdopted'] as const) if (isNum(r[k])) out[k] = r[k];
  return out;
}

/** summary.json's `merged` list, the rows that have the numbers a row needs. */
function shardRows(summary: unknown): ShardRow[] {
  const list = (summary as { merged?: unknown } | null)?.merged;
  if (!Array.isArray(list)) return [];
  return list.flatMap((x): ShardRow[] => {
    const r = x as Record<string, unknown>;
    if (typeof r.name !== 'string' || !isNum(r.execs) || !isNum(r.durationMs) || !isNum(r.buckets) || !isNum(r.causes)) return [];
    const sh = r.shard as { index?: unknown; count?: unknown } | null;
    return [{
      name: r.name, shard: sh && isNum(sh.index) && isNum(sh.count) ? `${sh.index}/${sh.count}` : null,
      seed: isNum(r.seed) ? r.seed : 0, workers: isNum(r.workers) ? r.workers : null, execs: r.execs, durationMs: r.durationMs,
      execPerSec: isNum(r.execPerSec) ? r.execPerSec : Math.round((r.execs * 1000) / Math.max(1, r.durationMs)),
      buckets: r.buckets, onlyHere: isNum(r.onlyHere) ? r.onlyHere : null, causes: r.causes,
      sync: syncRow(r.sync),
    }];
  });
}

/** A cause as the page shows it; `minTxt` is relative to the run directory. */
export type ReportCause = CauseSummary & { minTxt: string | null; corpusFile?: string | null };

/** The directory holds no run: nothing to report (the CLI turns it into exit 2). */
export class NoRunError extends Error {}

function readJson<T>(file: string, notes: string[]): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    notes.push(`${basename(file)} is unreadable (${(err as Error).message}); it is ignored.`);
    return null;
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * stats.jsonl, one campaign's worth. A kill in the middle of an append leaves a partial
 * last line (skipped). A new campaign started in the same directory without --resume
 * appends with its counters restarted: the file is split where execs go backwards and
 * only the last campaign's records are kept.
 */
function readStats(file: string, notes: string[]): StatsRecord[] {
  if (!existsSync(file)) return [];
  const segments: StatsRecord[][] = [[]];
  let bad = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let r: Partial<StatsRecord>;
    try {
      r = JSON.parse(line) as Partial<StatsRecord>;
    } catch {
      bad++;
      continue;
    }
    if (!isNum(r.elapsedMs) || !isNum(r.execs)) { bad++; continue; }
    const rec: StatsRecord = {
      t: typeof r.t === 'string' ? r.t : '', elapsedMs: r.elapsedMs, execs: r.execs,
      execPerSec: isNum(r.execPerSec) ? r.execPerSec : 0, coverage: isNum(r.coverage) ? r.coverage : 0,
      corpus: isNum(r.corpus) ? r.corpus : 0, buckets: isNum(r.buckets) ? r.buckets : 0,
      lostBatches: isNum(r.lostBatches) ? r.lostBatches : 0,
      lanes: Array.isArray(r.lanes) ? r.lanes.filter((l) => l && isNum(l.lane) && isNum(l.execs) && isNum(l.execPerSec)) : [],
    };
    const cur = segments[segments.length - 1]!;
    const prev = cur[cur.length - 1];
    if (prev && rec.execs < prev.execs) segments.push([rec]);
    else cur.push(rec);
  }
  if (bad) notes.push(`stats.jsonl: ${bad} unreadable line(s) skipped (a kill in the middle of a write leaves a partial line).`);
  if (segments.length > 1) notes.push(`stats.jsonl holds ${segments.length} campaigns started in this directory; the plots show the last one.`);
  return segments[segments.length - 1]!;
}

/** The lock a campaign holds on its directory: alive (running) or left by a killed one. */
function lockHolder(dir: string): { pid: number; alive: boolean } | null {
  const file = join(dir, '.lock');
  if (!existsSync(file)) return null;
  let pid = 0;
  try {
    pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
  } catch {
    return { pid: 0, alive: false };
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return { pid: 0, alive: false };
  try {
    process.kill(pid, 0);
  } catch (err) {
    return { pid, alive: (err as NodeJS.ErrnoException).code === 'EPERM' };
  }
  // A process killed a moment ago can linger as a zombie, which signal 0 still reaches.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return { pid, alive: false };
  } catch {
    // No /proc (not Linux) or already gone: signal 0 answered, so take it as alive.
  }
  return { pid, alive: true };
}

const rel = (runDir: string, p: string): string => relative(runDir, p).split(sep).join('/');

function bucketFiles(runDir: string, dir: string | null): ReportBucket['files'] {
  if (!dir) return { dir: null, description: null, min: null, minTxt: null, samples: [] };
  const has = (name: string) => (existsSync(join(dir, name)) ? rel(runDir, join(dir, name)) : null);
  let samples: string[] = [];
  try {
    samples = readdirSync(join(dir, 'samples')).filter((f) => /^\d+\.msgpack$/.test(f)).sort().map((f) => rel(runDir, join(dir, 'samples', f)));
  } catch {
    samples = [];
  }
  return { dir: `${rel(runDir, dir)}/`, description: has('description.txt'), min: has('min.msgpack'), minTxt: has('min.txt'), samples };
}

function fromSummary(runDir: string, b: BucketSummary, pair: string, onDisk: Map<string, BucketInfo>): ReportBucket {
  const disk = onDisk.get(b.id);
  const dir = disk?.dir ?? (existsSync(b.dir) ? resolve(b.dir) : null);
  return {
    id: b.id, pair, signature: b.signature, words: b.words, kind: b.kind, event: b.event, count: b.count, countIsLowerBound: false,
    firstSeen: b.firstSeen ? { execs: b.firstSeen.execs, ms: b.firstSeen.ms } : null, minimizedLength: b.minimizedLength,
    dir, files: bucketFiles(runDir, dir), cause: b.cause ?? null, compare: null,
  };
}

/** A bucket found on disk only (written after the last state save): read from its files. */
function fromDisk(runDir: string, b: BucketInfo, notes: string[]): ReportBucket | null {
  const files = bucketFiles(runDir, b.dir);
  const entryFile = files.min ?? files.samples[0];
  if (!entryFile) {
    notes.push(`${rel(runDir, b.dir)}: an empty bucket directory (the run stopped between creating it and writing its first sample); skipped.`);
    return null;
  }
  let words = '';
  try {
    words = readFileSync(join(b.dir, 'description.txt'), 'utf8').split('\n')[0] ?? '';
  } catch {
    words = '';
  }
  try {
    const e = readEntryFile(join(runDir, entryFile));
    if (e.expected.outcome !== 'diverges' || !e.divergence) return null;
    const min = files.min ? e : null;
    return {
      id: b.id, pair: e.pair, signature: e.expected.signature, words: words || e.expected.signature, kind: e.divergence.kind,
      event: e.divergence.event, count: Math.max(1, b.samples), countIsLowerBound: true, firstSeen: null,
      minimizedLength: min ? min.events.length : null, dir: b.dir, files, cause: null, compare: null,
    };
  } catch (err) {
    notes.push(`${rel(runDir, b.dir)}: unreadable bucket (${(err as Error).message}); skipped.`);
    return null;
  }
}

/** A directory that looks like a bucket: what the crash store writes into one. */
const looksLikeBucket = (b: BucketInfo): boolean =>
  b.samples > 0 || b.minimized || existsSync(join(b.dir, 'description.txt'));

/** A duration as a person says it: 2.5 s, 45 s, 12.0 min, 8.0 h. */
export function durationWords(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function loadRun(dirArg: string): RunData {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new NoRunError(`${dirArg}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new NoRunError(`${dirArg}: not a directory (give a run directory: the --out of fuzz or compare)`);
  const notes: string[] = [];
  const summary = readJson<CampaignSummary>(join(dir, 'summary.json'), notes);
  let state = readJson<SavedState>(join(dir, 'campaign.json'), notes);
  const compare = readJson<CompareReport>(join(dir, 'compare.json'), notes);
  const hasStats = existsSync(join(dir, 'stats.jsonl'));
  const stats = readStats(join(dir, 'stats.jsonl'), notes);
  const lock = lockHolder(dir);
  const store = new CrashStore(dir);

  // The pair: from what the campaign wrote, else from the bucket directories on disk.
  const pair = summary?.pair ?? state?.pair ?? null;
  const allOnDisk = store.listBuckets().filter(looksLikeBucket);
  const onDiskList = pair === null ? allOnDisk : store.listBuckets(pair).filter(looksLikeBucket);
  if (!summary && !state && !compare && !hasStats && !allOnDisk.length) {
    throw new NoRunError(`${dirArg}: holds no run (no summary.json, campaign.json, stats.jsonl, compare.json or bucket directories; give the --out directory of fuzz or compare)`);
  }
  if (pair !== null) {
    const foreign = [...new Set(allOnDisk.map((b) => b.pair))].filter((p) => p !== segment(pair));
    if (foreign.length) notes.push(`Bucket directories of other pairs are here too (${foreign.join(', ')}): from other campaigns in this directory, not in this report.`);
  }
  const onDisk = new Map(onDiskList.map((b) => [b.id, b]));

  if (state && (!Array.isArray(state.buckets) || !isNum(state.execs))) {
    notes.push('campaign.json is incomplete; it is ignored.');
    state = null;
  }
  // A summary.json behind campaign.json belongs to an earlier session or campaign in this
  // directory (at the end of a run the state is saved right before the summary): e.g. a
  // resumed campaign that was killed.
  let useSummary = summary;
  if (summary && state && (state.seed !== summary.seed || state.pair !== summary.pair || state.execs > summary.execs)) {
    notes.push('summary.json is from an earlier session or campaign in this directory (campaign.json is newer); showing the last saved state.');
    useSummary = null;
  }

  let status: RunStatus = 'complete';
  if (lock?.alive) {
    status = 'running';
    notes.unshift(`running: a campaign (pid ${lock.pid}) holds this directory; showing its last saved state.`);
  } else if (!useSummary && (state || hasStats || onDiskList.length)) {
    status = 'interrupted';
    const what = state ? 'showing the last saved state (campaign.json' + (hasStats ? ', stats.jsonl' : '') + ' and the bucket directories)'
      : 'no campaign.json either (it stopped before its first state save); showing the bucket directories on disk';
    notes.unshift(`interrupted: no summary.json${lock ? ` (the lock of pid ${lock.pid} was left behind: the process was killed)` : ''}; ${what}.`);
  }
  if (status === 'interrupted' && state) {
    const sel = state.pair === `${state.left}..${state.right}` ? `--versions ${state.left},${state.right}` : `--pair ${state.pair}`;
    notes.push(`Continue it with \`svmfuzz fuzz ${sel} --out ${dirArg} --resume\` (counters continue; no bucket is lost).`);
  }
  if (!hasStats && (useSummary || state)) notes.push('no stats.jsonl: the run recorded no status over time, so there are no plots of rates and coverage.');

  // Buckets: the summary's, else the saved state's plus those on disk only.
  const buckets: ReportBucket[] = [];
  const seen = new Set<string>();
  const listed = useSummary?.buckets ?? state?.buckets ?? [];
  for (const b of listed) {
    if (seen.has(b.id)) continue;
    seen.add(b.id);
    buckets.push(fromSummary(dir, b, pair ?? '', onDisk));
  }
  if (!useSummary) {
    let extra = 0;
    for (const b of onDiskList) {
      if (seen.has(b.id)) continue;
      const r = fromDisk(dir, b, notes);
      if (!r) continue;
      seen.add(b.id);
      buckets.push(r);
      extra++;
    }
    if (extra && state) notes.push(`${extra} bucket(s) were written after the last state save: read from their directories (count = samples written, first seen unknown).`);
  }

  // A comparison: its buckets (with verdicts) are the list; the campaign gives first-seen.
  const last = stats[stats.length - 1];
  const data: RunData = {
    dir, kind: compare ? 'compare' : 'fuzz', status, notes,
    pair: pair ?? onDiskList[0]?.pair ?? null,
    left: useSummary ? useSummary.left : state ? { id: state.left, patches: null } : null,
    right: useSummary ? useSummary.right : state ? { id: state.right, patches: null } : null,
    seed: useSummary?.seed ?? state?.seed ?? null,
    workers: useSummary?.workers ?? state?.workers ?? (last ? last.lanes.length || null : null),
    execs: useSummary?.execs ?? (state || last ? Math.max(state?.execs ?? 0, last?.execs ?? 0) : null),
    durationMs: useSummary?.durationMs ?? (state || last ? Math.max(state?.elapsedMs ?? 0, last?.elapsedMs ?? 0) : null),
    coverage: useSummary?.coverage ?? last?.coverage ?? null,
    corpus: useSummary?.corpus ?? last?.corpus ?? null,
    lostBatches: useSummary?.lostBatches ?? state?.lostBatches ?? null,
    stopped: useSummary?.stopped ?? null,
    compare, stats, buckets, shards: shardRows(useSummary),
    causes: (compare?.causes ?? useSummary?.causes ?? state?.causes ?? []).map((c) => reportCause(dir, pair ?? (compare ? `${compare.left.id}..${compare.right.id}` : ''), c)),
  };
  if (compare) mergeCompare(data, compare);
  else if (basename(dir).startsWith('compare-') && !compare) {
    notes.push('no compare.json: if this was a comparison, it did not finish; showing its campaign.');
  }
  if (data.status === 'complete' && !data.buckets.length) {
    notes.push(data.kind === 'compare'
      ? 'no divergence found: the two versions behaved the same on the corpus and in fuzzing.'
      : `no divergence found${data.execs !== null ? ` in ${data.execs.toLocaleString('en-US')} executions` : ''}${data.durationMs !== null ? ` (${durationWords(data.durationMs)})` : ''}.`);
  }
  return data;
}

/** The cause's reproducer lives in <run>/<pair>/causes/<id>/ wherever the run was started from. */
function reportCause(runDir: string, pair: string, c: CauseSummary): ReportCause {
  const file = join(new CrashStore(runDir).causeDir(pair, c.id), 'min.txt');
  return { ...c, minTxt: existsSync(file) ? rel(runDir, file) : null };
}

/** compare.json's buckets replace the campaign's list; first-seen and files come from the campaign. */
function mergeCompare(data: RunData, c: CompareReport): void {
  const byId = new Map(data.buckets.map((b) => [b.id, b]));
  data.left = { id: c.left.id, patches: c.left.patches };
  data.right = { id: c.right.id, patches: c.right.patches };
  data.pair ??= `${c.left.id}..${c.right.id}`;
  data.seed ??= c.fuzz.seed;
  data.workers ??= c.fuzz.workers;
  data.execs ??= c.fuzz.execs;
  data.durationMs ??= c.fuzz.durationMs;
  data.buckets = c.buckets.map((cb) => {
    const fb = byId.get(cb.id);
    const dir = fb?.dir ?? (cb.reproducer.dir && existsSync(cb.reproducer.dir) ? resolve(cb.reproducer.dir) : null);
    return {
      id: cb.id, pair: data.pair ?? '', signature: cb.signature, words: cb.words, kind: cb.kind, event: cb.event, count: cb.count,
      countIsLowerBound: false, firstSeen: fb?.firstSeen ?? null, minimizedLength: cb.reproducer.length, dir,
      files: fb?.files ?? bucketFiles(data.dir, dir), cause: cb.cause ?? null,
      compare: {
        source: cb.source, verdict: cb.verdict, responsible: cb.responsible, outOfScope: cb.outOfScope,
        corpusFile: cb.reproducer.file, reproducerText: cb.reproducer.text,
      },
    };
  });
  if (!c.fuzz.execs) data.notes.push('no fuzzing in this comparison (--runs 0): the buckets come from the regression corpus only.');
}
