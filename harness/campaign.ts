// The main-thread supervisor of a fuzz campaign: runs lanes in batches, merges their
// reports, dedups divergences into buckets by signature, persists capped samples,
// minimizes each new bucket, prints the status line and writes summary.json.

import { makeModel } from '../models/svm/model.js';
import type { Selection } from '../models/registry.js';
import { Lane, makeEntry, type BatchReport } from './lane.js';
import { CrashStore } from './crashes.js';
import { DirLock } from './fsutil.js';
import { minimize } from './minimize.js';
import { signatureOracle } from './oracle.js';
import { executePair } from './execute.js';
import { printStream, type Stream } from './text.js';
import type { CorpusEntry } from './entry.js';
import type { Signature } from './signature.js';

export interface CampaignOptions {
  selection: Selection & { right: NonNullable<Selection['right']> };
  seed: number;
  /** Stop after this many executions (deterministic) ... */
  runs: number | null;
  /** ... or after this much wall time. With both, whichever comes first. */
  durationMs: number | null;
  out: string;
  maxLen: number;
  samplesPerBucket: number;
  corpusCap: number;
  minimize: boolean;
  log: (line: string) => void;
  status: (line: string) => void;
  /** Milliseconds between status lines. */
  statusEveryMs?: number;
}

export interface BucketSummary {
  id: string;
  signature: string;
  words: string;
  kind: string;
  event: string;
  count: number;
  firstSeen: { execs: number; ms: number; seed: number; lane: number; iteration: number };
  minimizedLength: number | null;
  dir: string;
}

export interface CampaignSummary {
  schema: 1;
  seed: number;
  pair: string;
  left: { id: string; patches: string[] };
  right: { id: string; patches: string[] };
  execs: number;
  durationMs: number;
  coverage: number;
  corpus: number;
  stopped: 'runs' | 'duration';
  buckets: BucketSummary[];
}

/** Executions per batch: ~1/15 s of work at 15k exec/s, so budgets and status stay responsive. */
const BATCH_RUNS = 1000;

interface Bucket {
  sig: Signature;
  summary: BucketSummary;
  first: CorpusEntry;
}

export function runCampaign(o: CampaignOptions): CampaignSummary {
  const sel = o.selection;
  const lock = DirLock.acquire(o.out);
  try {
    return campaign(o, sel);
  } finally {
    lock.release();
  }
}

