// The main-thread supervisor of a fuzz campaign. It runs lanes in worker threads (one
// piscina pool of one thread per lane, so a lane keeps its corpus and coverage between
// batches), in rounds: every lane runs one batch, then the supervisor merges the reports
// in lane order, dedups divergences into buckets by signature, persists capped samples,
// shares newly interesting inputs with every lane, minimizes new buckets, writes the
// status line, stats.jsonl and its resumable state. A lane whose thread dies is recreated
// from the shared corpus; the lost batch is counted.
//
// Determinism: with --runs, every lane runs a fixed number of iterations per round and
// reports are merged in lane order, so the same seed, --runs and --workers give the same
// buckets and byte-identical min.msgpack files. With --duration, rounds are time-boxed
// and the stopping point depends on the machine; each finding still reproduces from its
// stored events (and from seed, lane and iteration given the same shared inputs).

import { availableParallelism } from 'node:os';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { Piscina } from 'piscina';
import { makeModel } from '../../models/svm/model.js';
import type { Selection } from '../../models/registry.js';
import { makeEntry, type BatchReport, type Finding } from '../engine/lane.js';
import { signatureKey, signatureOf } from '../engine/signature.js';
import { CrashStore, segment } from '../store/crashes.js';
import { DirLock, writeFileAtomic } from '../store/fsutil.js';
import { minimize, simpler } from '../engine/minimize.js';
import { signatureOracle } from '../engine/oracle.js';
import { executeGuarded } from '../engine/oracle.js';
import { readEntryFile } from '../store/codec.js';
import { printStream, type Stream } from '../text/text.js';
import type { CorpusEntry } from '../store/entry.js';
import type { LaneInit, LaneRequest, LaneResponse, RanBatch, SharedInput } from './protocol.js';
import { SyncDir, type SharedMinimized, type SharedTriage, type SyncStats } from './sync.js';
import { CauseBook, type CauseSummary } from '../triage/causes.js';
import { focusLabel, focusPatches } from '../triage/focus.js';
import { applyPatches } from '../triage/attribute.js';

export interface CampaignOptions {
  selection: Selection & { right: NonNullable<Selection['right']> };
  /** Exchange corpus inputs with other campaigns through this directory, as member `name` (sync.ts). */
  sync?: { dir: string; name: string };
  modelFiles: string[];
  seed: number;
  /** Stop after this many executions (deterministic) ... */
  runs: number | null;
  /** ... or after this much wall time; with neither, until interrupted. */
  durationMs: number | null;
  workers: number;
  out: string;
  maxLen: number;
  samplesPerBucket: number;
  corpusCap: number;
  hangMs: number;
  minimize: boolean;
  resume: boolean;
  /** Heap limit of a lane thread (resourceLimits.maxOldGenerationSizeMb). */
  laneHeapMb: number;
  log: (line: string) => void;
  status: (line: string) => void;
  /** Milliseconds between status lines and stats.jsonl records. */
  statusEveryMs?: number;
  /** Set to true (e.g. by SIGINT) to finish the current round and stop cleanly. */
  /**
   * Set `requested` to stop after the current round (a first signal). The campaign fills in
   * `saveNow`, which writes its state and releases the directory: what a second signal
   * calls right before the process exits.
   */
  stop?: StopControl;
  isTTY?: boolean;
  /** Regression corpus paths: a cause an entry there reproduces is marked known. */
  corpus?: string[];
  /** Symptom samples stored per cause, over all its symptoms (each symptom keeps one at least). */
  causeSamples?: number;
  /** Triage every new symptom to its cause (default true; off only to measure its cost). */
  triage?: boolean;
  /**
   * Supervisor-side model work (triage, minimization) announces itself here before it
   * starts (`minimize <bucket>`, ...), and '' after: if a faulty model kills the
   * supervisor thread, the restarted one skips the job that killed it (`poison`).
   */
  job?: (what: string) => void;
  poison?: readonly string[];
  /** Run every other execution on the pair without the known causes' patches (default true; see triage/focus.ts). */
  focus?: boolean;
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
  /** The cause it is a symptom of (null until triaged). */
  cause: string | null;
  /** intended: every differing field lies in the responsible patches' declared scope. */
  verdict?: 'intended' | 'collateral';
  outOfScope?: string[];
}

export interface CampaignSummary {
  schema: 1;
  seed: number;
  pair: string;
  left: { id: string; patches: string[] };
  right: { id: string; patches: string[] };
  workers: number;
  execs: number;
  durationMs: number;
  coverage: number;
  corpus: number;
  lostBatches: number;
  stopped: 'runs' | 'duration' | 'signal';
  /** What changed and why: one entry per cause, new ones first, each with its symptoms. */
  causes: CauseSummary[];
  buckets: BucketSummary[];
  /** The cost of triage: symptoms triaged, their milliseconds, and the cause minimizations'. */
  triage: { symptoms: number; ms: number; minimizeMs: number };
  /**
   * The supervisor's cost of merging lane reports (dedup, samples to disk, triage of new
   * symptoms, corpus sharing): reports merged, their total milliseconds, and the round
   * length lanes report at. The bench projects from it how many lanes one supervisor feeds.
   */
  supervisor?: { reports: number; mergeMs: number; roundMs: number };
  /** With --sync: inputs published to and imported from the other members, and how many there were. */
  sync?: SyncStats;
}

/** The resumable part of a campaign (campaign.json), rewritten atomically every second or two. */
export interface CampaignState {
  schema: 1;
  seed: number;
  pair: string;
  left: string;
  right: string;
  workers: number;
  execs: number;
  elapsedMs: number;
  laneIterations: number[];
  lostBatches: number;
  buckets: BucketSummary[];
  causes?: CauseSummary[];
}

/**
 * Iterations per lane per round under --runs: ~0.25 s of work at 15k exec/s, long enough
 * that the supervisor's merge never makes a lane wait, short enough for the status line.
 */
const ROUND_RUNS = 4000;
/** Wall-time box of a round under --duration. */
const ROUND_MS = 250;
/**
 * The supervisor's minimization time, at most this share of its lanes' time (a quarter of
 * a lane per lane). The supervisor competes with the lanes for the cores, so its time must
 * follow the lane count: before, it minimized up to half of every round whatever the lane
 * count, and two one-lane shards on two cores (measured with --cpu-prof: 47% of a shard's
 * supervisor thread in minimization) spent a core on minimizing where one two-lane
 * campaign spends half of one.
 */
const MINIMIZE_SHARE = 0.25;
/** How often a --sync campaign exchanges inputs with the other members. */
export const SYNC_MS = 3000;
/** How often the shared corpus is written for --resume (~100 KB, no fsync). */
const CORPUS_SAVE_MS = 2_000;

