// End to end: the built CLI, run as a user runs it (node dist/harness/cli.js ...).

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, run, tmp } from './testing/cli.js';

const scen = (f: string) => join(root, 'models/svm/scenarios', f);


describe('svmfuzz list', () => {
  it('lists versions with patches, pairs, alphabet and knobs as JSON', () => {
    const r = run('list', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.versions.map((v: { id: string }) => v.id)).toEqual(['v6.4', 'v6.7', 'v6.8-rc1', 'v6.8', 'v6.10', 'v6.12', 'v6.13', 'v6.14', 'v6.15']);
    const v614 = j.versions.find((v: { id: string }) => v.id === 'v6.14');
    expect(v614.patches.map((p: { id: string }) => p.id)).toEqual(['72046d0a', '6231c9e1', 'b4bd5564', '1876dd69', 'be45bc4e']);
    expect(v614.patches.find((p: { id: string }) => p.id === 'be45bc4e').release).toBe('v6.14');
    // What a release knowingly lacks is listed with its commit, subject and release.
    expect(v614.differs.find((d: { commit: string }) => d.commit.startsWith('1876dd69dfe8'))).toMatchObject({ release: 'v6.12' });
    expect(j.pairs.map((p: { id: string }) => p.id)).toEqual(['vnmi-iret', 'sti-shadow', 'all', 'v6.7-to-v6.8', 'v6.8-to-v6.10', 'v6.10-to-v6.12']);
    expect(j.alphabet.map((a: { kind: string }) => a.kind)).toContain('delivery_fault');
    expect(j.knobs.find((k: { name: string }) => k.name === 'vnmiHonoursShadow').tag).toBe('UNSURE');
    // Every knob's reference points at a section of the model reference in the repository.
    const headings = readFileSync(join(root, 'docs/model.md'), 'utf8').split('\n').filter((l) => l.startsWith('### ')).map((l) => l.slice(4).trim().toLowerCase());
    for (const k of j.knobs as { name: string; reference: string }[]) {
      expect(k.reference).toBe(`docs/model.md#${k.name.toLowerCase()}`);
      expect(headings, k.name).toContain(k.name.toLowerCase());
    }
  });

  it('shows the invariants, with their sources, in text and JSON', () => {
    const j = JSON.parse(run('list', '--json').out);
    const ids = (j.invariants as { id: string; source: string }[]).map((i) => i.id);
    expect(ids).toEqual(expect.arrayContaining(['no-warn', 'vmcb12-int-state-own', 'vmcb02-covers-vmcb12']));
    const text = run('list').out;
    expect(text).toMatch(/^invariants \(rules every version must keep/m);
    for (const id of ids) expect(text).toMatch(new RegExp(`^  ${id} `, 'm'));
  });
});

describe('svmfuzz check --invariants (a version against the invariants)', () => {
  const summary = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  it("finds seed 2's host-shadow leak on v6.13 as violations, one cause, minimized and replayable; none on v6.14", () => {
    const out = join(tmp(), 'out');
    const r = run('check', '--version', 'v6.13', '--invariants', 'vmcb12-int-state-own', '--runs', '30000', '--workers', '1', '--seed', '1', '--out', out);
    expect(r.code, r.err).toBe(0);
    const s = summary(out);
    expect(s.buckets.length).toBeGreaterThan(0);
    for (const b of s.buckets as { signature: string }[]) expect(b.signature).toMatch(/^v6\.13\.\.v6\.13!vmcb12-int-state-own\|observable\|\w+\|invariant\.vmcb12-int-state-own$/);
    expect(s.causes).toHaveLength(1);
    expect(s.causes[0]).toMatchObject({ kind: 'invariant', patches: [] });
    // The kernel function is the one after whose return the state broke the rule: the copy of int_state into vmcb12.
    expect(s.causes[0]).toMatchObject({ function: 'nested_svm_vmexit' });
    expect(s.causes[0].words).toMatch(/^v6\.13 breaks the invariant vmcb12-int-state-own in nested_svm_vmexit: vmcb12\.int_state = 1 comes from the host STI shadow/);
    const replay = run('replay', out);
    expect(replay.code, replay.out).toBe(0);
    expect(replay.out).toMatch(/^PASS .*min\.msgpack/m);

    const fixed = join(tmp(), 'fixed');
    const f = run('check', '--version', 'v6.14', '--invariants', 'vmcb12-int-state-own', '--runs', '30000', '--workers', '1', '--seed', '1', '--out', fixed);
    expect(f.code, f.err).toBe(0);
    expect(summary(fixed).buckets).toEqual([]);
  }, 120_000);

  it('a list of invariants: both are checked, in one checked version named with +', () => {
    const out = join(tmp(), 'two');
    const r = run('check', '--version', 'v6.14', '--invariants', 'halt-wakes,vmcb02-covers-vmcb12', '--runs', '100000', '--workers', '1', '--seed', '1', '--no-minimize', '--out', out);
    expect(r.code, r.err).toBe(0);
    const s = summary(out);
    expect(s.right.id).toBe('v6.14!halt-wakes+vmcb02-covers-vmcb12');
    // Lead G (docs/leads.md): a halted L1 that does not wake for a vNMI; vmcb02 covers vmcb12 on v6.14.
    expect(s.buckets.length).toBeGreaterThan(0);
    for (const b of s.buckets as { signature: string }[]) expect(b.signature).toMatch(/\|invariant\.halt-wakes$/);
  }, 120_000);

  it('bad input: exit 2 naming the unknown invariant, or the missing --version', () => {
    const bad = run('check', '--version', 'v6.14', '--invariants', 'nope', '--runs', '10');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown invariant 'nope' \(known: no-warn, /);
    const none = run('check', '--invariants', '--runs', '10');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/give the version to check with --version V/);
  });
});

