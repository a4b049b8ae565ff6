// Benchmarks, measured as ratios within one run (these machines are shared and noisy):
//   ceiling  the bare models of a pair replaying pre-generated streams (no generation,
//            coverage or comparison): model steps/s (hot path, and with observation
//            records), streams/s, and steps/s of each version alone
//   engine   the full fuzz loop of one lane (generation, mutation, coverage, comparison,
//            signatures) in-process: exec/s, events per execution, and engine/ceiling in
//            model steps (the same unit of work)
//   scaling  `svmfuzz fuzz` with 1 and 2 workers (and all cores) for 3 x --seconds, best
//            of two interleaved runs each, steady-state exec/s from stats.jsonl (the
//            second half of the run), and from the supervisor's cost per merged report,
//            how many lanes one supervisor feeds
//   ttfd     time to first divergence of each seed bucket over --seeds seeds: our engine
//            (one lane), jsfuzz on the compatibility target, fast-check on a property over
//            generated streams; median and max, in executions and seconds
//   minimize time and final length of each seed bucket's reproducer: ours vs fast-check's shrinker
//   replay   entries/s over a synthetic 10,000-entry corpus
//   memory   RSS at start and after a 60 s campaign
//   triage   the same campaign with and without triage: steady exec/s, and the share of its
//            wall time spent triaging symptoms and minimizing cause reproducers
//   shards   N shards of a --sync campaign, projected from measured costs: one shard's
//            steady exec/s, publish rate and exchange cost (alone, one lane), and the cost
//            of reading K peers' new files (K = 1, 8, 32 synthetic peers, a linear fit);
//            each shard on its own core, exchange time is lane time lost and imported
//            inputs are executions repeated: fresh exec/s and efficiency for N = 1..256;
//            and 4 shards of --shard-seconds (60) with --sync, merged, against one campaign
//            of the same CPU time (the shards run as many at a time as there are cores,
//            each with a core as on a cluster): buckets and causes of each
//   mutants  mutation score: systematic mutants of the newest version's function table
//            (scripts/mutants.ts), each fuzzed against that version by our engine and by
//            the fast-check baseline for --mutant-budget seconds (one warmed thread per
//            tool, mutants in turn): mutants killed, median time and executions to kill
//            on those both kill, and those no tool kills
// Usage: npm run bench -- [--sections a,b] [--seconds N] [--pairs a,b] [--seeds N]
//        [--budget S] [--mutants N|all] [--mutant-budget S] [--shard-seconds S] [--json FILE]

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { Registry } from '../models/registry.js';
import { advanceStream, makeModel, runStream } from '../models/svm/model.js';
import { Rng, deriveSeed } from '../harness/engine/rng.js';
import { generateStream } from '../harness/engine/generate.js';
import { Lane } from '../harness/engine/lane.js';
import type { Stream } from '../harness/text/text.js';
import type { CorpusEntry } from '../harness/store/entry.js';
import { eventArb } from '../harness/engine/arbitraries.js';
import { executePair } from '../harness/engine/execute.js';
import { signatureOf } from '../harness/engine/signature.js';
import { minimizeEntry, SYNC_MS } from '../harness/campaign/campaign.js';
import { SyncDir } from '../harness/campaign/sync.js';
import type { SharedInput } from '../harness/campaign/protocol.js';
import { simpler } from '../harness/engine/minimize.js';
import { makeEntry } from '../harness/engine/lane.js';
import { writeEntryFile } from '../harness/store/codec.js';
import { entryFiles, replayEntry } from '../harness/store/replay.js';
import { Worker } from 'node:worker_threads';
import { allMutants, baseVersion, sampleMutants, OPERATORS } from './mutants.js';
import type { MutantJob, MutantMessage, MutantResult, MutantWork } from './mutant-worker.js';

const CLI = fileURLToPath(new URL('../harness/cli.js', import.meta.url));

interface Args { sections: string[]; seconds: number; pairs: string[]; seeds: number; budget: number; mutants: number; mutantBudget: number; shardSeconds: number; json: string | null }

const ALL_SECTIONS = ['ceiling', 'engine', 'scaling', 'ttfd', 'minimize', 'replay', 'memory', 'triage', 'shards', 'mutants'];

function parseArgs(argv: string[]): Args {
  const a: Args = { sections: ALL_SECTIONS, seconds: 5, pairs: ['vnmi-iret', 'sti-shadow', 'all'], seeds: 10, budget: 20, mutants: 30, mutantBudget: 3, shardSeconds: 60, json: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--sections' && v) (a.sections = v.split(',')), i++;
    else if (argv[i] === '--seconds' && v) (a.seconds = Number(v)), i++;
    else if (argv[i] === '--pairs' && v) (a.pairs = v.split(',')), i++;
    else if (argv[i] === '--seeds' && v) (a.seeds = Number(v)), i++;
    else if (argv[i] === '--budget' && v) (a.budget = Number(v)), i++;
    else if (argv[i] === '--json' && v) (a.json = v), i++;
    else if (argv[i] === '--mutants' && v) (a.mutants = v === 'all' ? Infinity : Number(v)), i++;
    else if (argv[i] === '--mutant-budget' && v) (a.mutantBudget = Number(v)), i++;
    else if (argv[i] === '--shard-seconds' && v) (a.shardSeconds = Number(v)), i++;
    else throw new Error(`unknown argument '${argv[i]}' (sections: ${ALL_SECTIONS.join(',')})`);
  }
  const unknown = a.sections.filter((x) => !ALL_SECTIONS.includes(x));
  if (unknown.length) throw new Error(`--sections: unknown section(s) ${unknown.join(', ')} (known: ${ALL_SECTIONS.join(',')})`);
  for (const [flag, n] of [['--seconds', a.seconds], ['--seeds', a.seeds], ['--budget', a.budget], ['--mutants', a.mutants], ['--mutant-budget', a.mutantBudget], ['--shard-seconds', a.shardSeconds]] as const) {
    if (!(n > 0)) throw new Error(`${flag}: expected a positive number`);
  }
  return a;
}

