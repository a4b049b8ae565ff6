// One lane's loop: pick an input (generate or mutate a corpus input), run both models in
// lock step, keep inputs that add coverage, classify divergences by signature. A lane
// knows nothing of threads: it runs batches and returns one report per batch (the
// campaign runs it in-process; worker threads wrap the same class).

import { makeModel, type Model } from '../../models/svm/model.js';
import type { Version } from '../../models/svm/versions.js';
import type { SvmConfig } from '../../models/svm/config.js';
import { Rng, deriveSeed } from './rng.js';
import { generateStream } from './generate.js';
import { mutate } from './mutate.js';
import { executePair, progress, type Execution } from './execute.js';
import { runWithTimeout, HangError } from './watchdog.js';
import { signatureOf, signatureKey, type Signature } from './signature.js';
import { Coverage } from './coverage.js';
import { ENTRY_SCHEMA, ALPHABET_VERSION, type CorpusEntry, type Origin } from '../store/entry.js';
import type { Stream } from '../text/text.js';

export interface LaneConfig {
  seed: number;
  lane: number;
  pair: string;
  left: Version;
  right: Version;
  config: SvmConfig;
  maxLen: number;
  /** Samples of one bucket a lane reports (persist after dedup). */
  samplesPerBucket: number;
  /** In-memory corpus cap; beyond it the least useful inputs are evicted. */
  corpusCap: number;
  /**
   * Watchdog budget per CHUNK executions (or on top of a time-boxed batch): beyond it, the
   * stream being run is a hang finding. 0 disables the watchdog (built-in models only).
   */
  hangMs: number;
  /**
   * Shared memory the lane writes the iteration it is about to run into (index 0): if its
   * thread dies, the supervisor knows which input killed it.
   */
  progress?: Float64Array;
}

/** Thrown by runOne when `stopAt` is reached: the input of that iteration, not run. */
export class ProbeStop extends Error {
  constructor(readonly stream: Stream, readonly origin: Origin) {
    super('probe: stopped before the iteration');
  }
}

/** A batch bounded by runs only gets hangMs of watchdog budget per this many executions. */
const CHUNK = 256;

/** A focused pair: the lane's left version with the patches of known causes applied, and its label. */
export interface Focus {
  label: string;
  left: Version;
}

export interface Finding {
  signature: Signature;
  entry: CorpusEntry;
}

export interface BatchReport {
  execs: number;
  /** Events in the streams executed (each runs on both models): the bench's work measure. */
  events: number;
  /** Per signature id: how many executions showed it in this batch. */
  counts: Record<string, number>;
  /** New samples (capped per bucket). */
  findings: Finding[];
  /** Inputs that added coverage in this batch. */
  newInputs: { stream: Stream; origin: Origin }[];
  coverage: number;
  corpus: number;
}

interface CorpusItem {
  stream: Stream;
  origin: Origin;
  transitions: number[];
  picks: number;
  /** Scheduling weight, rescored every RESCORE_EVERY executions (not every pick). */
  weight: number;
}

/** Rescoring walks every corpus input's transitions: 2000 inputs x ~40 transitions is
 * ~80k map reads, so doing it once per 2048 executions keeps it under 1% of the work. */
const RESCORE_EVERY = 2048;

export function makeEntry(cfg: Pick<LaneConfig, 'pair' | 'left' | 'right'>, stream: Stream, origin: Origin | null, exec: Execution, sig: Signature | null): CorpusEntry {
  const d = exec.divergence;
  return {
    schema: ENTRY_SCHEMA,
    alphabet: ALPHABET_VERSION,
    pair: cfg.pair,
    left: { id: cfg.left.id, patches: cfg.left.patches.map((p) => p.id) },
    right: { id: cfg.right.id, patches: cfg.right.patches.map((p) => p.id) },
    config: stream.config,
    events: stream.events,
    origin,
    expected: d && sig ? { outcome: 'diverges', signature: sig.text, signatureId: sig.id } : { outcome: 'equal' },
    divergence: d ? { kind: d.kind, step: d.step, event: d.event, fields: d.fields, left: exec.at?.left ?? null, right: exec.at?.right ?? null, ...(d.error ? { error: d.error } : {}) } : null,
  };
}

