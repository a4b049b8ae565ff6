// The signature is the bug's identity: it names the bucket directory, gates the
// minimizer, and keys the report. It is built from the pair, the divergence kind, the
// event kind at the first differing step and the set of differing field paths, with
// values abstracted: counters and RIPs never enter it (only their path), and for the
// list-valued fields (exits, deliveries, ...) only which items one side has and the other
// lacks, with vectors stripped. Two streams that show the same behavioural difference get
// the same signature; a different exit reason, a different field, a different event at
// the first difference give a different one.

import { createHash } from 'node:crypto';
import { LIST_FIELDS } from '../../models/svm/observe.js';
import type { Divergence, FieldDiff } from './execute.js';

export interface Signature {
  /** Canonical text: stable across runs and machines. */
  text: string;
  /** 12 hex digits of sha1(text): the bucket directory name. */
  id: string;
  /** The signature in words, for description.txt and reports. */
  words: string;
}

const stripVector = (item: string): string => item.replace(/:0x[0-9a-f]+$/i, '').replace(/:\d+$/, '');

/** Items (vectors stripped) one side has and the other lacks, each side's sorted and distinct. */
function listSides(left: string, right: string): { onlyLeft: string[]; onlyRight: string[] } {
  const a = left ? left.split(/[,;]/).map(stripVector) : [];
  const b = right ? right.split(/[,;]/).map(stripVector) : [];
  const onlyA = [...a];
  const onlyB: string[] = [];
  for (const x of b) {
    const i = onlyA.indexOf(x);
    if (i >= 0) onlyA.splice(i, 1);
    else onlyB.push(x);
  }
  return { onlyLeft: [...new Set(onlyA)].sort(), onlyRight: [...new Set(onlyB)].sort() };
}

function listDelta(left: string, right: string): string {
  const { onlyLeft, onlyRight } = listSides(left, right);
  const parts = onlyLeft.map((x) => `+${x}`).concat(onlyRight.map((x) => `-${x}`));
  return parts.length ? parts.join(' ') : '~';
}

/** One differing field, abstracted: `exits{+L1:IRET}` or just `vmcb12.int_state`. */
export function abstractField(f: FieldDiff): string {
  if (LIST_FIELDS.includes(f.path) && typeof f.left === 'string' && typeof f.right === 'string') {
    return `${f.path}{${listDelta(f.left, f.right)}}`;
  }
  return f.path;
}

/** Error messages without numbers, so one thrown bug is one bucket. */
export const abstractError = (msg: string): string => msg.replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 120);

/** sha1 ids by signature text: a lane meets the same few signatures again and again. */
const ids = new Map<string, string>();
function idOf(text: string): string {
  let id = ids.get(text);
  if (id === undefined) {
    id = createHash('sha1').update(text).digest('hex').slice(0, 12);
    if (ids.size > 10_000) ids.clear();
    ids.set(text, id);
  }
  return id;
}

/** How a divergence names its sides in words: by version id. */
export interface SideNames {
  left: string;
  right: string;
}

/** One differing field in words, sides named by version: `exits: L1:IRET in v6.7 only`. */
export function fieldWords(f: FieldDiff, names: SideNames): string {
  if (LIST_FIELDS.includes(f.path) && typeof f.left === 'string' && typeof f.right === 'string') {
    const { onlyLeft, onlyRight } = listSides(f.left, f.right);
    if (!onlyLeft.length && !onlyRight.length) return `${f.path}: same items, another order`;
    return `${f.path}: ${[onlyLeft.length ? `${onlyLeft.join(', ')} in ${names.left} only` : '', onlyRight.length ? `${onlyRight.join(', ')} in ${names.right} only` : ''].filter(Boolean).join('; ')}`;
  }
  return `${f.path} differs`;
}

/**
 * Signature keys by the divergence's raw shape (kind, event, field paths and, for list
 * fields, both values): a lane meets the same few shapes again and again, and building
 * the raw key skips the abstraction (splits, regexes, a sort) that makes the text.
 */
const keys = new Map<string, { text: string; id: string }>();
function shapeOf(pair: string, d: Divergence): string {
  let k = `${pair}|${d.kind}|${d.event}|${d.error ?? ''}`;
  for (let i = 0; i < d.fields.length; i++) {
    const f = d.fields[i]!;
    k += LIST_FIELDS.includes(f.path) ? `|${f.path}=${String(f.left)}/${String(f.right)}` : `|${f.path}`;
  }
  return k;
}

/** The signature's identity (text and id) without its words: what the fuzzing hot path needs. */
export function signatureKey(pair: string, d: Divergence): { text: string; id: string } {
  const shape = shapeOf(pair, d);
  let key = keys.get(shape);
  if (key === undefined) {
    const text = `${pair}|${d.kind}|${d.event}|${bodyOf(d).join(',')}`;
    key = { text, id: idOf(text) };
    if (keys.size > 10_000) keys.clear();
    keys.set(shape, key);
  }
  return key;
}

function bodyOf(d: Divergence): string[] {
  return d.kind === 'left-throws' || d.kind === 'right-throws' || d.kind === 'hang' || d.kind === 'crash'
    ? [abstractError(d.error ?? '')]
    : [...new Set(d.fields.map(abstractField))].sort();
}

export function signatureOf(pair: string, d: Divergence, names: SideNames = { left: 'the left version', right: 'the right version' }): Signature {
  const { text, id } = signatureKey(pair, d);
  const what = d.kind === 'observable' ? 'diverge observably' : d.kind === 'latent' ? 'end in different internal state'
    : d.kind === 'hang' ? 'diverge: a model hangs' : d.kind === 'crash' ? 'kill the lane thread that runs them'
    : `diverge: ${d.kind === 'left-throws' ? names.left : names.right} throws`;
  const detail = d.kind === 'observable' || d.kind === 'latent'
    ? [...new Map(d.fields.map((f) => [abstractField(f), fieldWords(f, names)])).values()].sort()
    : bodyOf(d);
  const words = `${pair}: ${names.left} and ${names.right} ${what} at a \`${d.event}\` step: ${detail.join('; ')}`;
  return { text, id, words };
}

/** The signature without its pair label: what must match when another pair shows it. */
export const signatureBody = (sig: string): string => sig.slice(sig.indexOf('|') + 1);