/** Runs fn repeatedly for ~ms and returns units/s (fn returns how many units it did). */
function rate(ms: number, fn: () => number): number {
  const t0 = performance.now();
  let units = 0;
  while (performance.now() - t0 < ms) units += fn();
  return (units * 1000) / (performance.now() - t0);
}

/**
 * The bare models of the pair replaying pre-generated streams (lengths 1..24): no
 * generation, coverage or comparison. `stepsPerSec` counts model steps (each stream runs
 * on both models) as the engine's hot path takes them (advance(): the state moves and the
 * step log is kept, no observation record); `observedStepsPerSec` builds the observation
 * record of every step as trace and the report do (what this section measured before the
 * hot path stopped building them). `versions`: one model alone, steps/s.
 */
function ceiling(pair: string, seconds: number): Record<string, unknown> {
  const reg = new Registry();
  const sel = reg.select({ pair });
  const ml = makeModel(sel.left);
  const mr = makeModel(sel.right!);
  const streams: Stream[] = Array.from({ length: 2000 }, (_, i) => generateStream(new Rng(deriveSeed(7, i)), ml, sel.config, 24));
  const meanLength = streams.reduce((n, s) => n + s.events.length, 0) / streams.length;
  const measure = (ms: number, run: (s: Stream) => void, models: number): { stepsPerSec: number; streamsPerSec: number } => {
    let i = 0;
    let steps = 0;
    const streamsPerSec = rate(ms, () => {
      const s = streams[i++ % streams.length]!;
      run(s);
      steps += models * s.events.length;
      return 1;
    });
    return { stepsPerSec: Math.round((streamsPerSec * steps) / Math.max(1, i)), streamsPerSec: Math.round(streamsPerSec) };
  };
  const raw = measure(seconds * 1000, (s) => { advanceStream(ml, s.config, s.events); advanceStream(mr, s.config, s.events); }, 2);
  const observed = measure((seconds * 1000) / 2, (s) => { runStream(ml, s.config, s.events); runStream(mr, s.config, s.events); }, 2);
  const versions: Record<string, number> = {};
  for (const m of sel.left.id === sel.right!.id ? [ml] : [ml, mr]) {
    versions[m.version.id] = measure((seconds * 1000) / 4, (s) => { advanceStream(m, s.config, s.events); }, 1).stepsPerSec;
  }
  return { ...raw, meanLength: +meanLength.toFixed(2), observedStepsPerSec: observed.stepsPerSec, observedStreamsPerSec: observed.streamsPerSec, versions };
}

/**
 * The full fuzz loop of one lane (generation, mutation, coverage, comparison, signatures),
 * in-process. `modelStepsPerSec` is the work done in the ceiling's unit: the events of the
 * streams executed, twice (both models), per second; the engine's streams are longer than
 * the ceiling's (mutation grows them), so exec/s alone would compare different work. A
 * stream counts all its events even when the engine stops at its first divergence (about
 * half the executions on the built-in pairs): what the bare models would have to run to
 * judge the same streams.
 */
function engine(pair: string, seconds: number): { execPerSec: number; eventsPerExec: number; modelStepsPerSec: number } {
  const reg = new Registry();
  const sel = reg.select({ pair });
  const lane = new Lane({
    seed: 1, lane: 0, pair, left: sel.left, right: sel.right!, config: sel.config, maxLen: 24,
    samplesPerBucket: 4, corpusCap: 2000, hangMs: 2000, // as in a campaign lane
  });
  lane.runBatch(2000); // warm-up: JIT and an initial corpus
  let events = 0;
  let execs = 0;
  const execPerSec = rate(seconds * 1000, () => {
    const r = lane.runBatch(500);
    events += r.events;
    execs += r.execs;
    return r.execs;
  });
  const eventsPerExec = events / Math.max(1, execs);
  return { execPerSec: Math.round(execPerSec), eventsPerExec: +eventsPerExec.toFixed(2), modelStepsPerSec: Math.round(2 * execPerSec * eventsPerExec) };
}

/**
 * A campaign's steady state: exec/s over the second half of a `seconds`-long run (the
 * first half holds thread start-up and the burst of triage that most new buckets bring),
 * and over the same window, the supervisor's milliseconds per merged lane report.
 */
