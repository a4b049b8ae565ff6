// The explanation of one bucket for the report: its reproducer (min.msgpack, else the
// first sample, else a comparison's reproducer text) re-run on the versions it names,
// step by step, so the page can show the stream, what each side showed at every step,
// both observations at the first differing step with the differing fields marked, and
// the internal (latent) state of both sides just before that step: the fields that
// already differ there, and a few that steer the NMI and shadow paths. When a version is
// unknown here (it came from a model file not given) or its patches changed since the
// entry was made, nothing is re-run and the observations stored in the entry are shown.

import { join } from 'node:path';
import type { Registry } from '../../models/registry.js';
import { makeModel, step } from '../../models/svm/model.js';
import { createState } from '../../models/svm/state.js';
import { latent, diffRecords, type Observation, type Primitive } from '../../models/svm/observe.js';
import type { Version } from '../../models/svm/versions.js';
import { readEntryFile } from '../store/codec.js';
import { runPair, type PairRun } from '../engine/execute.js';
import { signatureOf } from '../engine/signature.js';
import { formatEvent, parseStream, printStream, type Stream } from '../text/text.js';
import { notable } from '../text/trace-format.js';
import type { CorpusEntry, EntryDivergence } from '../store/entry.js';
import type { ReportBucket } from './data.js';

export interface FieldRow {
  field: string;
  left: Primitive;
  right: Primitive;
  differs: boolean;
}

export interface StepRow {
  index: number;
  event: string;
  left: string;
  right: string;
  /** Observation fields that differ at this step. */
  diff: string[];
  /** The first differing step (the divergence). */
  first: boolean;
  /** The internal state of the two sides first differs after this step. */
  latentFirst: boolean;
}

export interface Explanation {
  /** The entry shown, relative to the run directory (null: compare.json's reproducer text). */
  source: string | null;
  sourceWhat: string;
  stream: string;
  length: number;
  left: string;
  right: string;
  /** Re-run on the versions here (else the stored observations are shown). */
  rerun: boolean;
  notes: string[];
  divergence: { kind: string; step: number; event: string; eventText: string; error: string | null } | null;
  /** The re-run gives the stored signature (null: not re-run or nothing stored). */
  reproduces: boolean | null;
  signatureNow: string | null;
  steps: StepRow[];
  observations: { title: string; rows: FieldRow[]; hiddenNull: number } | null;
  before: { title: string; rows: FieldRow[] } | null;
  latentFirstStep: number | null;
}

/**
 * Internal fields always shown in "the state before": those that steer injection,
 * NMI blocking and the interrupt shadow; every field that differs is shown too.
 */
export const KEY_LATENT_FIELDS: readonly string[] = [
  'phase', 'guest_mode', 'nmi_queued', 'nmi_pending', 'nmi_injected', 'nmi_masked', 'nmi_singlestep', 'nmi_l1_to_l2',
  'vmcb01.intercepts', 'vmcb01.int_ctl', 'vmcb01.int_state', 'vmcb02.int_state',
];

/** The work of the report's re-run thread (explain-worker.ts). */
export interface ExplainJob {
  runDir: string;
  buckets: ReportBucket[];
  modelFiles: string[];
  sides: { left: string; right: string };
}

export type ExplainMessage =
  | { type: 'start'; id: string }
  | { type: 'done'; id: string; explanation: Explanation }
  | { type: 'end' }
  | { type: 'failed'; message: string };

/** Budget of a re-run: a reproducer runs in microseconds; a hang is cut short. */
const RERUN_MS = 2000;
const HANG_RERUN_MS = 250;

function observationRows(l: Observation | null, r: Observation | null): { rows: FieldRow[]; hiddenNull: number } {
  const keys = Object.keys(l ?? r ?? {});
  const rows: FieldRow[] = [];
  let hiddenNull = 0;
  for (const k of keys) {
    const a = l ? (l[k] ?? null) : null;
    const b = r ? (r[k] ?? null) : null;
    // events.* are null except at a get_vcpu_events step: null on both sides says nothing.
    if (a === null && b === null && l && r) { hiddenNull++; continue; }
    rows.push({ field: k, left: a, right: b, differs: !!l && !!r && a !== b });
  }
  return { rows, hiddenNull };
}

function latentRows(l: Observation, r: Observation): FieldRow[] {
  return Object.keys(l)
    .map((k) => ({ field: k, left: l[k] ?? null, right: r[k] ?? null, differs: l[k] !== r[k] }))
    .filter((row) => row.differs || KEY_LATENT_FIELDS.includes(row.field));
}

