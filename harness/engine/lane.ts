// One lane's loop: pick an input (generate or mutate a corpus input), run both models in
// lock step, keep inputs that add coverage, classify divergences by signature. A lane
// knows nothing of threads: it runs batches and returns one report per batch (the
// campaign runs it in-process; worker threads wrap the same class).

import { makeModel, type Model } from '../../models/svm/model.js';
import type { Version } from '../../models/svm/versions.js';
import type { SvmConfig } from '../../models/svm/config.js';
import { Rng, deriveSeed } from './rng.js';
import { generateStream, stateAfter } from './generate.js';
import { mutate, type MutationContext } from './mutate.js';
import { executePair, progress, type Execution, type ExecOptions, type Snapshot } from './execute.js';
import { copyState, createState, initialState, type VcpuState } from '../../models/svm/state.js';
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
  /**
   * Snapshots of both models after every SNAPSHOT_EVERY-th step of this input, contiguous
   * from the first, taken while its children ran its prefix (null: none, or evicted).
   */
  snaps: Snapshot[] | null;
}

/**
 * A mutated input runs on from its parent's snapshot at (or just before) its first edited
 * event: the prefix it shares with the parent is not replayed. Snapshots are taken every
 * SNAPSHOT_EVERY steps, when a child first runs that far into the parent's prefix; each
 * holds two states of ~2 kB. At most MAX_SNAPSHOTS per lane (~33 MB, room for about four
 * per input of a full corpus: with fewer, a large corpus churns them); past it, the
 * inputs whose snapshots served least recently lose them.
 */