function campaignRate(pair: string, workers: number, seconds: number): { rate: number; perReportMs: number | null; roundMs: number | null } {
  const out = mkdtempSync(join(tmpdir(), 'svmfuzz-bench-'));
  const r = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', pair, '--workers', String(workers), '--seed', '1',
    '--duration', `${seconds}s`, '--out', out, '--no-minimize'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench: fuzz failed: ${r.stderr}`);
  type Rec = { execs: number; elapsedMs: number; reportsMerged?: number; mergeMs?: number };
  const lines = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
  const b = lines.at(-1)!;
  const a = lines.find((l) => l.elapsedMs >= b.elapsedMs / 2 && l !== b) ?? lines[0]!;
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { supervisor?: { roundMs: number } };
  const reports = (b.reportsMerged ?? 0) - (a.reportsMerged ?? 0);
  return {
    rate: Math.round(((b.execs - a.execs) * 1000) / Math.max(1, b.elapsedMs - a.elapsedMs)),
    perReportMs: reports > 0 ? ((b.mergeMs ?? 0) - (a.mergeMs ?? 0)) / reports : null,
    roundMs: summary.supervisor?.roundMs ?? null,
  };
}

/**
 * What N shards of one campaign deliver, each on its own core with a shared --sync
 * directory, projected from costs measured here (a 2-core machine cannot run 64 shards).
 *   1. One shard alone (`--shard 0/2 --sync DIR`, one lane, --no-minimize) for `seconds`:
 *      its steady exec/s r, the inputs it publishes per second p and its exchange cost, from
 *      stats.jsonl's second half.
 *   2. collect() of a fresh member against K synthetic peers, each holding one new file of
 *      the inputs a shard publishes per exchange (p x SYNC_MS), K = 1, 8, 32: the per-peer
 *      cost c (least squares) over the fixed cost c0.
 *   3. For N shards: an exchange costs e(N) = c0 + (N-1) c + the shard's own publish; the
 *      supervisor shares the core with the lane, so e(N)/SYNC_MS of the lane's time is lost;
 *      each shard executes its peers' inputs once when it imports them, (N-1) p per second,
 *      repeated work. Fresh exec/s = N (r (1 - e(N)/SYNC_MS) - (N-1) p); efficiency is that
 *      over N r.
 * What it leaves out, said in the output: the shared filesystem's latency (measured here on
 * a local disk), and the supervisor's other work (triage, minimization: shared by claims,
 * see sync.ts), which does not grow with N.
 */
function shardsProjection(pair: string, seconds: number): Record<string, unknown> {
  const root = mkdtempSync(join(tmpdir(), 'svmfuzz-bench-shards-'));
  const r = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', pair, '--workers', '1', '--seed', '1', '--shard', '0/2', '--sync', join(root, 'sync'),
    '--duration', `${seconds}s`, '--out', join(root, 'out'), '--no-minimize'], { encoding: 'utf8' }); // --shard wins over a batch engine's environment
  if (r.status !== 0) throw new Error(`bench: shard failed: ${r.stderr}`);
  type Rec = { execs: number; elapsedMs: number; sync?: { published: number; exchanges: number; exchangeMs: number } };
  const lines = readFileSync(join(root, 'out', 'shard-0-of-2', 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
  const b = lines.at(-1)!;
  const a = lines.find((l) => l.elapsedMs >= b.elapsedMs / 2 && l !== b) ?? lines[0]!;
  const dt = Math.max(1, b.elapsedMs - a.elapsedMs);
  const rate = ((b.execs - a.execs) * 1000) / dt;
  const publishedPerSec = (((b.sync?.published ?? 0) - (a.sync?.published ?? 0)) * 1000) / dt;
  const exchanges = (b.sync?.exchanges ?? 0) - (a.sync?.exchanges ?? 0);
  const ownExchangeMs = exchanges > 0 ? ((b.sync?.exchangeMs ?? 0) - (a.sync?.exchangeMs ?? 0)) / exchanges : 0;

  // The cost of reading K peers' new files: the shard's own inputs, as many per file as it publishes per exchange.
  const reg = new Registry();
  const sel = reg.select({ pair });
  const perFile = Math.max(1, Math.round((publishedPerSec * SYNC_MS) / 1000));
  const inputs: SharedInput[] = Array.from({ length: perFile }, (_, i) => ({
    stream: generateStream(new Rng(i + 1), makeModel(sel.left), sel.config, 24), origin: { seed: 1, lane: 0, iteration: i, lineage: ['generate'] },
  }));
  const collectMs = (k: number): number => {
    const dir = join(root, `peers-${k}`);
    for (let i = 0; i < k; i++) new SyncDir(dir, `peer-${i}`, sel.label, sel.left.id, sel.right!.id).publish(inputs);
    let best = Infinity;
    for (let rep = 0; rep < 5; rep++) {
      const me = new SyncDir(dir, `me-${rep}`, sel.label, sel.left.id, sel.right!.id);
      const t0 = performance.now();
      me.collect();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const ks = [1, 8, 32];
  const ms = ks.map(collectMs);
  const mk = ks.reduce((x, k) => x + k, 0) / ks.length;
  const mm = ms.reduce((x, m) => x + m, 0) / ms.length;
  const perPeerMs = Math.max(0, ks.reduce((x, k, i) => x + (k - mk) * (ms[i]! - mm), 0) / ks.reduce((x, k) => x + (k - mk) ** 2, 0));
  const fixedMs = Math.max(0, mm - perPeerMs * mk);
  const project = (n: number) => {
    const exchangeMs = ownExchangeMs + fixedMs + (n - 1) * perPeerMs;
    const laneShare = Math.max(0, 1 - exchangeMs / SYNC_MS);
    const fresh = Math.max(0, n * (rate * laneShare - (n - 1) * publishedPerSec));
    return { shards: n, exchangeMs: +exchangeMs.toFixed(2), importsPerSecPerShard: Math.round((n - 1) * publishedPerSec), freshExecPerSec: Math.round(fresh), efficiency: +(fresh / (n * rate)).toFixed(3) };
  };
  const projection = [1, 2, 4, 8, 16, 32, 64, 128, 256].map(project);
  let at90 = 1;
  for (let n = 1; n <= 4096; n *= 2) if (project(n).efficiency >= 0.9) at90 = n;
  return {
    perShard: { execPerSec: Math.round(rate), publishedPerSec: +publishedPerSec.toFixed(2), exchangeMs: +ownExchangeMs.toFixed(2), syncEveryMs: SYNC_MS },
    collect: { inputsPerFile: perFile, peers: ks, ms: ms.map((m) => +m.toFixed(2)), perPeerMs: +perPeerMs.toFixed(3), fixedMs: +fixedMs.toFixed(3) },
    projection, shardsAt90PercentEfficiency: at90,
    leftOut: 'a shared filesystem\'s latency (measured on a local disk); triage and minimization, which claims share between shards and which do not grow with N',
  };
}

/**
 * Four shards against one campaign of the same CPU time, on `all`: shards 0-3 of one
 * --seed with --sync for `seconds` each, run as many at a time as there are cores (each
 * shard gets a core, as on a cluster; on two cores, shards 2 and 3 start when 0 and 1
 * end, and import what those published), then merged; and one campaign with a worker
 * per core for 4 x seconds / cores. Both minimize (the shards share it through claims).
 * The buckets and causes of each, those of the single campaign the merge lacks, and
 * whether the merge lost any bucket a shard had.
 */
async function shardsVsOne(seconds: number): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'svmfuzz-bench-4shards-'));
  const cores = Math.max(1, Math.min(4, availableParallelism()));
  const sh = (i: number) => new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'fuzz', '--pair', 'all', '--seed', '1', '--shard', `${i}/4`, '--workers', '1', '--duration', `${seconds}s`,
      '--sync', join(root, 'sync'), '--out', join(root, 'out')], { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench: shard ${i} exited ${code}`))));
  });
  for (let i = 0; i < 4; i += cores) await Promise.all(Array.from({ length: Math.min(cores, 4 - i) }, (_, k) => sh(i + k)));
  const dirs = [0, 1, 2, 3].map((i) => join(root, 'out', `shard-${i}-of-4`));
  const m = spawnSync(process.execPath, [CLI, 'merge', join(root, 'merged'), ...dirs], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`bench: merge failed: ${m.stderr}`);
  const one = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', 'all', '--seed', '1', '--workers', String(cores), '--duration', `${(4 * seconds) / cores}s`, '--out', join(root, 'one')], { encoding: 'utf8' });
  if (one.status !== 0) throw new Error(`bench: fuzz failed: ${one.stderr}`);
  type S = { execs: number; buckets: { id: string }[]; causes: { id: string }[] };
  const read = (d: string) => JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')) as S;
  const merged = read(join(root, 'merged'));
  const single = read(join(root, 'one'));
  const mb = new Set(merged.buckets.map((b) => b.id));
  const mc = new Set(merged.causes.map((c) => c.id));
  const lost = dirs.flatMap((d) => read(d).buckets.filter((b) => !mb.has(b.id)).map((b) => b.id));
  return {
    shardSeconds: seconds, shardsAtATime: cores, oneCampaign: { workers: cores, seconds: (4 * seconds) / cores },
    shards: { execs: merged.execs, buckets: mb.size, causes: mc.size },
    one: { execs: single.execs, buckets: single.buckets.length, causes: single.causes.length },
    oneBucketsAlsoInShards: single.buckets.filter((b) => mb.has(b.id)).length,
    oneCausesMissingFromShards: single.causes.filter((c) => !mc.has(c.id)).map((c) => c.id),
    bucketsLostByMerge: lost.length,
  };
}

