#!/usr/bin/env node
// The svmfuzz command line. Each command is a function from resolved options to an exit
// code; `main` is callable in-process (tests) and from the bin entry.
//
// Exit codes (documented in README):
//   0  success (trace: whether or not the versions diverge)
//   1  findings where a command reports them as failure (replay mismatches, later issues)
//   2  bad input: unknown version/pair/flag, unreadable or malformed stream file
//   3  internal error

import { readFileSync, realpathSync, existsSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { Registry, RegistryError, loadRegistry } from '../models/registry.js';
import { EVENT_KINDS, specOf } from '../models/svm/events.js';
import { KNOBS, KNOB_NAMES } from '../models/svm/config.js';
import { OBSERVATION_FIELDS } from '../models/svm/observe.js';
import { parseStream, printStream, formatConfig, formatEvent, StreamParseError, safeText, type Stream } from './text/text.js';
import { runPair, runSingle } from './engine/execute.js';
import { readEntryFile, writeEntryFile, EntryError } from './store/codec.js';
import { writeFileAtomic, LockedError, fileInside, UnsafeNameError, readInputFile, InputFileError } from './store/fsutil.js';
import { formatEntry } from './text/print.js';
import { minimizeEntry, defaultWorkers, ResumeError, type StopControl, type BucketSummary } from './campaign/campaign.js';
import { runCampaign } from './campaign/supervisor.js';
import { mergeCampaigns, MergeError } from './campaign/merge.js';
import { SyncDir } from './campaign/sync.js';
import { resolveShard, shardDir, shardSeed, readShardRecord, writeShardRecord, ShardError, type Shard, type ShardRecord } from './campaign/shard.js';
import { CrashStore, CAUSES_DIR, segment } from './store/crashes.js';
import type { CauseSummary } from './triage/causes.js';
import { MinimizeError } from './engine/minimize.js';
import type { CorpusEntry } from './store/entry.js';
import { entryFiles, replayEntry, type ReplayResult } from './store/replay.js';
import { parseScenario, checkScenario, checkVersionScenario, type Scenario } from './text/scenario.js';
import { compareVersions, formatCompare } from './compare/compare.js';
import { executeGuarded } from './engine/oracle.js';
import { makeEntry } from './engine/lane.js';
import { signatureOf } from './engine/signature.js';
import { makeModel } from '../models/svm/model.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { formatPairTrace, formatSingleTrace } from './text/trace-format.js';
import { writeReport, NoRunError, explainHeapMb } from './report/report.js';

export const EXIT = { OK: 0, FINDINGS: 1, BAD_INPUT: 2, INTERNAL: 3 } as const;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system',
  EACCES: 'permission denied', EPERM: 'operation not permitted', ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory', EISDIR: 'is a directory', EEXIST: 'already exists (and is not a directory)',
  EMFILE: 'too many open files', EIO: 'input/output error',
};

/**
 * A file-system error (a full disk, a read-only or missing output directory) in words,
 * with the path and the code: what the user must fix. null for anything else.
 */
function fileSystemError(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string' || !(e.code in FS_ERRORS)) return null;
  const where = e.path ?? (e as { dest?: string }).dest ?? '';
  const after = e.code === 'ENOSPC' || e.code === 'EDQUOT'
    ? '; what was written before stays readable: free space, then continue with --resume'
    : '';
  return `${where ? `${where}: ` : ''}${FS_ERRORS[e.code]} (${e.code}${e.syscall ? `, ${e.syscall}` : ''})${after}`;
}

/** stdout was closed by its reader (EPIPE): output is dropped, the work goes on. */
let stdoutClosed = false;

const defaultIo: Io = {
  out: (s) => { if (!stdoutClosed) process.stdout.write(s.endsWith('\n') ? s : s + '\n'); },
  err: (s) => { process.stderr.write(s.endsWith('\n') ? s : s + '\n'); },
};

/** An input problem the user must fix: printed as `svmfuzz: <message>`, exit 2. */
export class InputError extends Error {}

