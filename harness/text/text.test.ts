// The text form: printing then parsing gives the same stream (property), and bad files
// are rejected with the file and line.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { eventArb, configArb } from '../engine/arbitraries.js';
import { parseStream, printStream, StreamParseError } from './text.js';

describe('text form', () => {
  it('parse(print(stream)) is the stream', () => {
    fc.assert(fc.property(configArb, fc.array(eventArb, { maxLength: 30 }), (config, events) => {
      const back = parseStream(printStream({ config, events }, ['a comment']));
      expect(back.config).toEqual(config);
      expect(back.events).toEqual(events);
    }), { numRuns: 300 });
  });

  it('accepts flags in any order and stores them in table order', () => {
    const s = parseStream('config\nvmrun intercepts=cpuid|nmi\n');
    expect((s.events[0] as { intercepts: string[] }).intercepts).toEqual(['nmi', 'cpuid']);
  });

  const bad: [string, string, RegExp][] = [
    ['unknown event', 'config\nnmi\nfrobnicate\n', /^f\.txt:3: unknown event 'frobnicate'/],
    ['out-of-range field', 'config\nvmrun int_state=8\n', /^f\.txt:2: vmrun: field 'int_state' must be an integer in 0\.\.7, got '8'/],
    ['bad enum', 'config\nirq vector=0x99\n', /^f\.txt:2: irq: field 'vector' must be one of/],
    ['unknown field', 'config\nnmi count=2\n', /^f\.txt:2: nmi: unknown field 'count'/],
    ['truncated header', 'config vnmi=\nnmi\n', /^f\.txt:1: knob 'vnmi' has no value/],
    ['missing header', 'nmi\n', /^f\.txt:1: missing 'config \.\.\.' header/],
    ['unknown knob', 'config turbo=1\n', /^f\.txt:1: unknown config knob 'turbo'/],
    ['empty file', '', /^f\.txt:1: missing 'config \.\.\.' header/],
  ];
  for (const [name, text, re] of bad) {
    it(`rejects ${name} with file and line`, () => {
      expect(() => parseStream(text, 'f.txt')).toThrow(StreamParseError);
      expect(() => parseStream(text, 'f.txt')).toThrow(re);
    });
  }
});
