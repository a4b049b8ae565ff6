// The invariants catch what they state on the versions and models that break it, and stay
// quiet where the rule holds.

import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry } from '../registry.js';
import { defineVersion } from './versions.js';
import { definePatch } from './patches.js';
import { BASE_OPS } from './kvm/base.js';
import { cur } from './state.js';
import { makeModel } from './model.js';
import { INVARIANTS, INVARIANT_IDS, selectInvariants } from './invariants.js';
import { findViolation } from './violations.js';
import { parseStream } from '../../harness/text/text.js';
import { generateStream } from '../../harness/engine/generate.js';
import { Rng, deriveSeed } from '../../harness/engine/rng.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
const scenario = (f: string) => parseStream(readFileSync(join(dir, f), 'utf8'), f);
const reg = new Registry();
const on = (id: string) => makeModel(reg.version(id));
const only = (id: string) => selectInvariants([id]);

describe('invariants', () => {
  it('each has an id, a doc line and a source, and ids are unique', () => {
    expect(new Set(INVARIANT_IDS).size).toBe(INVARIANTS.length);
    for (const i of INVARIANTS) {
      expect(i.doc.length).toBeGreaterThan(20);
      expect(i.source.length).toBeGreaterThan(10);
    }
    expect(() => selectInvariants(['no-warn', 'nope'])).toThrow(/unknown invariant 'nope' \(known: no-warn, /);
  });

  it('no-warn: the vNMI window WARN fires before b4bd5564 (v6.10) and not after', () => {
    const s = scenario('r-b4bd5564-vnmi-window-warn.txt');
    const v = findViolation(on('v6.8'), s.config, s.events, only('no-warn'));
    expect(v).toMatchObject({ invariant: 'no-warn', event: 'run', message: 'WARN_ON_ONCE: svm_enable_nmi_window: vNMI enabled' });
    expect(findViolation(on('v6.10'), s.config, s.events, only('no-warn'))).toBeNull();
  });

  it("vmcb12-int-state-own: seed 2's selftest stream breaks it on v6.13, at L2's first instruction, and not on v6.14", () => {
    const s = scenario('b4-seed2-selftest-userspace-ss.txt');
    const v = findViolation(on('v6.13'), s.config, s.events, only('vmcb12-int-state-own'));
    expect(v).toMatchObject({ invariant: 'vmcb12-int-state-own', event: 'nop', step: 5 });
    expect(findViolation(on('v6.14'), s.config, s.events, only('vmcb12-int-state-own'))).toBeNull();
  });

  it('vmcb12-event-inj-consumed: holds through a nested state round trip, breaks when userspace clears RUN_PENDING', () => {
    const kept = scenario('s-nested-state-round-trip.txt');
    expect(findViolation(on('v6.14'), kept.config, kept.events, only('vmcb12-event-inj-consumed'))).toBeNull();
    const cleared = scenario('s-nested-state-run-pending-cleared.txt');
    expect(findViolation(on('v6.14'), cleared.config, cleared.events, only('vmcb12-event-inj-consumed')))
      .toMatchObject({ event: 'run', message: 'vmcb12.event_inj = 0x80000200 after a nested #VMEXIT (INTR)' });
  });

  it("no-kvm-tf-visible: a KVM whose svm_get_rflags shows its own single-step TF breaks it at L2's nested #VMEXIT", () => {
    const s = scenario('k1-rflags-on-nested-vmexit.txt');
    expect(findViolation(on('v6.14'), s.config, s.events, only('no-kvm-tf-visible'))).toBeNull();
    const leaky = definePatch({
      id: 'test-rflags-raw', subject: 'test: svm_get_rflags returns the raw RFLAGS', upstream: '-', scope: [],
      replaces: { svm_get_rflags: (k, v) => cur(v).rflags },
    });
    const version = defineVersion({ id: 'v6.14-raw-rflags', description: '', patches: [...reg.version('v6.14').patches, leaky] });
    expect(findViolation(makeModel(version), s.config, s.events, only('no-kvm-tf-visible')))
      .toMatchObject({ invariant: 'no-kvm-tf-visible', message: expect.stringMatching(/^vmcb12\.rflags = 0x[0-9a-f]+ carries TF$/) });
  });

  it("a task switch KVM emulates saves the flags kvm_get_rflags reports: KVM's NMI single-step TF stays out of the old task's state", () => {
    // L1 in an interrupt shadow with an NMI pending: KVM single-steps it for the NMI window;
    // the INTn's delivery goes through a task gate (#VMEXIT(TASK_SWITCH), kvm_task_switch).
    const s = parseStream('config vgif=0\nnmi\nset_vcpu_events shadow=1\nrun\nintn\ndelivery_fault cause=task_switch\niret\n');
    expect(findViolation(on('v6.14'), s.config, s.events, selectInvariants(['no-kvm-tf-visible', 'no-unasked-db']))).toBeNull();
    // A task switch that saved the raw RFLAGS (the model before this was read in x86.c) is caught.
    const raw = definePatch({
      id: 'test-task-switch-raw', subject: 'test: kvm_get_rflags returns the raw RFLAGS', upstream: '-', scope: [],
      replaces: { kvm_get_rflags: (k, v) => cur(v).rflags },
    });
    const version = defineVersion({ id: 'v6.14-raw-task-switch', description: '', patches: [...reg.version('v6.14').patches, raw] });
    expect(findViolation(makeModel(version), s.config, s.events, only('no-kvm-tf-visible')))
      .toMatchObject({ step: 4, message: expect.stringMatching(/^L1 pushed RFLAGS 0x[0-9a-f]+ with TF \(a INTR frame\)$/) });
  });

  it("no-unasked-db: the guest's own #DB is asked for; a #DB KVM queues for L1 after a nested #VMEXIT while its NMI single-step is armed is not", () => {
    const own = parseStream('config\nrun\nfault vector=DB\n');
    expect(findViolation(on('v6.14'), own.config, own.events, only('no-unasked-db'))).toBeNull();
    // Userspace leaves NMIs masked with two pending; the nested #VMEXIT restores L1's RFLAGS
    // through kvm_set_rflags, which keeps KVM's TF, and nested_svm_vmexit then queues a #DB
    // for L1 ("L1 was single-stepping VMRUN").
    const kvms = parseStream([
      'config',
      'set_vcpu_events nmi_pending=2 nmi_masked=1 exception=pending exception_nr=NP payload_flag=1 interrupt=injected triple_fault=0 latched_init=0',
      'run', 'vmrun intercepts=intr|iret|hlt|shutdown|init exceptions=UD|GP|BP int_prio=0x1 int_state=3', 'fault', 'into', '',
    ].join('\n'));
    expect(findViolation(on('v6.14'), kvms.config, kvms.events, only('no-unasked-db')))
      .toMatchObject({ step: 4, event: 'into', message: 'the guest took #DB number 1, but only 0 were asked for' });
  });

  it('vmcb02-covers-vmcb12: a recalc_intercepts that forgets vmcb12 breaks it at the VMRUN; v6.14 keeps it', () => {
    // IRET: vmcb01 does not intercept it (KVM sets it only while NMIs are masked).
    const s = parseStream('config\nrun\nvmrun intercepts=nmi|intr|iret\n');
    expect(findViolation(on('v6.14'), s.config, s.events, only('vmcb02-covers-vmcb12'))).toBeNull();
    const forgetful = definePatch({
      id: 'test-recalc-l0-only', subject: "test: recalc_intercepts keeps only L0's intercepts", upstream: '-', scope: [],
      replaces: {
        recalc_intercepts: (k, v) => {
          BASE_OPS.recalc_intercepts(k, v);
          if (v.guestMode) v.vmcb02.intercepts = v.vmcb01.intercepts;
        },
      },
    });
    const version = defineVersion({ id: 'v6.14-forgetful', description: '', patches: [...reg.version('v6.14').patches, forgetful] });
    expect(findViolation(makeModel(version), s.config, s.events, only('vmcb02-covers-vmcb12')))
      .toMatchObject({ event: 'vmrun', message: "vmcb02 lacks vmcb12's intercepts IRET" });
  });

  it('no false alarms where the rule holds: 2000 generated streams on v6.14 keep vmcb02-covers-vmcb12 and vmcb12-int-state-own', () => {
    const model = on('v6.14');
    const invariants = selectInvariants(['vmcb02-covers-vmcb12', 'vmcb12-int-state-own']);
    const config = reg.select({ pair: 'all' }).config;
    let nested = 0;
    for (let i = 0; i < 2000; i++) {
      const s = generateStream(new Rng(deriveSeed(11, i)), model, config, 24);
      if (s.events.some((e) => e.kind === 'vmrun')) nested++;
      expect(findViolation(model, s.config, s.events, invariants)).toBeNull();
    }
    expect(nested).toBeGreaterThan(200); // the streams do reach L2
  });
});

describe('docs/leads.md', () => {
  it("every lead's stream still breaks the invariant its section names, on v6.14 and v6.15", () => {
    const text = readFileSync(join(dir, '../../../docs/leads.md'), 'utf8');
    const sections = text.split(/^## /m).slice(1);
    expect(sections.length).toBeGreaterThanOrEqual(5);
    let streams = 0;
    for (const sec of sections) {
      const title = sec.split('\n')[0]!;
      const id = /Invariant `([a-z0-9-]+)`/.exec(sec)?.[1];
      expect(id, title).toBeDefined();
      // Indented blocks that start with `config` are the streams.
      const blocks = sec.split(/\n\n/).filter((b) => /^ {4}config/.test(b)).map((b) => b.split('\n').map((l) => l.slice(4)).join('\n') + '\n');
      expect(blocks.length, title).toBeGreaterThan(0);
      for (const b of blocks) {
        const s = parseStream(b, title);
        for (const v of ['v6.14', 'v6.15']) expect(findViolation(on(v), s.config, s.events, only(id!)), `${title} on ${v}:\n${b}`).toMatchObject({ invariant: id, step: s.events.length - 1 });
        streams++;
      }
    }
    expect(streams).toBe(8);
  });
});