/** The package root (the directory with svmfuzz's package.json), from dist/ or from the sources. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"svmfuzz"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('svmfuzz: cannot find the package root');
    dir = up;
  }
}


/** A stream from a text file, or from a corpus entry (.msgpack) with the entry itself. */
function readStreamFile(file: string): Stream & { entry?: CorpusEntry } {
  if (file.endsWith('.msgpack')) {
    const entry = readEntryFile(file);
    return { config: entry.config, events: entry.events, entry };
  }
  let text: string;
  try {
    text = readInputFile(file).toString('utf8');
  } catch (err) {
    if (err instanceof InputFileError) throw new InputError(err.message);
    throw new InputError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseStream(text, file);
}

async function cmdList(io: Io, opts: { json?: boolean; models?: string[] }): Promise<number> {
  const reg = await loadRegistry(opts.models);
  const versions = [...reg.versions.values()].map((v) => ({
    id: v.id, description: v.description,
    patches: v.patches.map((p) => ({ id: p.id, subject: p.subject, upstream: p.upstream, release: p.release ?? null, replaces: Object.keys(p.replaces), scope: p.scope })),
    differs: v.differs ?? [],
  }));
  const pairs = [...reg.pairs.values()].map((p) => ({ id: p.id, description: p.description, left: p.left, right: p.right, config: p.config }));
  const alphabet = EVENT_KINDS.map((kind) => {
    const spec = specOf(kind)!;
    return { kind, where: spec.where, doc: spec.doc, fields: spec.fields };
  });
  const knobs = KNOB_NAMES.map((name) => ({ name, ...KNOBS[name], reference: `docs/model.md#${name.toLowerCase()}` }));
  if (opts.json) {
    const invariants = reg.invariants.map((i) => ({ id: i.id, doc: i.doc, source: i.source, file: i.file ?? null }));
    io.out(JSON.stringify({ versions, pairs, alphabet, knobs, observations: OBSERVATION_FIELDS, invariants }, null, 2));
    return EXIT.OK;
  }
  const lines: string[] = ['versions:'];
  for (const v of versions) {
    lines.push(`  ${v.id.padEnd(8)} ${v.description}`);
    for (const p of v.patches) lines.push(`           + ${p.id}${p.release ? ` (${p.release})` : ""} ${p.subject} (replaces ${p.replaces.join(', ')}; upstream ${p.upstream})`);
    for (const d of v.differs) lines.push(`           ! ${d.commit.slice(0, 12)} (${d.release}) ${d.subject}: ${d.note}`);
  }
  lines.push('pairs:');
  const pw = Math.max(...pairs.map((p) => p.id.length));
  for (const p of pairs) lines.push(`  ${p.id.padEnd(pw)} ${p.left} vs ${p.right}: ${p.description}`);
  lines.push('events (the alphabet):');
  for (const a of alphabet) {
    const fields = Object.entries(a.fields).map(([n, f]) => {
      const dom = f.type === 'int' ? `${f.min}..${f.max}` : f.type === 'bool' ? '0|1' : f.values.join('|');
      return `${n}=${dom}`;
    });
    lines.push(`  ${a.kind.padEnd(16)} [${a.where}] ${a.doc}${fields.length ? `\n${' '.repeat(20)}${fields.join(' ')}` : ''}`);
  }
  lines.push('config knobs (each explained in docs/model.md#<knob name in lower case>; INFER/UNSURE ones are modelling decisions):');
  for (const k of knobs) lines.push(`  ${k.name.padEnd(27)} default ${String(k.default).padEnd(9)} [${k.tag}] ${k.doc}${k.tag === 'param' ? '' : ` (docs/model.md#${k.name.toLowerCase()})`}`);
  lines.push("invariants (rules every version must keep; models/svm/invariants.ts, and a model file's `invariants`):");
  for (const i of reg.invariants) lines.push(`  ${i.id.padEnd(27)} ${i.doc}\n${' '.repeat(30)}source: ${i.source}${i.file ? ` (from ${i.file})` : ''}`);
  io.out(lines.join('\n'));
  return EXIT.OK;
}

/** A stream that runs longer than this in `trace` is reported as a hang. */
const TRACE_TIMEOUT_MS = 10_000;

interface TraceOpts { version?: string; pair?: string; versions?: string; json?: boolean; models?: string[] }

async function cmdTrace(io: Io, file: string, opts: TraceOpts): Promise<number> {
  const reg = await loadRegistry(opts.models);
  const stream = readStreamFile(file);
  // An entry names its versions: trace it on them unless told otherwise.
  const given = opts.pair ?? opts.versions ?? opts.version;
  const sel = given === undefined && stream.entry
    ? { ...reg.select({ versions: `${stream.entry.left.id},${stream.entry.right.id}` }), label: stream.entry.pair }
    : reg.select(opts);
  if (!sel.right) {
    const run = runSingle(sel.left, stream, TRACE_TIMEOUT_MS);
    const ran = { ...stream, events: stream.events.slice(0, run.observations.length) };
    if (opts.json) {
      io.out(JSON.stringify({
        config: stream.config,
        steps: ran.events.map((e, i) => ({ step: i, event: formatEvent(e), observation: run.observations[i] })),
        latent: run.latent, stop: run.stop,
      }, null, 2));
    } else {
      const end = run.stop ? `\n!! #${run.stop.step} ${formatEvent(stream.events[run.stop.step]!)}\n      ${sel.left.id}: ${run.stop.kind === 'hang' ? run.stop.message : `throws: ${safeText(run.stop.message)}`}` : '';
      io.out(`${formatConfig(stream.config)}\n${formatSingleTrace(ran, run.observations, sel.left.id)}${end}`);
    }
    return EXIT.OK;
  }
  const run = runPair(sel.left, sel.right, stream, TRACE_TIMEOUT_MS);
  if (opts.json) {
    const fd = run.firstDivergence;
    io.out(JSON.stringify({
      pair: sel.label, left: sel.left.id, right: sel.right.id, config: stream.config,
      steps: stream.events.map((e, i) => ({ step: i, event: formatEvent(e), left: run.steps[i]?.left ?? null, right: run.steps[i]?.right ?? null, diff: run.steps[i]?.diff ?? [] })),
      firstDivergence: fd ? { step: fd.step, event: fd.event, kind: fd.kind, fields: fd.fields, ...(fd.error ? { error: fd.error } : {}) } : null,
      latent: run.latent,
    }, null, 2));
  } else {
    io.out(`${sel.label}: ${sel.left.id} vs ${sel.right.id}\n${formatConfig(stream.config)}\n${formatPairTrace(stream, run, sel.left.id, sel.right.id)}`);
  }
  return EXIT.OK;
}

/** "90s", "10m", "8h", "1500ms" or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new InputError(`--duration: expected a duration like 90s, 10m, 8h (got '${text}')`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

function parseCount(flag: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new InputError(`${flag}: expected an integer ${max < Number.MAX_SAFE_INTEGER ? `in ${min}..${max}` : `>= ${min}`} (got '${text}')`);
  }
  return Number(text);
}

/** Lane threads: each holds two models and a corpus; more than this is a typo, not a machine. */
const MAX_WORKERS = 256;
/** --hang-timeout: below this, a slow machine's normal execution would count as a hang; above, a hang stalls a lane for too long. */
const HANG_MS_RANGE = [50, 600_000] as const;

function parseHangTimeout(text: string): number {
  const ms = parseDuration(text.replace(/^(\d+(?:\.\d+)?)$/, '$1s'));
  if (ms < HANG_MS_RANGE[0] || ms > HANG_MS_RANGE[1]) {
    throw new InputError(`--hang-timeout: expected ${HANG_MS_RANGE[0]}ms..${HANG_MS_RANGE[1] / 60_000}m (got '${text}'; 0 would never detect a hang, 1ms would call every execution one)`);
  }
  return ms;
}

/**
 * The terminal summary of a campaign: one block per cause (new ones first), short enough
 * for one screen after a night: the cause, its verdict, how many symptoms, its reproducer.
 */
export function formatCauses(summary: { causes: CauseSummary[]; buckets?: Pick<BucketSummary, 'kind' | 'cause' | 'dir'>[]; left: { id: string }; right: { id: string } }, out: string): string {
  // Buckets with no cause: inputs that killed a lane (crash), and any not triaged yet.
  const untriaged = (summary.buckets ?? []).filter((b) => b.cause === null);
  const crashes = untriaged.filter((b) => b.kind === 'crash');
  const rest = untriaged.length - crashes.length;
  const tail: string[] = [];
  if (crashes.length) tail.push(`  CRASH ${crashes.length} bucket(s) of inputs that killed a lane thread (a model exited or exhausted memory): ${crashes.map((b) => b.dir).join(', ')}`);
  if (rest) tail.push(`  ${rest} bucket(s) not triaged to a cause (--no-triage, a stop before their triage, or a triage that killed the supervisor thread): ${join(out, 'summary.json')}`);
  if (!summary.causes.length) return [tail.length ? '  no cause: no divergence was triaged' : '  no divergence: the two versions behaved the same on every stream', ...tail].join('\n');
  const lines: string[] = [];
  const shown = summary.causes.slice(0, 12);
  for (const c of shown) {
    const tag = c.known ? 'known' : 'NEW  ';
    lines.push(`  ${tag} ${c.id}  ${c.function}${c.patches.length ? ` [${c.patches.join('+')}]` : ''}  ${c.verdict}  ${c.symptoms.length} symptom(s), x${c.count}, reproducer ${c.reproducer.length ?? '?'} events`);
    lines.push(`        ${c.words.length > 160 ? `${c.words.slice(0, 157)}...` : c.words}`);
    if (c.known) lines.push(`        already in the regression corpus: ${c.known}`);
  }
  if (summary.causes.length > shown.length) lines.push(`  ... and ${summary.causes.length - shown.length} more cause(s) in ${join(out, 'summary.json')}`);
  lines.push(`  symptoms (buckets) per cause: ${join(out, 'summary.json')}; reproducers: ${join(out, '<pair>', 'causes', '<id>', 'min.txt')}`);
  lines.push(...tail);
  return lines.join('\n');
}

interface FuzzOpts {
  corpus?: string[]; causeSamples?: string; triage?: boolean; focus?: boolean; shard?: string; shardCount?: string; sync?: string; syncName?: string;
  pair?: string; versions?: string; seed?: string; runs?: string; duration?: string; out: string;
  maxLen: string; samples: string; minimize: boolean; workers?: string; resume?: boolean; hangTimeout: string;
  models?: string[]; laneHeapMb: string;
}

/** `merge OUT DIR...`: exit 2 naming the input or OUT when they cannot be merged. */
function cmdMerge(io: Io, out: string, dirs: string[]): number {
  let r;
  try {
    r = mergeCampaigns(out, dirs);
  } catch (err) {
    if (err instanceof MergeError) throw new InputError(`merge: ${err.message}`);
    throw err;
  }
  io.out(`MERGED ${r.inputs} campaign(s) into ${r.out}: ${r.execs} execs, ${r.buckets} bucket(s), ${r.causes} cause(s), ${r.corpus} corpus input(s)`);
  io.out(`report: svmfuzz report ${r.out}`);
  return EXIT.OK;
}

/** The shard of this fuzz process (flag or batch engine environment), or null; bad input is exit 2. */
function shardOf(opts: FuzzOpts): Shard | null {
  try {
    return resolveShard(opts.shard, opts.shardCount, process.env);
  } catch (err) {
    if (err instanceof ShardError) throw new InputError(`fuzz: ${err.message}`);
    throw err;
  }
}

async function cmdFuzz(io: Io, opts: FuzzOpts): Promise<number> {
  const reg = await loadRegistry(opts.models);
  if (opts.pair === undefined && opts.versions === undefined) throw new InputError('fuzz: give --pair P or --versions A,B');
  const sel = reg.select({ pair: opts.pair, versions: opts.versions });
  if (!sel.right) throw new InputError('fuzz needs two versions');
  let seed = opts.seed === undefined ? randomInt(1, 2 ** 31 - 1) : parseCount('--seed', opts.seed, 0, 2 ** 32 - 1);
  if (opts.resume && opts.seed === undefined) seed = resumeSeed(opts.out) ?? seed;
  // A shard (--shard I/N, or a Slurm array task or Kubernetes Indexed Job pod): its own
  // campaign under OUT/shard-I-of-N, seeded from (campaign seed, shard index).
  let out = opts.out;
  let shardLine = '';
  const shard = shardOf(opts);
  if (shard) {
    out = shardDir(opts.out, shard);
    let rec: ShardRecord | null;
    try {
      rec = readShardRecord(out);
    } catch (err) {
      throw new InputError(`fuzz: ${(err as Error).message}`);
    }
    const campaignSeed = opts.seed !== undefined ? seed : opts.resume && rec ? rec.campaignSeed : null;
    if (campaignSeed === null) throw new InputError('fuzz: a sharded campaign needs --seed S, the same for every shard: their streams derive from it');
    if (rec && (rec.campaignSeed !== campaignSeed || rec.index !== shard.index || rec.count !== shard.count)) {
      throw new InputError(`fuzz: ${out} holds shard ${rec.index}/${rec.count} of campaign seed ${rec.campaignSeed}, not shard ${shard.index}/${shard.count} of seed ${campaignSeed}`);
    }
    seed = shardSeed(campaignSeed, shard);
    writeShardRecord(out, { schema: 1, campaignSeed, index: shard.index, count: shard.count, seed, source: shard.source });
    shardLine = `INFO: shard ${shard.index}/${shard.count} (${shard.source === 'flag' ? '--shard' : shard.source === 'slurm' ? 'Slurm array task' : 'Kubernetes Indexed Job'}) of campaign seed ${campaignSeed}`;
  }
  // --sync DIR: this campaign's member name there is its shard's directory name, or --sync-name.
  let sync: { dir: string; name: string } | undefined;
  if (opts.sync !== undefined) {
    const name = opts.syncName ?? (shard ? basename(out) : undefined);
    if (name === undefined) throw new InputError('fuzz --sync: give --sync-name NAME (unique among the campaigns sharing the directory), or run a shard (--shard I/N)');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new InputError(`fuzz --sync-name: '${name}' must be letters, digits, '.', '_' and '-', starting with a letter or digit`);
    try {
      new SyncDir(opts.sync, name, sel.label, sel.left.id, sel.right.id); // a directory that cannot be used: exit 2 before any work
    } catch (err) {
      throw new InputError(`fuzz --sync ${opts.sync}: ${(err as Error).message}`);
    }
    sync = { dir: opts.sync, name };
  } else if (opts.syncName !== undefined) {
    throw new InputError('fuzz --sync-name needs --sync DIR');
  }
  const runs = opts.runs === undefined ? null : parseCount('--runs', opts.runs);
  const durationMs = opts.duration === undefined ? null : parseDuration(opts.duration);
  const workers = opts.workers === undefined ? defaultWorkers() : parseCount('--workers', opts.workers, 1, MAX_WORKERS);
  const maxLen = parseCount('--max-len', opts.maxLen);
  const samples = parseCount('--samples', opts.samples);
  const hangMs = parseHangTimeout(opts.hangTimeout);
  if (shardLine) io.out(shardLine);
  io.out(`INFO: seed: ${seed}`);
  io.out(`INFO: pair ${sel.label}: ${sel.left.id} [${sel.left.patches.map((p) => p.id).join(' ')}] vs ${sel.right.id} [${sel.right.patches.map((p) => p.id).join(' ')}]`);
  const budget = [runs !== null ? `${runs} runs` : '', durationMs !== null ? `${durationMs / 1000}s` : ''].filter(Boolean).join(', ') || 'until interrupted';
  io.out(`INFO: ${workers} worker(s); budget: ${budget}; out: ${out}${opts.resume ? ' (resuming)' : ''}`);
  const stop: StopControl = { requested: false };
  const signals = onStopSignals(io, stop, 'finishing the current round (queued minimizations wait for --resume), then writing summary.json');
  try {
    const summary = await runCampaign({
      selection: { ...sel, right: sel.right }, modelFiles: opts.models ?? [], seed, runs, durationMs, workers, sync,
      out, maxLen, samplesPerBucket: samples, corpusCap: 2000, hangMs, minimize: opts.minimize,
      resume: opts.resume ?? false, laneHeapMb: parseCount('--lane-heap-mb', opts.laneHeapMb, 64),
      log: (l) => io.out(l), status: (l) => io.out(l), stop, isTTY: process.stdout.isTTY === true,
      corpus: opts.corpus?.length ? opts.corpus : existsSync('corpus') ? ['corpus'] : [],
      causeSamples: opts.causeSamples === undefined ? undefined : parseCount('--cause-samples', opts.causeSamples),
      triage: opts.triage !== false, focus: opts.focus !== false,
    });
    const report = await reportAtEnd(io, out, opts.models);
    io.out(`DONE: ${summary.execs} execs, ${summary.causes.length} cause(s) behind ${summary.buckets.length} bucket(s), stopped by ${summary.stopped}${summary.lostBatches ? `, ${summary.lostBatches} lost batch(es)` : ''}`);
    io.out(formatCauses(summary, out));
    if (report) io.out(`report: ${report} (open it in a browser)`);
  } finally {
    signals.off();
  }
  return EXIT.OK;
}

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal): the first stops the run after its
 * current round, with the summary written; a second exits at once, the campaign state
 * saved for --resume.
 */
function onStopSignals(io: Io, stop: StopControl, first: string): { off: () => void } {
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = (): void => {
      if (!stop.requested) {
        stop.requested = true;
        io.err(`svmfuzz: ${sig}: ${first}; a second signal exits at once`);
        return;
      }
      try {
        stop.saveNow?.();
        io.err(`svmfuzz: ${sig} again: exiting now; the campaign state is saved (continue with --resume)`);
      } finally {
        process.exit(130);
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return { off: () => { for (const [sig, h] of handlers) process.off(sig, h); } };
}

/** The seed a resumable campaign in `out` was started with. */
/** The seed of the campaign in `out`: from campaign.json, or (killed before its first save) from a bucket's first sample. */
function resumeSeed(out: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(out, 'campaign.json'), 'utf8')) as { seed: number }).seed;
  } catch {
    for (const b of new CrashStore(out).listBuckets()) {
      try {
        const seed = readEntryFile(join(b.dir, 'samples', '0000.msgpack')).origin?.seed;
        if (seed !== undefined) return seed;
      } catch {
        // an unreadable sample: try the next bucket
      }
    }
    return null;
  }
}

