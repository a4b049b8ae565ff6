// The human-readable rendering of a corpus entry (`svmfuzz print`): who produced it,
// what it expects, the stream in its text form, and where and how the two sides differ.

import type { CorpusEntry, VersionRef } from '../store/entry.js';
import type { Primitive } from '../../models/svm/observe.js';
import { formatEvent, printStream, safeText } from './text.js';

const version = (v: VersionRef): string => `${v.id} [${v.patches.length ? v.patches.join(', ') : 'no patches'}]`;

/** Strings bare unless that would hide them ('' or embedded blanks) or pass for a number/null. */
function value(x: Primitive): string {
  if (typeof x !== 'string') return String(x);
  const ambiguous = x === '' || /\s/.test(x) || (/^(null|true|false|-?\d.*)$/.test(x) && !x.startsWith('0x'));
  return ambiguous ? JSON.stringify(x) : x;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** Every string of an entry is text from a file: shown with control characters escaped. */
export function formatEntry(e: CorpusEntry, file: string): string {
  return safeLines(formatEntryRaw(e, file));
}

const safeLines = (text: string): string => text.split('\n').map(safeText).join('\n');

function formatEntryRaw(e: CorpusEntry, file: string): string {
  const lines = [
    `file:      ${file}`,
    `schema:    ${e.schema} (alphabet ${e.alphabet})`,
    `pair:      ${e.pair}`,
    `left:      ${version(e.left)}`,
    `right:     ${version(e.right)}`,
  ];
  if (e.origin) {
    const o = e.origin;
    lines.push(`origin:    seed ${o.seed}, lane ${o.lane}, iteration ${o.iteration}`);
    if (o.lineage.length) lines.push(`lineage:   ${o.lineage.join('-')}`);
  }
  if (e.expected.outcome === 'equal') lines.push('expected:  equal');
  else lines.push('expected:  diverges', `signature: ${e.expected.signatureId}  ${e.expected.signature}`);
  if (e.cause) lines.push(`cause:     ${e.cause.id}  ${e.cause.function}${e.cause.patches.length ? ` [${e.cause.patches.join('+')}]` : ''} (${e.cause.kind})`);
  lines.push('', `stream (${e.events.length} events):`);
  // Not a spread: a 200k-event entry would exceed the argument limit.
  for (const l of printStream(e).trimEnd().split('\n')) lines.push(`  ${l}`);

  const d = e.divergence;
  if (d) {
    const ev = e.events[d.step];
    lines.push('', `divergence: ${d.kind} at step ${d.step} (0-based): ${ev ? formatEvent(ev) : d.event}`);
    if (d.error !== undefined) lines.push(`error:      ${d.error}`);
    if (d.fields.length) {
      lines.push(...table([['path', e.left.id, '', e.right.id], ...d.fields.map((f) => [f.path, value(f.left), 'vs', value(f.right)])]));
    }
  }
  return lines.join('\n') + '\n';
}