/** The latent records of both sides before `upTo` and the first step after which they differ. */
function latentWalk(left: Version, right: Version, stream: Stream, upTo: number): { before: [Observation, Observation]; firstDiff: number | null } {
  const ml = makeModel(left);
  const mr = makeModel(right);
  const sl = createState(stream.config);
  const sr = createState(stream.config);
  let firstDiff: number | null = null;
  for (let i = 0; i < upTo; i++) {
    const e = stream.events[i]!;
    step(ml, sl, e);
    step(mr, sr, e);
    if (firstDiff === null && diffRecords(latent(sl), latent(sr)).length) firstDiff = i;
  }
  return { before: [latent(sl), latent(sr)], firstDiff };
}

/** The entry a bucket is explained from: min.msgpack, else the first sample, else compare.json's text. */
function reproducerOf(runDir: string, b: ReportBucket, sides: { left: string; right: string }): {
  entry: CorpusEntry | null; stream: Stream; source: string | null; sourceWhat: string; left: string; right: string;
} | { error: string } {
  const file = b.files.min ?? b.files.samples[0] ?? null;
  if (file) {
    try {
      const entry = readEntryFile(join(runDir, file));
      return {
        entry, stream: { config: entry.config, events: entry.events }, source: file,
        sourceWhat: b.files.min ? 'minimized reproducer' : 'first sample (not minimized: the run stopped before its minimization)',
        left: entry.left.id, right: entry.right.id,
      };
    } catch (err) {
      if (!b.compare) return { error: (err as Error).message };
    }
  }
  if (b.compare) {
    try {
      const s = parseStream(b.compare.reproducerText, 'compare.json');
      return {
        entry: null, stream: { config: s.config, events: s.events }, source: null,
        sourceWhat: `the comparison's reproducer${b.compare.corpusFile ? ` (from the regression corpus entry ${b.compare.corpusFile})` : ''}`,
        left: sides.left, right: sides.right,
      };
    } catch (err) {
      return { error: `compare.json: ${(err as Error).message}` };
    }
  }
  return { error: 'no reproducer on disk (no min.msgpack and no sample)' };
}

/** Which registry version to re-run, or why not. */
function versionFor(reg: Registry, id: string, patches: string[] | null): Version | string {
  let v: Version;
  try {
    v = reg.version(id); // also a derived one (VERSION+PATCH...), as focused pairs' entries name
  } catch {
    return `version ${id} is not known here (from a model file? give it with --models)`;
  }
  const have = v.patches.map((p) => p.id);
  if (patches && have.join(' ') !== patches.join(' ')) {
    return `version ${id} now has patches [${have.join(' ')}]; the entry was made with [${patches.join(' ')}]`;
  }
  return v;
}

/**
 * The explanation of one bucket. With `storedOnly` (the reason), nothing is re-run: the
 * report's re-run thread died on this reproducer, and the stored observations are shown.
 */