/** A bucket directory gives its min.msgpack, else its first sample. */
function resolveEntryPath(path: string): string {
  if (!existsSync(path)) throw new InputError(`${path}: no such file or directory`);
  if (!statSync(path).isDirectory()) return path;
  if (existsSync(join(path, 'min.msgpack'))) return join(path, 'min.msgpack');
  const samples = join(path, 'samples');
  const first = existsSync(samples) ? readdirSync(samples).filter((f) => f.endsWith('.msgpack')).sort()[0] : undefined;
  if (!first) throw new InputError(`${path}: not a bucket directory (no min.msgpack, no samples/*.msgpack)`);
  return join(samples, first);
}

function selectionForEntry(reg: Registry, entry: CorpusEntry, file: string) {
  const sel = reg.select({ versions: `${entry.left.id},${entry.right.id}` });
  for (const [side, v] of [['left', sel.left], ['right', sel.right!]] as const) {
    const want = entry[side].patches.join(' ');
    const have = v.patches.map((p) => p.id).join(' ');
    if (want !== have) throw new InputError(`${file}: version ${v.id} now has patches [${have}], the entry was made with [${want}]`);
  }
  return { ...sel, right: sel.right!, label: entry.pair };
}

async function cmdMinimize(io: Io, target: string, opts: { models?: string[] }): Promise<number> {
  const file = resolveEntryPath(target);
  const entry = readEntryFile(file);
  if (entry.expected.outcome !== 'diverges') throw new InputError(`${file}: the entry's expected outcome is 'equal': nothing to minimize`);
  const sel = selectionForEntry(await loadRegistry(opts.models), entry, file);
  const { entry: min, text, result } = minimizeEntry(entry, sel);
  const dir = statSync(target).isDirectory() ? target : dirname(file);
  const store = new CrashStore(dirname(dirname(dir)));
  // Write beside the input: the bucket dir (or the entry's own directory).
  const out = statSync(target).isDirectory() ? store.writeMinimized(entry.expected.signatureId, min, text) : null;
  const files = out ?? writeBeside(file, min, text);
  io.out(`minimized ${entry.events.length} -> ${min.events.length} events in ${result.executions} executions${result.exhausted ? ' (budget exhausted: not guaranteed 1-minimal)' : ''}`);
  for (const [name, p] of Object.entries(result.passes)) io.out(`  ${name.padEnd(16)} ${p.successes}/${p.calls} accepted/tried`);
  io.out(`wrote ${files.msgpack} and ${files.txt}`);
  io.out(text.trimEnd());
  return EXIT.OK;
}

