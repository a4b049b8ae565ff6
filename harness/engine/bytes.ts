// Bytes → (config, event stream), driven by the alphabet and knob tables: the input
// format of byte-oriented fuzzers (jsfuzz, libFuzzer-style). No event kind is named.
//
// Layout: byte 0 < 192 (3/4 of the space) keeps the pair's config; otherwise one byte per
// knob follows. Then each event is one byte for the kind and one byte per field: an int
// takes min + b % range, an enum b % n, a bool b & 1, a flag set the low bits of b. The
// stream ends when the bytes do, or at MAX_EVENTS.

import { EVENT_KINDS, specOf, type SvmEvent, type FieldSpec } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, type SvmConfig, type KnobSpec } from '../../models/svm/config.js';
import type { Stream } from '../text/text.js';

export const MAX_EVENTS = 32;

function fieldFromByte(f: FieldSpec | KnobSpec, b: number): unknown {
  switch (f.type) {
    case 'int': return f.min + (b % (f.max - f.min + 1));
    case 'bool': return (b & 1) === 1;
    case 'enum': return f.values[b % f.values.length];
    case 'flags': return f.values.filter((_, i) => (b >> i) & 1);
  }
}

export function decodeBytes(buf: Uint8Array, base: SvmConfig): Stream {
  let i = 0;
  const next = (): number | undefined => (i < buf.length ? buf[i++] : undefined);
  const config = { ...base } as Record<string, unknown>;
  const head = next();
  if (head !== undefined && head >= 192) {
    for (const name of KNOB_NAMES) {
      const b = next();
      if (b === undefined) break;
      config[name] = fieldFromByte(KNOBS[name] as KnobSpec, b);
    }
  }
  const events: SvmEvent[] = [];
  while (events.length < MAX_EVENTS) {
    const k = next();
    if (k === undefined) break;
    const kind = EVENT_KINDS[k % EVENT_KINDS.length]!;
    const e: Record<string, unknown> = { kind };
    for (const [name, f] of Object.entries(specOf(kind)!.fields)) {
      const b = next();
      e[name] = b === undefined ? (Array.isArray(f.default) ? [...f.default] : f.default) : fieldFromByte(f, b);
    }
    events.push(e as SvmEvent);
  }
  return { config: config as SvmConfig, events };
}