/**
 * What triage costs a campaign: the same campaign (2 lanes, --seed 1, --duration) with and
 * without triage, side by side. Steady exec/s from stats.jsonl (the lanes must not slow
 * down), and the share of the campaign's wall time the supervisor spent triaging new
 * symptoms and minimizing cause reproducers (summary.json's `triage`).
 */
function triageCost(pair: string, seconds: number): Record<string, number> {
  const one = (extra: string[]) => {
    const out = mkdtempSync(join(tmpdir(), 'svmfuzz-bench-'));
    const r = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', pair, '--workers', '2', '--seed', '1', '--duration', `${seconds}s`, '--out', out, ...extra], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: fuzz failed: ${r.stderr}`);
    const lines = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { execs: number; elapsedMs: number });
    const a = lines[1] ?? lines[0]!;
    const b = lines.at(-1)!;
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { durationMs: number; buckets: unknown[]; causes: unknown[]; triage: { symptoms: number; ms: number; minimizeMs: number } };
    return { rate: Math.round(((b.execs - a.execs) * 1000) / Math.max(1, b.elapsedMs - a.elapsedMs)), summary };
  };
  const on = one([]);
  const off = one(['--no-triage']);
  const t = on.summary.triage;
  return {
    execPerSecWithTriage: on.rate, execPerSecWithout: off.rate, execRatio: +(on.rate / Math.max(1, off.rate)).toFixed(3),
    symptoms: t.symptoms, causes: on.summary.causes.length, buckets: on.summary.buckets.length,
    triageMs: t.ms, causeMinimizeMs: t.minimizeMs, durationMs: on.summary.durationMs,
    triageShare: +(t.ms / on.summary.durationMs).toFixed(4), triageAndCauseMinimizeShare: +((t.ms + t.minimizeMs) / on.summary.durationMs).toFixed(4),
  };
}

/** The seed buckets, by signature without the pair label. */
const SEED_BODIES = {
  '72046d0a': 'observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits',
  be45bc4e: 'observable|delivery_fault|vmcb12.int_state',
} as const;
const bodyOf = (sig: string): string => sig.slice(sig.indexOf('|') + 1);

interface Target { pair: string; seed: keyof typeof SEED_BODIES; body: string }
function targetsFor(pairs: string[]): Target[] {
  const t: Target[] = [];
  for (const pair of pairs) {
    for (const seed of Object.keys(SEED_BODIES) as (keyof typeof SEED_BODIES)[]) {
      if ((pair === 'vnmi-iret' && seed !== '72046d0a') || (pair === 'sti-shadow' && seed !== 'be45bc4e')) continue;
      t.push({ pair, seed, body: SEED_BODIES[seed] });
    }
  }
  return t;
}

interface Found { execs: number; ms: number; found: boolean }
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
function summarize(runs: Found[]): Record<string, unknown> {
  return {
    runs: runs.length, found: runs.filter((r) => r.found).length,
    medianExecs: median(runs.map((r) => r.execs)), maxExecs: Math.max(...runs.map((r) => r.execs)),
    medianSeconds: +(median(runs.map((r) => r.ms)) / 1000).toFixed(3), maxSeconds: +(Math.max(...runs.map((r) => r.ms)) / 1000).toFixed(3),
    // A run that did not find the bucket counts as its budget: the median is then a lower bound.
    lowerBound: runs.some((r) => !r.found),
  };
}

