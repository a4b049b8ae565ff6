// The byte decoder (jsfuzz's input format) and the jsfuzz compatibility target.

import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkEvent } from '../../models/svm/events.js';
import { checkKnob, defaultConfig, KNOB_NAMES } from '../../models/svm/config.js';
import { decodeBytes, MAX_EVENTS } from './bytes.js';
import { printStream, parseStream } from '../text/text.js';

describe('decodeBytes', () => {
  it('turns any bytes into a valid stream (alphabet and knob tables)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (buf) => {
      const s = decodeBytes(buf, defaultConfig());
      for (const name of KNOB_NAMES) expect(checkKnob(name, s.config[name])).toBeNull();
      for (const e of s.events) expect(checkEvent(e)).toBeNull();
      expect(s.events.length).toBeLessThanOrEqual(MAX_EVENTS);
      expect(parseStream(printStream(s)).events).toEqual(s.events);
    }), { numRuns: 500 });
  });

  it('is a function of the bytes', () => {
    const buf = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(decodeBytes(buf, defaultConfig())).toEqual(decodeBytes(buf, defaultConfig()));
  });
});

describe('jsfuzz target (dist/cjs, CommonJS)', () => {
  const require = createRequire(import.meta.url);
  const target = join(resolve(import.meta.dirname, '../..'), 'dist/cjs/harness/jsfuzz/target.js');

  it('exports fuzz(buf), which returns on equal behaviour and throws on a divergence', () => {
    process.env.SVMFUZZ_PAIR = 'vnmi-iret';
    delete process.env.SVMFUZZ_SIGNATURE;
    const { fuzz } = require(target) as { fuzz: (b: Buffer) => void };
    expect(() => fuzz(Buffer.from([]))).not.toThrow();
    // Search a few byte strings for the seed-1 divergence: it is one the target must report.
    let threw: Error | null = null;
    for (let i = 0; i < 20000 && !threw; i++) {
      const b = Buffer.alloc(12);
      for (let j = 0; j < b.length; j++) b[j] = (Math.imul(i + 1, 2654435761) >>> (j * 2)) & 0xff;
      try { fuzz(b); } catch (e) { threw = e as Error; }
    }
    expect(threw?.message).toMatch(/^svmfuzz divergence after \d+ executions: vnmi-iret\|/);
  });
});
