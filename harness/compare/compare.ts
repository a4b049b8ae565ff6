// Comparing two model versions: replay the regression corpus on them, fuzz them, then for
// every bucket find the responsible patch(es) by applying the patches between the two
// versions one at a time and in combination (smallest sets first, like a bisection over
// the patch list), and give a verdict: intended (every differing field is in the
// responsible patches' declared scope) or collateral (a possible regression).

import { join } from 'node:path';
import { defaultConfig } from '../../models/svm/config.js';
import { makeModel } from '../../models/svm/model.js';
import { defineVersion, type Version } from '../../models/svm/versions.js';
import { inScope, type Patch } from '../../models/svm/patches.js';
import { readEntryFile } from '../store/codec.js';
import { executeGuarded } from '../engine/oracle.js';
import { signatureOf } from '../engine/signature.js';
import { entryFiles, signatureBody } from '../store/replay.js';
import { runCampaign, minimizeEntry, type BucketSummary, type CampaignOptions, type CampaignSummary } from '../campaign/campaign.js';
import { makeEntry } from '../engine/lane.js';
import { printStream, type Stream } from '../text/text.js';
import type { CorpusEntry } from '../store/entry.js';

/** A comparison fuzzes like a campaign (same budget, lanes and logging), on two versions. */
export type CompareOptions = Pick<CampaignOptions, 'modelFiles' | 'seed' | 'runs' | 'durationMs' | 'workers' | 'out' | 'hangMs' | 'log' | 'status' | 'stop'> & {
  left: Version;
  right: Version;
  /** Regression corpus paths replayed first. */
  corpus: string[];
};

/** A bucket of the comparison: the campaign's identity fields, plus where it came from and the verdict. */
export interface ComparedBucket extends Pick<BucketSummary, 'id' | 'signature' | 'words' | 'kind' | 'event' | 'count'> {
  source: 'fuzz' | 'corpus';
  reproducer: { dir: string | null; file: string | null; length: number; text: string };
  responsible: string[];
  verdict: 'intended' | 'collateral';
  /** Differing fields outside the responsible patches' scope (why it is collateral). */
  outOfScope: string[];
}

export interface CompareReport {
  schema: 1;
  left: { id: string; patches: string[] };
  right: { id: string; patches: string[] };
  patches: { added: string[]; removed: string[] };
  corpus: { entries: number; diverging: number; unreadable: string[] };
  fuzz: { execs: number; durationMs: number; seed: number; workers: number; buckets: number };
  buckets: ComparedBucket[];
  behaviours: { patches: string[]; verdict: 'intended' | 'collateral'; buckets: string[]; example: string }[];
}

/** `left` with the patches of `subset` applied (added ones) or reverted (removed ones). */
export function applyPatches(left: Version, right: Version, subset: ReadonlySet<string>): Version {
  const leftIds = new Set(left.patches.map((p) => p.id));
  const kept = left.patches.filter((p) => !subset.has(p.id));
  const added = right.patches.filter((p) => subset.has(p.id) && !leftIds.has(p.id));
  // Keep right's order for added patches, after left's remaining ones.
  const patches: Patch[] = [...kept, ...added];
  return defineVersion({ id: `${left.id}${[...subset].map((id) => (leftIds.has(id) ? `-${id}` : `+${id}`)).join('')}`, description: 'bisection step', patches });
}

function* subsetsBySize(ids: readonly string[], maxCombos = 256): Generator<string[]> {
  let n = 0;
  const rec = function* (start: number, size: number, acc: string[]): Generator<string[]> {
    if (acc.length === size) { yield [...acc]; return; }
    for (let i = start; i < ids.length; i++) yield* rec(i + 1, size, [...acc, ids[i]!]);
  };
  for (let size = 1; size <= ids.length; size++) {
    for (const s of rec(0, size, [])) {
      if (++n > maxCombos) return;
      yield s;
    }
  }
}

/** The smallest set of differing patches that alone reproduces the bucket's signature. */
export function attribute(left: Version, right: Version, diff: readonly string[], stream: Stream, body: string, label: string, hangMs: number): string[] {
  const ml = makeModel(left);
  for (const subset of subsetsBySize(diff)) {
    const v = applyPatches(left, right, new Set(subset));
    const ex = executeGuarded(ml, makeModel(v), stream, hangMs);
    if (ex.divergence && signatureBody(signatureOf(label, ex.divergence).text) === body) return subset;
  }
  return [...diff];
}

