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

export interface MutantJob { fn: string; op: Operator; tool: 'ours' | 'fastCheck'; budgetMs: number; seed: number }
export interface MutantResult { killed: boolean; ms: number; execs: number; kind: string | null }

function ours(job: MutantJob): MutantResult {
  const base = baseVersion();
  const m = makeMutant(job.fn, job.op, base);
  // As a campaign lane (watchdog on: a mutant that hangs is a `hang` finding).
  const lane = new Lane({ seed: job.seed, lane: 0, pair: 'mutant', left: base, right: m.version, config: defaultConfig(), maxLen: 24, samplesPerBucket: 1, corpusCap: 2000, hangMs: 500 });
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