export class Lane {
  readonly coverage = new Coverage();
  private readonly ml: Model;
  private readonly mr: Model;
  private readonly corpus: CorpusItem[] = [];
  private readonly samples = new Map<string, number>();
  /** The corpus's streams, for splicing (rebuilt after the corpus changes, not per execution). */
  private streams: Stream[] | null = null;
  /** Cumulative scheduling weights of the corpus (rebuilt when its length changes). */
  private cumulative: number[] = [];
  /** The input being executed (what a watchdog interruption reports). */
  private current: { stream: Stream; origin: Origin; on: Focus | null } | null = null;
  /** The focused pair (see setFocus), or null. */
  private focus: (Focus & { ml: Model }) | null = null;
  iteration = 0;

  /** The iteration whose input `runOne` returns (by ProbeStop) instead of running it: regenerating a killer input. */
  stopAt = -1;
  /** Iterations not to run: their inputs killed this lane's thread before. */
  skip = new Set<number>();

  constructor(readonly cfg: LaneConfig) {
    this.ml = makeModel(cfg.left);
    this.mr = makeModel(cfg.right);
  }

  /**
   * Runs every other execution on a focused pair: `left` already carries the patches of the
   * causes found so far, so only the remaining changes diverge there (a frequent change no
   * longer hides the rare ones). Findings there are recorded under the focused pair's label.
   */
  setFocus(focus: Focus | null): void {
    if ((focus?.label ?? null) === (this.focus?.label ?? null)) return;
    this.focus = focus ? { ...focus, ml: makeModel(focus.left) } : null;
  }

  get corpusSize(): number {
    return this.corpus.length;
  }

  /** Adds an input found elsewhere (another lane, the regression corpus, a resume). */
  addInput(stream: Stream, origin: Origin): void {
    const exec = executePair(this.ml, this.mr, stream);
    this.coverage.add(exec.transitions);
    this.push({ stream, origin, transitions: exec.transitions, picks: 0, weight: 0 });
  }

  /** Marks a bucket as already holding `n` samples (so the lane reports fewer). */
  knowSamples(signatureId: string, n: number): void {
    this.samples.set(signatureId, Math.max(this.samples.get(signatureId) ?? 0, n));
  }

  /** Short inputs with rare transitions weigh most. */
  private score(c: CorpusItem): number {
    const rarity = this.coverage.rarity(c.transitions);
    return Math.max(1, Math.round((1000 * (1 + rarity)) / (1 + c.stream.events.length)));
  }

  private push(c: CorpusItem): void {
    c.weight = this.score(c);
    this.corpus.push(c);
    this.streams = null;
    if (this.corpus.length > this.cfg.corpusCap) this.rescore();
  }

  /**
   * Recomputes weights and, over the cap, evicts the dominated inputs (lowest weight:
   * longest for the least rare coverage) down to 90% of the cap in one go.
   */
  private rescore(): void {
    this.cumulative = [];
    for (const c of this.corpus) c.weight = this.score(c);
    if (this.corpus.length > this.cfg.corpusCap) {
      this.corpus.sort((a, b) => b.weight - a.weight || a.origin.iteration - b.origin.iteration);
      this.corpus.length = Math.floor(this.cfg.corpusCap * 0.9);
      this.streams = null;
    }
  }

  /**
   * Chooses a parent by weight (damped by how often it was picked, as of the last
   * rescore): a binary search over cumulative weights, rebuilt only when the corpus
   * changes, so a pick costs O(log n) instead of a pass over the corpus.
   */
  private choose(rng: Rng): CorpusItem {
    if (this.cumulative.length !== this.corpus.length) {
      let total = 0;
      this.cumulative = this.corpus.map((c) => (total += Math.max(1, Math.round(c.weight / (1 + c.picks / 8)))));
    }
    const r = rng.int(this.cumulative[this.cumulative.length - 1]!);
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return this.corpus[lo]!;
  }

