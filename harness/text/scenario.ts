// Conformance scenarios: a stream in the text form plus expectations in special comments,
// in the manner of syzkaller's sys/linux/test. Directives (anywhere):
//
//   #! reference: A.5            the section of the model reference (docs/model.md) the scenario checks
//   #! pairs: vnmi-iret all      the pairs it runs on (a differential scenario)
//   #! versions: v6.7 v6.14      or: the versions it runs on, each alone (a conformance
//                                scenario: the kernel's expected observations for one model)
//   #! first-divergence: none    or: <step> [field ...]  (0-based step; the exact field set)
//   #! final-arch: equal         both sides end in the same guest architectural state
//
// Step expectations follow the event they check (in a versions scenario, a path without
// a side, or with `both.`, is checked on the version):
//
//   #= left.exits=L1:IRET right.exits=        (exact; an empty value means '')
//   #= both.latent.nmi_masked=false           (latent.* reads KVM-internal state)
//   #= left.latent.vmcb01.intercepts~IRET     (~ contains, !~ does not contain)

import { parseStream, type ParsedStream } from './text.js';
import { runPair, type PairRun } from '../engine/execute.js';
import { makeModel, step } from '../../models/svm/model.js';
import { createState } from '../../models/svm/state.js';
import { latent, architectural, diffRecords, type Observation } from '../../models/svm/observe.js';
import type { Registry } from '../../models/registry.js';

export interface StepExpectation {
  line: number;
  step: number;
  side: 'left' | 'right' | 'both';
  path: string;
  op: '=' | '~' | '!~';
  value: string;
}

export interface Scenario {
  file: string;
  stream: ParsedStream;
  reference: string;
  pairs: string[];
  /** Versions a conformance scenario runs on, each alone (no pairs, no divergence). */
  versions: string[];
  firstDivergence: { step: number; fields: string[] | null } | null;
  finalArchEqual: boolean;
  expectations: StepExpectation[];
}

export function parseScenario(text: string, file: string): Scenario {
  const stream = parseStream(text, file);
  const sc: Scenario = { file, stream, reference: '', pairs: [], versions: [], firstDivergence: null, finalArchEqual: false, expectations: [] };
  let sawFirst = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t.startsWith('#!')) {
      const m = /^#!\s*([\w-]+)\s*:\s*(.*)$/.exec(t);
      if (!m) throw new Error(`${file}:${line}: malformed directive`);
      const [, key, val] = m as unknown as [string, string, string];
      if (key === 'reference') sc.reference = val.trim();
      else if (key === 'pairs') sc.pairs = val.trim().split(/\s+/);
      else if (key === 'versions') sc.versions = val.trim().split(/\s+/);
      else if (key === 'final-arch') sc.finalArchEqual = val.trim() === 'equal';
      else if (key === 'first-divergence') {
        sawFirst = true;
        const [s0, ...fields] = val.trim().split(/\s+/);
        sc.firstDivergence = s0 === 'none' ? null : { step: Number(s0), fields: fields.length ? fields.sort() : null };
      } else throw new Error(`${file}:${line}: unknown directive '${key}'`);
    } else if (t.startsWith('#=')) {
      const stepIdx = stream.eventLines.filter((l) => l < line).length - 1;
      if (stepIdx < 0) throw new Error(`${file}:${line}: expectation before the first event`);
      for (const tok of t.slice(2).trim().split(/\s+/)) {
        const m = /^(?:(left|right|both)\.)?([\w.]+?)(=|!~|~)(.*)$/.exec(tok);
        if (!m) throw new Error(`${file}:${line}: malformed expectation '${tok}'`);
        sc.expectations.push({ line, step: stepIdx, side: (m[1] ?? 'both') as StepExpectation['side'], path: m[2]!, op: m[3] as StepExpectation['op'], value: m[4]! });
      }
    }
  });
  if (!sc.reference) throw new Error(`${file}: missing '#! reference:'`);
  if (!sc.pairs.length && !sc.versions.length) throw new Error(`${file}: missing '#! pairs:' or '#! versions:'`);
  if (sc.pairs.length && sc.versions.length) throw new Error(`${file}: give '#! pairs:' or '#! versions:', not both`);
  if (sc.pairs.length && !sawFirst) throw new Error(`${file}: missing '#! first-divergence:'`);
  if (sc.versions.length) {
    if (sawFirst || sc.finalArchEqual) throw new Error(`${file}: '#! first-divergence:' and '#! final-arch:' need '#! pairs:'`);
    const sided = sc.expectations.find((x) => x.side !== 'both');
    if (sided) throw new Error(`${file}:${sided.line}: a versions scenario has one side: write '${sided.path}${sided.op}${sided.value}'`);
  }
  return sc;
}

