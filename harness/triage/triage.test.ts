// Triage: every divergence gets a cause (the kernel function where the two versions first
// part, and the responsible patches), symptoms nest under causes, and cause ids and
// reproducers are stable.

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../models/registry.js';
import { BASE_OPS } from '../../models/svm/kvm/base.js';
import { definePatch } from '../../models/svm/patches.js';
import { defineVersion, BUILTIN_VERSIONS, BUILTIN_PAIRS } from '../../models/svm/versions.js';
import { Lane } from '../engine/lane.js';
import type { KvmOps } from '../../models/svm/kvm/ops.js';
import type { VcpuState } from '../../models/svm/state.js';
import { parseStream } from '../text/text.js';
import { runPair } from '../engine/execute.js';
import { Triage, sideWords } from './cause.js';
import { traceStream, invariantSite } from './calltrace.js';
import { firstParting } from './walk.js';
import { root, run, tmp } from '../testing/cli.js';

const scen = (f: string) => parseStream(readFileSync(join(root, 'models/svm/scenarios', f), 'utf8'), f);
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

describe('the cause of a divergence', () => {
  const reg = new Registry();
  const triageOn = (pair: string, file: string) => {
    const sel = reg.select({ pair });
    const s = scen(file);
    const d = runPair(sel.left, sel.right!, s).firstDivergence!;
    return new Triage({ label: sel.label, left: sel.left, right: sel.right! }).of(s, d);
  };

  it('seed 1: svm_inject_nmi leaves nmi_masked and the IRET intercept different, from 72046d0a alone (also on pair all)', () => {
    for (const pair of ['vnmi-iret', 'all']) {
      const c = triageOn(pair, 'a5-seed1-two-nmis.txt');
      expect(c).toMatchObject({ kind: 'change', function: 'svm_inject_nmi', patches: ['72046d0a'], verdict: 'intended', declared: true });
      expect(c.fields).toEqual(expect.arrayContaining(['nmi_masked', 'vmcb01.intercepts']));
    }
    // One cause across pairs: the id does not depend on the pair.
    expect(triageOn('vnmi-iret', 'a5-seed1-two-nmis.txt').id).toBe(triageOn('all', 'a5-seed1-two-nmis.txt').id);
  });

  it("seed 2: svm_vcpu_enter_exit leaves the CPU's 'VMRUN in the STI shadow' state different, from be45bc4e alone", () => {
    for (const pair of ['sti-shadow', 'all']) {
      const c = triageOn(pair, 'b4-seed2-nested-npf.txt');
      expect(c).toMatchObject({ kind: 'change', function: 'svm_vcpu_enter_exit', patches: ['be45bc4e'], fields: ['state.hw.vmrunInStiShadow'] });
    }
  });

  it('a body that asks one more predicate but leaves the same state is no parting: the walk realigns after it', () => {
    const asksMore = definePatch({
      id: 'asks-more', subject: 'test', upstream: '-', scope: [],
      replaces: {
        svm_inject_irq(k: KvmOps, v: VcpuState, reinjected: boolean): void {
          k.is_vnmi_enabled(k, v);
          BASE_OPS.svm_inject_irq(k, v, reinjected);
        },
      },
    });
    const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14')!;
    const mine = defineVersion({ id: 'mine', description: '', patches: [...v614.patches, asksMore] });
    const s = scen('b4-control-normal-exits.txt');
    expect(firstParting(traceStream(v614, s), traceStream(mine, s))).toBeNull();
    // ... while a real change in the same function is found there.
    const c = triageOn('all', 'a5-seed1-two-nmis.txt');
    expect(c.stack.at(-1)).toBe(c.function);
  });

  it('sides are named by version in words', () => {
    expect(sideWords({ path: 'nmi_masked', left: true, right: false }, 'v6.7', 'v6.8')).toBe('nmi_masked: true in v6.7, false in v6.8');
    expect(sideWords({ path: 'vmcb01.intercepts', left: 'INTR|IRET|HLT', right: 'INTR|HLT' }, 'v6.7', 'v6.8')).toBe('vmcb01.intercepts: IRET in v6.7 only');
  });
});