  /** One execution: iteration i draws from Rng(seed, lane, i) only. */
  runOne(report: BatchReport): void {
    const i = this.iteration++;
    // An iteration whose input killed an earlier thread of this lane is not run again
    // (its input is stored as a crash finding); it counts as an execution.
    if (this.skip.has(i)) {
      report.execs++;
      return;
    }
    const rng = new Rng(deriveSeed(this.cfg.seed, this.cfg.lane, i));
    let stream: Stream;
    let lineage: string[] = [];
    if (this.corpus.length && !rng.chance(1, 10)) {
      const parent = this.choose(rng);
      parent.picks++;
      this.streams ??= this.corpus.map((c) => c.stream);
      const m = mutate({ rng, model: this.ml, corpus: this.streams, maxLen: this.cfg.maxLen }, parent.stream);
      stream = m.stream;
      lineage = m.lineage;
    } else {
      stream = generateStream(rng, this.ml, this.cfg.config, this.cfg.maxLen);
      lineage = ['generate'];
    }
    const origin: Origin = { seed: this.cfg.seed, lane: this.cfg.lane, iteration: i, lineage };
    if (i === this.stopAt) throw new ProbeStop(stream, origin);
    if (this.cfg.progress) this.cfg.progress[0] = i;
    const on = this.focus && (i & 1) === 1 ? this.focus : null;
    this.current = { stream, origin, on };
    const exec = executePair(on ? on.ml : this.ml, this.mr, stream);
    this.current = null;
    report.execs++;
    report.events += stream.events.length;
    if (this.coverage.add(exec.transitions) > 0) {
      this.push({ stream, origin, transitions: exec.transitions, picks: 0, weight: 0 });
      report.newInputs.push({ stream, origin });
    }
    if (i % RESCORE_EVERY === RESCORE_EVERY - 1) this.rescore();
    if (exec.divergence) this.record(report, stream, origin, exec, on);
  }

  private record(report: BatchReport, stream: Stream, origin: Origin, exec: Execution, on: Focus | null): void {
    const pair = on ? on.label : this.cfg.pair;
    const left = on ? on.left : this.cfg.left;
    const key = signatureKey(pair, exec.divergence!);
    report.counts[key.id] = (report.counts[key.id] ?? 0) + 1;
    const have = this.samples.get(key.id) ?? 0;
    if (have < this.cfg.samplesPerBucket) {
      this.samples.set(key.id, have + 1);
      const sig = signatureOf(pair, exec.divergence!, { left: left.id, right: this.cfg.right.id });
      report.findings.push({ signature: sig, entry: makeEntry({ pair, left, right: this.cfg.right }, stream, origin, exec, sig) });
    }
  }

  /** The watchdog interrupted the current execution: it is a hang finding. */
  private hang(report: BatchReport): void {
    const cur = this.current;
    this.current = null;
    report.execs++;
    if (!cur) return;
    const step = Math.max(0, progress.step);
    const side = progress.side === 0 ? 'left' : 'right';
    const exec: Execution = {
      divergence: { kind: 'hang', step, event: cur.stream.events[step]?.kind ?? '(none)', fields: [], error: `the ${side} model does not return` },
      at: null,
      transitions: [],
    };
    this.record(report, cur.stream, cur.origin, exec, cur.on);
  }

  /** Runs until `runs` executions or `deadline` (ms since epoch, for time-boxed batches). */
  runBatch(runs: number, deadline = Infinity): BatchReport {
    const report: BatchReport = { execs: 0, events: 0, counts: {}, findings: [], newInputs: [], coverage: 0, corpus: 0 };
    let n = 0;
    const plain = (): void => {
      for (; n < runs; ) {
        this.runOne(report);
        n++;
        if ((n & 63) === 0 && Date.now() >= deadline) return;
      }
    };
    if (this.cfg.hangMs <= 0) {
      plain();
    } else {
      // One watchdog-guarded call per batch (arming it costs ~0.1-1 ms, too much per
      // chunk of executions): its budget is the batch's own time box plus hangMs, or
      // hangMs per CHUNK executions for a batch bounded by runs only. After a hang the
      // rest of the batch runs under a fresh guard.
      while (n < runs && Date.now() < deadline) {
        const budget = Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) + this.cfg.hangMs
          : this.cfg.hangMs * Math.max(1, Math.ceil((runs - n) / CHUNK));
        try {
          runWithTimeout(plain, budget);
        } catch (err) {
          if (!(err instanceof HangError)) throw err;
          this.hang(report);
          n++;
        }
      }
    }
    report.coverage = this.coverage.size;
    report.corpus = this.corpus.length;
    return report;
  }
}