/** Our engine, one lane in-process, until the bucket shows up (or the budget runs out). */
function oursUntil(t: Target, seed: number, budgetMs: number, samples = 1): Found & { entries: CorpusEntry[] } {
  const sel = new Registry().select({ pair: t.pair });
  // hangMs 0: no watchdog for the built-in models (fast-check runs without one too).
  const lane = new Lane({ seed, lane: 0, pair: t.pair, left: sel.left, right: sel.right!, config: sel.config, maxLen: 24, samplesPerBucket: samples, corpusCap: 2000, hangMs: 0 });
  const t0 = performance.now();
  const entries: CorpusEntry[] = [];
  let first: Found | null = null;
  while (performance.now() - t0 < budgetMs) {
    const r = lane.runBatch(8);
    for (const f of r.findings) if (bodyOf(f.signature.text) === t.body) entries.push(f.entry);
    if (entries.length && !first) first = { execs: entries[0]!.origin!.iteration + 1, ms: performance.now() - t0, found: true };
    if (entries.length >= samples) return { ...first!, entries };
  }
  return first ? { ...first, entries } : { execs: lane.iteration, ms: budgetMs, found: false, entries };
}

/** jsfuzz on the compatibility target, hunting one signature; timed from its first status line. */
function jsfuzzUntil(t: Target, budgetMs: number): Promise<Found & { execPerSec: number }> {
  const cwd = mkdtempSync(join(tmpdir(), 'svmfuzz-jsfuzz-'));
  const target = fileURLToPath(new URL('../cjs/harness/jsfuzz/target.js', import.meta.url));
  const jsfuzz = join(fileURLToPath(new URL('../../', import.meta.url)), 'node_modules/jsfuzz/build/src/index.js');
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [jsfuzz, relative(cwd, target)], { cwd, env: { ...process.env, SVMFUZZ_PAIR: t.pair, SVMFUZZ_SIGNATURE: t.body } });
    let start = 0;
    let lastExecs = 0;
    let done: (Found & { execPerSec: number }) | null = null;
    const finish = (r: Found & { execPerSec: number }) => {
      if (done) return;
      done = r;
      child.kill('SIGKILL');
      resolvePromise(r);
    };
    const timer = setTimeout(() => finish({ execs: lastExecs, ms: budgetMs, found: false, execPerSec: (lastExecs * 1000) / budgetMs }), budgetMs + 3000);
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('#0 READ')) {
          start = performance.now();
          setTimeout(() => finish({ execs: lastExecs, ms: budgetMs, found: false, execPerSec: (lastExecs * 1000) / budgetMs }), budgetMs);
        }
        const st = /^#(\d+) /.exec(line);
        if (st) lastExecs = Number(st[1]);
        const m = /svmfuzz divergence after (\d+) executions/.exec(line);
        if (m) {
          const ms = performance.now() - start;
          clearTimeout(timer);
          finish({ execs: Number(m[1]), ms, found: true, execPerSec: (Number(m[1]) * 1000) / Math.max(1, ms) });
        }
      }
    });
    child.on('exit', () => finish({ execs: lastExecs, ms: budgetMs, found: false, execPerSec: 0 }));
  });
}

/** jsfuzz's steady throughput on the pair: hunting a signature that never occurs, for `seconds`. */
function jsfuzzRate(pair: string, seconds: number): Promise<number> {
  const cwd = mkdtempSync(join(tmpdir(), 'svmfuzz-jsfuzz-'));
  const target = fileURLToPath(new URL('../cjs/harness/jsfuzz/target.js', import.meta.url));
  const jsfuzz = join(fileURLToPath(new URL('../../', import.meta.url)), 'node_modules/jsfuzz/build/src/index.js');
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [jsfuzz, relative(cwd, target)], { cwd, env: { ...process.env, SVMFUZZ_PAIR: pair, SVMFUZZ_SIGNATURE: '(never)' } });
    const points: [number, number][] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = /^#(\d+) /.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m) points.push([performance.now(), Number(m[1])]);
      }
    });
    setTimeout(() => {
      child.kill('SIGKILL');
      // From the first status line after its first second (start-up) to the last one.
      const t0 = points[0]?.[0] ?? 0;
      const from = points.find((p) => p[0] - t0 >= 1000) ?? points[0];
      const to = points.at(-1);
      resolvePromise(from && to && to[0] > from[0] ? Math.round(((to[1] - from[1]) * 1000) / (to[0] - from[0])) : 0);
    }, (seconds + 1) * 1000);
  });
}

/** The fast-check baseline: a property over generated streams on the pair's config. */
function fastCheckProperty(t: Target, onRun: () => void) {
  const sel = new Registry().select({ pair: t.pair });
  const ml = makeModel(sel.left);
  const mr = makeModel(sel.right!);
  return fc.property(fc.array(eventArb, { maxLength: 24 }), (events) => {
    onRun();
    const ex = executePair(ml, mr, { config: sel.config, events }, false);
    return !(ex.divergence && bodyOf(signatureOf(t.pair, ex.divergence).text) === t.body);
  });
}

function fastCheckUntil(t: Target, seed: number, budgetMs: number): Found {
  let runs = 0;
  const t0 = performance.now();
  const res = fc.check(fastCheckProperty(t, () => runs++), { seed, numRuns: 10_000_000, endOnFailure: true, interruptAfterTimeLimit: budgetMs });
  const ms = performance.now() - t0;
  return res.failed ? { execs: runs, ms, found: true } : { execs: runs, ms: budgetMs, found: false };
}