const packr = new Packr({ useRecords: false });
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export class ResumeError extends Error {}

/**
 * What a finished or stopped run left in `out`, if anything: a campaign state, a summary,
 * stats or bucket directories. A new campaign refuses such a directory (as AFL++ does):
 * mixing two campaigns in one directory would hide the second one's findings behind the
 * first one's buckets and mix their stats.
 */
export function previousRun(out: string): string | null {
  if (!existsSync(out)) return null;
  for (const f of ['campaign.json', 'summary.json', 'stats.jsonl', 'compare.json']) if (existsSync(join(out, f))) return f;
  // A campaign killed before its first state save leaves bucket directories only.
  const bucket = new CrashStore(out).listBuckets()[0];
  return bucket ? relative(out, bucket.dir) : null;
}

/** Checks a campaign.json read back from disk: a hand-edited or damaged one is refused, not trusted. */
function checkState(st: unknown, file: string): CampaignState {
  const bad = (what: string): never => { throw new ResumeError(`${file}: damaged campaign state (${what}); remove it to start afresh, or restore it`); };
  if (typeof st !== 'object' || st === null) bad('not an object');
  const x = st as Record<string, unknown>;
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof x.pair !== 'string' || typeof x.left !== 'string' || typeof x.right !== 'string') bad('pair, left and right must be strings');
  for (const k of ['seed', 'execs', 'elapsedMs', 'lostBatches', 'workers'] as const) if (!count(x[k])) bad(`'${k}' must be a non-negative integer`);
  if (!Array.isArray(x.laneIterations) || !x.laneIterations.every(count)) bad("'laneIterations' must be a list of non-negative integers");
  if (!Array.isArray(x.buckets) || !x.buckets.every((b) => typeof b === 'object' && b !== null && /^[0-9a-f]{12}$/.test(String((b as BucketSummary).id))
    && typeof (b as BucketSummary).dir === 'string' && count((b as BucketSummary).count))) bad("'buckets' must be a list of buckets with a 12-hex id, a dir and a count");
  if (x.causes !== undefined && !Array.isArray(x.causes)) bad("'causes' must be a list");
  return x as unknown as CampaignState;
}

export interface StopControl {
  requested: boolean;
  saveNow?: () => void;
}

/**
 * Runs a campaign in this thread. `runCampaign` (supervisor.ts) runs it in a supervisor
 * thread of its own and is what commands use; this is that thread's body (and the
 * in-process form for tests that need it). `lockHeld`: the caller holds the directory lock.
 */
export async function runCampaignHere(o: CampaignOptions, lockHeld = false): Promise<CampaignSummary> {
  const lock = lockHeld ? null : DirLock.acquire(o.out);
  try {
    const prev = o.resume ? null : previousRun(o.out);
    if (prev) throw earlierRunError(o.out, prev);
    const c = new Campaign(o);
    if (o.stop) o.stop.saveNow = () => c.saveNow();
    return await c.run();
  } finally {
    if (o.stop) o.stop.saveNow = undefined;
    lock?.release();
  }
}

export function earlierRunError(out: string, prev: string): ResumeError {
  return new ResumeError(`${out} holds an earlier run (${join(out, prev)}): continue it with --resume, or give another --out (or remove ${out})`);
}

interface LaneSlot {
  pool: Piscina;
  epoch: number;
  execs: number;
  rate: number;
  rss: number;
  /**
   * Most runs per batch for this lane. Halved after each lost batch (down to MIN_BATCH) and
   * doubled back after each good one, so a model that often kills its thread still lets
   * the lane make progress between deaths.
   */
  cap: number;
  /** The lane writes its current iteration here (a Float64Array): the input that killed its thread. */
  progress: SharedArrayBuffer;
  /** The init the lane was last (re)built from, the batches it ran since, and the one in flight: to regenerate a killer input. */
  init: LaneInit | null;
  ran: RanBatch[];
  inFlight: RanBatch | null;
  /** Iterations whose inputs killed this lane's thread: skipped from then on. */
  killers: number[];
}

const MIN_BATCH = 16;
const MAX_REPLAY_BATCHES = 256;

class Campaign {
  private readonly sel: CampaignOptions['selection'];
  private readonly store: CrashStore;
  private readonly buckets = new Map<string, { summary: BucketSummary; first: CorpusEntry | null }>();
  private readonly corpus: SharedInput[] = [];
  private pendingShare: SharedInput[][] = [];
  /** --sync: the shared directory, and the lanes' new inputs not yet published there. */
  private readonly sync: SyncDir | null;
  private outbox: SharedInput[] = [];
  /** --sync: reproducers minimized here and not yet published; the simplest a peer published, by bucket. */
  private minOutbox: SharedMinimized[] = [];
  private readonly peerMin = new Map<string, SharedMinimized>();
  /** --sync: buckets triaged here and not yet published; the causes peers triaged buckets to, by bucket. */
  private triOutbox: SharedTriage[] = [];
  private readonly peerTriage = new Map<string, SharedTriage>();
  /** --sync: the queued samples of buckets a peer claimed, waiting for its reproducer (see sync.ts). */
  private readonly waiting = new Map<string, { id: string; entry: CorpusEntry | null }[]>();
  /**
   * Samples waiting for minimization. Every stored sample of a bucket (up to --samples) is
   * minimized and the simplest result is kept: the minimizer finds a 1-minimal stream, not
   * the shortest, and different samples reach different local minima (measured on the
   * seed-2 bucket of pair all: 7 events from the first sample, 3 from the best of four).
   */
  private readonly toMinimize: { id: string; entry: CorpusEntry | null }[] = [];
  private readonly minimized = new Map<string, Stream>();
  private laneIterations: number[];
  private execs = 0;
  private elapsedBefore = 0;
  private lostBatches = 0;
  private coverage = 0;
  private readonly start = Date.now();
  private lastNew = Date.now();
  private readonly book: CauseBook;
  /** The patches the focused pair neutralises (empty: no focused pair yet). */
  private focus: string[] = [];
  /** The pairs findings come from: the campaign's own and its focused ones, by label. */
  private readonly selections = new Map<string, CampaignOptions['selection']>();

  constructor(private readonly o: CampaignOptions) {
    this.sel = o.selection;
    this.sync = o.sync ? new SyncDir(o.sync.dir, o.sync.name, o.selection.label, o.selection.left.id, o.selection.right.id) : null;
    this.store = new CrashStore(o.out, { samplesPerBucket: o.samplesPerBucket });
    this.book = new CauseBook({
      label: this.sel.label, left: this.sel.left, right: this.sel.right, hangMs: o.hangMs, store: this.store,
      cap: o.causeSamples ?? 8 * o.samplesPerBucket, log: o.log, job: (w) => this.job(w), poisoned: (w) => this.poisoned(w),
    });
    this.selections.set(this.sel.label, this.sel);
    this.laneIterations = Array.from({ length: o.workers }, () => 0);
    this.pendingShare = Array.from({ length: o.workers }, () => []);
  }