function writeBeside(file: string, entry: CorpusEntry, text: string): { msgpack: string; txt: string } {
  const base = file.replace(/\.msgpack$/, '');
  const msgpack = `${base}.min.msgpack`;
  const txt = `${base}.min.txt`;
  writeEntryFile(msgpack, entry);
  writeFileAtomic(txt, text);
  return { msgpack, txt };
}

interface ReplayOpts { versions?: string; pair?: string; json?: boolean; models?: string[] }

async function cmdReplay(io: Io, paths: string[], opts: ReplayOpts): Promise<number> {
  const reg = await loadRegistry(opts.models);
  const targets = paths.length ? paths : ['corpus'];
  const sel = opts.pair !== undefined || opts.versions !== undefined ? reg.select({ pair: opts.pair, versions: opts.versions }) : null;
  if (sel && !sel.right) throw new InputError('replay needs two versions');
  const { files, missing } = entryFiles(targets);
  const results: ReplayResult[] = missing.map((m) => ({
    file: m, status: 'error', reason: `${m}: no such file or directory`, pair: '', left: '', right: '', expected: '', actual: '', patchesChanged: false,
  }));
  for (const f of files) results.push(replayEntry(reg, f, sel ? { versions: { label: sel.label, left: sel.left, right: sel.right! } } : {}));
  const n = (s: string) => results.filter((r) => r.status === s).length;
  if (opts.json) {
    io.out(JSON.stringify({ passed: n('pass'), failed: n('fail'), unreadable: n('error'), results }, null, 2));
  } else {
    for (const r of results) {
      if (r.status === 'pass') io.out(safeText(`PASS ${r.file} (${r.pair}: ${r.expected})`));
      else if (r.status === 'fail') io.out(safeText(`FAIL ${r.file} (${r.pair}: ${r.left} vs ${r.right}): ${r.reason}`));
      else io.out(safeText(`ERROR ${r.reason}`));
    }
    io.out(`${n('pass')} passed, ${n('fail')} failed${n('error') ? `, ${n('error')} unreadable` : ''}`);
  }
  if (!results.length) io.err(`svmfuzz: no entries under ${targets.join(', ')}`);
  return n('error') ? EXIT.BAD_INPUT : n('fail') ? EXIT.FINDINGS : EXIT.OK;
}

