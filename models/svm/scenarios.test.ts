// Conformance scenarios (models/svm/scenarios/*.txt): each names the reference section it
// checks, the pairs it runs on, where the first divergence must be, and per-step
// expectations on both sides.

import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry } from '../registry.js';
import { defineVersion } from './versions.js';
import { definePatch } from './patches.js';
import { cur } from './state.js';
import { X86_EFLAGS_TF, X86_EFLAGS_RF } from './constants.js';
import type { KvmOps } from './kvm/ops.js';
import type { VcpuState } from './state.js';
import { parseScenario, checkScenario, checkVersionScenario } from '../../harness/text/scenario.js';

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
    for (const version of sc.versions) {
      it(`${f} on ${version} alone (${sc.reference})`, () => {
        expect(checkVersionScenario(new Registry(), sc, version).failures).toEqual([]);
      });
    }
  }

  it('has a conformance scenario (kernel expectations on one version) for each fixed model defect', () => {
    for (const n of [1, 2, 3, 4, 5]) expect(files.some((f) => f.startsWith(`k${n}-`) && load(f).versions.length > 0)).toBe(true);
  });

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

describe('a conformance scenario fails when its defect is put back', () => {
  // The pre-fix bodies, as user patches on v6.14: each fixed scenario must catch them.
  const defects: Record<string, Partial<KvmOps>> = {
    // Defect 3: the OUT skipped at the exit.
    'k3-userspace-pio-completes-at-next-run.txt': {
      io_interception(k: KvmOps, v: VcpuState): number {
        k.kvm_skip_emulated_instruction(k, v);
        v.runExitReason = 'IO';
        return 0;
      },
    },
    // Defect 5: soft interrupts left out of kvm_event_needs_reinjection.
    'k5-soft-interrupt-reinjection.txt': {
      kvm_event_needs_reinjection(k: KvmOps, v: VcpuState): boolean {
        return v.exception.injected || (v.interrupt.injected && !v.interrupt.soft) || v.nmiInjected;
      },
    },
    // Defect 2: the single-step saves the raw VMCB RFLAGS, KVM's TF|RF included.
    'k2-nmi-singlestep-rearmed.txt': {
      svm_enable_nmi_window(k: KvmOps, v: VcpuState): void {
        if (k.svm_get_nmi_mask(k, v) && !v.awaitingIretCompletion) return;
        const vmcb = cur(v);
        v.nmiSinglestepGuestRflags = vmcb.rflags;
        v.nmiSinglestep = true;
        vmcb.rflags |= X86_EFLAGS_TF | X86_EFLAGS_RF;
      },
    },
    // Defect 4: no merging, a new exception replaces the old one.
    'k4-double-fault-in-l2.txt': {
      kvm_multiple_exception(k: KvmOps, v: VcpuState, nr: number, hasError: boolean, errorCode: number, reinject: boolean): void {
        v.exception = { pending: !reinject, injected: reinject, vector: nr, hasErrorCode: hasError, errorCode };
      },
    },
    // Defect 1: RFLAGS written directly: no event request, no KVM TF|RF.
    'k1-rflags-on-nested-vmexit.txt': {
      kvm_set_rflags(k: KvmOps, v: VcpuState, rflags: number): void {
        cur(v).rflags = rflags;
      },
    },
  };
  for (const [file, replaces] of Object.entries(defects)) {
    it(file, () => {
      const reg = new Registry();
      const patch = definePatch({ id: 'defect', subject: 'the defect put back', upstream: '-', replaces, scope: [] });
      reg.addVersion(defineVersion({ id: 'v6.14-defect', description: '', patches: [...reg.version('v6.14').patches, patch] }));
      const sc = load(file);
      expect(checkVersionScenario(reg, sc, 'v6.14').failures).toEqual([]);
      expect(checkVersionScenario(reg, sc, 'v6.14-defect').failures.length).toBeGreaterThan(0);
    });
  }
});