  /**
   * --sync: publish the lanes' new inputs, import the other members' into the corpus and
   * every lane's next batch. A sync directory that fails (gone, full) costs this exchange
   * only: the campaign goes on, and says so once.
   */
  private exchange(): void {
    const sync = this.sync!;
    const t0 = performance.now();
    try {
      sync.publish(this.outbox, this.minOutbox, this.triOutbox);
      this.outbox = [];
      this.minOutbox = [];
      this.triOutbox = [];
      const got = sync.collect();
      for (const t of got.triaged) if (!this.peerTriage.has(t.bucket)) this.peerTriage.set(t.bucket, t);
      for (const input of got.inputs) {
        this.corpus.push(input);
        for (const q of this.pendingShare) q.push(input);
      }
      if (this.corpus.length > this.o.corpusCap) this.corpus.splice(0, this.corpus.length - this.o.corpusCap);
      for (const m of got.minimized) {
        const best = this.peerMin.get(m.bucket);
        if (!best || simpler(m.stream, best.stream)) this.peerMin.set(m.bucket, m);
      }
      // A bucket left to a peer: its reproducer came (adopted when the queue reaches it), or
      // the peer's claim lapsed (it was killed): minimized here after all.
      for (const [id, jobs] of this.waiting) {
        if (!this.peerMin.has(id) && !sync.claimLapsed(id)) continue;
        this.waiting.delete(id);
        this.toMinimize.unshift(...jobs);
      }
      // A bucket minimized here that a peer minimized to something simpler: take the simpler.
      for (const m of got.minimized) {
        const b = this.buckets.get(m.bucket);
        const mine = this.minimized.get(m.bucket);
        if (b && mine && simpler(m.stream, mine)) this.adopt(m.bucket, b, m);
      }
    } catch (err) {
      if (!this.syncWarned) this.o.log(`SYNC_FAILED ${sync.dir}: ${(err as Error).message}; the campaign goes on, exchanges are retried`);
      this.syncWarned = true;
    }
    sync.stats.exchanges++;
    sync.stats.exchangeMs = Math.round((sync.stats.exchangeMs + performance.now() - t0) * 10) / 10;
  }
  private syncWarned = false;
  /** The end of a --runs campaign with --sync: every bucket is minimized here, peers or not. */
  private ownMinimizationAtEnd = false;

  /** Announces supervisor-side model work (see CampaignOptions.job). */
  private job(what: string): void {
    this.o.job?.(what);
  }

  /** Did this job kill an earlier supervisor thread of this campaign? Then it is skipped, with a line saying so. */
  private poisoned(what: string): boolean {
    const kind = `${what.split(' ')[0]} *`;
    if (!this.o.poison?.includes(what) && !this.o.poison?.includes(kind)) return false;
    this.o.log(`SKIPPED ${what}: it killed the supervisor thread before (a model that exits or exhausts memory); its input stays in its bucket`);
    return true;
  }

  /** Triages a new symptom, unless that killed the supervisor before. */
  private triageBucket(id: string, b: BucketSummary, first: CorpusEntry, samples: number): void {
    // A crash input killed a thread: running it here would kill the supervisor.
    if (first.divergence?.kind === 'crash') return;
    if (this.poisoned(`triage ${id}`)) return;
    // A bucket a sync peer triaged: its cause, not triaged again here.
    const peer = this.peerTriage.get(id);
    if (peer && peer.pair === first.pair && peer.signature === b.signature) {
      this.setCause(b, this.book.attach(id, first, b.firstSeen, b.count, samples, peer.cause).cause);
      this.sync!.stats.triageAdopted++;
      return;
    }
    this.job(`triage ${id}`);
    const { cause } = this.book.attach(id, first, b.firstSeen, b.count, samples);
    this.setCause(b, cause);
    this.job('');
    if (this.sync) this.triOutbox.push({ pair: first.pair, bucket: id, signature: b.signature, cause });
  }

  private get statePath(): string { return join(this.o.out, 'campaign.json'); }
  private get corpusPath(): string { return join(this.o.out, 'corpus.msgpack'); }
  private get elapsed(): number { return this.elapsedBefore + Date.now() - this.start; }

  private laneInit(lane: number, epoch: number): LaneInit {
    const o = this.o;
    const knownSamples: Record<string, number> = {};
    for (const b of this.ownBuckets()) knownSamples[b.id] = b.samples;
    return {
      lane, epoch, seed: o.seed, pair: this.sel.label, left: this.sel.left.id, right: this.sel.right.id,
      modelFiles: o.modelFiles, config: this.sel.config, maxLen: o.maxLen, samplesPerBucket: o.samplesPerBucket,
      corpusCap: o.corpusCap, hangMs: o.hangMs, iteration: this.laneIterations[lane]!, corpus: [...this.corpus], knownSamples,
    };
  }

  private newPool(): Piscina {
    return new Piscina({
      filename: WORKER, minThreads: 1, maxThreads: 1, idleTimeout: 2 ** 30,
      // A larger young generation: a lane allocates fast (observations per step) and the
      // default semi-space makes two lanes spend their time in scavenges (measured: 2 lanes
      // 1.16x of one with the default, 1.4x with 32 MB semi-spaces).
      resourceLimits: { maxOldGenerationSizeMb: this.o.laneHeapMb, maxYoungGenerationSizeMb: 96 },
    });
  }