interface CheckOpts {
  version?: string; json?: boolean; models?: string[];
  invariants?: string | true; runs?: string; duration?: string; workers?: string; seed?: string; out: string; minimize: boolean; resume?: boolean;
}

/**
 * `check --version V --invariants [LIST] --runs N|--duration D`: a campaign of V against
 * its checked self (V!LIST, models/svm/invariants.ts): every violation is a divergence on
 * an `invariant.<id>` field, bucketed, minimized, stored and reported like any other, and
 * triaged to one cause per invariant and shape of what broke it.
 */
async function cmdCheckInvariants(io: Io, paths: string[], opts: CheckOpts): Promise<number> {
  if (opts.version === undefined) throw new InputError('check --invariants: give the version to check with --version V');
  if (paths.length) throw new InputError('check --invariants: scenario paths and --invariants do not go together');
  // The checked version's id joins the ids with '+': fuzz's --versions A,B splits at ','.
  const list = opts.invariants === undefined || opts.invariants === true ? 'all' : opts.invariants.split(',').map((s) => s.trim()).join('+');
  const reg = await loadRegistry(opts.models);
  reg.version(`${opts.version}!${list}`); // unknown version or invariant: exit 2 before any work
  return cmdFuzz(io, {
    versions: `${opts.version},${opts.version}!${list}`, seed: opts.seed, runs: opts.runs, duration: opts.duration, out: opts.out,
    maxLen: '24', samples: '4', minimize: opts.minimize, workers: opts.workers, resume: opts.resume, hangTimeout: '2s',
    models: opts.models, laneHeapMb: '2048', corpus: [],
  });
}

interface CheckResult { file: string; on: string; status: 'pass' | 'fail' | 'error'; failures: string[] }

/**
 * Conformance scenarios: each runs on the pairs or versions it names (`#! pairs:`,
 * `#! versions:`), or, with --version, every versions scenario on that version (a user's
 * patched kernel checked against the kernel's expected observations).
 */