export function explainBucket(runDir: string, b: ReportBucket, reg: Registry | null, sides: { left: string; right: string }, storedOnly?: string): Explanation {
  const rep = reproducerOf(runDir, b, sides);
  if ('error' in rep) {
    return {
      source: null, sourceWhat: '', stream: '', length: 0, left: sides.left, right: sides.right, rerun: false, notes: [rep.error],
      divergence: null, reproduces: null, signatureNow: null, steps: [], observations: null, before: null, latentFirstStep: null,
    };
  }
  const { entry, stream } = rep;
  const notes: string[] = [];
  const lv = reg ? versionFor(reg, rep.left, entry?.left.patches ?? null) : 'no model registry';
  const rv = reg ? versionFor(reg, rep.right, entry?.right.patches ?? null) : 'no model registry';
  const ex: Explanation = {
    source: rep.source, sourceWhat: rep.sourceWhat, stream: printStream(stream), length: stream.events.length,
    left: rep.left, right: rep.right, rerun: false, notes, divergence: null, reproduces: null, signatureNow: null,
    steps: [], observations: null, before: null, latentFirstStep: null,
  };
  const stored = entry?.divergence ?? null;
  if (storedOnly !== undefined) {
    notes.push(`not re-run: ${storedOnly}; the observations stored in the entry are shown.`);
    showStored(ex, stream, stored);
    return ex;
  }
  if (typeof lv === 'string' || typeof rv === 'string') {
    for (const why of [lv, rv]) if (typeof why === 'string') notes.push(`${why}: not re-run; the observations stored in the entry are shown.`);
    showStored(ex, stream, stored);
    return ex;
  }

  // A crash input killed a lane's thread: run here, it would end this process.
  if (stored?.kind === 'crash') {
    notes.push('not re-run: this input killed the lane thread that ran it (it would end this process too); reproduce it with `svmfuzz trace`, which then exits the same way.');
    showStored(ex, stream, stored);
    return ex;
  }
  // Only up to the stored first difference (a raw sample goes on after it): what follows
  // explains nothing, and a user's model may do anything there (exit, hang) in this thread.
  const cut = stored && stored.kind !== 'latent' ? Math.min(stream.events.length, stored.step + 1) : stream.events.length;
  let run: PairRun;
  try {
    run = runPair(lv, rv, { config: stream.config, events: stream.events.slice(0, cut) }, stored?.kind === 'hang' ? HANG_RERUN_MS : RERUN_MS);
  } catch (err) {
    notes.push(`re-running failed (${(err as Error).message}); the observations stored in the entry are shown.`);
    showStored(ex, stream, stored);
    return ex;
  }
  ex.rerun = true;
  const fd = run.firstDivergence;
  const label = entry?.pair ?? b.pair;
  ex.signatureNow = fd ? signatureOf(label, fd).text : null;
  ex.reproduces = ex.signatureNow === b.signature;
  if (!fd) notes.push(`re-run on ${lv.id} and ${rv.id}: no longer diverges (the models changed since the entry was made).`);
  else if (!ex.reproduces) notes.push(`re-run on ${lv.id} and ${rv.id}: diverges with another signature now: ${ex.signatureNow}`);

  const upTo = fd && fd.kind !== 'latent' ? fd.step : cut;
  let walk: ReturnType<typeof latentWalk> | null = null;
  try {
    walk = latentWalk(lv, rv, stream, upTo);
  } catch (err) {
    notes.push(`the internal state could not be rebuilt (${(err as Error).message}).`);
  }
  ex.latentFirstStep = walk?.firstDiff ?? null;
  const notRun = '(not re-run: after the first difference)';
  ex.steps = stream.events.map((e, i) => {
    const s = run.steps[i];
    const prev = i > 0 ? run.steps[i - 1] : undefined;
    return {
      index: i, event: formatEvent(e),
      left: s ? notable(s.left, prev?.left ?? null) : i === fd?.step ? (fd.kind === 'hang' ? 'HANG' : '') : notRun,
      right: s ? notable(s.right, prev?.right ?? null) : i === fd?.step ? (fd.kind === 'hang' ? 'HANG' : '') : notRun,
      diff: s ? s.diff.map((f) => f.path) : [], first: !!fd && fd.kind !== 'latent' && fd.step === i, latentFirst: walk?.firstDiff === i,
    };
  });
  if (!fd) return ex;
  const ev = stream.events[fd.step];
  ex.divergence = { kind: fd.kind, step: fd.step, event: fd.event, eventText: ev && fd.kind !== 'latent' ? formatEvent(ev) : fd.event, error: fd.error ?? null };
  if (fd.kind === 'latent') {
    if (walk) ex.observations = { title: 'internal state at the end of the stream', rows: latentRows(...walk.before), hiddenNull: 0 };
    return ex;
  }
  const at = run.steps[fd.step];
  const obs = observationRows(at?.left ?? stored?.left ?? null, at?.right ?? stored?.right ?? null);
  ex.observations = { title: `observations at step #${fd.step}`, ...obs };
  if (walk) ex.before = { title: `internal state just before step #${fd.step}`, rows: latentRows(...walk.before) };
  return ex;
}

/** The entry's stored observations at its first differing step (nothing re-run). */
function showStored(ex: Explanation, stream: Stream, d: EntryDivergence | null): void {
  ex.steps = stream.events.map((e, i) => ({
    index: i, event: formatEvent(e), left: '', right: '', diff: d?.step === i ? d.fields.map((f) => f.path) : [], first: d?.step === i && d.kind !== 'latent', latentFirst: false,
  }));
  if (!d) return;
  const ev = stream.events[d.step];
  ex.divergence = { kind: d.kind, step: d.step, event: d.event, eventText: ev && d.kind !== 'latent' ? formatEvent(ev) : d.event, error: d.error ?? null };
  if (d.kind === 'latent') {
    ex.observations = { title: 'internal state at the end (the differing fields, as stored)', rows: d.fields.map((f) => ({ field: f.path, left: f.left, right: f.right, differs: true })), hiddenNull: 0 };
  } else if (d.left || d.right) {
    ex.observations = { title: `observations at step #${d.step} (as stored in the entry)`, ...observationRows(d.left, d.right) };
  }
}