function ttfd(targets: Target[], seeds: number, budgetS: number, log: (s: string) => void): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  return (async () => {
    for (const t of targets) {
      const key = `${t.pair}/${t.seed}`;
      // Warm both in-process engines up on a throwaway seed: V8's JIT would otherwise bill
      // the first measured run with compilation (jsfuzz runs in a fresh process each time,
      // and is timed from its first status line).
      oursUntil(t, 0, 2000);
      fastCheckUntil(t, 0, 2000);
      const ours: Found[] = [];
      const js: (Found & { execPerSec: number })[] = [];
      const fcRuns: Found[] = [];
      for (let s = 1; s <= seeds; s++) {
        ours.push(oursUntil(t, s, budgetS * 1000));
        fcRuns.push(fastCheckUntil(t, s, budgetS * 1000));
        js.push(await jsfuzzUntil(t, budgetS * 1000));
      }
      out[key] = {
        ours: summarize(ours), jsfuzz: { ...summarize(js), execPerSec: Math.round(median(js.map((r) => r.execPerSec))) }, fastCheck: summarize(fcRuns),
      };
      log(`ttfd ${key}: ${JSON.stringify(out[key])}`);
    }
    return out;
  })();
}

function minimization(targets: Target[], budgetS: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of targets) {
    const sel = new Registry().select({ pair: t.pair });
    // As a campaign does: the bucket's first four samples, each minimized, the simplest kept.
    const found = oursUntil(t, 1, budgetS * 1000, 4);
    let ours: Record<string, unknown> = { found: false };
    if (found.entries.length) {
      const t0 = performance.now();
      const mins = found.entries.map((e) => minimizeEntry(e, { ...sel, right: sel.right! }));
      const best = mins.reduce((a, b) => (simpler({ config: b.entry.config, events: b.entry.events }, { config: a.entry.config, events: a.entry.events }) ? b : a));
      ours = {
        samples: found.entries.length, from: found.entries.map((e) => e.events.length), length: best.entry.events.length,
        ms: Math.round(performance.now() - t0), executions: mins.reduce((n, m) => n + m.result.executions, 0),
      };
    }
    // fast-check: first failure, then its shrinker; shrink time = total - time to the failure.
    const first = fastCheckUntil(t, 1, budgetS * 1000);
    let theirs: Record<string, unknown> = { found: false };
    if (first.found) {
      const t0 = performance.now();
      const res = fc.check(fastCheckProperty(t, () => undefined), { seed: 1, numRuns: 10_000_000 });
      const total = performance.now() - t0;
      const ce = res.counterexample?.[0] as unknown[] | undefined;
      theirs = { length: ce?.length ?? null, ms: Math.round(Math.max(0, total - first.ms)), shrinks: res.numShrinks };
    }
    out[`${t.pair}/${t.seed}`] = { ours, fastCheck: theirs };
  }
  return out;
}

const MUTANT_WORKER = fileURLToPath(new URL('./mutant-worker.js', import.meta.url));

/**
 * One tool on a list of mutants, in one warmed thread taken one mutant after another. A
 * mutant that does not return within its budget (+2 s) ends the thread: it counts as not
 * killed, and a new thread goes on with the rest.
 */
function runMutants(tool: MutantWork['tool'], jobs: MutantJob[]): Promise<MutantResult[]> {
  const results: (MutantResult | undefined)[] = new Array(jobs.length);
  return new Promise((resolvePromise) => {
    const start = (first: number): void => {
      if (first >= jobs.length) { resolvePromise(results as MutantResult[]); return; }
      const w = new Worker(MUTANT_WORKER, { workerData: { tool, jobs: jobs.slice(first), first } satisfies MutantWork });
      let next = first;
      let timer: NodeJS.Timeout | null = null;
      let ended = false;
      const arm = (): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => { void w.terminate(); }, jobs[next]!.budgetMs + 2000);
      };
      const end = (why: string): void => {
        if (ended) return;
        ended = true;
        if (timer) clearTimeout(timer);
        if (next < jobs.length) {
          results[next] = { killed: false, ms: jobs[next]!.budgetMs, execs: -1, kind: why };
          start(next + 1);
        } else resolvePromise(results as MutantResult[]);
      };
      w.on('message', (m: MutantMessage) => {
        if ('ready' in m) { arm(); return; }
        results[m.index] = m.result;
        next = m.index + 1;
        if (next < jobs.length) arm();
        else { ended = true; if (timer) clearTimeout(timer); void w.terminate(); resolvePromise(results as MutantResult[]); }
      });
      w.on('error', (err) => end(`thread died: ${(err as Error).message}`));
      w.on('exit', () => end('stopped (the tool did not return: a hang it cannot detect)'));
    };
    start(0);
  });
}

/**
 * The mutation score: a fixed-seed sample of the mutants (all with --mutants all), each
 * fuzzed by both tools with the same budget and seed. jsfuzz is not run: its target is a
 * separate CommonJS process fixed to the built-in pairs and cannot carry a mutant table.
 */