async function cmdCheck(io: Io, paths: string[], opts: CheckOpts): Promise<number> {
  if (opts.invariants !== undefined || opts.runs !== undefined || opts.duration !== undefined) return cmdCheckInvariants(io, paths, opts);
  const reg = await loadRegistry(opts.models);
  if (opts.version !== undefined) reg.version(opts.version); // unknown: exit 2 before any work
  const targets = paths.length ? paths : [join(packageRoot(), 'models', 'svm', 'scenarios')];
  const files: string[] = [];
  const results: CheckResult[] = [];
  for (const t of targets) {
    if (!existsSync(t)) results.push({ file: t, on: '', status: 'error', failures: [`${t}: no such file or directory`] });
    else if (statSync(t).isDirectory()) files.push(...readdirSync(t).filter((f) => f.endsWith('.txt')).sort().map((f) => join(t, f)));
    else files.push(t);
  }
  for (const file of files) {
    let sc: Scenario;
    try {
      sc = parseScenario(readFileSync(file, 'utf8'), file);
    } catch (err) {
      results.push({ file, on: '', status: 'error', failures: [(err as Error).message] });
      continue;
    }
    const runs: [string, () => string[]][] = opts.version !== undefined
      ? (sc.versions.length ? [[opts.version, () => checkVersionScenario(reg, sc, opts.version!).failures]] : [])
      : [...sc.pairs.map((p): [string, () => string[]] => [p, () => checkScenario(reg, sc, p).failures]),
        ...sc.versions.map((v): [string, () => string[]] => [v, () => checkVersionScenario(reg, sc, v).failures])];
    for (const [on, check] of runs) {
      try {
        const failures = check();
        results.push({ file, on, status: failures.length ? 'fail' : 'pass', failures });
      } catch (err) {
        results.push({ file, on, status: 'error', failures: [`${file}: ${(err as Error).message}`] });
      }
    }
  }
  const n = (s: string) => results.filter((r) => r.status === s).length;
  if (opts.json) {
    io.out(JSON.stringify({ passed: n('pass'), failed: n('fail'), errors: n('error'), results }, null, 2));
  } else {
    for (const r of results) {
      io.out(`${r.status.toUpperCase()} ${r.file}${r.on ? ` on ${r.on}` : ''}`);
      for (const f of r.failures) io.out(`  ${f}`);
    }
    io.out(`${n('pass')} passed, ${n('fail')} failed${n('error') ? `, ${n('error')} unreadable or unknown` : ''}`);
  }
  if (!results.length) io.err(`svmfuzz: no scenarios to check under ${targets.join(', ')}${opts.version ? ` (with --version, only '#! versions:' scenarios run)` : ''}`);
  return n('error') ? EXIT.BAD_INPUT : n('fail') ? EXIT.FINDINGS : EXIT.OK;
}

interface PromoteOpts { corpus: string; pair?: string; versions?: string; name?: string; models?: string[]; from: string }

/** A cause id (12 hex digits) names <from>/<pair>/causes/<id>/: the one directory that has it. */
function findCauseDir(id: string, from: string): string | null {
  if (!/^[0-9a-f]{12}$/.test(id) || existsSync(id)) return null;
  const hits = existsSync(from)
    ? readdirSync(from, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(from, d.name, CAUSES_DIR, id)).filter((p) => existsSync(p))
    : [];
  if (!hits.length) throw new InputError(`${id}: no cause with this id under ${from}/*/${CAUSES_DIR}/ (give --from the fuzz run's --out)`);
  if (hits.length > 1) throw new InputError(`${id}: in several runs (${hits.join(', ')}); give the directory itself`);
  return hits[0]!;
}

/** Copies a minimized reproducer (or a stream with its observed outcome) into the regression corpus. */
async function cmdPromote(io: Io, target: string, opts: PromoteOpts): Promise<number> {
  let entry: CorpusEntry;
  let name: string;
  target = findCauseDir(target, opts.from) ?? target;
  if (existsSync(target) && statSync(target).isDirectory()) {
    const min = join(target, 'min.msgpack');
    if (!existsSync(min)) throw new InputError(`${target}: no min.msgpack; minimize it first (svmfuzz minimize ${target})`);
    entry = readEntryFile(min);
    // The entry's own pair label is made one safe file-name segment (a crafted entry's must not steer the path).
    name = opts.name ?? segment(entry.cause ? `${entry.pair}-cause-${entry.cause.id}` : `${entry.pair}-${entry.expected.outcome === 'diverges' ? entry.expected.signatureId : 'equal'}`);
  } else if (target.endsWith('.txt')) {
    const reg = await loadRegistry(opts.models);
    if (opts.pair === undefined && opts.versions === undefined) throw new InputError('promote <stream.txt> needs --pair P or --versions A,B');
    const sel = reg.select({ pair: opts.pair, versions: opts.versions });
    const stream = readStreamFile(target);
    const ex = executeGuarded(makeModel(sel.left), makeModel(sel.right!), stream, TRACE_TIMEOUT_MS);
    const sig = ex.divergence ? signatureOf(sel.label, ex.divergence) : null;
    entry = makeEntry({ pair: sel.label, left: sel.left, right: sel.right! }, stream, null, ex, sig);
    name = opts.name ?? segment(`${sel.label}-${basename(target, '.txt')}`);
  } else {
    throw new InputError(`${target}: give a bucket directory (with min.msgpack) or a stream file (.txt)`);
  }
  const file = fileInside(opts.corpus, `${name}.msgpack`);
  const twin = fileInside(opts.corpus, `${name}.txt`);
  mkdirSync(opts.corpus, { recursive: true });
  writeEntryFile(file, entry);
  const outcome = entry.expected.outcome === 'diverges' ? `diverges with signature ${entry.expected.signature}` : 'equal';
  writeFileAtomic(twin, printStream({ config: entry.config, events: entry.events }, [
    `svmfuzz regression entry: ${entry.pair} (${entry.left.id} [${entry.left.patches.join(' ')}] vs ${entry.right.id} [${entry.right.patches.join(' ')}])`,
    `expected: ${outcome}`,
    ...(entry.cause ? [`cause ${entry.cause.id}: ${entry.cause.function} [${entry.cause.patches.join('+')}]`] : []),
  ]));
  io.out(`promoted ${target} -> ${file} (expected: ${outcome}${entry.cause ? `; reproduces cause ${entry.cause.id}: ${entry.cause.function} [${entry.cause.patches.join('+')}]` : ''})`);
  return EXIT.OK;
}

interface CompareOpts {
  duration?: string; runs?: string; workers?: string; out?: string; json?: boolean; corpus: string[]; seed?: string;
  models?: string[]; hangTimeout: string;
}

