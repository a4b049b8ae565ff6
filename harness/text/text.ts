// The text form of a stream, driven by the alphabet and knob tables (no event kind is
// named here): a `config` header line, then one event per line as `kind field=value ...`
// with fields at their default left out. `#` starts a comment. Used by `trace`, min.txt,
// corpus twins and the conformance scenarios.
//
//   # seed 1, path (a)
//   config vnmi=1 vgif=1 nested=1 ...
//   nmi
//   vmrun intercepts=nmi|intr inject=intr_0x68
//
// Values: int as decimal or 0x-hex; bool as 0/1; enum as its literal; flags as a|b, or -
// for the empty set.

import { specOf, EVENT_KINDS, checkField, type SvmEvent, type FieldSpec } from '../../models/svm/events.js';
import { KNOBS, KNOB_NAMES, defaultConfig, checkKnob, type SvmConfig, type KnobSpec } from '../../models/svm/config.js';

export interface Stream {
  config: SvmConfig;
  events: SvmEvent[];
}

/** A parsed stream with the line number of each event (for scenario expectations). */
export interface ParsedStream extends Stream {
  eventLines: number[];
}

export class StreamParseError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

function formatValue(f: FieldSpec | KnobSpec, value: unknown): string {
  switch (f.type) {
    case 'bool': return value ? '1' : '0';
    case 'flags': return (value as string[]).length ? (value as string[]).join('|') : '-';
    default: return String(value);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/** The config line: only the knobs away from their defaults (a knob left out reads as its default). */
export function formatConfig(config: SvmConfig): string {
  return ['config', ...KNOB_NAMES.filter((n) => config[n] !== KNOBS[n].default).map((n) => `${n}=${formatValue(KNOBS[n], config[n])}`)].join(' ');
}

/** One event as text: its kind and the fields that differ from their defaults. */
export function formatEvent(e: SvmEvent): string {
  const spec = specOf(e.kind)!;
  const parts: string[] = [e.kind];
  for (const [name, f] of Object.entries(spec.fields)) {
    const value = (e as unknown as Record<string, unknown>)[name];
    if (!sameValue(value, f.default)) parts.push(`${name}=${formatValue(f, value)}`);
  }
  return parts.join(' ');
}

export function printStream(s: Stream, comments: readonly string[] = []): string {
  const lines = [...comments.map((c) => `# ${safeText(c)}`), formatConfig(s.config), ...s.events.map(formatEvent)];
  return lines.join('\n') + '\n';
}

function parseValue(f: FieldSpec | KnobSpec, raw: string): unknown {
  switch (f.type) {
    case 'bool':
      if (raw === '1' || raw === 'true') return true;
      if (raw === '0' || raw === 'false') return false;
      return raw; // rejected by the check
    case 'int':
      return /^(0x[0-9a-f]+|\d+)$/i.test(raw) ? Number(raw) : NaN;
    case 'flags':
      return raw === '-' ? [] : raw.split('|');
    case 'enum':
      return raw;
  }
}

function splitAssignments(file: string, line: number, tokens: string[]): [string, string][] {
  return tokens.map((t) => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new StreamParseError(file, line, `expected name=value, got '${t}'`);
    return [t.slice(0, eq), t.slice(eq + 1)];
  });
}

export function parseStream(text: string, file = '<stream>'): ParsedStream {
  let config: SvmConfig | null = null;
  const events: SvmEvent[] = [];
  const eventLines: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const body = lines[i]!.replace(/#.*$/, '').trim();
    if (!body) continue;
    const [head, ...rest] = body.split(/\s+/) as [string, ...string[]];
    if (head === 'config') {
      if (config) throw new StreamParseError(file, lineNo, 'a second config header');
      if (events.length) throw new StreamParseError(file, lineNo, 'the config header must come before the events');
      const cfg = defaultConfig() as Record<string, unknown>;
      for (const [name, raw] of splitAssignments(file, lineNo, rest)) {
        const spec = (KNOBS as Record<string, KnobSpec>)[name];
        if (!spec) throw new StreamParseError(file, lineNo, checkKnob(name, undefined)!);
        if (raw === '') throw new StreamParseError(file, lineNo, `knob '${name}' has no value (truncated header?)`);
        const value = parseValue(spec, raw);
        const err = checkKnob(name, value);
        if (err) throw new StreamParseError(file, lineNo, `${err}, got '${raw}'`);
        cfg[name] = value;
      }
      config = cfg as SvmConfig;
      continue;
    }
    if (!config) throw new StreamParseError(file, lineNo, `missing 'config ...' header before the first event ('${head}')`);
    const spec = specOf(head);
    if (!spec) throw new StreamParseError(file, lineNo, `unknown event '${head}' (known: ${EVENT_KINDS.join(', ')})`);
    const e: Record<string, unknown> = { kind: head };
    for (const [name, f] of Object.entries(spec.fields)) e[name] = Array.isArray(f.default) ? [...f.default] : f.default;
    for (const [name, raw] of splitAssignments(file, lineNo, rest)) {
      const f = spec.fields[name];
      if (!f) throw new StreamParseError(file, lineNo, `${head}: unknown field '${name}' (fields: ${Object.keys(spec.fields).join(', ') || 'none'})`);
      let value = parseValue(f, raw);
      if (f.type === 'flags') {
        // Any order in text; table order in memory (the canonical form the codec checks).
        const set = value as string[];
        if (set.every((x) => f.values.includes(x)) && new Set(set).size === set.length) value = f.values.filter((x) => set.includes(x));
      }
      const err = checkField(name, f, value);
      if (err) throw new StreamParseError(file, lineNo, `${head}: ${err}, got '${raw}'`);
      e[name] = value;
    }
    events.push(e as SvmEvent);
    eventLines.push(lineNo);
  }
  if (!config) throw new StreamParseError(file, lines.length, "missing 'config ...' header");
  return { config, events, eventLines };
}

/**
 * Text that came from a file or an entry, made safe to print on one line: control
 * characters (newlines that would inject lines into a `.txt` twin, terminal escape
 * sequences) are shown as \xNN escapes.
 */
export function safeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