export async function compareVersions(o: CompareOptions): Promise<CompareReport> {
  const { left, right } = o;
  const label = `${left.id}..${right.id}`;
  const leftIds = new Set(left.patches.map((p) => p.id));
  const rightIds = new Set(right.patches.map((p) => p.id));
  const added = right.patches.filter((p) => !leftIds.has(p.id)).map((p) => p.id);
  const removed = left.patches.filter((p) => !rightIds.has(p.id)).map((p) => p.id);
  const diff = [...added, ...removed];
  const scopes = new Map<string, readonly string[]>([...left.patches, ...right.patches].map((p) => [p.id, p.scope]));
  o.log(`COMPARE ${left.id} [${[...leftIds].join(' ')}] vs ${right.id} [${[...rightIds].join(' ')}]: ${diff.length ? diff.map((id) => (rightIds.has(id) ? `+${id}` : `-${id}`)).join(' ') : 'no patch differs (their bases may)'}`);

  // 1. The regression corpus on the two versions.

  const found = new Map<string, { entry: CorpusEntry; source: 'corpus' | 'fuzz'; count: number; dir: string | null; file: string | null; words: string }>();
  const { files } = entryFiles(o.corpus);
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
    const ex = executeGuarded(ml, mr, stream, o.hangMs);
    if (!ex.divergence) continue;
    diverging++;
    const sig = signatureOf(label, ex.divergence);
    if (found.has(sig.id)) { found.get(sig.id)!.count++; continue; }
    const e = makeEntry({ pair: label, left, right }, stream, entry.origin, ex, sig);
    found.set(sig.id, { entry: e, source: 'corpus', count: 1, dir: null, file, words: sig.words });
  }
  o.log(`CORPUS ${files.length} entries replayed, ${diverging} diverge, ${unreadable.length} unreadable`);
  for (const u of unreadable) o.log(`CORPUS_UNREADABLE ${u}`);

  // 2. Fuzz the two versions.
  let summary: CampaignSummary | null = null;
  if (o.runs !== 0 && (o.runs !== null || o.durationMs !== null)) {
    summary = await runCampaign({
      selection: { label, left, right, config: defaultConfig() }, modelFiles: o.modelFiles, seed: o.seed, runs: o.runs,
      durationMs: o.durationMs, workers: o.workers, out: o.out, maxLen: 24, samplesPerBucket: 4, corpusCap: 2000,
      hangMs: o.hangMs, minimize: true, resume: false, laneHeapMb: 2048, log: o.log, status: o.status, stop: o.stop,
    });
    for (const b of summary.buckets) {
      const prior = found.get(b.id);
      const min = join(b.dir, 'min.msgpack');
      const entry = readEntryFile(b.minimizedLength !== null ? min : join(b.dir, 'samples', '0000.msgpack'));
      found.set(b.id, { entry, source: prior ? 'corpus' : 'fuzz', count: b.count + (prior?.count ?? 0), dir: b.dir, file: prior?.file ?? null, words: b.words });
    }
  }

  // 3. Attribution and verdicts.
  const buckets: ComparedBucket[] = [];
  for (const [id, f] of found) {
    let entry = f.entry;
    if (f.source === 'corpus' && !f.dir) {
      // A corpus reproducer is already short; minimize it under this comparison anyway.
      entry = minimizeEntry(entry, { label, left, right, config: defaultConfig() }, o.hangMs).entry;
    }
    const stream = { config: entry.config, events: entry.events };
    const sig = entry.expected.outcome === 'diverges' ? entry.expected.signature : '';
    const responsible = diff.length ? attribute(left, right, diff, stream, signatureBody(sig), label, o.hangMs) : [];
    const d = entry.divergence!;
    const paths = d.fields.map((x) => x.path);
    const scope = responsible.flatMap((p) => scopes.get(p) ?? []);
    const outOfScope = d.kind === 'left-throws' || d.kind === 'right-throws' || d.kind === 'hang'
      ? [d.kind] : [...new Set(paths.filter((p) => !inScope(scope, p)))];
    buckets.push({
      id, signature: sig, words: f.words, kind: d.kind, event: d.event, count: f.count, source: f.source,
      reproducer: { dir: f.dir, file: f.file, length: entry.events.length, text: printStream(stream) },
      responsible, verdict: outOfScope.length ? 'collateral' : 'intended', outOfScope,
    });
  }
  buckets.sort((a, b) => a.verdict.localeCompare(b.verdict) * -1 || a.responsible.join().localeCompare(b.responsible.join()) || a.reproducer.length - b.reproducer.length || a.id.localeCompare(b.id));

  const groups = new Map<string, CompareReport['behaviours'][number]>();
  for (const b of buckets) {
    const key = `${b.verdict}|${b.responsible.join('+')}`;
    const g = groups.get(key) ?? { patches: b.responsible, verdict: b.verdict, buckets: [], example: b.id };
    g.buckets.push(b.id);
    groups.set(key, g);
  }
  const report: CompareReport = {
    schema: 1,
    left: { id: left.id, patches: [...leftIds] },
    right: { id: right.id, patches: [...rightIds] },
    patches: { added, removed },
    corpus: { entries: files.length, diverging, unreadable },
    fuzz: { execs: summary?.execs ?? 0, durationMs: summary?.durationMs ?? 0, seed: o.seed, workers: o.workers, buckets: summary?.buckets.length ?? 0 },
    buckets,
    behaviours: [...groups.values()],
  };

  return report;
}