async function cmdCompare(io: Io, a: string, b: string, opts: CompareOpts): Promise<number> {
  const reg = await loadRegistry(opts.models);
  const left = reg.version(a);
  const right = reg.version(b);
  const seed = opts.seed === undefined ? randomInt(1, 2 ** 31 - 1) : parseCount('--seed', opts.seed, 0, 2 ** 32 - 1);
  const runs = opts.runs === undefined ? null : parseCount('--runs', opts.runs, 0);
  const durationMs = runs !== null ? (opts.duration === undefined ? null : parseDuration(opts.duration)) : parseDuration(opts.duration ?? '30s');
  const out = opts.out ?? join('crashes', segment(`compare-${a}-${b}`));
  const log = opts.json ? (l: string) => io.err(l) : (l: string) => io.out(l);
  log(`INFO: seed: ${seed}`);
  const stop: StopControl = { requested: false };
  const signals = onStopSignals(io, stop, 'finishing the current round, then writing compare.json');
  try {
    // The pair these versions form, if defined: the same bucket ids as `fuzz --pair`.
    const pair = [...reg.pairs.values()].find((p) => p.left === left.id && p.right === right.id);
    const report = await compareVersions({
      left, right, pair: pair ? { id: pair.id, config: pair.config } : undefined, corpus: opts.corpus.length ? opts.corpus : ['corpus'], modelFiles: opts.models ?? [], seed, runs, durationMs,
      workers: opts.workers === undefined ? defaultWorkers() : parseCount('--workers', opts.workers, 1, MAX_WORKERS), out,
      hangMs: parseHangTimeout(opts.hangTimeout), log, status: log, stop,
    });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'compare.json'), JSON.stringify(report, null, 2) + '\n');
    const page = await reportAtEnd(io, out, opts.models, opts.json ? (l) => io.err(l) : undefined);
    if (opts.json) io.out(JSON.stringify(report, null, 2));
    else io.out(`${formatCompare(report)}\n\ncompare.json: ${join(out, 'compare.json')}${page ? `\nreport: ${page} (open it in a browser)` : ''}`);
  } finally {
    signals.off();
  }
  return EXIT.OK;
}

/**
 * The report at the end of fuzz and compare: `REPORT <path>`. A report that cannot be
 * written must not fail the run whose results are already on disk: it is a warning.
 */
async function reportAtEnd(io: Io, dir: string, models: string[] | undefined, log: (l: string) => void = (l) => io.out(l)): Promise<string | null> {
  try {
    const file = await writeReport(dir, { modelFiles: models ?? [] });
    log(`REPORT ${file}`);
    return file;
  } catch (err) {
    io.err(`svmfuzz: warning: no report.html (${(err as Error).message}); try: svmfuzz report ${dir}`);
    return null;
  }
}

async function cmdReport(io: Io, dir: string, opts: { models?: string[] }): Promise<number> {
  let file: string;
  try {
    file = await writeReport(dir, { modelFiles: opts.models ?? [] });
  } catch (err) {
    if (err instanceof NoRunError) throw new InputError(`report: ${err.message}`);
    throw err;
  }
  io.out(file);
  return EXIT.OK;
}

