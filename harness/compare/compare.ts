// Comparing two model versions: replay the regression corpus on them and fuzz them; every
// divergence is triaged to its cause (harness/triage: the responsible patches by
// bisection over the patch list, and the kernel function where the versions first part),
// and each cause gets a verdict: intended (the change its patches declare) or collateral
// (a possible regression). The report leads with causes; buckets are their symptoms.

import { join } from 'node:path';
import { defaultConfig, type SvmConfig } from '../../models/svm/config.js';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { loadRegistry } from '../../models/registry.js';
import { makeModel } from '../../models/svm/model.js';
import type { Version } from '../../models/svm/versions.js';
import { readEntryFile } from '../store/codec.js';
import { executeGuarded } from '../engine/oracle.js';
import { signatureOf } from '../engine/signature.js';
import { entryFiles } from '../store/replay.js';
import { type BucketSummary, type CampaignOptions, type CampaignSummary } from '../campaign/campaign.js';
import { runCampaign } from '../campaign/supervisor.js';
import { Triage, type Cause } from '../triage/cause.js';
import { applyPatches, attribute, patchDiff } from '../triage/attribute.js';
import type { CauseSummary } from '../triage/causes.js';
import { makeEntry } from '../engine/lane.js';
import { printStream } from '../text/text.js';
import type { CorpusEntry } from '../store/entry.js';

/** A comparison fuzzes like a campaign (same budget, lanes and logging), on two versions. */
export type CompareOptions = Pick<CampaignOptions, 'modelFiles' | 'seed' | 'runs' | 'durationMs' | 'workers' | 'out' | 'hangMs' | 'log' | 'status' | 'stop'> & {
  left: Version;
  right: Version;
  /** Regression corpus paths replayed first. */
  corpus: string[];
  /**
   * The pair these two versions form, if one is defined: its id labels the buckets (so a
   * divergence has the same id in `fuzz --pair P` and in `compare`) and its config is used.
   */
  pair?: { id: string; config: Partial<SvmConfig> };
};

/** A bucket (symptom) of the comparison: the campaign's identity fields, its cause and verdict. */
export interface ComparedBucket extends Pick<BucketSummary, 'id' | 'signature' | 'words' | 'kind' | 'event' | 'count'> {
  source: 'fuzz' | 'corpus';
  reproducer: { dir: string | null; file: string | null; length: number; text: string };
  /** The cause it is a symptom of. */
  cause: string;
  /** The cause's patches. */
  responsible: string[];
  verdict: 'intended' | 'collateral';
  /** Differing fields outside the responsible patches' scope (why it is collateral). */
  outOfScope: string[];
}

/** A cause of the comparison: the campaign's cause, or one only the regression corpus shows. */
export type ComparedCause = CauseSummary & { source: 'fuzz' | 'corpus'; corpusFile: string | null };

export interface CompareReport {
  schema: 2;
  left: { id: string; patches: string[] };
  right: { id: string; patches: string[] };
  patches: { added: string[]; removed: string[] };
  corpus: { entries: number; diverging: number; unreadable: string[] };
  fuzz: { execs: number; durationMs: number; seed: number; workers: number; buckets: number };
  /** What changed and why: declared changes first, then possible regressions. */
  causes: ComparedCause[];
  buckets: ComparedBucket[];
}

export { applyPatches, attribute };

