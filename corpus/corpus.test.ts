// The regression corpus, replayed: one test per entry. A model change that alters a
// reproducer's outcome fails here with the entry and the changed outcome.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../models/registry.js';
import { replayEntry } from '../harness/store/replay.js';

const dir = import.meta.dirname;
const entries = readdirSync(dir).filter((f) => f.endsWith('.msgpack')).sort();

describe('regression corpus', () => {
  it('holds the seed reproducers and equal-outcome seeds', () => {
    expect(entries.some((f) => f.startsWith('vnmi-iret-'))).toBe(true);
    expect(entries.some((f) => f.startsWith('sti-shadow-'))).toBe(true);
    expect(entries.filter((f) => /^all-[0-9a-f]{12}\.msgpack$/.test(f)).length).toBe(2);
    // One cause reproducer per upstream change between v6.7 and v6.14 besides the seeds.
    expect(entries.filter((f) => f.startsWith('all-cause-')).length).toBe(3);
    expect(entries.some((f) => f.startsWith('seed-'))).toBe(true);
  });

  const reg = new Registry();
  for (const f of entries) {
    it(f, () => {
      const r = replayEntry(reg, join(dir, f));
      if (r.status !== 'pass') throw new Error(`corpus/${f} (${r.pair}: ${r.left} vs ${r.right}): ${r.reason}`);
    });
  }
});