function cmdPrint(io: Io, target: string): number {
  const file = resolveEntryPath(target);
  io.out(formatEntry(readEntryFile(file), file));
  return EXIT.OK;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const modelsOption = () => new Option('--models <file>', "a model file adding versions and pairs (repeatable)").argParser(collect);

function buildProgram(io: Io, setCode: (n: number) => void): Command {
  const program = new Command('svmfuzz')
    .description('Differential fuzzing of behavioural models of KVM AMD SVM (NMI/vNMI/IRET, STI shadow)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError();
  program.command('list')
    .description('versions with their patches, pairs, the event alphabet and the config knobs')
    .option('--json', 'machine-readable output')
    .addOption(modelsOption())
    .action(async (opts) => setCode(await cmdList(io, opts)));
  program.command('trace')
    .description('run a stream file and print per-step observations (two versions: the first divergence)')
    .argument('<stream>', 'stream file in the text form (.txt), or an entry (.msgpack)')
    .addOption(new Option('--version <V>', 'one version'))
    .addOption(new Option('--pair <P>', 'a model pair'))
    .addOption(new Option('--versions <A,B>', 'two versions'))
    .option('--json', 'machine-readable output: {steps, firstDivergence}')
    .addOption(modelsOption())
    .action(async (file, opts) => setCode(await cmdTrace(io, file, opts)));
  program.command('fuzz')
    .description('fuzz two versions side by side; bucket, store and minimize every divergence')
    .addOption(new Option('--pair <P>', 'a model pair (see list)'))
    .addOption(new Option('--versions <A,B>', 'two versions'))
    .option('--seed <S>', 'campaign seed (default: random, printed first)')
    .option('--runs <N>', 'stop after N executions (deterministic)')
    .option('--duration <D>', 'stop after D (90s, 10m, 8h)')
    .option('--out <DIR>', 'crash corpus directory', 'crashes')
    .option('--max-len <N>', 'longest generated stream', '24')
    .option('--samples <N>', 'raw samples kept per bucket', '4')
    .option('--no-minimize', 'do not minimize new buckets')
    .option('--workers <N>', 'lanes in worker threads (default: the machine\'s cores)')
    .option('--resume', 'continue the stopped or killed campaign in --out')
    .option('--hang-timeout <D>', 'time budget of a chunk of 256 executions; beyond it the stream is a hang', '2s')
    .option('--lane-heap-mb <N>', 'heap limit of a lane thread', '2048')
    .option('--corpus <DIR>', 'regression corpus: causes it reproduces are marked known (repeatable; default corpus/ when present)', collect, [])
    .option('--cause-samples <N>', 'symptom samples stored per cause over all its symptoms (default 8 x --samples)')
    .option('--no-triage', 'do not triage symptoms to causes (for measuring what triage costs)')
    .option('--no-focus', 'do not run every other execution on the pair without the known causes\' patches')
    .option('--shard <I/N>', 'run shard I of N (0-based) in OUT/shard-I-of-N, seeded from --seed and I (default: from SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with --shard-count)')
    .option('--shard-count <N>', "the shard count of a Kubernetes Indexed Job (its completions; the pod's environment has only the index)")
    .option('--sync <DIR>', 'exchange corpus inputs with the other campaigns of this pair through DIR (a shared filesystem), every few seconds')
    .option('--sync-name <NAME>', "this campaign's name in the --sync directory (default: its shard's, shard-I-of-N)")
    .addOption(modelsOption())
    .action(async (opts) => setCode(await cmdFuzz(io, opts)));
  program.command('minimize')
    .description('minimize a stored divergence under its signature (writes min.msgpack and min.txt)')
    .argument('<entry>', 'an entry .msgpack or a bucket directory')
    .addOption(modelsOption())
    .action(async (target, opts) => setCode(await cmdMinimize(io, target, opts)));
  program.command('replay')
    .description('replay regression corpus entries and check their expected outcomes (exit 1 if any fails, 2 if any is unreadable)')
    .argument('[paths...]', 'entry files or directories (default: corpus/)')
    .addOption(new Option('--pair <P>', "replay on this pair instead of each entry's own versions"))
    .addOption(new Option('--versions <A,B>', "replay on these versions instead of each entry's own"))
    .option('--json', 'machine-readable output')
    .addOption(modelsOption())
    .action(async (paths, opts) => setCode(await cmdReplay(io, paths, opts)));
  program.command('check')
    .description("run conformance scenarios (models/svm/scenarios/*.txt): the kernel's expected observations per step (exit 1 if any fails, 2 if any is unreadable)")
    .argument('[paths...]', 'scenario files or directories (default: the built-in scenarios)')
    .addOption(new Option('--version <V>', "run every '#! versions:' scenario on this version instead of the versions it names; with --invariants, the version to check"))
    .option('--json', 'machine-readable output')
    .option('--invariants [LIST]', "fuzz --version against the invariants (all, or ids: see list): a campaign like fuzz's, whose findings are violations")
    .option('--runs <N>', 'with --invariants: stop after N executions')
    .option('--duration <D>', 'with --invariants: stop after D (90s, 10m, 8h)')
    .option('--workers <N>', "with --invariants: lanes in worker threads (default: the machine's cores)")
    .option('--seed <S>', 'with --invariants: campaign seed')
    .option('--out <DIR>', 'with --invariants: output directory', 'crashes')
    .option('--no-minimize', 'with --invariants: do not minimize new buckets')
    .option('--resume', 'with --invariants: continue the stopped or killed campaign in --out')
    .addOption(modelsOption())
    .action(async (paths, opts) => setCode(await cmdCheck(io, paths, opts)));
  program.command('promote')
    .description('copy a minimized reproducer (bucket dir) or a stream with its observed outcome (.txt) into the regression corpus')
    .argument('<source>', 'a bucket or cause directory, a cause id (found under --from), or a stream .txt (with --pair/--versions)')
    .option('--from <DIR>', 'where a cause id is looked up: the fuzz run directory', 'crashes')
    .option('--corpus <DIR>', 'the regression corpus directory', 'corpus')
    .option('--name <N>', 'entry file name (without extension)')
    .addOption(new Option('--pair <P>', 'for a .txt: the pair to record the outcome on'))
    .addOption(new Option('--versions <A,B>', 'for a .txt: the versions to record the outcome on'))
    .addOption(modelsOption())
    .action(async (source, opts) => setCode(await cmdPromote(io, source, opts)));
  program.command('compare')
    .description('which behaviour changed between two versions, which patch each change comes from, intended or collateral')
    .argument('<versionA>')
    .argument('<versionB>')
    .option('--duration <D>', 'fuzzing budget (default 30s)')
    .option('--runs <N>', 'fuzzing budget in executions (0: replay the corpus only)')
    .option('--workers <N>', 'lanes (default: the machine\'s cores)')
    .option('--out <DIR>', 'where buckets and compare.json go (default crashes/compare-A-B)')
    .option('--corpus <DIR>', 'regression corpus to replay first (repeatable; default corpus/)', collect, [])
    .option('--seed <S>', 'campaign seed')
    .option('--hang-timeout <D>', 'time budget of a chunk of executions', '2s')
    .option('--json', 'print compare.json instead of the text report')
    .addOption(modelsOption())
    .action(async (a, b, opts) => setCode(await cmdCompare(io, a, b, opts)));
  program.command('merge')
    .description('merge campaign directories of one pair (the shards of a campaign) into OUT: every bucket, cause, sample, shortest reproducer and corpus input')
    .argument('<out>', 'the merged directory (new, or one merge wrote: it is rebuilt)')
    .argument('<dirs...>', 'campaign directories (each with its summary.json)')
    .action((out, dirs) => setCode(cmdMerge(io, out, dirs)));
  program.command('report')
    .description('write report.html for a fuzz or compare run directory: plots, saturation, buckets and their explained reproducers')
    .argument('<dir>', 'a run directory (the --out of fuzz or compare)')
    .addOption(modelsOption())
    .action(async (dir, opts) => setCode(await cmdReport(io, dir, opts)));
  program.command('print')
    .description('print a corpus or crash entry in readable form')
    .argument('<entry>', 'an entry .msgpack or a bucket directory')
    .action((target) => setCode(cmdPrint(io, target)));
  return program;
}

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (n) => { code = n; });
  try {
    // Checked before any work: fuzz and compare write their report at the very end.
    try {
      explainHeapMb();
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT.OK;
      return EXIT.BAD_INPUT;
    }
    if (err instanceof StreamParseError || err instanceof RegistryError || err instanceof InputError || err instanceof EntryError || err instanceof UnsafeNameError
        || err instanceof LockedError || err instanceof MinimizeError || err instanceof ResumeError) {
      io.err(`svmfuzz: ${err.message.split('\n').map(safeText).join('\n')}`);
      return EXIT.BAD_INPUT;
    }
    const fsErr = fileSystemError(err);
    if (fsErr) {
      io.err(`svmfuzz: ${fsErr}`);
      return EXIT.BAD_INPUT;
    }
    io.err(`svmfuzz: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT.INTERNAL;
  }
  return code;
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A closed stdout (`svmfuzz fuzz ... | head`) must not kill a campaign before its summary:
  // what would have gone to stdout is dropped from then on.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stdoutClosed = true;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
