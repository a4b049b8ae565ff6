// The causes of a campaign: every new symptom (bucket) is triaged once, from its first
// sample, and nests under its cause; a cause keeps its symptoms, their count, a capped
// number of stored samples, whether the regression corpus already reproduces it, and
// its own minimized reproducer (minimized under the cause predicate, observable first).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeModel } from '../../models/svm/model.js';
import { executeGuarded } from '../engine/oracle.js';
import { minimize, simpler } from '../engine/minimize.js';
import { makeEntry } from '../engine/lane.js';
import { signatureOf } from '../engine/signature.js';
import { readEntryFile } from '../store/codec.js';
import { entryFiles } from '../store/replay.js';
import type { CrashStore } from '../store/crashes.js';
import type { CorpusEntry } from '../store/entry.js';
import { printStream, type Stream } from '../text/text.js';
import { Triage, type Cause, type TriageOptions } from './cause.js';
import type { Version } from '../../models/svm/versions.js';
import { causeOracle } from './oracle.js';

export interface CauseSummary {
  id: string;
  kind: Cause['kind'];
  function: string;
  fields: string[];
  patches: string[];
  /**
   * intended: the change is the declared one (its parting lies in the patches' scope), or
   * every symptom so far lies in scope; collateral otherwise (a possible regression).
   */
  verdict: Cause['verdict'];
  /** Fields outside the declared scope over all its symptoms, and how many symptoms have some. */
  outOfScope: string[];
  collateralSymptoms: number;
  declared: boolean;
  words: string;
  origin: Cause['origin'];
  values: Cause['values'];
  /** Bucket ids, in the order they were found. */
  symptoms: string[];
  /** Executions that showed any of its symptoms. */
  count: number;
  firstSeen: { execs: number; ms: number; seed: number; lane: number; iteration: number };
  /** The regression corpus entry that already reproduces it, or null: a new cause. */
  known: string | null;
  reproducer: { dir: string; length: number | null; text: string | null; observable: boolean | null };
  /** Symptom samples stored under it (capped). */
  samples: number;
}

/** Reproducer attempts per cause: each from the first sample of another symptom. */
const ATTEMPTS = 4;
/** Oracle calls of one cause minimization (each is a triage, ~5-20 ms). */
const CAUSE_MINIMIZE_BUDGET = 600;