describe("a user's invariants (a model file's `invariants`)", () => {
  const file = join(root, 'models/examples/invariants.js');
  it('are listed with their file, checked by check --invariants like the built-ins, and their reproducers replay', () => {
    const j = JSON.parse(run('list', '--json', '--models', file).out);
    expect(j.invariants.find((i: { id: string }) => i.id === 'reach-shutdown')).toMatchObject({ file: expect.stringMatching(/invariants\.js$/) });
    expect(run('list', '--models', file).out).toMatch(/^  reach-shutdown .*\n.*\(from .*invariants\.js\)$/m);
    const out = join(tmp(), 'out');
    const r = run('check', '--models', file, '--version', 'v6.14', '--invariants', 'reach-shutdown', '--runs', '20000', '--workers', '1', '--seed', '1', '--out', out);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.buckets.length).toBeGreaterThan(0);
    for (const b of s.buckets as { signature: string }[]) expect(b.signature).toMatch(/\|invariant\.user$/);
    expect(s.causes).toHaveLength(1);
    expect(s.causes[0].words).toMatch(/^v6\.14 breaks the invariant reach-shutdown in \w+: KVM_RUN ended with KVM_EXIT_SHUTDOWN$/);
    // Without the model file the checked version cannot be rebuilt: replay says so, with it every entry passes.
    expect(run('replay', out).code).not.toBe(0);
    const replay = run('replay', '--models', file, out);
    expect(replay.code, replay.out).toBe(0);
    expect(replay.out).toMatch(/^PASS .*min\.msgpack/m);
  }, 120_000);

  it('a bad invariant in a model file: exit 2 naming the file and what is wrong', () => {
    const dir = tmp();
    const cases: [string, RegExp][] = [
      ["export const invariants = [{ id: 'no-check', doc: 'd', source: 's' }];", /no-check': 'check' must be a function/],
      ["export const invariants = [{ id: 'Bad Id', doc: 'd', source: 's', check: () => null }];", /invariant id "Bad Id": use lower-case letters/],
      ["export const invariants = [{ id: 'no-warn', doc: 'd', source: 's', check: () => null }];", /invariant 'no-warn' is a built-in one/],
      ["export const invariants = { id: 'x' };", /'versions', 'pairs' and 'invariants' must be arrays/],
    ];
    cases.forEach(([src, msg], i) => {
      const f = join(dir, `m${i}.js`);
      writeFileSync(f, `${src}\n`);
      const r = run('list', '--models', f);
      expect(r.code, src).toBe(2);
      expect(r.err).toContain(f);
      expect(r.err).toMatch(msg);
    });
  });
});