async function mutationScore(n: number, budgetS: number, log: (s: string) => void): Promise<Record<string, unknown>> {
  const { mutants, unreached } = allMutants();
  const sample = sampleMutants(mutants, n, 1);
  const jobs = sample.map((m) => ({ fn: m.fn, op: m.op, budgetMs: budgetS * 1000, seed: 1 }));
  const oursAll = await runMutants('ours', jobs);
  const fcAll = await runMutants('fastCheck', jobs);
  const rows = sample.map((m, i) => ({ id: m.id, ours: oursAll[i]!, fastCheck: fcAll[i]! }));
  for (const { id, ours, fastCheck } of rows) {
    log(`mutant ${id}: ours ${ours.killed ? `killed in ${ours.ms.toFixed(1)} ms / ${ours.execs} execs (${ours.kind})` : 'survived'}; fast-check ${fastCheck.killed ? `killed in ${fastCheck.ms.toFixed(1)} ms / ${fastCheck.execs} execs` : 'survived'}`);
  }
  const both = rows.filter((r) => r.ours.killed && r.fastCheck.killed);
  // The mutants fast-check needs 100 executions or more for: there a kill is a search, not
  // the first few executions of a fresh thread (whose JIT costs dominate the trivial ones).
  const hard = both.filter((r) => r.fastCheck.execs >= 100);
  const tool = (k: 'ours' | 'fastCheck') => ({
    killed: rows.filter((r) => r[k].killed).length,
    medianMsOnBoth: +median(both.map((r) => r[k].ms)).toFixed(2),
    medianExecsOnBoth: median(both.map((r) => r[k].execs)),
  });
  return {
    base: baseVersion().id, operators: OPERATORS, mutants: mutants.length, sampled: sample.length, budgetSeconds: budgetS,
    unreachedFunctions: unreached,
    ours: tool('ours'), fastCheck: tool('fastCheck'), killedByBoth: both.length,
    hard: {
      mutants: hard.length,
      oursMedianMs: +median(hard.map((r) => r.ours.ms)).toFixed(2), fastCheckMedianMs: +median(hard.map((r) => r.fastCheck.ms)).toFixed(2),
      oursMedianExecs: median(hard.map((r) => r.ours.execs)), fastCheckMedianExecs: median(hard.map((r) => r.fastCheck.execs)),
    },
    onlyOurs: rows.filter((r) => r.ours.killed && !r.fastCheck.killed).map((r) => r.id),
    onlyFastCheck: rows.filter((r) => !r.ours.killed && r.fastCheck.killed).map((r) => r.id),
    killedByNone: rows.filter((r) => !r.ours.killed && !r.fastCheck.killed).map((r) => r.id),
    rows: rows.map((r) => ({ id: r.id, ours: { ...r.ours, ms: +r.ours.ms.toFixed(2) }, fastCheck: { ...r.fastCheck, ms: +r.fastCheck.ms.toFixed(2) } })),
  };
}

function replayBench(): Record<string, unknown> {
  const reg = new Registry();
  const sel = reg.select({ pair: 'all' });
  const ml = makeModel(sel.left);
  const mr = makeModel(sel.right!);
  const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-replay-bench-'));
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    const s = generateStream(new Rng(deriveSeed(3, i)), ml, sel.config, 16);
    const ex = executePair(ml, mr, s, false);
    const sig = ex.divergence ? signatureOf('all', ex.divergence) : null;
    writeEntryFile(join(dir, `${String(i).padStart(5, '0')}.msgpack`), makeEntry({ pair: 'all', left: sel.left, right: sel.right! }, s, null, ex, sig));
  }
  const t0 = performance.now();
  const { files } = entryFiles([dir]);
  let pass = 0;
  for (const f of files) if (replayEntry(reg, f).status === 'pass') pass++;
  const ms = performance.now() - t0;
  return { entries: files.length, passed: pass, seconds: +(ms / 1000).toFixed(2), entriesPerSec: Math.round((files.length * 1000) / ms) };
}