export class CauseBook {
  /** Triage of the campaign's own pair; `triage.ms` is the cost of symptoms (all pairs). */
  readonly triage: Triage;
  /** Per pair label (the campaign's and its focused ones): its versions, triage, and the minimizer's triage (kept apart so `triage.ms` is the cost of symptoms only). */
  private readonly pairs = new Map<string, { left: Version; right: Version; triage: Triage; minTriage: Triage }>();
  readonly causes = new Map<string, CauseSummary>();
  private readonly known = new Map<string, string>();
  private readonly queue: { id: string; entry: CorpusEntry; bucket: string | null }[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly best = new Map<string, { stream: Stream; observable: boolean }>();
  minimizeMs = 0;

  constructor(private readonly o: TriageOptions & {
    store: CrashStore; cap: number; log: (l: string) => void;
    /** Announce model work before it starts (and '' after), and skip work that killed the supervisor before: see CampaignOptions.job. */
    job?: (what: string) => void; poisoned?: (what: string) => boolean;
  }) {
    this.triage = new Triage(o);
    this.pairs.set(o.label, { left: o.left, right: o.right, triage: this.triage, minTriage: new Triage(o) });
  }

  /** A focused pair of the campaign (see focus.ts): its findings are triaged on its own versions. */
  addPair(label: string, left: Version, right: Version): void {
    if (this.pairs.has(label)) return;
    const t = { label, left, right, hangMs: this.o.hangMs };
    const triage = new Triage(t);
    this.pairs.set(label, { left, right, triage, minTriage: new Triage(t) });
  }

  private pair(label: string): { left: Version; right: Version; triage: Triage; minTriage: Triage } {
    const p = this.pairs.get(label);
    if (!p) throw new Error(`triage: no pair '${label}' registered`);
    return p;
  }

  /** Symptoms triaged and their milliseconds, over all pairs. */
  get cost(): { runs: number; ms: number } {
    let runs = 0;
    let ms = 0;
    for (const p of this.pairs.values()) { runs += p.triage.runs; ms += p.triage.ms; }
    return { runs, ms };
  }

  /** Marks the causes the regression corpus reproduces on these versions as known. */
  loadKnown(paths: readonly string[]): number {
    const { files } = entryFiles(paths.filter((p) => existsSync(p)));
    const ml = makeModel(this.o.left);
    const mr = makeModel(this.o.right);
    for (const file of files) {
      let entry: CorpusEntry;
      try {
        entry = readEntryFile(file);
      } catch {
        continue; // `replay` reports unreadable entries; here they only cannot make a cause known
      }
      if (this.o.poisoned?.(`known ${file}`)) continue;
      this.o.job?.(`known ${file}`);
      const stream = { config: entry.config, events: entry.events };
      const ex = executeGuarded(ml, mr, stream, this.o.hangMs ?? 2000);
      const id = ex.divergence ? this.triage.of(stream, ex.divergence).id : null;
      this.o.job?.('');
      if (id && !this.known.has(id)) this.known.set(id, file);
    }
    return this.known.size;
  }

  /**
   * The cause of a new symptom: triaged now (deterministic), recorded, its reproducer
   * queued. `given`: the cause a sync peer triaged the same bucket to (sync.ts), taken
   * as it is instead of triaging here.
   */
  attach(bucketId: string, entry: CorpusEntry, firstSeen: CauseSummary['firstSeen'], count: number, samples: number, given?: Cause): { summary: CauseSummary; cause: Cause } {
    const d = entry.divergence!;
    const cause = given ?? this.pair(entry.pair).triage.of({ config: entry.config, events: entry.events }, { kind: d.kind, step: d.step, event: d.event, fields: d.fields, ...(d.error ? { error: d.error } : {}) });
    let c = this.causes.get(cause.id);
    if (!c) {
      c = {
        id: cause.id, kind: cause.kind, function: cause.function, fields: cause.fields, patches: cause.patches,
        verdict: cause.declared ? 'intended' : cause.verdict, outOfScope: [], collateralSymptoms: 0, declared: cause.declared,
        words: cause.words, origin: cause.origin, values: cause.values,
        symptoms: [], count: 0, firstSeen, known: this.known.get(cause.id) ?? null,
        reproducer: { dir: this.o.store.causeDir(this.o.label, cause.id), length: null, text: null, observable: null }, samples: 0,
      };
      this.causes.set(cause.id, c);
      this.save(c);
      this.o.log(`NEW_CAUSE ${c.id} ${c.words} (symptom ${bucketId}${c.known ? `, known: ${c.known}` : ''})`);
    }
    c.symptoms.push(bucketId);
    c.count += count;
    c.samples += samples;
    if (cause.verdict === 'collateral') {
      const before = c.verdict;
      if (!c.declared) c.verdict = 'collateral';
      c.collateralSymptoms++;
      c.outOfScope = [...new Set([...c.outOfScope, ...cause.outOfScope])];
      if (before !== c.verdict) this.save(c);
    }
    const tried = this.attempts.get(c.id) ?? 0;
    const observable = d.kind !== 'latent';
    if (tried < ATTEMPTS || (observable && this.best.get(c.id)?.observable === false)) {
      this.attempts.set(c.id, tried + 1);
      this.queue.push({ id: c.id, entry, bucket: bucketId });
    }
    return { summary: c, cause };
  }

  /** Re-adds a cause saved by an earlier run of this campaign (resume). */
  restore(c: CauseSummary): void {
    this.causes.set(c.id, c);
    this.attempts.set(c.id, ATTEMPTS);
    const min = join(c.reproducer.dir, 'min.msgpack');
    if (existsSync(min)) {
      try {
        const e = readEntryFile(min);
        this.best.set(c.id, { stream: { config: e.config, events: e.events }, observable: e.divergence?.kind !== 'latent' });
      } catch {
        // an unreadable reproducer is made again from the first symptom
      }
    }
  }

  /** Queues a reproducer attempt from a stored sample (resume of an unminimized cause). */
  requeue(id: string, entry: CorpusEntry): void {
    if (this.best.has(id) || this.queue.some((j) => j.id === id)) return;
    this.queue.push({ id, entry, bucket: null });
  }

  /** Counts executions of a known symptom toward its cause. */
  count(causeId: string | null, n: number): void {
    const c = causeId ? this.causes.get(causeId) : undefined;
    if (c) c.count += n;
  }

  /** May another sample of this cause's symptoms be stored? */
  hasRoom(causeId: string | null): boolean {
    const c = causeId ? this.causes.get(causeId) : undefined;
    return !c || c.samples < this.o.cap;
  }

  noteSample(causeId: string | null): void {
    const c = causeId ? this.causes.get(causeId) : undefined;
    if (c) c.samples++;
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * Minimizes one queued cause reproducer; false when none is queued. `minimized` gives a
   * symptom's own minimized stream when there is one: starting there (when it still shows
   * the cause) costs a few dozen triage runs instead of hundreds.
   */
  minimizeNext(minimized: (bucketId: string) => Stream | undefined = () => undefined, stop?: () => boolean): boolean {
    const job = this.queue.shift();
    if (!job) return false;
    this.stop = stop;
    if (this.o.poisoned?.(`minimize-cause ${job.id}`)) {
      this.queue.splice(0, this.queue.length, ...this.queue.filter((j) => j.id !== job.id));
      return true;
    }
    this.o.job?.(`minimize-cause ${job.id}`);
    const t0 = performance.now();
    try {
      let start = job.entry;
      const short = job.bucket ? minimized(job.bucket) : undefined;
      const p = this.pair(job.entry.pair);
      if (short) {
        const ex = executeGuarded(makeModel(p.left), makeModel(p.right), short, this.o.hangMs ?? 2000);
        if (ex.divergence && p.minTriage.of(short, ex.divergence).id === job.id) start = { ...job.entry, config: short.config, events: short.events };
      }
      // Cut short by a signal or the campaign's deadline: the job waits for --resume.
      if (!this.minimizeCause(job.id, start)) this.queue.unshift(job);
    } catch (err) {
      this.o.log(`MINIMIZE_FAILED cause ${job.id}: ${(err as Error).message}`);
    } finally {
      this.o.job?.('');
      this.minimizeMs += performance.now() - t0;
    }
    return true;
  }

  private stop: (() => boolean) | undefined;

  /** False when `stop` cut the minimization short (nothing written). */
  private minimizeCause(id: string, start: CorpusEntry): boolean {
    const c = this.causes.get(id)!;
    // On the pair the symptom came from (the campaign's own, or a focused one).
    const label = start.pair;
    const { left, right, minTriage } = this.pair(label);
    const hangMs = this.o.hangMs ?? 2000;
    const stream: Stream = { config: start.config, events: start.events };
    const result = minimize(stream, causeOracle(minTriage, id, hangMs), { maxExecutions: CAUSE_MINIMIZE_BUDGET, stop: this.stop });
    if (result.interrupted) return false;
    const exec = executeGuarded(makeModel(left), makeModel(right), result.stream, hangMs);
    if (!exec.divergence) return true;
    const observable = exec.divergence.kind !== 'latent';
    const prev = this.best.get(id);
    if (prev && (prev.observable && !observable || (prev.observable === observable && !simpler(result.stream, prev.stream)))) return true;
    this.best.set(id, { stream: result.stream, observable });
    const sig = signatureOf(label, exec.divergence);
    const origin = start.origin ? { ...start.origin, lineage: [...start.origin.lineage, 'minimize-cause'] } : null;
    const entry = makeEntry({ pair: label, left, right }, result.stream, origin, exec, sig);
    entry.cause = { id, kind: c.kind, function: c.function, patches: c.patches };
    const text = printStream(result.stream, [
      `svmfuzz cause reproducer: ${label} (${left.id} vs ${right.id})`,
      `cause ${id}: ${c.words}`,
      `first divergence: ${sig.text}`,
      `from ${start.events.length} events in ${result.executions} executions${result.exhausted ? ' (budget exhausted)' : ''}`,
    ]);
    this.o.store.writeCauseReproducer(this.o.label, id, entry, text);
    c.reproducer = { dir: c.reproducer.dir, length: result.stream.events.length, text: printStream(result.stream), observable };
    this.o.log(`MINIMIZED cause ${id} ${start.events.length} -> ${result.stream.events.length} events in ${result.executions} execs${prev ? ` (replaces the previous ${prev.stream.events.length}-event ${prev.observable ? 'observable' : 'latent-only'} one)` : ''}`);
    return true;
  }

  private save(c: CauseSummary): void {
    const info = { id: c.id, kind: c.kind, function: c.function, patches: c.patches, fields: c.fields, values: c.values, verdict: c.verdict, declared: c.declared, origin: c.origin, words: c.words };
    this.o.store.addCause(this.o.label, c.id, `${c.words}\n`, info);
  }

  /**
   * The declared changes first (what the patches say they do), then the possible
   * regressions; within each, new causes before those the regression corpus already
   * reproduces, then in the order found.
   */
  summaries(): CauseSummary[] {
    return [...this.causes.values()].sort((a, b) => Number(a.verdict === 'collateral') - Number(b.verdict === 'collateral')
      || Number(a.known !== null) - Number(b.known !== null) || a.firstSeen.execs - b.firstSeen.execs || a.id.localeCompare(b.id));
  }
}
