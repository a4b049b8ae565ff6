// The signature is the bug's identity: same behavioural difference, same bucket;
// different difference, different bucket; values (counters, vectors) never enter it.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from '../../models/registry.js';
import { makeModel } from '../../models/svm/model.js';
import { parseStream } from '../text/text.js';
import { executePair } from './execute.js';
import { signatureOf, abstractField, fieldWords } from './signature.js';

const reg = new Registry();
const scen = (f: string) => parseStream(readFileSync(join(import.meta.dirname, '../../models/svm/scenarios', f), 'utf8'));

function sigOf(pairId: string, text: string) {
  const p = reg.pair(pairId);
  const ex = executePair(makeModel(reg.version(p.left)), makeModel(reg.version(p.right)), parseStream(text));
  return ex.divergence ? signatureOf(pairId, ex.divergence) : null;
}

describe('signature', () => {
  it('the three routes to seed 1 (two NMIs, nmi.injected, nmi.pending=2) share one bucket', () => {
    const a = sigOf('vnmi-iret', 'config\nnmi\nnmi\nrun\niret\n');
    const b = sigOf('vnmi-iret', 'config\nset_vcpu_events nmi_injected=1\nrun\niret\n');
    const c = sigOf('vnmi-iret', 'config\nset_vcpu_events nmi_pending=2\nrun\nnop\nnop\niret\n');
    expect(a).not.toBeNull();
    expect(b!.id).toBe(a!.id);
    expect(c!.id).toBe(a!.id);
    expect(a!.text).toBe('vnmi-iret|observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits');
  });

  it('the seed-2 bucket does not depend on the injected vector or the path to VMRUN', () => {
    const a = sigOf('sti-shadow', 'config\nrun\nvmrun inject=intr_0x68\ndelivery_fault cause=npf_l1\n');
    const b = sigOf('sti-shadow', 'config\nnmi\nrun\nnop\nvmrun intercepts=nmi|intr|cpuid inject=intr_0x30\ndelivery_fault cause=npf_l1\n');
    expect(a!.id).toBe(b!.id);
    expect(a!.text).toBe('sti-shadow|observable|delivery_fault|vmcb12.int_state');
  });

  it('different behaviour, different bucket: seed 1 vs seed 2 on pair all, L1 vs L2 IRET exits', () => {
    const p = reg.pair('all');
    const run = (f: string) => executePair(makeModel(reg.version(p.left)), makeModel(reg.version(p.right)), scen(f));
    const s1 = signatureOf('all', run('a5-seed1-two-nmis.txt').divergence!);
    const s2 = signatureOf('all', run('b4-seed2-nested-npf.txt').divergence!);
    expect(s1.id).not.toBe(s2.id);
    expect(abstractField({ path: 'exits', left: 'L1:IRET', right: '' })).not.toBe(abstractField({ path: 'exits', left: 'L2:IRET', right: '' }));
  });

  it('counters and vectors are abstracted away', () => {
    expect(abstractField({ path: 'stat.exits', left: 7, right: 3 })).toBe('stat.exits');
    expect(abstractField({ path: 'delivered', left: 'L1:INTR:0x30', right: '' })).toBe(abstractField({ path: 'delivered', left: 'L1:INTR:0x68', right: '' }));
    expect(abstractField({ path: 'exits', left: 'L1:IRET,L1:IOIO', right: 'L1:IOIO' })).toBe('exits{+L1:IRET}');
  });

  it('is stable: the id is a function of the text', () => {
    const a = sigOf('vnmi-iret', 'config\nnmi\nnmi\nrun\niret\n')!;
    expect(a.id).toMatch(/^[0-9a-f]{12}$/);
    expect(sigOf('vnmi-iret', 'config\nnmi\nnmi\nrun\niret\n')!.id).toBe(a.id);
  });

  it('words name the sides by version: what one has and the other lacks', () => {
    const names = { left: 'v6.7', right: 'v6.8' };
    expect(fieldWords({ path: 'exits', left: 'L1:IRET,L1:IOIO', right: 'L1:IOIO' }, names)).toBe('exits: L1:IRET in v6.7 only');
    expect(fieldWords({ path: 'warns', left: '', right: 'svm_enable_nmi_window: vNMI enabled' }, names)).toBe('warns: svm_enable_nmi_window: vNMI enabled in v6.8 only');
    expect(fieldWords({ path: 'vmcb12.int_state', left: 1, right: 0 }, names)).toBe('vmcb12.int_state differs');
    const sig = signatureOf('vnmi-iret', { kind: 'observable', step: 3, event: 'iret', fields: [{ path: 'exits', left: 'L1:IRET', right: '' }] }, names);
    expect(sig.words).toBe('vnmi-iret: v6.7 and v6.8 diverge observably at a `iret` step: exits: L1:IRET in v6.7 only');
  });
});
