// Human-readable rendering of a trace: per step, what each side showed that is worth
// reading (exits, deliveries, userspace reads, and any field that changed), with the
// first divergence marked.

import type { Observation, Primitive } from '../../models/svm/observe.js';
import type { FieldDiff, PairRun } from '../engine/execute.js';
import { formatEvent, type Stream } from './text.js';

/** Fields shown whenever non-empty; everything else is shown when it changed. */
const ALWAYS = ['exits', 'reflected', 'delivered', 'userspace', 'warns'];

const show = (x: Primitive): string => (typeof x === 'string' ? (x === '' ? "''" : x) : String(x));

export function notable(o: Observation | null, prev: Observation | null): string {
  if (!o) return 'THREW';
  if (o.skipped) return 'skipped';
  const parts: string[] = [];
  for (const key of Object.keys(o)) {
    const value = o[key]!;
    if (key === 'skipped') continue;
    if (ALWAYS.includes(key)) {
      if (value !== '') parts.push(`${key}=${show(value)}`);
    } else if (key.startsWith('events.')) {
      if (value !== null) parts.push(`${key}=${show(value)}`);
    } else if (prev ? prev[key] !== value : false) {
      parts.push(`${key}=${show(value)}`);
    }
  }
  return parts.join(' ') || '-';
}

export function formatFields(fields: readonly FieldDiff[], indent = '  '): string[] {
  const width = Math.max(0, ...fields.map((f) => f.path.length));
  return fields.map((f) => `${indent}${f.path.padEnd(width)}  ${show(f.left)}  vs  ${show(f.right)}`);
}

export function formatPairTrace(stream: Stream, run: PairRun, leftName: string, rightName: string): string {
  const out: string[] = [];
  const first = run.firstDivergence;
  stream.events.forEach((e, i) => {
    const s = run.steps[i];
    if (!s) return;
    const mark = first && first.step === i && first.kind !== 'latent' ? '!!' : s.diff.length ? ' ~' : '  ';
    out.push(`${mark} #${i} ${formatEvent(e)}`);
    const prevL = i > 0 ? run.steps[i - 1]!.left : null;
    const prevR = i > 0 ? run.steps[i - 1]!.right : null;
    out.push(`      ${leftName}: ${notable(s.left, prevL)}`);
    out.push(`      ${rightName}: ${notable(s.right, prevR)}`);
  });
  if (!first) {
    out.push('no divergence');
  } else if (first.kind === 'left-throws' || first.kind === 'right-throws' || first.kind === 'hang') {
    out.push(`first divergence: step #${first.step} (${first.event}), ${first.kind}: ${first.error}`);
  } else {
    out.push(`first divergence: step #${first.step} (${first.event}), ${first.kind}, ${leftName} vs ${rightName}:`);
    out.push(...formatFields(first.fields));
  }
  if (!first || first.kind === 'observable') {
    out.push(run.latent.length ? `latent differences at the end (${leftName} vs ${rightName}):` : 'latent state equal at the end');
    out.push(...formatFields(run.latent));
  }
  return out.join('\n');
}

export function formatSingleTrace(stream: Stream, observations: Observation[], name: string): string {
  return stream.events
    .map((e, i) => `   #${i} ${formatEvent(e)}\n      ${name}: ${notable(observations[i]!, i > 0 ? observations[i - 1]! : null)}`)
    .join('\n');
}