describe('step-first tracing', () => {
  // Triage traces the first differing step alone and the rest of the stream only when the
  // walk needs it: the causes must be those of tracing everything, on every built-in pair.
  it('gives the same cause as tracing the whole stream, for every symptom a lane finds on the built-in pairs', () => {
    const reg = new Registry();
    let compared = 0;
    const kinds = new Set<string>();
    for (const pair of BUILTIN_PAIRS.map((p) => p.id)) {
      const sel = reg.select({ pair });
      const lane = new Lane({ seed: 3, lane: 0, pair, left: sel.left, right: sel.right!, config: sel.config, maxLen: 24, samplesPerBucket: 1, corpusCap: 2000, hangMs: 0 });
      const entries = lane.runBatch(6000).findings.map((f) => f.entry).slice(0, 40);
      const fast = new Triage({ label: pair, left: sel.left, right: sel.right! });
      const whole = new Triage({ label: pair, left: sel.left, right: sel.right!, wholeTraces: true });
      for (const e of entries) {
        const d = e.divergence!;
        const div = { kind: d.kind, step: d.step, event: d.event, fields: d.fields, ...(d.error ? { error: d.error } : {}) };
        const stream = { config: e.config, events: e.events };
        const c = fast.of(stream, div);
        expect(c).toEqual(whole.of(stream, div));
        kinds.add(c.kind);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(kinds).toContain('effect'); // a WARN placed: the case that needs the later steps
  });
});

describe('derived versions', () => {
  it('the registry rebuilds a version named VERSION+PATCH-PATCH (entries of bisection steps and focused pairs)', () => {
    const reg = new Registry();
    expect(reg.version('v6.7+72046d0a').patches.map((p) => p.id)).toEqual(['72046d0a']);
    expect(reg.version('v6.14-72046d0a').patches.map((p) => p.id)).toEqual(['6231c9e1', 'b4bd5564', '1876dd69', 'be45bc4e']);
    expect(reg.version('v6.13+be45bc4e').patches.map((p) => p.id)).toEqual(reg.version('v6.14').patches.map((p) => p.id));
    expect(() => reg.version('v6.7+nope')).toThrow(/unknown version 'v6\.7\+nope'/);
  });
});

describe('causes in a campaign (CLI)', () => {
  it('known causes stop masking rare ones: with the focused pair, a frequent change no longer hides the others', () => {
    // models/examples/masking.js: one change diverges at every stream's first exit.
    const causes = (extra: string[]) => {
      const out = tmp();
      const r = run('fuzz', '--models', join(root, 'models/examples/masking.js'), '--pair', 'masking', '--runs', '60000', '--workers', '1',
        '--seed', '1', '--no-minimize', '--out', out, '--corpus', tmp(), ...extra);
      expect(r.code).toBe(0);
      return { out: r.out, fns: json(join(out, 'summary.json')).causes.map((c: { function: string }) => c.function).sort() };
    };
    const focused = causes([]);
    expect(focused.fns).toEqual(['kvm_cpu_has_injectable_intr', 'nested_svm_inject_npf_exit', 'svm_clear_vintr', 'svm_handle_exit']);
    expect(focused.out).toMatch(/^FOCUS masking-without-example-exits-twice/m);
    const plain = causes(['--no-focus']);
    expect(plain.fns.length).toBeLessThan(focused.fns.length);
  }, 120_000);

  it('a user model file with three independent changes in three functions: exactly three causes, each naming its function', () => {
    const out = tmp();
    const r = run('fuzz', '--models', join(root, 'models/examples/three-changes.js'), '--pair', 'three', '--runs', '20000', '--workers', '1', '--seed', '1', '--out', out, '--corpus', tmp());
    expect(r.code).toBe(0);
    const s = json(join(out, 'summary.json'));
    const fns = s.causes.map((c: { function: string; patches: string[] }) => `${c.function}:${c.patches.join('+')}`).sort();
    expect(fns).toEqual(['kvm_cpu_has_injectable_intr:example-ignore-0xec', 'svm_clear_vintr:example-keep-vintr', 'svm_inject_irq:example-count-twice']);
    // Every bucket is a symptom of one of them, and each cause lists its symptoms.
    const ids = new Set(s.causes.map((c: { id: string }) => c.id));
    for (const b of s.buckets) expect(ids.has(b.cause)).toBe(true);
    expect(s.causes.reduce((n: number, c: { symptoms: string[] }) => n + c.symptoms.length, 0)).toBe(s.buckets.length);
    expect(r.out).toMatch(/^NEW_CAUSE [0-9a-f]{12} kvm_cpu_has_injectable_intr \[example-ignore-0xec\]/m);
    // The terminal summary leads with causes.
    expect(r.out).toMatch(/^DONE: 20000 execs, 3 cause\(s\) behind \d+ bucket\(s\)/m);
    // Each cause has its own minimized reproducer that carries the cause.
    for (const c of s.causes) {
      expect(c.reproducer.length).toBeGreaterThan(0);
      const p = run('print', join(out, 'three', 'causes', c.id));
      expect(p.code).toBe(0);
    }
  }, 120_000);

  it('identical versions: zero causes; the same seed and --runs: identical cause ids and byte-identical cause reproducers', () => {
    const same = tmp();
    const r0 = run('fuzz', '--versions', 'v6.14,v6.14', '--runs', '5000', '--workers', '1', '--seed', '3', '--out', same);
    expect(r0.code).toBe(0);
    expect(json(join(same, 'summary.json')).causes).toEqual([]);
    const outs = [tmp(), tmp()];
    for (const out of outs) expect(run('fuzz', '--pair', 'all', '--runs', '12000', '--workers', '1', '--seed', '7', '--out', out).code).toBe(0);
    const [a, b] = outs.map((o) => json(join(o, 'summary.json')));
    expect(a.causes.map((c: { id: string }) => c.id)).toEqual(b.causes.map((c: { id: string }) => c.id));
    expect(a.causes.length).toBeGreaterThanOrEqual(1);
    for (const c of a.causes) {
      const files = outs.map((o) => join(o, 'all', 'causes', c.id, 'min.msgpack'));
      expect(existsSync(files[0]!)).toBe(true);
      expect(readFileSync(files[0]!).equals(readFileSync(files[1]!))).toBe(true);
    }
    // promote takes a cause id; the regression corpus then knows the cause.
    const corpus = tmp();
    const seedCause = a.causes.find((c: { function: string }) => c.function === 'svm_inject_nmi');
    expect(seedCause).toBeDefined();
    const p = run('promote', seedCause.id, '--from', outs[0]!, '--corpus', corpus);
    expect(p.code).toBe(0);
    expect(readdirSync(corpus).filter((f) => f.endsWith('.msgpack'))).toEqual([`all-cause-${seedCause.id}.msgpack`]);
    expect(run('replay', corpus).code).toBe(0);
    const again = tmp();
    const r2 = run('fuzz', '--pair', 'all', '--runs', '3000', '--workers', '1', '--seed', '7', '--out', again, '--corpus', corpus);
    expect(r2.code).toBe(0);
    const known = json(join(again, 'summary.json')).causes.find((c: { id: string }) => c.id === seedCause.id);
    expect(known?.known).toBe(join(corpus, `all-cause-${seedCause.id}.msgpack`));
  }, 120_000);
});

describe('invariantSite: the kernel function an invariant violation is in', () => {
  const reg = new Registry();
  const inv = (id: string) => reg.invariants.find((i) => i.id === id)!.check;
  it('a WARN is in the function that warns, with its callers open; a frame the CPU pushes is the CPU model\'s (cpu)', () => {
    // v6.14's vNMI window WARN (lead B's stream): svm_enable_nmi_window warns.
    const warn = parseStream('config\nset_vcpu_events nmi_pending=1 shadow=1\nnmi\nrun\nvmrun inject=type_1 int_ctl=v_intr_masking|v_nmi_enable|v_nmi_blocking\n');
    const w = invariantSite(reg.version('v6.14'), warn, 3, inv('no-warn'));
    expect(w.fn).toBe('svm_enable_nmi_window');
    expect(w.stack[w.stack.length - 1]).toBe('svm_enable_nmi_window');
    expect(w.stack.length).toBeGreaterThan(1);
    // KVM's single-step TF in an INTn frame: the frame push is the CPU's delivery, outside the table.
    // (Lead A's minimized stream: the frame with KVM's TF is pushed at the `npf` step.)
    const tf = parseStream('config vgif=0\nset_vcpu_events nmi_pending=1 shadow=1\nrun\nintn\nnpf\n');
    expect(invariantSite(reg.version('v6.14'), tf, 3, inv('no-kvm-tf-visible'))).toEqual({ fn: 'cpu', stack: [] });
    // The task-switch path of the same delivery is kvm_task_switch's: the frame is pushed inside task_switch_interception.
    const ts = parseStream('config\nnmi\nnmi\nrun\nvmrun intercepts=intr|hlt int_state=5\nhlt\ndelivery_fault cause=task_switch\n');
    expect(invariantSite(reg.version('v6.14'), ts, 5, inv('no-unasked-db')).fn).toBe('task_switch_interception');
  });
});
