// Conformance scenarios (models/svm/scenarios/*.txt): each names the reference section it
// checks, the pairs it runs on, where the first divergence must be, and per-step
// expectations on both sides.

import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry } from '../registry.js';
import { defineVersion } from './versions.js';
import { parseScenario, checkScenario } from '../../harness/text/scenario.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const load = (f: string) => parseScenario(readFileSync(join(dir, f), 'utf8'), `scenarios/${f}`);

describe('conformance scenarios', () => {
  it('covers both seeds and their controls', () => {
    expect(files.some((f) => f.startsWith('a5-seed1'))).toBe(true);
    expect(files.some((f) => f.startsWith('b4-seed2'))).toBe(true);
    expect(files.filter((f) => f.includes('control')).length).toBeGreaterThanOrEqual(6);
  });

  for (const f of files) {
    const sc = load(f);
    for (const pair of sc.pairs) {
      it(`${f} on ${pair} (${sc.reference})`, () => {
        expect(checkScenario(new Registry(), sc, pair).failures).toEqual([]);
      });
    }
  }

  it('controls run on every pair', () => {
    const reg = new Registry();
    for (const f of files.filter((x) => x.includes('control'))) {
      expect(load(f).pairs.sort()).toEqual([...reg.pairs.keys()].sort());
    }
  });
});

describe('the scenario checker can fail', () => {
  it('reports a seed scenario run on two identical versions', () => {
    const reg = new Registry();
    const v = reg.version('v6.8');
    reg.addVersion(defineVersion({ id: 'v6.8-copy', description: 'same patches as v6.8', patches: v.patches }));
    reg.addPair({ id: 'same', description: '', left: 'v6.8', right: 'v6.8-copy', config: {} });
    const { failures } = checkScenario(reg, load('a5-seed1-two-nmis.txt'), 'same');
    expect(failures.join('\n')).toMatch(/expected a divergence at step #3, got none/);
  });

  it('reports a wrong step expectation with its file and line', () => {
    const text = readFileSync(join(dir, 'b4-seed2-nested-npf.txt'), 'utf8').replace('left.vmcb12.int_state=1', 'left.vmcb12.int_state=0');
    const { failures } = checkScenario(new Registry(), parseScenario(text, 'edited.txt'), 'sti-shadow');
    expect(failures.some((m) => /^edited\.txt:\d+ on sti-shadow: step #2 left\.vmcb12\.int_state: expected = '0', got '1'/.test(m))).toBe(true);
  });
});