  /** Loads what a stopped or killed campaign left on disk. */
  private resume(): void {
    const o = this.o;
    let st: CampaignState;
    if (!existsSync(this.statePath)) {
      // Killed before its first state save: only bucket directories are on disk. Resume from
      // them with fresh counters (the lanes run their first iterations again).
      if (!this.ownBuckets().length) throw new ResumeError(`${this.statePath}: nothing to resume (no campaign state and no buckets of ${this.sel.label} in ${o.out})`);
      o.log(`RESUME_FROM_DISK ${this.statePath} is missing (the campaign stopped before its first save): taking the buckets on disk, counters from 0`);
      st = {
        schema: 1, seed: o.seed, pair: this.sel.label, left: this.sel.left.id, right: this.sel.right.id, workers: o.workers,
        execs: 0, elapsedMs: 0, laneIterations: [], lostBatches: 0, buckets: [], causes: [],
      };
    } else {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(this.statePath, 'utf8'));
      } catch (err) {
        throw new ResumeError(`${this.statePath}: unreadable campaign state (${(err as Error).message})`);
      }
      st = checkState(raw, this.statePath);
    }
    if (st.pair !== this.sel.label || st.left !== this.sel.left.id || st.right !== this.sel.right.id) {
      throw new ResumeError(`${this.statePath}: the campaign in ${o.out} fuzzed ${st.pair} (${st.left} vs ${st.right}), not ${this.sel.label}`);
    }
    if (st.seed !== o.seed) throw new ResumeError(`${this.statePath}: the campaign used --seed ${st.seed}, not ${o.seed}`);
    this.execs = st.execs;
    this.elapsedBefore = st.elapsedMs;
    this.lostBatches = st.lostBatches;
    this.laneIterations = Array.from({ length: o.workers }, (_, i) => st.laneIterations[i] ?? Math.max(0, ...st.laneIterations));
    // Bucket directories are stored relative to --out (the directory may have moved, or the
    // cwd be another); states written before that stored them as given.
    for (const b of st.buckets) {
      const dir = existsSync(join(o.out, b.dir)) || !existsSync(b.dir) ? join(o.out, b.dir) : b.dir;
      this.buckets.set(b.id, { summary: { ...b, dir, cause: b.cause ?? null }, first: null });
    }
    for (const c of st.causes ?? []) this.book.restore(c);
    // Buckets written after the last state save (a kill in between) are on disk only.
    for (const b of this.ownBuckets()) {
      const known = this.buckets.get(b.id);
      if (known) {
        if (b.minimized && known.summary.minimizedLength === null) known.summary.minimizedLength = readEntryFile(join(b.dir, 'min.msgpack')).events.length;
        if (!b.minimized) this.toMinimize.push({ id: b.id, entry: null });
        continue;
      }
      // A kill between creating the directory and writing its first sample leaves it empty.
      if (!b.samples) {
        o.log(`RESUME_SKIP ${b.dir}: no sample was written before the stop`);
        continue;
      }
      let first: CorpusEntry;
      try {
        first = readEntryFile(join(b.dir, 'samples', '0000.msgpack'));
      } catch (err) {
        o.log(`RESUME_SKIP ${b.dir}: ${(err as Error).message}`);
        continue;
      }
      if (first.expected.outcome !== 'diverges') continue;
      const d = first.divergence!;
      this.selectionOf(first.pair);
      const words = existsSync(join(b.dir, 'description.txt')) ? readFileSync(join(b.dir, 'description.txt'), 'utf8').split('\n')[0]! : first.expected.signature;
      this.buckets.set(b.id, {
        first,
        summary: {
          id: b.id, signature: first.expected.signature, words, kind: d.kind, event: d.event, count: b.samples,
          firstSeen: { execs: this.execs, ms: this.elapsedBefore, seed: o.seed, lane: first.origin?.lane ?? 0, iteration: first.origin?.iteration ?? 0 },
          minimizedLength: b.minimized ? readEntryFile(join(b.dir, 'min.msgpack')).events.length : null, dir: b.dir, cause: null,
        },
      });
      if (!b.minimized) this.toMinimize.push({ id: b.id, entry: null });
    }
    // Symptoms without a cause (found after the last state save): triage them now.
    for (const [id, b] of this.buckets) {
      const c = b.summary.cause !== null ? this.book.causes.get(b.summary.cause) : undefined;
      if (c && c.reproducer.length !== null) continue;
      const first = b.first ?? readEntryFile(join(b.summary.dir, 'samples', '0000.msgpack'));
      this.selectionOf(first.pair); // a focused pair's symptom: its versions, for triage and minimization
      if (c) {
        this.book.requeue(c.id, first);
        continue;
      }
      if (b.summary.cause !== null) continue;
      this.triageBucket(id, b.summary, first, b.summary.count > 0 ? 1 : 0);
    }
    if (existsSync(this.corpusPath)) {
      try {
        this.corpus.push(...(packr.unpack(readFileSync(this.corpusPath)) as SharedInput[]));
      } catch (err) {
        throw new ResumeError(`${this.corpusPath}: unreadable corpus (${(err as Error).message})`);
      }
    }
    o.log(`RESUME ${this.execs} execs, ${this.buckets.size} bucket(s), ${this.corpus.length} corpus input(s), lanes at iterations ${this.laneIterations.join(',')}`);
  }

  /** A second signal: the state as it is now (the summary is not written; --resume continues). */
  saveNow(): void {
    this.saveState(true);
  }

  private saveState(withCorpus: boolean): void {
    const st: CampaignState = {
      schema: 1, seed: this.o.seed, pair: this.sel.label, left: this.sel.left.id, right: this.sel.right.id,
      workers: this.o.workers, execs: this.execs, elapsedMs: this.elapsed, laneIterations: this.laneIterations,
      lostBatches: this.lostBatches, buckets: this.summaries().map((b) => ({ ...b, dir: relative(this.o.out, b.dir) })), causes: this.book.summaries(),
    };
    if (withCorpus) writeFileAtomic(this.corpusPath, packr.pack(this.corpus));
    writeFileAtomic(this.statePath, JSON.stringify(st) + '\n');
  }

  private summaries(): BucketSummary[] {
    return [...this.buckets.values()].map((b) => b.summary)
      .sort((a, b) => a.firstSeen.execs - b.firstSeen.execs || a.id.localeCompare(b.id));
  }

  private absorb(lane: number, r: BatchReport): void {
    for (const [id, n] of Object.entries(r.counts)) {
      const b = this.buckets.get(id);
      if (b) {
        b.summary.count += n;
        this.book.count(b.summary.cause, n);
      }
    }
    for (const f of r.findings) this.finding(lane, f, r.counts[f.signature.id] ?? 1);
    for (const input of r.newInputs) {
      this.corpus.push(input);
      this.pendingShare.forEach((q, i) => { if (i !== lane) q.push(input); });
      if (this.sync) this.outbox.push(input);
    }
    // A sync directory gone for hours must not hold the whole night's inputs in memory.
    if (this.outbox.length > this.o.corpusCap) this.outbox.splice(0, this.outbox.length - this.o.corpusCap);
    if (this.corpus.length > this.o.corpusCap) this.corpus.splice(0, this.corpus.length - this.o.corpusCap);
  }

  private finding(lane: number, f: Finding, count: number): void {
    const { signature: sig, entry } = f;
    const known = this.buckets.get(sig.id);
    if (known) {
      // Disk stays bounded over a night: a cause keeps a capped number of samples over all its symptoms.
      if (!this.book.hasRoom(known.summary.cause)) return;
      const { path } = this.store.addSample(sig.id, `${sig.words}\n\n${sig.text}\n`, entry);
      if (path) {
        this.book.noteSample(known.summary.cause);
        this.toMinimize.push({ id: sig.id, entry });
      }
      return;
    }
    const { path, isNew } = this.store.addSample(sig.id, `${sig.words}\n\n${sig.text}\n`, entry);
    const iteration = entry.origin?.iteration ?? 0;
    // Counting the round's executions lane after lane: the campaign total so far plus
    // this lane's executions in this batch up to the finding.
    const at = this.execs + Math.max(0, iteration - this.laneIterations[lane]!) + 1;
    this.buckets.set(sig.id, {
      first: entry,
      summary: {
        id: sig.id, signature: sig.text, words: sig.words, kind: entry.divergence!.kind, event: entry.divergence!.event, count,
        firstSeen: { execs: at, ms: this.elapsed, seed: this.o.seed, lane, iteration },
        minimizedLength: null, dir: this.store.bucketDir(entry.pair, sig.id), cause: null,
      },
    });
    this.lastNew = Date.now();
    const lineage = entry.origin?.lineage ?? [];
    this.o.log(`NEW_BUCKET ${sig.id} ${sig.words} (lane ${lane} iteration ${iteration}, ${entry.events.length} events, MS: ${lineage.length} ${lineage.join('-')}${isNew ? '' : ', bucket already on disk'})`);
    const b = this.buckets.get(sig.id)!;
    // Triage once per new symptom, here and now: deterministic, and a few ms.
    if (this.o.triage !== false) this.triageBucket(sig.id, b.summary, entry, path ? 1 : 0);
    this.toMinimize.push({ id: sig.id, entry });
  }

  /** The buckets of this campaign on disk: its pair's and its focused pairs'. */
  private ownBuckets(): ReturnType<CrashStore['listBuckets']> {
    const own = segment(this.sel.label);
    const focused = segment(focusLabel(this.sel.label, []));
    return this.store.listBuckets().filter((b) => b.pair === own || b.pair.startsWith(focused));
  }

  /** The selection a finding's pair label names: the campaign's, or a focused pair (rebuilt from its label). */
  private selectionOf(label: string): CampaignOptions['selection'] {
    let sel = this.selections.get(label);
    if (!sel) {
      const prefix = focusLabel(this.sel.label, []);
      if (!label.startsWith(prefix)) throw new Error(`a finding of pair '${label}' in a campaign of '${this.sel.label}'`);
      const left = applyPatches(this.sel.left, this.sel.right, new Set(label.slice(prefix.length).split('+')));
      sel = { ...this.sel, label, left };
      this.selections.set(label, sel);
      this.book.addPair(label, left, this.sel.right);
    }
    return sel;
  }

  /** Recomputes the focused pair from the causes found so far (at round boundaries: deterministic). */
  private refocus(): void {
    if (this.o.focus === false) return;
    const next = focusPatches(this.sel.left, this.sel.right, this.book.causes.values());
    if (next.join('+') === this.focus.join('+')) return;
    this.focus = next;
    if (next.length) {
      const label = focusLabel(this.sel.label, next);
      this.selectionOf(label);
      this.o.log(`FOCUS ${label}: every other execution runs ${this.selections.get(label)!.left.id} vs ${this.sel.right.id}, so the changes of the known causes (${next.join(', ')}) no longer diverge there`);
    }
  }

  private setCause(b: BucketSummary, c: { id: string; verdict: 'intended' | 'collateral'; outOfScope: string[] }): void {
    b.cause = c.id;
    b.verdict = c.verdict;
    b.outOfScope = c.outOfScope;
  }

  /** A signal, or the end of --duration: minimization stops at once (what is queued waits for --resume). */
  private readonly mustStop = (): boolean => this.o.stop?.requested === true || Date.now() >= this.deadline;
  private deadline = Infinity;

  /** Minimizes queued buckets on the main thread while the lanes run their batches. */
  private minimizeQueued(until: number): void {
    const t0 = performance.now();
    // Within a round's slice, minimization also keeps to its share of the lanes' time (see
    // MINIMIZE_SHARE); the end of a --runs campaign (until = Infinity) minimizes everything.
    const share = (): boolean => until === Infinity
      || this.minimizeSpentMs + performance.now() - t0 <= MINIMIZE_SHARE * this.o.workers * (Date.now() - this.start);
    try {
      this.minimizeSome(until, share);
    } finally {
      this.minimizeSpentMs += performance.now() - t0;
    }
  }
  private minimizeSpentMs = 0;

  private minimizeSome(until: number, share: () => boolean): void {
    while (this.o.minimize && this.toMinimize.length && Date.now() < until && share() && !this.mustStop()) {
      const job = this.toMinimize.shift()!;
      const { id, entry: queued } = job;
      const b = this.buckets.get(id)!;
      if (b.summary.kind === 'crash' || this.poisoned(`minimize ${id}`)) {
        this.toMinimize.splice(0, this.toMinimize.length, ...this.toMinimize.filter((j) => j.id !== id));
        continue;
      }
      if (this.sync && !this.ownMinimizationAtEnd) {
        // A peer's reproducer: adopted, and this bucket's other samples are not minimized here.
        const peer = this.peerMin.get(id);
        if (peer && this.adopt(id, b, peer)) {
          this.toMinimize.splice(0, this.toMinimize.length, ...this.toMinimize.filter((j) => j.id !== id));
          continue;
        }
        if (!this.sync.claim(id)) {
          const w = this.waiting.get(id) ?? [];
          w.push(job, ...this.toMinimize.filter((j) => j.id === id));
          this.waiting.set(id, w);
          this.toMinimize.splice(0, this.toMinimize.length, ...this.toMinimize.filter((j) => j.id !== id));
          continue;
        }
      }
      this.job(`minimize ${id}`);
      const sample = queued ?? b.first ?? readEntryFile(join(b.summary.dir, 'samples', '0000.msgpack'));
      try {
        const { entry, text, result } = minimizeEntry(sample, this.selectionOf(sample.pair), this.o.hangMs, this.mustStop);
        if (result.interrupted) {
          this.toMinimize.unshift(job);
          this.job('');
          break;
        }
        const best = this.minimized.get(id);
        const stream = { config: entry.config, events: entry.events };
        if (best && !simpler(stream, best)) {
          this.job('');
          continue;
        }
        this.minimized.set(id, stream);
        this.store.writeMinimized(id, entry, text);
        b.summary.minimizedLength = entry.events.length;
        if (this.sync) this.minOutbox.push({ pair: entry.pair, bucket: id, signature: b.summary.signature, stream });
        this.o.log(`MINIMIZED ${id} ${sample.events.length} -> ${entry.events.length} events in ${result.executions} execs${best ? ` (simpler than the previous ${best.events.length})` : ''}`);
      } catch (err) {
        this.o.log(`MINIMIZE_FAILED ${id}: ${(err as Error).message}`);
      }
      this.job('');
    }
    // Then the causes' reproducers, each starting from a symptom's minimized stream when it has one.
    while (this.o.minimize && this.book.pending && Date.now() < until && share() && !this.mustStop()) this.book.minimizeNext((id) => this.minimized.get(id), this.mustStop);
  }

  /**
   * --sync: takes a peer's minimized reproducer for a bucket of this campaign, once one
   * execution here shows it has the bucket's signature (a peer's file is not trusted).
   * False when it does not: the bucket is minimized here.
   */
  private adopt(id: string, b: { summary: BucketSummary; first: CorpusEntry | null }, m: SharedMinimized): boolean {
    const best = this.minimized.get(id);
    if (best && !simpler(m.stream, best)) return true;
    if (m.signature !== b.summary.signature || this.poisoned(`minimize ${id}`)) return false;
    const sample = b.first ?? readEntryFile(join(b.summary.dir, 'samples', '0000.msgpack'));
    if (sample.pair !== m.pair) return false;
    this.job(`minimize ${id}`);
    let made: ReturnType<typeof reproducerEntry>;
    try {
      made = reproducerEntry(sample, this.selectionOf(sample.pair), m.stream, this.o.hangMs, [`adopted from sync peer of ${this.sync!.dir}`]);
    } catch {
      made = null;
    }
    this.job('');
    if (!made) {
      this.peerMin.delete(id);
      return false;
    }
    this.minimized.set(id, m.stream);
    this.store.writeMinimized(id, made.entry, made.text);
    b.summary.minimizedLength = made.entry.events.length;
    this.sync!.stats.minimizedAdopted++;
    this.o.log(`MINIMIZED ${id} ${sample.events.length} -> ${made.entry.events.length} events (a sync peer's reproducer${best ? `, simpler than the previous ${best.events.length}` : ''})`);
    return true;
  }

  /**
   * The input that killed a lane's thread, regenerated in a fresh thread (the lane is
   * deterministic: the same init and batches draw the same inputs) and stored as a `crash`
   * finding. If regenerating it kills that thread too, the line says where it reproduces from.
   */
  private async saveKiller(lane: number, slot: LaneSlot, why: string): Promise<void> {
    const iteration = new Float64Array(slot.progress)[0]!;
    const flight = slot.inFlight;
    if (!slot.killers.includes(iteration)) slot.killers.push(iteration);
    const where = `seed ${this.o.seed} lane ${lane} iteration ${iteration}`;
    if (!slot.init || !flight) {
      this.o.log(`LANE_KILLER ${where}: not regenerated (more than ${MAX_REPLAY_BATCHES} batches since the lane started); it reproduces from that seed, lane and iteration`);
      return;
    }
    const pool = this.newPool();
    try {
      const first = slot.init.iteration + slot.ran.reduce((n, b) => n + b.runs, 0);
      const batches = [...slot.ran, { ...flight, runs: iteration - first + 1 }];
      const res = (await pool.run({ type: 'probe', init: slot.init, batches, stopAt: iteration } satisfies LaneRequest)) as LaneResponse;
      if (res.type !== 'probed') {
        this.o.log(`LANE_KILLER ${where}: not regenerated (the replay did not reach it)`);
        return;
      }
      // The lane runs odd iterations on the focused pair, when there is one.
      const label = flight.focus.length && (iteration % 2) === 1 ? focusLabel(this.sel.label, flight.focus) : this.sel.label;
      const sel = this.selectionOf(label);
      const d = { kind: 'crash' as const, step: Math.max(0, res.stream.events.length - 1), event: '(stream)', fields: [], error: why };
      const sig = signatureOf(label, d, { left: sel.left.id, right: sel.right.id });
      const entry = makeEntry({ pair: label, left: sel.left, right: sel.right }, res.stream, res.origin, { divergence: d, at: null, transitions: [] }, sig);
      this.o.log(`LANE_KILLER ${where}: its input is stored as a finding (${res.stream.events.length} events)`);
      this.finding(lane, { signature: sig, entry }, 1);
    } catch (err) {
      this.o.log(`LANE_KILLER ${where}: not regenerated (${(err as Error).message}); it reproduces from that seed, lane and iteration`);
    } finally {
      await pool.destroy().catch(() => undefined);
    }
  }

  /** Resolves (to null) once a stop is requested; polls the flag, which another thread may set. */
  private stopped(): { promise: Promise<null>; cancel: () => void } {
    let t: ReturnType<typeof setInterval> | undefined;
    const promise = new Promise<null>((resolve) => {
      t = setInterval(() => {
        if (this.o.stop?.requested) { clearInterval(t); resolve(null); }
      }, 20);
    });
    return { promise, cancel: () => clearInterval(t) };
  }

  /** What a stop left unminimized, for the summary line. */
  private leftUnminimized(): number {
    if (!this.o.minimize) return 0;
    const ids = [...this.toMinimize.map((j) => j.id), ...this.waiting.keys()];
    return new Set(ids.filter((id) => this.buckets.get(id)?.summary.minimizedLength === null)).size;
  }

  private statusLine(tag: string): string {
    const ms = Math.max(1, Date.now() - this.start);
    const rate = Math.round((this.sessionExecs * 1000) / ms);
    const line = `#${this.execs}\t${tag} cov: ${this.coverage} corp: ${this.corpus.length} exec/s: ${rate} causes: ${this.book.causes.size} buckets: ${this.buckets.size} last-new: ${Math.round((Date.now() - this.lastNew) / 1000)}s`;
    const o = this.o;
    if (!o.isTTY || tag.trim() === 'DONE') return line;
    const frac = o.runs !== null ? this.execs / o.runs : o.durationMs !== null ? this.elapsed / o.durationMs : null;
    if (frac === null) return line;
    const n = Math.min(20, Math.round(frac * 20));
    return `[${'#'.repeat(n)}${'.'.repeat(20 - n)}] ${Math.min(100, Math.round(frac * 100))}% ${line}`;
  }

  private sessionExecs = 0;
  /** What merging lane reports cost this session (summary.supervisor). */
  private readonly mergeCost = { reports: 0, ms: 0 };

  private stats(slots: LaneSlot[]): void {
    const rec = {
      t: new Date().toISOString(), elapsedMs: this.elapsed, execs: this.execs,
      execPerSec: Math.round((this.sessionExecs * 1000) / Math.max(1, Date.now() - this.start)),
      coverage: this.coverage, corpus: this.corpus.length, buckets: this.buckets.size, causes: this.book.causes.size,
      sinceLastBucketMs: Date.now() - this.lastNew, lostBatches: this.lostBatches,
      reportsMerged: this.mergeCost.reports, mergeMs: Math.round(this.mergeCost.ms),
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      lanes: slots.map((s, i) => ({ lane: i, execs: s.execs, execPerSec: Math.round(s.rate), rssMb: Math.round(s.rss / 2 ** 20) })),
      ...(this.sync ? { sync: { published: this.sync.stats.published, imported: this.sync.stats.imported, exchanges: this.sync.stats.exchanges, exchangeMs: this.sync.stats.exchangeMs } } : {}),
    };
    appendFileSync(join(this.o.out, 'stats.jsonl'), JSON.stringify(rec) + '\n');
  }

  private async initLane(slots: LaneSlot[], lane: number): Promise<void> {
    const slot = slots[lane]!;
    slot.epoch++;
    slot.init = { ...this.laneInit(lane, slot.epoch), progress: slot.progress, skip: [...slot.killers] };
    slot.ran = [];
    slot.inFlight = null;
    const res = (await slot.pool.run({ type: 'init', init: slot.init } satisfies LaneRequest)) as LaneResponse;
    if (res.type === 'ready') this.coverage = Math.max(this.coverage, res.coverage);
    this.pendingShare[lane] = [];
  }

  async run(): Promise<CampaignSummary> {
    const o = this.o;
    if (o.corpus?.length) o.log(`KNOWN ${this.book.loadKnown(o.corpus)} cause(s) reproduced by the regression corpus (${o.corpus.join(', ')})`);
    if (o.resume) this.resume();
    const deadline = o.durationMs === null ? Infinity : this.start + o.durationMs;
    this.deadline = deadline;
    const slots: LaneSlot[] = Array.from({ length: o.workers }, () => ({
      pool: this.newPool(), epoch: 0, execs: 0, rate: 0, rss: 0, cap: Infinity,
      progress: new SharedArrayBuffer(8), init: null, ran: [], inFlight: null, killers: [],
    }));
    let stopped: CampaignSummary['stopped'] = 'runs';
    let lastStatus = Date.now();
    let lastSync = Date.now();
    let lastCorpusSave = 0;
    // Packing a large corpus takes tens of milliseconds of the supervisor's time: it is
    // saved every CORPUS_SAVE_MS, but never more often than 25 times its last cost (at
    // most 4% of the supervisor's time). Findings are saved as they come; a kill loses at
    // most that interval of the lanes' input corpus, which only steers later inputs.
    let corpusSaveCost = 0;
    const every = o.statusEveryMs ?? 1000;
    // Rounds are pipelined: round r+1 is dispatched as soon as round r is back, with the
    // inputs shared up to round r-1, and round r is merged while the lanes run r+1. The
    // schedule is fixed, so it stays deterministic, and the lanes never wait for the
    // supervisor's disk writes and minimization.
    let dispatched = this.execs;
    const dispatch = (): { tasks: Promise<LaneResponse | null>[]; t0: number } | null => {
      if (o.stop?.requested || Date.now() >= deadline) return null;
      this.refocus();
      const left = o.runs === null ? Infinity : o.runs - dispatched;
      if (left <= 0) return null;
      const per = o.runs === null ? Number.MAX_SAFE_INTEGER : Math.min(ROUND_RUNS, Math.ceil(left / o.workers));
      const roundDeadline = o.runs === null ? Math.min(deadline, Date.now() + ROUND_MS) : deadline;
      const tasks = slots.map((slot, lane) => {
        const runs = Math.min(slot.cap, Math.max(0, Math.min(per, left - per * lane)));
        dispatched += runs;
        const req: LaneRequest = { type: 'batch', lane, epoch: slot.epoch, runs, deadline: roundDeadline, shared: this.pendingShare[lane]!, focus: this.focus };
        this.pendingShare[lane] = [];
        slot.inFlight = { shared: req.shared, focus: req.focus, runs };
        if (runs <= 0) return Promise.resolve(null);
        const task = slot.pool.run(req) as Promise<LaneResponse>;
        // Handled here too: if the supervisor fails (a full disk, say) while this round is
        // in flight, the pools are destroyed and the round's rejections must not replace
        // the real error with "Terminating worker thread".
        task.catch(() => undefined);
        return task;
      });
      return { tasks, t0: Date.now() };
    };
    const stopWatch = this.stopped();
    try {
      await Promise.all(slots.map((_, i) => this.initLane(slots, i)));
      // Buckets left unminimized by a killed run are minimized while the lanes run.
      let round = dispatch();
      while (round) {
        // A signal does not wait for a round stuck in slow or hanging models: the round is
        // dropped (its executions are not counted, a --resume runs them again).
        const settled = await Promise.race([Promise.allSettled(round.tasks), stopWatch.promise]);
        if (settled === null) {
          o.log(`STOPPING: the round in flight is dropped (${slots.length} lane(s) stopped)`);
          break;
        }
        const t0 = round.t0;
        // Recreate lost lanes before the next round is dispatched to them.
        const reports: { lane: number; r: Extract<LaneResponse, { type: 'report' }> }[] = [];
        for (let lane = 0; lane < settled.length; lane++) {
          const st = settled[lane]!;
          const slot = slots[lane]!;
          if (st.status === 'fulfilled' && st.value?.type === 'report') {
            reports.push({ lane, r: st.value });
            if (slot.inFlight && slot.init) {
              slot.ran.push({ ...slot.inFlight, runs: st.value.report.execs });
              // Regenerating an input replays every batch since the lane's (re)init: past
              // this many, a killer is reported by (seed, lane, iteration) only.
              if (slot.ran.length > MAX_REPLAY_BATCHES) { slot.init = null; slot.ran = []; }
            }
            slot.inFlight = null;
            if (Number.isFinite(slot.cap)) slot.cap = slot.cap * 2 > ROUND_RUNS ? Infinity : slot.cap * 2;
            continue;
          }
          if (st.status === 'fulfilled' && st.value === null) continue;
          const why = st.status === 'rejected' ? String((st.reason as Error)?.message ?? st.reason) : 'lane state lost with its thread';
          this.lostBatches++;
          slot.cap = Math.max(MIN_BATCH, Math.floor(Math.min(slot.cap, ROUND_RUNS) / 2));
          o.log(`LANE_LOST lane ${lane}: ${why}; batch lost (${this.lostBatches} so far), lane recreated`);
          if (st.status === 'rejected') {
            // The thread died (exit, out of memory): the input it was running is a finding.
            await this.saveKiller(lane, slot, why);
            await slot.pool.destroy().catch(() => undefined);
            slot.pool = this.newPool();
          }
          await this.initLane(slots, lane);
        }
        round = dispatch();
        for (const { lane, r } of reports) {
          const slot = slots[lane]!;
          const m0 = performance.now();
          this.absorb(lane, r.report);
          this.mergeCost.ms += performance.now() - m0;
          this.mergeCost.reports++;
          this.execs += r.report.execs;
          this.sessionExecs += r.report.execs;
          this.laneIterations[lane] = r.iteration;
          slot.execs += r.report.execs;
          slot.rate = (r.report.execs * 1000) / Math.max(1, Date.now() - t0);
          slot.rss = r.rssBytes;
          this.coverage = Math.max(this.coverage, r.report.coverage);
        }
        if (this.sync && (Date.now() - lastSync >= SYNC_MS || !round)) {
          lastSync = Date.now();
          this.exchange();
        }
        if (round) this.minimizeQueued(Date.now() + ROUND_MS / 2);
        if (Date.now() - lastStatus >= every || !round) {
          lastStatus = Date.now();
          const corpusDue = Date.now() - lastCorpusSave >= Math.max(CORPUS_SAVE_MS, 25 * corpusSaveCost);
          const s0 = Date.now();
          this.saveState(corpusDue);
          if (corpusDue) {
            lastCorpusSave = Date.now();
            corpusSaveCost = lastCorpusSave - s0;
          }
          if (round) {
            o.status(this.statusLine('pulse'));
            this.stats(slots);
          }
        }
      }
      stopped = o.stop?.requested ? 'signal' : o.runs !== null && this.execs >= o.runs ? 'runs' : 'duration';
      // A --runs budget minimizes everything (deterministic results); a signal or the end of
      // --duration stops at once, and what is left waits for --resume or `svmfuzz minimize`.
      if (this.sync && stopped === 'runs') {
        // A --runs budget minimizes everything: what waits for a peer is adopted if its
        // reproducer came, and minimized here if not.
        this.exchange();
        for (const jobs of this.waiting.values()) this.toMinimize.push(...jobs);
        this.waiting.clear();
        this.ownMinimizationAtEnd = true;
      }
      this.minimizeQueued(Infinity);
      if (this.sync) {
        // Publish the last reproducers; give up claims on what stays unminimized here.
        this.exchange();
        for (const id of [...this.sync.claims]) if (this.buckets.get(id)?.summary.minimizedLength === null) this.sync.release(id);
      }
      const left = this.leftUnminimized();
      if (left) o.log(`MINIMIZE_LEFT ${left} bucket(s) not minimized (stopped by ${stopped}): \`svmfuzz fuzz ... --resume\` minimizes them, or \`svmfuzz minimize <bucket dir>\``);
    } finally {
      stopWatch.cancel();
      await Promise.all(slots.map((s) => s.pool.destroy().catch(() => undefined)));
    }
    this.saveState(true);
    this.stats(slots);
    o.status(this.statusLine('DONE '));
    const t = this.book.cost;
    const summary: CampaignSummary = {
      schema: 1, seed: o.seed, pair: this.sel.label,
      left: { id: this.sel.left.id, patches: this.sel.left.patches.map((p) => p.id) },
      right: { id: this.sel.right.id, patches: this.sel.right.patches.map((p) => p.id) },
      workers: o.workers, execs: this.execs, durationMs: this.elapsed, coverage: this.coverage, corpus: this.corpus.length,
      lostBatches: this.lostBatches, stopped, causes: this.book.summaries(), buckets: this.summaries(),
      triage: { symptoms: t.runs, ms: Math.round(t.ms), minimizeMs: Math.round(this.book.minimizeMs) },
      supervisor: { reports: this.mergeCost.reports, mergeMs: Math.round(this.mergeCost.ms), roundMs: ROUND_MS },
      ...(this.sync ? { sync: { ...this.sync.stats } } : {}),
    };
    o.log(`SUMMARY ${this.store.writeSummary(summary)}`);
    return summary;
  }
}