const SNAPSHOT_EVERY = 2;
const MAX_SNAPSHOTS = 8192;

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
  /** Inputs holding snapshots, least recently used first, and how many snapshots they hold in all. */
  private readonly snapHolders = new Map<CorpusItem, true>();
  private snapCount = 0;
  /** The parent of the mutation in progress (its snapshots serve in-context choices). */
  private parent: CorpusItem | null = null;
  private readonly mctx: MutationContext;
  /** States the lane owns for runs from a snapshot (both models, and in-context choices). */
  private readonly scratch: readonly [VcpuState, VcpuState, VcpuState];
  /** ExecOptions of a run from the initial state, in the lane's scratch states. */
  private readonly fresh: ExecOptions;
  /** The list every run of runOne records its transitions in (ExecOptions.transitions). */
  private readonly transitions: number[] = [];

  /** The iteration whose input `runOne` returns (by ProbeStop) instead of running it: regenerating a killer input. */
  stopAt = -1;
  /** Iterations not to run: their inputs killed this lane's thread before. */
  skip = new Set<number>();

  constructor(readonly cfg: LaneConfig) {
    this.ml = makeModel(cfg.left);
    this.mr = makeModel(cfg.right);
    this.scratch = [createState(cfg.config), createState(cfg.config), createState(cfg.config)];
    this.fresh = { into: [this.scratch[0], this.scratch[1]], transitions: this.transitions };
    this.mctx = { rng: new Rng(0), model: this.ml, corpus: [], maxLen: cfg.maxLen, stateAt: (st, upto) => this.stateAt(st, upto) };
  }

  /**
   * The left model's state after `upto` events of `st` (the parent, or a stacked mutation
   * of it), from the parent's last snapshot within the events the two still share.
   */
  private stateAt(st: Stream, upto: number): VcpuState {
    const p = this.parent;
    if (!p || !p.snaps || st.config !== p.stream.config) return this.replayTo(st, upto);
    let shared = upto;
    if (st !== p.stream) {
      const pe = p.stream.events;
      const ce = st.events;
      const n = Math.min(upto, pe.length, ce.length);
      shared = 0;
      while (shared < n && pe[shared] === ce[shared]) shared++;
    }
    const k = Math.min(Math.floor(shared / SNAPSHOT_EVERY), p.snaps.length);
    if (k === 0) return this.replayTo(st, upto);
    const snap = p.snaps[k - 1]!;
    // The mutators only read the state (to draw an event legal in it): a snapshot taken
    // exactly there is handed over as is, without a copy.
    if (snap.step === upto) return snap.left;
    const v = this.scratch[2];
    copyState(v, snap.left);
    return stateAfter(this.ml, st, upto, { state: v, step: snap.step });
  }

  /** The left model's state after `upto` events of `st`, replayed from the start in the lane's third state. */
  private replayTo(st: Stream, upto: number): VcpuState {
    const v = this.scratch[2];
    copyState(v, initialState(st.config));
    return stateAfter(this.ml, st, upto, { state: v, step: 0 });
  }

  /**
   * Where a child of `parent` starts: its parent's last snapshot within the events they
   * share (compared by identity: mutators copy the events they keep), and the snapshots
   * to take on the way when the parent has none that far yet.
   */
  private resumeFrom(parent: CorpusItem, stream: Stream): ExecOptions | undefined {
    if (stream.config !== parent.stream.config) return undefined;
    const pe = parent.stream.events;
    const ce = stream.events;
    const n = Math.min(pe.length, ce.length);
    let shared = 0;
    while (shared < n && pe[shared] === ce[shared]) shared++;
    const k = Math.floor(shared / SNAPSHOT_EVERY);
    if (k === 0) return undefined;
    const have = parent.snaps?.length ?? 0;
    const opts: ExecOptions = { into: [this.scratch[0], this.scratch[1]], transitions: this.transitions };
    if (have) {
      this.snapHolders.delete(parent);
      this.snapHolders.set(parent, true);
      opts.from = parent.snaps![Math.min(k, have) - 1];
    }
    // An input gets snapshots from its second pick on: most inputs are picked a few times
    // only, and taking two state copies per snapshot for them costs more than it saves.
    if (k > have && parent.picks > 1) {
      if (!parent.snaps) {
        parent.snaps = [];
        this.snapHolders.set(parent, true);
      }
      opts.capture = { every: SNAPSHOT_EVERY, upto: shared, out: parent.snaps };
    }
    return opts;
  }

  /** Counts the snapshots an execution took and drops the oldest holders' past the cap. */
  private tookSnapshots(n: number): void {
    this.snapCount += n;
    for (const old of this.snapHolders.keys()) {
      if (this.snapCount <= MAX_SNAPSHOTS) break;
      this.snapHolders.delete(old);
      this.snapCount -= old.snaps?.length ?? 0;
      old.snaps = null;
    }
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

  /**
   * Adds an input found elsewhere (another lane, a sync peer, the regression corpus, a
   * resume) if it brings this lane coverage it lacks, as AFL's sync keeps a peer's test
   * case only when it is interesting here; returns whether it was kept. Kept whatever
   * it brings, the inputs two members found for the same transitions between two
   * exchanges both stay: measured with two lanes exchanging every 3 s, the corpora grew
   * to 1670 instead of 907 and the lanes ran at 0.76 of their speed (scattered picks,
   * fewer snapshots per input).
   */
  addInput(stream: Stream, origin: Origin): boolean {
    const exec = executePair(this.ml, this.mr, stream);
    if (this.coverage.add(exec.transitions) === 0) return false;
    this.push({ stream, origin, transitions: exec.transitions, picks: 0, weight: 0, snaps: null });
    return true;
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
    let parent: CorpusItem | null = null;
    if (this.corpus.length && !rng.chance(1, 10)) {
      parent = this.choose(rng);
      parent.picks++;
      this.streams ??= this.corpus.map((c) => c.stream);
      const ctx = this.mctx;
      ctx.rng = rng;
      ctx.corpus = this.streams;
      this.parent = parent;
      const m = mutate(ctx, parent.stream);
      this.parent = null;
      stream = m.stream;
      lineage = m.lineage;
    } else {
      stream = generateStream(rng, this.ml, this.cfg.config, this.cfg.maxLen, this.scratch[2]);
      lineage = ['generate'];
    }
    const origin: Origin = { seed: this.cfg.seed, lane: this.cfg.lane, iteration: i, lineage };
    if (i === this.stopAt) throw new ProbeStop(stream, origin);
    if (this.cfg.progress) this.cfg.progress[0] = i;
    const on = this.focus && (i & 1) === 1 ? this.focus : null;
    this.current = { stream, origin, on };
    // Snapshots hold the lane's own pair: a focused execution runs its own left model.
    // Without a snapshot to start from, the run starts in the lane's own two states.
    const opts = (parent && !on ? this.resumeFrom(parent, stream) : undefined) ?? this.fresh;
    const took = opts?.capture ? opts.capture.out.length : 0;
    const exec = executePair(on ? on.ml : this.ml, this.mr, stream, true, opts);
    if (opts?.capture) this.tookSnapshots(opts.capture.out.length - took);
    this.current = null;
    report.execs++;
    report.events += stream.events.length;
    if (this.coverage.add(exec.transitions) > 0) {
      // The transitions are in the lane's own list (reused by the next run): the corpus keeps a copy.
      this.push({ stream, origin, transitions: exec.transitions.slice(), picks: 0, weight: 0, snaps: null });
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
