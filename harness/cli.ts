#!/usr/bin/env node
// The svmfuzz command line. Each command is a function from resolved options to an exit
// code; `main` is callable in-process (tests) and from the bin entry.
//
// Exit codes (documented in README):
//   0  success (trace: whether or not the versions diverge)
//   1  findings where a command reports them as failure (replay mismatches, later issues)
//   2  bad input: unknown version/pair/flag, unreadable or malformed stream file
//   3  internal error

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { Registry, RegistryError } from '../models/registry.js';
import { EVENT_KINDS, specOf } from '../models/svm/events.js';
import { KNOBS, KNOB_NAMES } from '../models/svm/config.js';
import { OBSERVATION_FIELDS } from '../models/svm/observe.js';
import { parseStream, formatConfig, formatEvent, StreamParseError, type Stream } from './text.js';
import { runPair, runSingle } from './execute.js';
import { formatPairTrace, formatSingleTrace } from './trace-format.js';

export const EXIT = { OK: 0, FINDINGS: 1, BAD_INPUT: 2, INTERNAL: 3 } as const;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
};

/** An input problem the user must fix: printed as `svmfuzz: <message>`, exit 2. */
export class InputError extends Error {}

function readStreamFile(file: string): Stream {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseStream(text, file);
}

function cmdList(io: Io, opts: { json?: boolean }): number {
  const reg = new Registry();
  const versions = [...reg.versions.values()].map((v) => ({
    id: v.id, description: v.description,
    patches: v.patches.map((p) => ({ id: p.id, subject: p.subject, upstream: p.upstream, replaces: Object.keys(p.replaces), scope: p.scope })),
  }));
  const pairs = [...reg.pairs.values()].map((p) => ({ id: p.id, description: p.description, left: p.left, right: p.right, config: p.config }));
  const alphabet = EVENT_KINDS.map((kind) => {
    const spec = specOf(kind)!;
    return { kind, where: spec.where, doc: spec.doc, fields: spec.fields };
  });
  const knobs = KNOB_NAMES.map((name) => ({ name, ...KNOBS[name] }));
  if (opts.json) {
    io.out(JSON.stringify({ versions, pairs, alphabet, knobs, observations: OBSERVATION_FIELDS }, null, 2));
    return EXIT.OK;
  }
  const lines: string[] = ['versions:'];
  for (const v of versions) {
    lines.push(`  ${v.id.padEnd(8)} ${v.description}`);
    for (const p of v.patches) lines.push(`           + ${p.id} ${p.subject} (replaces ${p.replaces.join(', ')})`);
  }
  lines.push('pairs:');
  for (const p of pairs) lines.push(`  ${p.id.padEnd(11)} ${p.left} vs ${p.right}: ${p.description}`);
  lines.push('events (the alphabet):');
  for (const a of alphabet) {
    const fields = Object.entries(a.fields).map(([n, f]) => {
      const dom = f.type === 'int' ? `${f.min}..${f.max}` : f.type === 'bool' ? '0|1' : f.values.join('|');
      return `${n}=${dom}`;
    });
    lines.push(`  ${a.kind.padEnd(16)} [${a.where}] ${a.doc}${fields.length ? `\n${' '.repeat(20)}${fields.join(' ')}` : ''}`);
  }
  lines.push('config knobs:');
  for (const k of knobs) lines.push(`  ${k.name.padEnd(27)} default ${String(k.default).padEnd(9)} [${k.tag}] ${k.doc}`);
  io.out(lines.join('\n'));
  return EXIT.OK;
}

interface TraceOpts { version?: string; pair?: string; versions?: string; json?: boolean }

function cmdTrace(io: Io, file: string, opts: TraceOpts): number {
  const reg = new Registry();
  const sel = reg.select(opts);
  const stream = readStreamFile(file);
  if (!sel.right) {
    const run = runSingle(sel.left, stream);
    if (opts.json) {
      io.out(JSON.stringify({
        config: stream.config,
        steps: stream.events.map((e, i) => ({ step: i, event: formatEvent(e), observation: run.observations[i] })),
        latent: run.latent,
      }, null, 2));
    } else {
      io.out(`${formatConfig(stream.config)}\n${formatSingleTrace(stream, run.observations, sel.left.id)}`);
    }
    return EXIT.OK;
  }
  const run = runPair(sel.left, sel.right, stream);
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

function buildProgram(io: Io, setCode: (n: number) => void): Command {
  const program = new Command('svmfuzz')
    .description('Differential fuzzing of behavioural models of KVM AMD SVM (NMI/vNMI/IRET, STI shadow)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError();
  program.command('list')
    .description('versions with their patches, pairs, the event alphabet and the config knobs')
    .option('--json', 'machine-readable output')
    .action((opts) => setCode(cmdList(io, opts)));
  program.command('trace')
    .description('run a stream file and print per-step observations (two versions: the first divergence)')
    .argument('<stream>', 'stream file in the text form (.txt)')
    .addOption(new Option('--version <V>', 'one version'))
    .addOption(new Option('--pair <P>', 'a model pair'))
    .addOption(new Option('--versions <A,B>', 'two versions'))
    .option('--json', 'machine-readable output: {steps, firstDivergence}')
    .action((file, opts) => setCode(cmdTrace(io, file, opts)));
  return program;
}

export function main(argv: readonly string[], io: Io = defaultIo): number {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (n) => { code = n; });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT.OK;
      return EXIT.BAD_INPUT;
    }
    if (err instanceof StreamParseError || err instanceof RegistryError || err instanceof InputError) {
      io.err(`svmfuzz: ${err.message}`);
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

if (isEntryPoint()) process.exitCode = main(process.argv.slice(2));
