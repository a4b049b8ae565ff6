// One tool against a list of mutants, in a thread of its own (the bench's mutants
// section): a mutant may loop forever or throw anywhere, and the bench ends the thread at
// a mutant's budget and goes on with the rest in a new one. For each mutant it posts
// { index, result }: the time and executions to the first divergence between the base
// version and the mutant, timed from the tool's first execution on it.
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { makeModel } from '../models/svm/model.js';
import { defaultConfig } from '../models/svm/config.js';
import { BUILTIN_VERSIONS } from '../models/svm/versions.js';
import { Lane } from '../harness/engine/lane.js';
import { executePair } from '../harness/engine/execute.js';
import { eventArb } from '../harness/engine/arbitraries.js';
import { baseVersion, makeMutant, type Operator } from './mutants.js';

export interface MutantJob { fn: string; op: Operator; budgetMs: number; seed: number }
export interface MutantWork { tool: 'ours' | 'fastCheck'; jobs: MutantJob[]; first: number }
export interface MutantResult { killed: boolean; ms: number; execs: number; kind: string | null }
export type MutantMessage = { index: number; result: MutantResult } | { ready: true };

const oldest = () => BUILTIN_VERSIONS[0]!;

/**
 * Both tools are timed warm, as in a long-lived fuzzing process: the thread first runs
 * each tool for WARM_MS on the base version against itself and against the oldest
 * built-in version (so the divergence path, signatures and hashing included, is
 * compiled), then takes the mutants one after another. A cold thread's JIT and first-use
 * costs (~7-10 ms) would otherwise outweigh most kills.
 */
const WARM_MS = 300;

function oursOn(left: ReturnType<typeof baseVersion>, right: ReturnType<typeof baseVersion>, seed: number, budgetMs: number): MutantResult {
  // As a campaign lane, but without the watchdog (arming it per small batch would cost more
  // than most kills; fast-check has none either): a mutant that hangs is stopped by the bench.
  const lane = new Lane({ seed, lane: 0, pair: 'mutant', left, right, config: defaultConfig(), maxLen: 24, samplesPerBucket: 1, corpusCap: 2000, hangMs: 0 });
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) {
    const r = lane.runBatch(8);
    const f = r.findings[0];
    if (f) return { killed: true, ms: performance.now() - t0, execs: f.entry.origin!.iteration + 1, kind: f.entry.divergence?.kind ?? null };
  }
  return { killed: false, ms: budgetMs, execs: lane.iteration, kind: null };
}

function fastCheckOn(left: ReturnType<typeof baseVersion>, right: ReturnType<typeof baseVersion>, seed: number, budgetMs: number): MutantResult {
  const ml = makeModel(left);
  const mr = makeModel(right);
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
  const res = fc.check(prop, { seed, numRuns: 100_000_000, endOnFailure: true, interruptAfterTimeLimit: budgetMs });
  const ms = performance.now() - t0;
  return res.failed ? { killed: true, ms, execs: runs, kind } : { killed: false, ms: budgetMs, execs: runs, kind: null };
}

const work = workerData as MutantWork;
const run = work.tool === 'ours' ? oursOn : fastCheckOn;
const base = baseVersion();
for (const other of [base, oldest()]) {
  const w0 = performance.now();
  for (let s = 2; performance.now() - w0 < WARM_MS / 2; s++) run(other, base, s, Math.max(1, WARM_MS / 2 - (performance.now() - w0)));
}
parentPort!.postMessage({ ready: true } satisfies MutantMessage);
work.jobs.forEach((job, i) => {
  const m = makeMutant(job.fn, job.op, base);
  parentPort!.postMessage({ index: work.first + i, result: run(base, m.version, job.seed, job.budgetMs) } satisfies MutantMessage);
});