export async function compareVersions(o: CompareOptions): Promise<CompareReport> {
  const { left, right } = o;
  const label = o.pair?.id ?? `${left.id}..${right.id}`;
  const { added, removed, all: diff } = patchDiff(left, right);
  const rightIds = new Set(right.patches.map((p) => p.id));
  o.log(`COMPARE ${left.id} [${left.patches.map((p) => p.id).join(' ')}] vs ${right.id} [${[...rightIds].join(' ')}]: ${diff.length ? diff.map((id) => (rightIds.has(id) ? `+${id}` : `-${id}`)).join(' ') : 'no patch differs (their bases may)'}`);

  // 1. The regression corpus on the two versions, each diverging entry triaged too, in a
  // thread of its own: a corpus entry that makes a model exit or exhaust memory ends that
  // thread, not the comparison.
  const replayed = await replayCorpusIsolated({ label, left: left.id, right: right.id, modelFiles: o.modelFiles, corpus: o.corpus, hangMs: o.hangMs }, o.log);
  const corpusBuckets = new Map(replayed.buckets.map((b) => [b.bucket.id, b]));
  const { files, unreadable, diverging } = replayed;
  o.log(`CORPUS ${files} entries replayed, ${diverging} diverge, ${unreadable.length} unreadable`);
  for (const u of unreadable) o.log(`CORPUS_UNREADABLE ${u}`);

  // 2. Fuzz the two versions: the campaign triages every symptom to its cause.
  let summary: CampaignSummary | null = null;
  if (o.runs !== 0 && (o.runs !== null || o.durationMs !== null)) {
    summary = await runCampaign({
      selection: { label, left, right, config: defaultConfig(o.pair?.config ?? {}) }, modelFiles: o.modelFiles, seed: o.seed, runs: o.runs,
      durationMs: o.durationMs, workers: o.workers, out: o.out, maxLen: 24, samplesPerBucket: 4, corpusCap: 2000,
      hangMs: o.hangMs, minimize: true, resume: false, laneHeapMb: 2048, log: o.log, status: o.status, stop: o.stop,
      corpus: o.corpus,
    });
  }

  // 3. Causes and their symptoms: the campaign's, plus those only the corpus shows.
  const causes = new Map<string, ComparedCause>();
  for (const c of summary?.causes ?? []) causes.set(c.id, { ...c, source: 'fuzz', corpusFile: c.known });
  const buckets: ComparedBucket[] = [];
  for (const b of summary?.buckets ?? []) {
    const prior = corpusBuckets.get(b.id);
    const min = join(b.dir, 'min.msgpack');
    const entry = readEntryFile(b.minimizedLength !== null ? min : join(b.dir, 'samples', '0000.msgpack'));
    const c = causes.get(b.cause ?? '');
    buckets.push({
      id: b.id, signature: b.signature, words: b.words, kind: b.kind, event: b.event, count: b.count + (prior?.bucket.count ?? 0),
      source: prior ? 'corpus' : 'fuzz',
      reproducer: { dir: b.dir, file: prior?.bucket.reproducer.file ?? null, length: entry.events.length, text: printStream({ config: entry.config, events: entry.events }) },
      cause: b.cause ?? '', responsible: c?.patches ?? [], verdict: b.verdict ?? 'collateral', outOfScope: b.outOfScope ?? [],
    });
  }
  for (const [id, { bucket, cause, entry }] of corpusBuckets) {
    if (buckets.some((b) => b.id === id)) continue;
    buckets.push(bucket);
    let c = causes.get(cause.id);
    if (!c) {
      c = {
        id: cause.id, kind: cause.kind, function: cause.function, fields: cause.fields, patches: cause.patches,
        verdict: cause.declared ? 'intended' : cause.verdict, outOfScope: [], collateralSymptoms: 0, declared: cause.declared,
        words: cause.words, origin: cause.origin, values: cause.values, symptoms: [], count: 0,
        firstSeen: { execs: 0, ms: 0, seed: o.seed, lane: 0, iteration: 0 }, known: bucket.reproducer.file,
        reproducer: { dir: '', length: entry.events.length, text: bucket.reproducer.text, observable: entry.divergence?.kind !== 'latent' },
        samples: 0, source: 'corpus', corpusFile: bucket.reproducer.file,
      };
      causes.set(cause.id, c);
    }
    c.symptoms.push(id);
    c.count += bucket.count;
    if (cause.verdict === 'collateral') {
      c.collateralSymptoms++;
      c.outOfScope = [...new Set([...c.outOfScope, ...cause.outOfScope])];
      if (!c.declared) c.verdict = 'collateral';
    }
  }
  const order = (c: ComparedCause): number => (c.verdict === 'collateral' ? 1 : 0);
  const sorted = [...causes.values()].sort((a, b) => order(a) - order(b) || a.patches.join().localeCompare(b.patches.join()) || a.firstSeen.execs - b.firstSeen.execs || a.id.localeCompare(b.id));
  const rank = new Map(sorted.map((c, i) => [c.id, i]));
  buckets.sort((a, b) => (rank.get(a.cause) ?? 0) - (rank.get(b.cause) ?? 0) || a.reproducer.length - b.reproducer.length || a.id.localeCompare(b.id));
  return {
    schema: 2,
    left: { id: left.id, patches: left.patches.map((p) => p.id) },
    right: { id: right.id, patches: [...rightIds] },
    patches: { added, removed },
    corpus: { entries: files, diverging, unreadable },
    fuzz: { execs: summary?.execs ?? 0, durationMs: summary?.durationMs ?? 0, seed: o.seed, workers: o.workers, buckets: summary?.buckets.length ?? 0 },
    causes: sorted,
    buckets,
  };
}

