// One tool against one mutant, in a thread of its own (the bench's mutants section): a
// mutant may loop forever or throw anywhere, and the bench ends the thread at its budget.
// Posts { killed, ms, execs }: the time and executions to the first divergence between the
// base version and the mutant, timed from the tool's first execution.
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { makeModel } from '../models/svm/model.js';
import { defaultConfig } from '../models/svm/config.js';
import { Lane } from '../harness/engine/lane.js';
import { executePair } from '../harness/engine/execute.js';
import { eventArb } from '../harness/engine/arbitraries.js';
import { baseVersion, makeMutant, type Operator } from './mutants.js';
import { BUILTIN_VERSIONS } from '../models/svm/versions.js';

const oldest = () => BUILTIN_VERSIONS[0]!;

export interface MutantJob { fn: string; op: Operator; tool: 'ours' | 'fastCheck'; budgetMs: number; seed: number }
export interface MutantResult { killed: boolean; ms: number; execs: number; kind: string | null }

/**
 * Both tools are timed warm: each first runs for WARM_MS on the base version against
 * itself and against the oldest built-in version (so the divergence path, signatures and
 * hashing included, is compiled too), so a time to kill measures the search, not a cold
 * thread's JIT and first-use costs (~7-10 ms, longer than most kills).
 */
const WARM_MS = 300;

function ours(job: MutantJob): MutantResult {
  const base = baseVersion();
  const m = makeMutant(job.fn, job.op, base);
  for (const left of [base, oldest()]) {
    const warm = new Lane({ seed: job.seed + 1, lane: 0, pair: 'warm', left, right: base, config: defaultConfig(), maxLen: 24, samplesPerBucket: 1, corpusCap: 2000, hangMs: 0 });
    const w0 = performance.now();
    while (performance.now() - w0 < WARM_MS / 2) warm.runBatch(64);
  }
  // As a campaign lane, but without the watchdog (arming it per small batch would cost more
  // than most kills; fast-check has none either): a mutant that hangs is stopped by the bench.
  const lane = new Lane({ seed: job.seed, lane: 0, pair: 'mutant', left: base, right: m.version, config: defaultConfig(), maxLen: 24, samplesPerBucket: 1, corpusCap: 2000, hangMs: 0 });
  const t0 = performance.now();
  while (performance.now() - t0 < job.budgetMs) {
    const r = lane.runBatch(8);
    const f = r.findings[0];
    if (f) return { killed: true, ms: performance.now() - t0, execs: f.entry.origin!.iteration + 1, kind: f.entry.divergence?.kind ?? null };
  }
  return { killed: false, ms: job.budgetMs, execs: lane.iteration, kind: null };
}

function fastCheck(job: MutantJob): MutantResult {
  const base = baseVersion();
  const m = makeMutant(job.fn, job.op, base);
  const ml = makeModel(base);
  const mr = makeModel(m.version);
  const config = defaultConfig();
  for (const other of [makeModel(base), makeModel(oldest())]) {
    const w0 = performance.now();
    for (let s = job.seed + 1; performance.now() - w0 < WARM_MS / 2; s++) {
      fc.check(fc.property(fc.array(eventArb, { maxLength: 24 }), (events) => !executePair(ml, other, { config, events }, false).divergence),
        { seed: s, numRuns: 100_000_000, endOnFailure: true, interruptAfterTimeLimit: Math.max(1, WARM_MS / 2 - (performance.now() - w0)) });
    }
  }
  let runs = 0;
  let kind: string | null = null;
  const prop = fc.property(fc.array(eventArb, { maxLength: 24 }), (events) => {
    runs++;
    const d = executePair(ml, mr, { config, events }, false).divergence;
    if (d) kind = d.kind;
    return !d;
  });
  const t0 = performance.now();
  const res = fc.check(prop, { seed: job.seed, numRuns: 100_000_000, endOnFailure: true, interruptAfterTimeLimit: job.budgetMs });
  const ms = performance.now() - t0;
  return res.failed ? { killed: true, ms, execs: runs, kind } : { killed: false, ms: job.budgetMs, execs: runs, kind: null };
}

const job = workerData as MutantJob;
parentPort!.postMessage(job.tool === 'ours' ? ours(job) : fastCheck(job));
