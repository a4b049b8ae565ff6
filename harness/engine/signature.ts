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

function listDelta(left: string, right: string): string {
  const a = left ? left.split(/[,;]/).map(stripVector) : [];
  const b = right ? right.split(/[,;]/).map(stripVector) : [];
  const onlyA = [...a];
  const onlyB: string[] = [];
  for (const x of b) {
    const i = onlyA.indexOf(x);
    if (i >= 0) onlyA.splice(i, 1);
    else onlyB.push(x);
  }
  const parts = [...new Set(onlyA)].sort().map((x) => `+${x}`).concat([...new Set(onlyB)].sort().map((x) => `-${x}`));
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
const abstractError = (msg: string): string => msg.replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 120);

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

export function signatureOf(pair: string, d: Divergence): Signature {
  const body = d.kind === 'left-throws' || d.kind === 'right-throws' || d.kind === 'hang'
    ? [abstractError(d.error ?? '')]
    : [...new Set(d.fields.map(abstractField))].sort();
  const text = `${pair}|${d.kind}|${d.event}|${body.join(',')}`;
  const id = idOf(text);
  const what = d.kind === 'observable' ? 'diverge observably' : d.kind === 'latent' ? 'end in different internal state'
    : d.kind === 'hang' ? 'diverge: a model hangs' : `diverge: the ${d.kind === 'left-throws' ? 'left' : 'right'} model throws`;
  const words = `${pair}: the two versions ${what} at a \`${d.event}\` step: ${body.join(', ')}`;
  return { text, id, words };
}
