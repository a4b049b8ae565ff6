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
import { advanceStream, makeModel } from './model.js';
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

  /** v6.14 with one function of the table replaced: a KVM built to break a rule. */
  const broken = (id: string, replaces: Parameters<typeof definePatch>[0]['replaces']) => makeModel(defineVersion({
    id: `v6.14-${id}`, description: '', patches: [...reg.version('v6.14').patches, definePatch({ id, subject: `test: ${id}`, upstream: '-', scope: [], replaces })],
  }));

  it('vmcb12-exit-int-info: an interrupted delivery is reported, a delivered event is not; a KVM that keeps an injected interrupt after L2 took it is caught', () => {
    // L1 does not intercept INTR: KVM injects L1's interrupt into L2, which takes it; L2's HLT exits to L1.
    const taken = parseStream('config\nrun\nvmrun intercepts=hlt\nioio\nirq\nrun\nnop\nhlt\n');
    expect(findViolation(on('v6.14'), taken.config, taken.events, only('vmcb12-exit-int-info'))).toBeNull();
    // L1's own EVENTINJ cut by a fault L1 intercepts: exit_int_info is that event.
    const cut = parseStream('config\nrun\nvmrun exceptions=NP inject=intr_0x30\ndelivery_fault cause=exception vector=NP\n');
    expect(findViolation(on('v6.14'), cut.config, cut.events, only('vmcb12-exit-int-info'))).toBeNull();
    expect(advanceStream(on('v6.14'), cut.config, cut.events).vmcb12.exitIntInfo).toBe(0x80000030);
    const stale = broken('test-interrupt-kept', {
      svm_complete_interrupts: (k, v) => {
        const was = { ...v.interrupt };
        BASE_OPS.svm_complete_interrupts(k, v);
        if (was.injected && !v.interrupt.injected) v.interrupt = was;
      },
    });
    expect(findViolation(stale, taken.config, taken.events, only('vmcb12-exit-int-info')))
      .toMatchObject({ step: 6, event: 'hlt', message: "vmcb12.exit_int_info = 0x80000030 names no event L2 was given since L1's VMRUN" });
  });

  it('nmi-accounting: three NMIs at once are two delivered and one dropped; a KVM that loses one or makes one up is caught', () => {
    const three = parseStream('config\nnmi\nnmi\nnmi\nrun\nnop\niret\nnop\niret\nnop\n');
    expect(findViolation(on('v6.14'), three.config, three.events, only('nmi-accounting'))).toBeNull();
    const end = advanceStream(on('v6.14'), three.config, three.events);
    expect(end.l1.nmis).toBe(2); // the at-most-two rule dropped the third
    // process_nmi that forgets nmi_queued: the NMI is gone at the KVM_RUN that processed it.
    const lost = broken('test-process-nmi-drops', { process_nmi: (k, v) => { v.nmiQueued = 0; } });
    const one = parseStream('config\nnmi\nrun\nnop\n');
    expect(findViolation(lost, one.config, one.events, only('nmi-accounting')))
      .toMatchObject({ step: 1, event: 'run', message: expect.stringMatching(/^an NMI was raised and not taken, yet KVM holds 0/) });
    // kvm_inject_nmi that counts one NMI twice: L1 takes a second NMI nobody raised.
    const twice = broken('test-inject-nmi-twice', { kvm_inject_nmi: (k, v) => { BASE_OPS.kvm_inject_nmi(k, v); BASE_OPS.kvm_inject_nmi(k, v); } });
    const s = parseStream('config vgif=0\nnmi\nrun\nnop\niret\nnop\n');
    expect(findViolation(on('v6.14'), s.config, s.events, only('nmi-accounting'))).toBeNull();
    expect(findViolation(twice, s.config, s.events, only('nmi-accounting')))
      .toMatchObject({ step: 4, event: 'nop', message: 'a guest took 1 NMI(s) beyond those raised (at most 2 are held at once)' });
  });

  it('nmi-delivered: two NMIs reach L1 one after the other; a KVM that never finds NMIs allowed is caught within three L1 instructions', () => {
    for (const cfg of ['config', 'config vgif=0']) {
      const s = parseStream(`${cfg}\nnmi\nnmi\nrun\nnop\niret\nnop\nnop\nnop\n`);
      expect(findViolation(on('v6.14'), s.config, s.events, only('nmi-delivered')), cfg).toBeNull();
      expect(advanceStream(on('v6.14'), s.config, s.events).l1.nmis, cfg).toBe(2);
    }
    const never = broken('test-nmi-never-allowed', { svm_nmi_allowed: () => 0 });
    const s = parseStream('config vgif=0\nnmi\nrun\nnop\nnop\nnop\nnop\n');
    expect(findViolation(never, s.config, s.events, only('nmi-delivered')))
      .toMatchObject({ step: 4, message: 'an unblocked NMI has been pending for 3 L1 instructions' });
    // An NMI that L1's own handler blocks is not owed yet: L1 in its NMI handler, a second one pending.
    const blocked = parseStream('config vgif=0\nnmi\nnmi\nrun\nnop\nnop\nnop\nnop\n');
    expect(findViolation(never, blocked.config, blocked.events, only('nmi-delivered'))).toMatchObject({ step: 5 });
    expect(findViolation(on('v6.14'), blocked.config, blocked.events, only('nmi-delivered'))).toBeNull();
  });

  it("irq-delivered: interrupts reach L1 when IF is set and wait while it is clear; a KVM that never sees the LAPIC's interrupt is caught", () => {
    const s = parseStream('config\nirq vector=0x30\nirq vector=0x68\nrun\nnop\niret\nnop\niret\nnop\n');
    expect(findViolation(on('v6.14'), s.config, s.events, only('irq-delivered'))).toBeNull();
    expect(advanceStream(on('v6.14'), s.config, s.events).l1.irqs).toBe(2);
    const masked = parseStream('config\nrun\ncli\nioio\nirq\nrun\nnop\nnop\nnop\nnop\n');
    expect(findViolation(on('v6.14'), masked.config, masked.events, only('irq-delivered'))).toBeNull();
    // (A KVM whose svm_interrupt_allowed says no opens VINTR windows forever: a livelock, not this rule.)
    const never = broken('test-irq-not-injectable', { kvm_cpu_has_injectable_intr: () => false });
    const one = parseStream('config\nirq\nrun\nnop\nnop\nnop\nnop\n');
    expect(findViolation(never, one.config, one.events, only('irq-delivered')))
      .toMatchObject({ step: 4, message: 'interrupt 0x30 has been pending and unblocked for 3 L1 instructions' });
  });

  it('halt-wakes: an interrupt wakes a halted L1 (with IF set, not with IF clear); a KVM whose halt ignores events is caught', () => {
    const wakes = parseStream('config\nrun\nhlt\nirq\nrun\n');
    expect(findViolation(on('v6.14'), wakes.config, wakes.events, only('halt-wakes'))).toBeNull();
    expect(advanceStream(on('v6.14'), wakes.config, wakes.events).mpState).toBe('RUNNABLE');
    const sleeps = parseStream('config\nrun\ncli\nhlt\nirq\nrun\n');
    expect(findViolation(on('v6.14'), sleeps.config, sleeps.events, only('halt-wakes'))).toBeNull();
    expect(advanceStream(on('v6.14'), sleeps.config, sleeps.events).mpState).toBe('HALTED');
    const deaf = broken('test-halt-deaf', { kvm_vcpu_has_events: () => false });
    expect(findViolation(deaf, wakes.config, wakes.events, only('halt-wakes')))
      .toMatchObject({ step: 3, event: 'run', message: 'KVM_RUN left L1 halted with an unblocked interrupt pending' });
  });

  it('no false alarms from the oracle rules (exit_int_info, NMI accounting, liveness, halt): v6.14 with candidate fixes for leads F, G and H (docs/leads.md) keeps all five over 4000 generated streams; v6.14 itself does not', () => {
    const V_NMI_BLOCKING = 1 << 12;
    const fixed = broken('test-lead-fixes', {
      // G: a vNMI pending in V_NMI_PENDING wakes a halted vCPU.
      kvm_vcpu_has_events: (k, v) => BASE_OPS.kvm_vcpu_has_events(k, v) || (k.svm_is_vnmi_pending(k, v) && k.svm_nmi_allowed(k, v, false) !== 0),
      // H: INIT forgets KVM's NMI masking along with the IRET intercept.
      svm_vcpu_reset: (k, v, init) => { BASE_OPS.svm_vcpu_reset(k, v, init); v.nmiMasked = false; v.awaitingIretCompletion = false; },
      // F (and B): with nested vNMI, L2's V_NMI_BLOCKING stays L2's.
      nested_svm_vmexit: (k, v) => {
        const keep = v.vmcb01.intCtl & V_NMI_BLOCKING;
        const nestedVnmi = k.nested_vnmi_enabled(k, v);
        BASE_OPS.nested_svm_vmexit(k, v);
        if (nestedVnmi) v.vmcb01.intCtl = (v.vmcb01.intCtl & ~V_NMI_BLOCKING) | keep;
      },
    });
    const ids = ['vmcb12-exit-int-info', 'nmi-accounting', 'nmi-delivered', 'irq-delivered', 'halt-wakes'];
    const config = reg.select({ pair: 'all' }).config;
    const onV614: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
    for (let i = 0; i < 4000; i++) {
      const s = generateStream(new Rng(deriveSeed(11, i)), fixed, config, 24);
      for (const id of ids) {
        expect(findViolation(fixed, s.config, s.events, only(id)), `${id}, stream ${i}`).toBeNull();
        if (findViolation(on('v6.14'), s.config, s.events, only(id))) onV614[id]!++;
      }
    }
    expect(onV614['nmi-delivered']).toBeGreaterThan(0);
    expect(onV614['halt-wakes']).toBeGreaterThan(0);
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
    expect(streams).toBe(17);
  });
});
