// End to end: `svmfuzz compare` attributes every changed behaviour to the patch(es) that
// cause it and says whether it is intended (inside their declared scope) or collateral.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../models/registry.js';
import { applyPatches, attribute } from './compare.js';
import { parseStream } from '../text/text.js';
import { root, run, tmp as tmpDir } from '../testing/cli.js';

const tmp = () => tmpDir('svmfuzz-cmp-');

describe('attribution', () => {
  const reg = new Registry();
  const [v67, v614] = [reg.version('v6.7'), reg.version('v6.14')];
  it('applies patch subsets between two versions', () => {
    expect(applyPatches(v67, v614, new Set(['be45bc4e'])).patches.map((p) => p.id)).toEqual(['be45bc4e']);
    expect(applyPatches(v614, v67, new Set(['72046d0a'])).patches.map((p) => p.id)).toEqual(['6231c9e1', 'b4bd5564', '1876dd69', 'be45bc4e']);
  });
  it('finds the patch behind each seed reproducer', () => {
    const s1 = parseStream('config\nnmi\nnmi\nrun\niret\n');
    const s2 = parseStream('config\nrun\nvmrun inject=intr_0x68\ndelivery_fault cause=npf_l1\n');
    const diff = v614.patches.map((p) => p.id);
    expect(attribute(v67, v614, diff, s1, 'observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits', 'x', 1000)).toEqual(['72046d0a']);
    expect(attribute(v67, v614, diff, s2, 'observable|delivery_fault|vmcb12.int_state', 'x', 1000)).toEqual(['be45bc4e']);
  });
});

describe('svmfuzz compare', () => {
  it('v6.7 vs v6.14: one intended cause per upstream change between the releases, the seeds among them', () => {
    const out = tmp();
    const r = run('compare', 'v6.7', 'v6.14', '--runs', '20000', '--workers', '1', '--seed', '1', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^INTENDED \(the change the responsible patches declare\): 5 cause\(s\)$/m);
    const j = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(j.patches).toEqual({ added: ['72046d0a', '6231c9e1', 'b4bd5564', '1876dd69', 'be45bc4e'], removed: [] });
    const bySig = (body: string) => j.buckets.find((b: { signature: string }) => b.signature.endsWith(body));
    const seed1 = bySig('|observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits');
    const seed2 = bySig('|observable|delivery_fault|vmcb12.int_state');
    expect(seed1).toMatchObject({ verdict: 'intended', responsible: ['72046d0a'] });
    expect(seed2).toMatchObject({ verdict: 'intended', responsible: ['be45bc4e'] });
    expect(seed1.reproducer.length).toBeLessThanOrEqual(4);
    // The corpus was replayed first: its seed entries diverge on v6.7 vs v6.14.
    expect(j.corpus.diverging).toBeGreaterThanOrEqual(4);
    const intended = j.causes.filter((c: { verdict: string }) => c.verdict === 'intended');
    expect(intended.map((c: { function: string; patches: string[] }) => `${c.function}:${c.patches.join('+')}`).sort())
      .toEqual(['kvm_emulate_halt:1876dd69', 'kvm_vcpu_ioctl_x86_set_vcpu_events:6231c9e1', 'svm_enable_nmi_window:b4bd5564',
        'svm_inject_nmi:72046d0a', 'svm_vcpu_enter_exit:be45bc4e']);
    // Every bucket is the symptom of a listed cause; the seeds' buckets of their seed's cause.
    const byCause = new Map(j.causes.map((c: { id: string; function: string }) => [c.id, c.function]));
    expect(byCause.get(seed1.cause)).toBe('svm_inject_nmi');
    expect(byCause.get(seed2.cause)).toBe('svm_vcpu_enter_exit');
    for (const b of j.buckets) expect(byCause.has(b.cause)).toBe(true);
    // Collateral causes are few and named by function: the WARN 72046d0a makes reachable is one.
    const collateral = j.causes.filter((c: { verdict: string }) => c.verdict === 'collateral');
    expect(collateral.length).toBeLessThanOrEqual(3);
    for (const c of collateral) expect(c.function).toMatch(/^[a-z_0-9]+$/);
  }, 60_000);

  it('a user version that changes a function outside any scope: one collateral cause in that function, attributed to its patch', () => {
    const out = tmp();
    const r = run('compare', 'v6.14', 'v6.14-quiet-irq', '--models', join(root, 'models/examples/collateral.js'),
      '--runs', '10000', '--workers', '1', '--seed', '2', '--out', out, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.buckets.length).toBeGreaterThan(0);
    for (const b of j.buckets) {
      expect(b.verdict).toBe('collateral');
      expect(b.responsible).toEqual(['example-quiet-irq']);
    }
    expect(j.buckets.some((b: { outOfScope: string[] }) => b.outOfScope.includes('stat.irq_injections'))).toBe(true);
    expect(j.causes.map((c: { function: string; patches: string[]; verdict: string }) => [c.function, c.patches, c.verdict]))
      .toEqual([['svm_inject_irq', ['example-quiet-irq'], 'collateral']]);
  }, 60_000);

  it('unknown version: exit 2', () => {
    const r = run('compare', 'v6.7', 'v7.0', '--runs', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown version 'v7\.0'/);
  });
});