/** Runs one side step by step, keeping the latent record after every step. */
function runSide(reg: Registry, versionId: string, s: ParsedStream): { obs: Observation[]; lat: Observation[]; arch: Observation } {
  const m = makeModel(reg.version(versionId));
  const v = createState(s.config);
  const obs: Observation[] = [];
  const lat: Observation[] = [];
  for (const e of s.events) {
    obs.push(step(m, v, e));
    lat.push(latent(v));
  }
  return { obs, lat, arch: architectural(v) };
}

/** Checks step expectations of `side` against one run; appends failures. */
function checkExpectations(sc: Scenario, r: { obs: Observation[]; lat: Observation[] }, side: 'left' | 'right' | null, where: string, failures: string[]): void {
  for (const x of sc.expectations) {
    if (side !== null && x.side !== 'both' && x.side !== side) continue;
    const isLatent = x.path.startsWith('latent.');
    const rec = isLatent ? r.lat[x.step]! : r.obs[x.step]!;
    const key = isLatent ? x.path.slice('latent.'.length) : x.path;
    if (!(key in rec)) { failures.push(`${sc.file}:${x.line}: no field '${x.path}'`); continue; }
    const actual = rec[key] === null ? 'null' : String(rec[key]);
    const ok = x.op === '=' ? actual === x.value : x.op === '~' ? actual.includes(x.value) : !actual.includes(x.value);
    const shown = side === null ? x.path : `${side}.${x.path}`;
    if (!ok) failures.push(`${sc.file}:${x.line} on ${where}: step #${x.step} ${shown}: expected ${x.op} '${x.value}', got '${actual}'`);
  }
}

/** Checks a conformance scenario on one version (run alone); returns the failures (empty = pass). */
export function checkVersionScenario(reg: Registry, sc: Scenario, versionId: string): { failures: string[] } {
  const failures: string[] = [];
  checkExpectations(sc, runSide(reg, versionId, sc.stream), null, versionId, failures);
  return { failures };
}

/** Checks a scenario on one pair; returns the list of failures (empty = pass). */
export function checkScenario(reg: Registry, sc: Scenario, pairId: string): { failures: string[]; run: PairRun } {
  const pair = reg.pair(pairId);
  const failures: string[] = [];
  const run = runPair(reg.version(pair.left), reg.version(pair.right), sc.stream);
  const fd = run.firstDivergence;
  const want = sc.firstDivergence;
  const where = `${sc.file} on ${pairId}`;
  if (!want && fd) {
    failures.push(`${where}: expected no divergence, got ${fd.kind} at step #${fd.step} (${fd.event}): ${fd.fields.map((f) => `${f.path} ${String(f.left)} vs ${String(f.right)}`).join(', ')}`);
  } else if (want && !fd) {
    failures.push(`${where}: expected a divergence at step #${want.step}, got none`);
  } else if (want && fd) {
    if (fd.step !== want.step) failures.push(`${where}: expected the first divergence at step #${want.step}, got #${fd.step} (${fd.event})`);
    const got = fd.fields.map((f) => f.path).sort();
    if (want.fields && got.join(' ') !== want.fields.join(' ')) failures.push(`${where}: first divergence fields: expected [${want.fields.join(' ')}], got [${got.join(' ')}]`);
  }
  const left = runSide(reg, pair.left, sc.stream);
  const right = runSide(reg, pair.right, sc.stream);
  checkExpectations(sc, left, 'left', pairId, failures);
  checkExpectations(sc, right, 'right', pairId, failures);
  if (sc.finalArchEqual) {
    const d = diffRecords(left.arch, right.arch);
    if (d.length) failures.push(`${where}: final architectural state differs: ${d.map((f) => `${f.path} ${String(f.left)} vs ${String(f.right)}`).join(', ')}`);
  }
  return { failures, run };
}