function memory(seconds: number): Record<string, unknown> {
  const out = mkdtempSync(join(tmpdir(), 'svmfuzz-mem-'));
  const r = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', 'all', '--seed', '1', '--duration', `${seconds}s`, '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench: fuzz failed: ${r.stderr}`);
  const lines = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rssMb: number; elapsedMs: number; execs: number });
  return { seconds, rssStartMb: lines[0]!.rssMb, rssEndMb: lines.at(-1)!.rssMb, rssMaxMb: Math.max(...lines.map((l) => l.rssMb)), execs: lines.at(-1)!.execs };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(s + '\n');
  const result: Record<string, unknown> = { node: process.version, cores: availableParallelism(), seconds: args.seconds, sections: args.sections };
  const perPair: Record<string, Record<string, unknown>> = {};
  const ratios: Record<string, number> = {};
  const lowerBounds: string[] = [];
  for (const pair of args.pairs) {
    const row: Record<string, unknown> = {};
    if (args.sections.includes('ceiling') || args.sections.includes('engine')) {
      const c = ceiling(pair, args.seconds) as { stepsPerSec: number; streamsPerSec: number };
      const e = engine(pair, args.seconds);
      row.ceiling = c;
      const js = await jsfuzzRate(pair, args.seconds);
      const over = e.modelStepsPerSec / c.stepsPerSec;
      row.engine = {
        ...e, engineOverCeiling: +over.toFixed(3), execOverCeilingStreams: +(e.execPerSec / c.streamsPerSec).toFixed(3),
        jsfuzzExecPerSec: js, speedupVsJsfuzz: js ? +(e.execPerSec / js).toFixed(1) : null,
      };
      ratios.engineOverCeiling = Math.min(ratios.engineOverCeiling ?? Infinity, over);
      if (js) ratios.execSpeedupVsJsfuzz = Math.min(ratios.execSpeedupVsJsfuzz ?? Infinity, e.execPerSec / js);
    }
    if (args.sections.includes('scaling')) {
      // Interleaved, best of two each: a 2-core machine shared with others drifts by tens
      // of percent between runs, and the best run is the one least disturbed.
      const best = (a: ReturnType<typeof campaignRate>, b: ReturnType<typeof campaignRate>) => (b.rate > a.rate ? b : a);
      const one1 = campaignRate(pair, 1, args.seconds * 3);
      const two1 = campaignRate(pair, 2, args.seconds * 3);
      const one = best(one1, campaignRate(pair, 1, args.seconds * 3));
      const two = best(two1, campaignRate(pair, 2, args.seconds * 3));
      const all = availableParallelism() > 2 ? campaignRate(pair, availableParallelism(), args.seconds * 3).rate : null;
      // How many lanes one supervisor can feed: each lane sends a report per round
      // (roundMs); merging one costs perReportMs of the supervisor's time (dedup, samples
      // to disk, triage of new symptoms). Past roundMs / perReportMs lanes the supervisor
      // merges all the time and lanes wait (measured in the 2-worker run's steady half).
      const feeds = two.perReportMs && two.roundMs ? Math.floor(two.roundMs / Math.max(1e-3, two.perReportMs)) : null;
      row.scaling = {
        workers1: one.rate, workers2: two.rate, workersAll: all, ratio2: +(two.rate / one.rate).toFixed(3),
        supervisor: { roundMs: two.roundMs, perReportMs: two.perReportMs === null ? null : +two.perReportMs.toFixed(3), lanesOneSupervisorFeeds: feeds },
      };
      if (feeds !== null) ratios.supervisorFeedsLanes = Math.min(ratios.supervisorFeedsLanes ?? Infinity, feeds);
      ratios.scaling2Workers = Math.min(ratios.scaling2Workers ?? Infinity, two.rate / one.rate);
    }
    perPair[pair] = row;
    log(`${pair}: ${JSON.stringify(row)}`);
  }
  result.pairs = perPair;
  const targets = targetsFor(args.pairs);
  if (args.sections.includes('ttfd')) {
    const t = await ttfd(targets, args.seeds, args.budget, log);
    result.ttfd = t;
    for (const [key, v] of Object.entries(t) as [string, Record<string, Record<string, number | boolean>>][]) {
      const ours = Math.max(1e-3, v.ours!.medianSeconds as number);
      const js = (v.jsfuzz!.medianSeconds as number) / ours;
      const fcs = (v.fastCheck!.medianSeconds as number) / ours;
      ratios.ttfdSpeedupVsJsfuzz = Math.min(ratios.ttfdSpeedupVsJsfuzz ?? Infinity, js);
      ratios.ttfdSpeedupVsFastCheck = Math.min(ratios.ttfdSpeedupVsFastCheck ?? Infinity, fcs);
      if (v.jsfuzz!.lowerBound) lowerBounds.push(`ttfdSpeedupVsJsfuzz (${key})`);
      if (v.fastCheck!.lowerBound) lowerBounds.push(`ttfdSpeedupVsFastCheck (${key})`);
    }
  }
  if (args.sections.includes('minimize')) {
    const m = minimization(targets, args.budget);
    result.minimize = m;
    for (const v of Object.values(m) as { ours: { length?: number }; fastCheck: { length?: number } }[]) {
      if (v.ours.length && v.fastCheck.length) ratios.minLengthVsFastCheck = Math.max(ratios.minLengthVsFastCheck ?? 0, v.ours.length / v.fastCheck.length);
    }
    log(`minimize: ${JSON.stringify(m)}`);
  }
  if (args.sections.includes('replay')) {
    result.replay = replayBench();
    log(`replay: ${JSON.stringify(result.replay)}`);
  }
  if (args.sections.includes('triage')) {
    const per: Record<string, unknown> = {};
    for (const pair of args.pairs) {
      const t = triageCost(pair, Math.max(20, args.seconds * 4));
      per[pair] = t;
      ratios.triageExecRatio = Math.min(ratios.triageExecRatio ?? Infinity, t.execRatio!);
      ratios.triageShare = Math.max(ratios.triageShare ?? 0, t.triageShare!);
      log(`triage ${pair}: ${JSON.stringify(t)}`);
    }
    result.triage = per;
  }
  if (args.sections.includes('shards')) {
    const per: Record<string, unknown> = {};
    // One pair: `all` when it is among --pairs (the sync costs hardly depend on the pair).
    for (const pair of [args.pairs.includes('all') ? 'all' : args.pairs[0]!]) {
      const s = shardsProjection(pair, Math.max(15, args.seconds * 3));
      per[pair] = s;
      const p64 = (s.projection as { shards: number; efficiency: number }[]).find((x) => x.shards === 64)!;
      ratios.shardEfficiency64 = Math.min(ratios.shardEfficiency64 ?? Infinity, p64.efficiency);
      log(`shards ${pair}: ${JSON.stringify(s)}`);
    }
    const vs = (await shardsVsOne(args.shardSeconds)) as unknown as { shards: { buckets: number }; one: { buckets: number } };
    per.fourShardsVsOne = vs;
    ratios.shardBucketsVsOne = vs.shards.buckets / Math.max(1, vs.one.buckets);
    log(`4 shards vs 1: ${JSON.stringify(vs)}`);
    result.shards = per;
  }
  if (args.sections.includes('memory')) {
    result.memory = memory(60);
    log(`memory: ${JSON.stringify(result.memory)}`);
  }
  if (args.sections.includes('mutants')) {
    const m = await mutationScore(args.mutants, args.mutantBudget, log);
    result.mutants = m;
    const ours = m.ours as { killed: number; medianMsOnBoth: number };
    const theirs = m.fastCheck as { killed: number; medianMsOnBoth: number };
    ratios.mutantsKilledVsFastCheck = ours.killed / Math.max(1, theirs.killed);
    if ((m.killedByBoth as number) > 0) ratios.ttkSpeedupVsFastCheck = theirs.medianMsOnBoth / Math.max(1e-3, ours.medianMsOnBoth);
    const hard = m.hard as { mutants: number; oursMedianMs: number; fastCheckMedianMs: number };
    if (hard.mutants > 0) ratios.ttkSpeedupVsFastCheckHard = hard.fastCheckMedianMs / Math.max(1e-3, hard.oursMedianMs);
    log(`mutants: ours ${ours.killed}, fast-check ${theirs.killed} of ${m.sampled as number}; no tool: ${(m.killedByNone as string[]).join(' ')}`);
  }
  for (const k of Object.keys(ratios)) ratios[k] = +ratios[k]!.toFixed(3);
  result.ratios = ratios;
  result.lowerBounds = lowerBounds;
  const text = JSON.stringify(result, null, 2);
  if (args.json) writeFileSync(args.json, text + '\n');
  process.stdout.write(text + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
});
