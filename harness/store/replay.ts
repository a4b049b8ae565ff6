// Regression corpus replay: every entry carries its expected outcome ('equal', or
// 'diverges with signature S'); replaying runs the entry's pair (or versions given on the
// command line) and says pass, or fail with the reason. Unreadable entries are reported
// and the others still run.

import { readdirSync, statSync, existsSync, realpathSync, openSync, readSync, closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Registry } from '../../models/registry.js';
import type { Version } from '../../models/svm/versions.js';
import { makeModel } from '../../models/svm/model.js';
import { readEntryFile } from './codec.js';
import { executeGuarded } from '../engine/oracle.js';
import { signatureOf, signatureBody } from '../engine/signature.js';
import type { CorpusEntry } from './entry.js';

export type ReplayStatus = 'pass' | 'fail' | 'error';

export interface ReplayResult {
  file: string;
  status: ReplayStatus;
  /** Why it failed or could not run; empty on pass. */
  reason: string;
  pair: string;
  left: string;
  right: string;
  expected: string;
  actual: string;
  /** The entry was made with other patch lists than the versions have now. */
  patchesChanged: boolean;
}

/**
 * A run directory's corpus.msgpack is the campaign's input corpus (a msgpack array of
 * inputs), not an entry (a map). It is known by its campaign.json, or, when a full disk
 * stopped the campaign between the two writes, by its first byte.
 */
function isCampaignCorpus(p: string): boolean {
  if (basename(p) !== 'corpus.msgpack') return false;
  if (existsSync(join(dirname(p), 'campaign.json'))) return true;
  const b = Buffer.alloc(1);
  let fd: number | undefined;
  try {
    fd = openSync(p, 'r');
    if (readSync(fd, b, 0, 1, 0) !== 1) return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  // fixarray, array 16, array 32
  return (b[0]! & 0xf0) === 0x90 || b[0] === 0xdc || b[0] === 0xdd;
}

/** Entry files under the given paths (directories are searched recursively), sorted. */
export function entryFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  // Symlinks are followed once: a link loop or a directory reached twice is walked once,
  // and a dangling link is reported as unreadable (readEntryFile says why) rather than
  // aborting the walk.
  const seen = new Set<string>();
  const walk = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      if (p.endsWith('.msgpack')) files.push(p);
      return;
    }
    if (st.isDirectory()) {
      let real: string;
      try { real = realpathSync(p); } catch { return; }
      if (seen.has(real)) return;
      seen.add(real);
      for (const f of readdirSync(p).sort()) walk(join(p, f));
    }
    else if (p.endsWith('.msgpack') && !/\/\.[^/]*$/.test(p) && !isCampaignCorpus(p)) files.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) missing.push(p);
    else walk(p);
  }
  return { files: [...new Set(files)].sort(), missing };
}


export function describeOutcome(e: CorpusEntry['expected']): string {
  return e.outcome === 'equal' ? 'equal' : `diverges: ${signatureBody(e.signature)}`;
}

export interface ReplayOptions {
  /** Replay on these versions instead of the entry's own. */
  versions?: { label: string; left: Version; right: Version };
  timeoutMs?: number;
}

export function replayEntry(reg: Registry, file: string, opts: ReplayOptions = {}): ReplayResult {
  let entry: CorpusEntry;
  const base = { file, pair: '', left: '', right: '', expected: '', actual: '', patchesChanged: false };
  try {
    entry = readEntryFile(file);
  } catch (err) {
    return { ...base, status: 'error', reason: (err as Error).message };
  }
  let label = entry.pair;
  let left: Version;
  let right: Version;
  try {
    if (opts.versions) {
      ({ label, left, right } = opts.versions);
    } else {
      left = reg.version(entry.left.id);
      right = reg.version(entry.right.id);
    }
  } catch (err) {
    return { ...base, pair: entry.pair, status: 'error', reason: `${file}: ${(err as Error).message} (the entry was made on ${entry.left.id} vs ${entry.right.id}; load their model file with --models)` };
  }
  const patchesChanged = !opts.versions
    && (left.patches.map((p) => p.id).join(' ') !== entry.left.patches.join(' ') || right.patches.map((p) => p.id).join(' ') !== entry.right.patches.join(' '));
  const ex = executeGuarded(makeModel(left), makeModel(right), { config: entry.config, events: entry.events }, opts.timeoutMs ?? 10_000);
  const actualSig = ex.divergence ? signatureOf(label, ex.divergence).text : null;
  const expected = describeOutcome(entry.expected);
  const actual = actualSig ? `diverges: ${signatureBody(actualSig)}` : 'equal';
  const r: ReplayResult = { ...base, pair: label, left: left.id, right: right.id, expected, actual, patchesChanged, status: 'pass', reason: '' };
  if (expected === actual) return r;
  r.status = 'fail';
  if (entry.expected.outcome === 'diverges' && !actualSig) r.reason = `no longer diverges (expected ${expected})`;
  else if (entry.expected.outcome === 'equal') r.reason = `started to diverge: ${actual.slice('diverges: '.length)}`;
  else r.reason = `diverges with another signature: ${actual.slice('diverges: '.length)} (expected ${signatureBody(entry.expected.signature)})`;
  if (patchesChanged) r.reason += `; the versions' patches changed since the entry was made (${entry.left.id} [${entry.left.patches.join(' ')}] vs ${entry.right.id} [${entry.right.patches.join(' ')}])`;
  return r;
}