export const defaultWorkers = (): number => availableParallelism();

/** Minimizes a diverging entry under its signature; returns the new entry and its text form. */
export function minimizeEntry(entry: CorpusEntry, sel: CampaignOptions['selection'], hangMs = 2000, stop?: () => boolean): { entry: CorpusEntry; text: string; result: ReturnType<typeof minimize> } {
  if (entry.expected.outcome !== 'diverges') throw new Error('only a diverging entry can be minimized');
  const start: Stream = { config: entry.config, events: entry.events };
  // A hang costs the whole budget per candidate: give its minimization a smaller one.
  const isHang = entry.divergence?.kind === 'hang';
  const oracle = signatureOracle(sel.label, sel.left, sel.right, entry.expected.signature, isHang ? Math.min(hangMs, 250) : hangMs);
  const result = minimize(start, oracle, { ...(isHang ? { maxExecutions: 200 } : {}), stop });
  const passes = Object.entries(result.passes).map(([n, p]) => `${n} ${p.successes}/${p.calls}`).join(', ');
  const made = reproducerEntry(entry, sel, result.stream, hangMs, [`from ${entry.events.length} events in ${result.executions} executions (passes: ${passes})`], false);
  return { entry: made!.entry, text: made!.text, result };
}

/**
 * The reproducer entry of a diverging entry's bucket for a stream: executed once under
 * the pair. With `check`, null when that execution does not diverge with the entry's
 * signature (a stream from elsewhere, such as a sync peer).
 */
export function reproducerEntry(entry: CorpusEntry, sel: CampaignOptions['selection'], stream: Stream, hangMs: number, notes: string[], check = true): { entry: CorpusEntry; text: string } | null {
  if (entry.expected.outcome !== 'diverges') throw new Error('only a diverging entry has a reproducer');
  const isHang = entry.divergence?.kind === 'hang';
  const exec = executeGuarded(makeModel(sel.left), makeModel(sel.right), stream, isHang ? Math.min(hangMs, 250) : hangMs);
  if (check && (!exec.divergence || signatureKey(sel.label, exec.divergence).text !== entry.expected.signature)) return null;
  const sig = { text: entry.expected.signature, id: entry.expected.signatureId, words: '' };
  const origin = entry.origin ? { ...entry.origin, lineage: [...entry.origin.lineage, 'minimize'] } : null;
  const min = makeEntry({ pair: sel.label, left: sel.left, right: sel.right }, stream, origin, exec, sig);
  const text = printStream(stream, [
    `svmfuzz minimized reproducer: ${sel.label} (${sel.left.id} vs ${sel.right.id})`,
    `signature ${sig.id}: ${sig.text}`,
    ...notes,
  ]);
  return { entry: min, text };
}