/** The terminal form of a comparison: causes, declared changes first, then possible regressions. */
export function formatCompare(r: CompareReport): string {
  const out: string[] = [];
  out.push(`${r.left.id} vs ${r.right.id}: ${r.patches.added.map((p) => `+${p}`).concat(r.patches.removed.map((p) => `-${p}`)).join(' ') || 'no patch differs'}`);
  out.push(`corpus: ${r.corpus.entries} entries replayed, ${r.corpus.diverging} diverge${r.corpus.unreadable.length ? `, ${r.corpus.unreadable.length} unreadable` : ''}; fuzz: ${r.fuzz.execs} execs, ${r.fuzz.buckets} buckets; ${r.causes.length} cause(s)`);
  const block = (c: ComparedCause): void => {
    out.push(`  ${c.id}  ${c.function}  [${c.patches.join(' + ') || 'no patch: the versions differ elsewhere'}]  ${c.symptoms.length} symptom(s), x${c.count}${c.known ? `  (known: ${c.known})` : ''}`);
    out.push(`    ${c.words}`);
    if (c.collateralSymptoms && c.kind === 'change') out.push(`    ${c.collateralSymptoms} of its symptoms also differ outside the declared scope: ${c.outOfScope.join(', ')}`);
    if (c.reproducer.text) {
      out.push(`    reproducer (${c.reproducer.length} events${c.reproducer.observable === false ? ', latent only' : ''}):`);
      for (const line of c.reproducer.text.trimEnd().split('\n').slice(1)) out.push(`      ${line}`);
    }
  };
  const intended = r.causes.filter((c) => c.verdict === 'intended');
  const collateral = r.causes.filter((c) => c.verdict === 'collateral');
  out.push('');
  out.push(`INTENDED (the change the responsible patches declare): ${intended.length ? `${intended.length} cause(s)` : 'none'}`);
  for (const c of intended) block(c);
  out.push('');
  out.push(`COLLATERAL (outside every responsible patch's declared scope: possible regressions): ${collateral.length ? `${collateral.length} cause(s)` : 'none'}`);
  for (const c of collateral) block(c);
  return out.join('\n');
}


/** What the corpus replay of a comparison finds (plain data: it crosses from its thread). */
export interface CorpusReplay {
  files: number;
  diverging: number;
  unreadable: string[];
  buckets: { bucket: ComparedBucket; cause: Cause; entry: CorpusEntry }[];
}

export interface CorpusReplayJob {
  label: string;
  left: string;
  right: string;
  modelFiles: string[];
  corpus: string[];
  hangMs: number;
}

/** Replays the regression corpus on the two versions (in this thread) and triages what diverges. */
export async function replayCorpus(job: CorpusReplayJob): Promise<CorpusReplay> {
  const reg = await loadRegistry(job.modelFiles);
  const left = reg.version(job.left);
  const right = reg.version(job.right);
  const label = job.label;
  const triage = new Triage({ label, left, right, hangMs: job.hangMs });
  const buckets = new Map<string, { bucket: ComparedBucket; cause: Cause; entry: CorpusEntry }>();
  const { files } = entryFiles(job.corpus);
  const unreadable: string[] = [];
  let diverging = 0;
  const ml = makeModel(left);
  const mr = makeModel(right);
  for (const file of files) {
    let entry: CorpusEntry;
    try {
      entry = readEntryFile(file);
    } catch (err) {
      unreadable.push((err as Error).message);
      continue;
    }
    const stream = { config: entry.config, events: entry.events };
    const ex = executeGuarded(ml, mr, stream, job.hangMs);
    if (!ex.divergence) continue;
    diverging++;
    const sig = signatureOf(label, ex.divergence, { left: left.id, right: right.id });
    const prior = buckets.get(sig.id);
    if (prior) { prior.bucket.count++; continue; }
    const cause = triage.of(stream, ex.divergence);
    buckets.set(sig.id, {
      cause, entry: makeEntry({ pair: label, left, right }, stream, entry.origin, ex, sig),
      bucket: {
        id: sig.id, signature: sig.text, words: sig.words, kind: ex.divergence.kind, event: ex.divergence.event, count: 1, source: 'corpus',
        reproducer: { dir: null, file, length: stream.events.length, text: printStream(stream) },
        cause: cause.id, responsible: cause.patches, verdict: cause.verdict, outOfScope: cause.outOfScope,
      },
    });
  }
  return { files: files.length, diverging, unreadable, buckets: [...buckets.values()] };
}

const CORPUS_WORKER = fileURLToPath(new URL('./corpus-worker.js', import.meta.url));

/** replayCorpus in a worker thread; if the thread dies, the comparison goes on without the corpus. */
function replayCorpusIsolated(job: CorpusReplayJob, log: (l: string) => void): Promise<CorpusReplay> {
  return new Promise((resolve) => {
    const w = new Worker(CORPUS_WORKER, { workerData: job });
    let done = false;
    const finish = (r: CorpusReplay): void => { if (!done) { done = true; resolve(r); } };
    const lost = (why: string): void => {
      log(`CORPUS_LOST the corpus replay thread died (${why}): a corpus entry makes a model exit or exhaust memory; the comparison goes on without the corpus`);
      finish({ files: 0, diverging: 0, unreadable: [], buckets: [] });
    };
    w.on('message', (m: { ok: true; result: CorpusReplay } | { ok: false; message: string }) => {
      if (m.ok) finish(m.result);
      else lost(m.message);
    });
    w.on('error', (err) => lost((err as Error).message));
    w.on('exit', (code) => lost(`exit code ${code}`));
  });
}