describe('environment', () => {
  it('a bad SVMFUZZ_REPORT_HEAP_MB: exit 2 naming the variable, before a campaign starts (its report comes at the end)', () => {
    const out = join(tmp(), 'out');
    process.env.SVMFUZZ_REPORT_HEAP_MB = 'lots';
    let r;
    try {
      r = run('fuzz', '--pair', 'all', '--workers', '1', '--runs', '100', '--out', out);
    } finally {
      delete process.env.SVMFUZZ_REPORT_HEAP_MB;
    }
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/SVMFUZZ_REPORT_HEAP_MB: 'lots' is not a number of megabytes/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('svmfuzz check', () => {
  it('runs every conformance scenario on the pairs and versions it names', () => {
    const r = run('check', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.failed).toBe(0);
    expect(j.results.some((x: { file: string; on: string }) => x.file.endsWith('k3-userspace-pio-completes-at-next-run.txt') && x.on === 'v6.7')).toBe(true);
    expect(j.results.some((x: { on: string }) => x.on === 'vnmi-iret')).toBe(true);
  });

  it("--version runs the kernel's expectations on a user's version: a defect put back fails, exit 1, naming file, step and field", () => {
    const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-check-'));
    const models = join(dir, 'early-pio.mjs');
    writeFileSync(models, [
      "import { definePatch, defineVersion, BUILTIN_VERSIONS } from 'svmfuzz/models';",
      "const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');",
      "const early = definePatch({ id: 'early-pio', subject: 'skip the OUT at the exit', upstream: '-', scope: [], replaces: {",
      "  io_interception(k, v) { k.kvm_skip_emulated_instruction(k, v); v.runExitReason = 'IO'; return 0; } } });",
      "export const versions = [defineVersion({ id: 'mine', description: '', patches: [...v614.patches, early] })];",
    ].join('\n'));
    const r = run('check', '--version', 'mine', '--models', models);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL .*k3-userspace-pio-completes-at-next-run\.txt on mine$/m);
    expect(r.out).toMatch(/k3-userspace-pio-completes-at-next-run\.txt:\d+ on mine: step #3 latent\.L1\.rip: expected = '0x1002', got '0x1003'/);
    expect(r.out).toMatch(/^PASS .*k4-double-fault-in-l2\.txt on mine$/m);
    // A scenario that cannot be read is reported and the others still run: exit 2.
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'config\nrun\n');
    const b = run('check', bad, scen('k4-double-fault-in-l2.txt'));
    expect(b.code).toBe(2);
    expect(b.out).toMatch(/^ERROR .*bad\.txt\n  .*bad\.txt: missing '#! reference:'/m);
    expect(b.out).toMatch(/^PASS .*k4-double-fault-in-l2\.txt on v6\.14$/m);
  });
});

describe('svmfuzz trace', () => {
  it('seed 1: first divergence at the guest IRET, an IRET exit on the left only', () => {
    const r = run('trace', scen('a5-seed1-two-nmis.txt'), '--pair', 'vnmi-iret', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.firstDivergence.step).toBe(3);
    expect(j.firstDivergence.event).toBe('iret');
    expect(j.firstDivergence.fields).toContainEqual({ path: 'exits', left: 'L1:IRET', right: '' });
    expect(j.steps).toHaveLength(6);
  });

  it('seed 2: first divergence at the nested #VMEXIT on vmcb12.int_state', () => {
    const r = run('trace', scen('b4-seed2-nested-npf.txt'), '--pair', 'sti-shadow', '--json');
    const j = JSON.parse(r.out);
    expect(j.firstDivergence).toMatchObject({ step: 2, event: 'delivery_fault', fields: [{ path: 'vmcb12.int_state', left: 1, right: 0 }] });
  });

  it('text output marks the divergence and names both versions', () => {
    const r = run('trace', scen('a5-seed1-two-nmis.txt'), '--versions', 'v6.7,v6.8-rc1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^!! #3 iret$/m);
    expect(r.out).toMatch(/first divergence: step #3 \(iret\), observable, v6\.7 vs v6\.8-rc1/);
  });

  it('a control shows no divergence on every pair', () => {
    for (const pair of ['vnmi-iret', 'sti-shadow', 'all']) {
      const j = JSON.parse(run('trace', scen('b4-control-genuine-shadows.txt'), '--pair', pair, '--json').out);
      expect(j.firstDivergence).toBeNull();
    }
  });

  it('one version prints its observations', () => {
    const j = JSON.parse(run('trace', scen('a5-seed1-two-nmis.txt'), '--version', 'v6.7', '--json').out);
    expect(j.steps[3].observation.exits).toBe('L1:IRET');
  });

  it('bad stream files: exit 2 with the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-'));
    const cases: [string, string, RegExp][] = [
      ['unknown.txt', 'config\nnmi\nwarp\n', /unknown\.txt:3: unknown event 'warp'/],
      ['range.txt', 'config\nvmrun int_state=8\n', /range\.txt:2: vmrun: field 'int_state'/],
      ['header.txt', 'config vgif=\n', /header\.txt:1: knob 'vgif' has no value/],
    ];
    for (const [name, text, re] of cases) {
      writeFileSync(join(dir, name), text);
      const r = run('trace', join(dir, name), '--pair', 'all');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
    }
    const missing = run('trace', join(dir, 'nope.txt'), '--pair', 'all');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.txt: cannot read \(ENOENT\)/);
  });

  it('unknown pair or version, or a bad flag: exit 2', () => {
    expect(run('trace', scen('a5-seed1-two-nmis.txt'), '--pair', 'nope').err).toMatch(/unknown pair 'nope' \(known: vnmi-iret, sti-shadow, all, v6\.7-to-v6\.8, v6\.8-to-v6\.10, v6\.10-to-v6\.12\)/);
    expect(run('trace', scen('a5-seed1-two-nmis.txt'), '--versions', 'v6.7,v9').code).toBe(2);
    expect(run('trace', scen('a5-seed1-two-nmis.txt')).err).toMatch(/exactly one of --pair/);
    expect(run('trace', scen('a5-seed1-two-nmis.txt'), '--pair', 'all', '--bogus').code).toBe(2);
  });
});

describe('flag bounds', () => {
  it('rejects values that would silently misbehave: --hang-timeout 0 or 1ms, --workers 100000, a seed beyond 32 bits', () => {
    for (const [flag, value, msg] of [
      ['--hang-timeout', '0', /--hang-timeout: expected 50ms\.\.10m/],
      ['--hang-timeout', '1ms', /--hang-timeout: expected 50ms\.\.10m/],
      ['--workers', '100000', /--workers: expected an integer in 1\.\.256/],
      ['--seed', String(2 ** 32), /--seed: expected an integer in 0\.\.4294967295/],
    ] as const) {
      const r = run('fuzz', '--pair', 'all', '--runs', '10', flag, value, '--out', mkdtempSync(join(tmpdir(), 'svmfuzz-flags-')));
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});