function campaign(o: CampaignOptions, sel: CampaignOptions['selection']): CampaignSummary {
  const store = new CrashStore(o.out, { samplesPerBucket: o.samplesPerBucket });
  const lane = new Lane({
    seed: o.seed, lane: 0, pair: sel.label, left: sel.left, right: sel.right, config: sel.config,
    maxLen: o.maxLen, samplesPerBucket: o.samplesPerBucket, corpusCap: o.corpusCap,
  });
  const buckets = new Map<string, Bucket>();
  const start = Date.now();
  const deadline = o.durationMs === null ? Infinity : start + o.durationMs;
  let execs = 0;
  let lastStatus = start;
  let lastNew = start;
  const statusEvery = o.statusEveryMs ?? 1000;

  const status = (tag: string): void => {
    const ms = Date.now() - start;
    const rate = ms > 0 ? Math.round((execs * 1000) / ms) : 0;
    o.status(`#${execs}\t${tag} cov: ${lane.coverage.size} corp: ${lane.corpusSize} exec/s: ${rate} buckets: ${buckets.size} last-new: ${Math.round((Date.now() - lastNew) / 1000)}s`);
  };

  const absorb = (r: BatchReport, before: number): void => {
    for (const [id, n] of Object.entries(r.counts)) {
      const b = buckets.get(id);
      if (b) b.summary.count += n;
    }
    for (const f of r.findings) {
      const { signature: sig, entry } = f;
      const { isNew } = store.addSample(sig.id, sig.words + '\n\n' + sig.text + '\n', entry);
      let b = buckets.get(sig.id);
      if (!b) {
        // One lane: its iteration i is the campaign's execution i+1.
        const iterExec = (entry.origin?.iteration ?? before) + 1;
        b = {
          sig, first: entry,
          summary: {
            id: sig.id, signature: sig.text, words: sig.words, kind: entry.divergence!.kind, event: entry.divergence!.event,
            count: r.counts[sig.id] ?? 1,
            firstSeen: { execs: iterExec, ms: Date.now() - start, seed: o.seed, lane: 0, iteration: entry.origin?.iteration ?? 0 },
            minimizedLength: null, dir: store.bucketDir(sel.label, sig.id),
          },
        };
        buckets.set(sig.id, b);
        lastNew = Date.now();
        o.log(`NEW_BUCKET ${sig.id} ${sig.words} (#${iterExec}, ${entry.events.length} events, MS: ${entry.origin?.lineage.length ?? 0} ${entry.origin?.lineage.join('-') ?? ''}${isNew ? '' : ', bucket already on disk'})`);
        if (o.minimize) minimizeBucket(o, store, b);
      }
    }
  };

  let stopped: CampaignSummary['stopped'] = 'runs';
  for (;;) {
    const left = o.runs === null ? BATCH_RUNS : Math.min(BATCH_RUNS, o.runs - execs);
    if (left <= 0) { stopped = 'runs'; break; }
    if (Date.now() >= deadline) { stopped = 'duration'; break; }
    const before = execs;
    const r = lane.runBatch(left, deadline);
    execs += r.execs;
    absorb(r, before);
    if (Date.now() - lastStatus >= statusEvery) {
      lastStatus = Date.now();
      status('pulse');
    }
  }
  status('DONE ');
  const summary: CampaignSummary = {
    schema: 1,
    seed: o.seed,
    pair: sel.label,
    left: { id: sel.left.id, patches: sel.left.patches.map((p) => p.id) },
    right: { id: sel.right.id, patches: sel.right.patches.map((p) => p.id) },
    execs,
    durationMs: Date.now() - start,
    coverage: lane.coverage.size,
    corpus: lane.corpusSize,
    stopped,
    buckets: [...buckets.values()].map((b) => b.summary).sort((a, b) => a.firstSeen.execs - b.firstSeen.execs || a.id.localeCompare(b.id)),
  };
  const path = store.writeSummary(summary);
  o.log(`SUMMARY ${path}`);
  return summary;
}

/** Minimizes a bucket's first sample under its signature and writes min.msgpack + min.txt. */
export function minimizeEntry(entry: CorpusEntry, sel: CampaignOptions['selection']): { entry: CorpusEntry; text: string; result: ReturnType<typeof minimize> } {
  if (entry.expected.outcome !== 'diverges') throw new Error('only a diverging entry can be minimized');
  const start: Stream = { config: entry.config, events: entry.events };
  const result = minimize(start, signatureOracle(sel.label, sel.left, sel.right, entry.expected.signature));
  const exec = executePair(makeModel(sel.left), makeModel(sel.right), result.stream, false);
  const sig = { text: entry.expected.signature, id: entry.expected.signatureId, words: '' };
  const origin = entry.origin ? { ...entry.origin, lineage: [...entry.origin.lineage, 'minimize'] } : null;
  const min = makeEntry({ pair: sel.label, left: sel.left, right: sel.right }, result.stream, origin, exec, sig);
  const passes = Object.entries(result.passes).map(([n, p]) => `${n} ${p.successes}/${p.calls}`).join(', ');
  const text = printStream(result.stream, [
    `svmfuzz minimized reproducer: ${sel.label} (${sel.left.id} vs ${sel.right.id})`,
    `signature ${sig.id}: ${sig.text}`,
    `from ${entry.events.length} events in ${result.executions} executions (passes: ${passes})`,
  ]);
  return { entry: min, text, result };
}

function minimizeBucket(o: CampaignOptions, store: CrashStore, b: Bucket): void {
  const { entry, text, result } = minimizeEntry(b.first, o.selection);
  store.writeMinimized(b.sig.id, entry, text);
  b.summary.minimizedLength = entry.events.length;
  o.log(`MINIMIZED ${b.sig.id} ${b.first.events.length} -> ${entry.events.length} events in ${result.executions} execs`);
}