/** The terminal form of a comparison. */
export function formatCompare(r: CompareReport): string {
  const out: string[] = [];
  const patchWord = (ids: string[]) => (ids.length ? ids.join(' + ') : '(no patch: the versions differ elsewhere)');
  out.push(`${r.left.id} vs ${r.right.id}: ${r.patches.added.map((p) => `+${p}`).concat(r.patches.removed.map((p) => `-${p}`)).join(' ') || 'no patch differs'}`);
  out.push(`corpus: ${r.corpus.entries} entries replayed, ${r.corpus.diverging} diverge${r.corpus.unreadable.length ? `, ${r.corpus.unreadable.length} unreadable` : ''}; fuzz: ${r.fuzz.execs} execs, ${r.fuzz.buckets} buckets`);
  const group = (g: CompareReport['behaviours'][number], title: string): void => {
    const ex = r.buckets.find((b) => b.id === g.example)!;
    out.push(`  ${title}: ${g.buckets.length} bucket(s)`);
    for (const id of g.buckets.slice(0, 8)) {
      const b = r.buckets.find((x) => x.id === id)!;
      out.push(`    ${b.id} x${b.count} ${b.reproducer.length} events  ${signatureBody(b.signature)}${b.outOfScope.length ? `  [outside scope: ${b.outOfScope.join(', ')}]` : ''}`);
    }
    if (g.buckets.length > 8) out.push(`    ... ${g.buckets.length - 8} more in compare.json`);
    out.push(`    shortest reproducer (${ex.id}):`);
    for (const line of ex.reproducer.text.trimEnd().split('\n').slice(1)) out.push(`      ${line}`);
  };
  const intended = r.behaviours.filter((g) => g.verdict === 'intended');
  const single = intended.filter((g) => g.patches.length <= 1);
  const several = intended.filter((g) => g.patches.length > 1);
  out.push('');
  out.push(`INTENDED (inside the responsible patch's declared scope): ${single.map((g) => patchWord(g.patches)).join(', ') || 'none'}`);
  for (const g of single) group(g, patchWord(g.patches));
  for (const g of several) group(g, `${patchWord(g.patches)} at once (one stream shows the behaviours of several patches; no single one reproduces it)`);
  const collateral = r.behaviours.filter((g) => g.verdict === 'collateral');
  out.push('');
  out.push(`COLLATERAL (outside every responsible patch's scope: possible regressions): ${collateral.length ? `${collateral.reduce((n, g) => n + g.buckets.length, 0)} bucket(s)` : 'none'}`);
  for (const g of collateral) group(g, patchWord(g.patches));
  return out.join('\n');
}
