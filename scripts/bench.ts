// Benchmarks, measured as ratios within one run (these machines are shared and noisy):
//   ceiling  the bare models of a pair replaying pre-generated streams (no generation,
//            coverage or comparison): steps/s and streams/s
//   engine   the full fuzz loop of one lane (generation, mutation, coverage, comparison,
//            signatures) in-process, and engine/ceiling
//   scaling  `svmfuzz fuzz` with 1 and 2 workers (and all cores), steady-state exec/s from
//            stats.jsonl (the first interval, with thread start-up, is left out)
// Usage: npm run bench -- [--sections ceiling,engine,scaling] [--seconds N] [--pairs a,b] [--json FILE]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../models/registry.js';
import { makeModel, runStream } from '../models/svm/model.js';
import { Rng, deriveSeed } from '../harness/rng.js';
import { generateStream } from '../harness/generate.js';
import { Lane } from '../harness/lane.js';
import type { Stream } from '../harness/text.js';

const CLI = fileURLToPath(new URL('../harness/cli.js', import.meta.url));

interface Args { sections: string[]; seconds: number; pairs: string[]; json: string | null }

function parseArgs(argv: string[]): Args {
  const a: Args = { sections: ['ceiling', 'engine', 'scaling'], seconds: 5, pairs: ['vnmi-iret', 'sti-shadow', 'all'], json: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--sections' && v) (a.sections = v.split(',')), i++;
    else if (argv[i] === '--seconds' && v) (a.seconds = Number(v)), i++;
    else if (argv[i] === '--pairs' && v) (a.pairs = v.split(',')), i++;
    else if (argv[i] === '--json' && v) (a.json = v), i++;
    else throw new Error(`bench: unknown argument '${argv[i]}'`);
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

function ceiling(pair: string, seconds: number): { stepsPerSec: number; streamsPerSec: number } {
  const reg = new Registry();
  const sel = reg.select({ pair });
  const ml = makeModel(sel.left);
  const mr = makeModel(sel.right!);
  const streams: Stream[] = Array.from({ length: 2000 }, (_, i) => generateStream(new Rng(deriveSeed(7, i)), ml, sel.config, 24));
  let i = 0;
  let steps = 0;
  const streamsPerSec = rate(seconds * 1000, () => {
    const s = streams[i++ % streams.length]!;
    runStream(ml, s.config, s.events);
    runStream(mr, s.config, s.events);
    steps += 2 * s.events.length;
    return 1;
  });
  return { stepsPerSec: Math.round((streamsPerSec * steps) / Math.max(1, i)), streamsPerSec: Math.round(streamsPerSec) };
}

function engine(pair: string, seconds: number): { execPerSec: number } {
  const reg = new Registry();
  const sel = reg.select({ pair });
  const lane = new Lane({
    seed: 1, lane: 0, pair, left: sel.left, right: sel.right!, config: sel.config, maxLen: 24,
    samplesPerBucket: 4, corpusCap: 2000, hangMs: 2000,
  });
  lane.runBatch(2000); // warm-up: JIT and an initial corpus
  return { execPerSec: Math.round(rate(seconds * 1000, () => lane.runBatch(500).execs)) };
}

function campaignRate(pair: string, workers: number, seconds: number): number {
  const out = mkdtempSync(join(tmpdir(), 'svmfuzz-bench-'));
  const r = spawnSync(process.execPath, [CLI, 'fuzz', '--pair', pair, '--workers', String(workers), '--seed', '1',
    '--duration', `${seconds}s`, '--out', out, '--no-minimize'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench: fuzz failed: ${r.stderr}`);
  const lines = readFileSync(join(out, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { execs: number; elapsedMs: number });
  const a = lines[1] ?? lines[0]!;
  const b = lines.at(-1)!;
  return Math.round(((b.execs - a.execs) * 1000) / Math.max(1, b.elapsedMs - a.elapsedMs));
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const result: Record<string, unknown> = { node: process.version, cores: availableParallelism(), seconds: args.seconds };
  const perPair: Record<string, Record<string, unknown>> = {};
  const ratios: Record<string, number> = {};
  for (const pair of args.pairs) {
    const row: Record<string, unknown> = {};
    if (args.sections.includes('ceiling') || args.sections.includes('engine')) {
      const c = ceiling(pair, args.seconds);
      const e = engine(pair, args.seconds);
      row.ceiling = c;
      row.engine = { ...e, engineOverCeiling: +(e.execPerSec / c.streamsPerSec).toFixed(3) };
      ratios.engineOverCeiling = Math.min(ratios.engineOverCeiling ?? Infinity, e.execPerSec / c.streamsPerSec);
    }
    if (args.sections.includes('scaling')) {
      const one = campaignRate(pair, 1, args.seconds + 2);
      const two = campaignRate(pair, 2, args.seconds + 2);
      const all = availableParallelism() > 2 ? campaignRate(pair, availableParallelism(), args.seconds + 2) : null;
      row.scaling = { workers1: one, workers2: two, workersAll: all, ratio2: +(two / one).toFixed(3) };
      ratios.scaling2Workers = Math.min(ratios.scaling2Workers ?? Infinity, two / one);
    }
    perPair[pair] = row;
    process.stderr.write(`${pair}: ${JSON.stringify(row)}\n`);
  }
  for (const k of Object.keys(ratios)) ratios[k] = +ratios[k]!.toFixed(3);
  result.pairs = perPair;
  result.ratios = ratios;
  const text = JSON.stringify(result, null, 2);
  if (args.json) writeFileSync(args.json, text + '\n');
  process.stdout.write(text + '\n');
}

main();
