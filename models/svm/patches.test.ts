// The user-patch API: a scope names real fields, and a patch body can use KVM's helpers
// and names (requests, WARN_ON_ONCE, exit codes) from the public model API.

import { describe, expect, it } from 'vitest';
import * as api from '../index.js';

describe('definePatch', () => {
  const patch = (scope: string[]) => ({ id: 'p', subject: 's', upstream: '-', replaces: {}, scope });

  it('accepts observation, latent and state paths, and prefixes that match one', () => {
    expect(() => api.definePatch(patch(['exits', 'nmi_masked', 'vmcb01.intercepts', 'state.hw.vmrunInStiShadow', 'stat.*', 'state.hw.*']))).not.toThrow();
  });

  it('rejects a scope path that names no field (a typo would make every difference collateral)', () => {
    expect(() => api.definePatch(patch(['nmi_maskd']))).toThrow(/patch p: scope path 'nmi_maskd' is not an observation field/);
    expect(() => api.definePatch(patch(['state.hw.noSuchField']))).toThrow(/'state\.hw\.noSuchField'/);
    expect(() => api.definePatch(patch(['nothing.*']))).toThrow(/'nothing\.\*'/);
  });
});

describe('the public model API for patch bodies', () => {
  it('exports KVM requests, WARN_ON_ONCE and the exit codes', () => {
    const v = api.createState();
    api.kvm_make_request(v, api.REQ.EVENT);
    expect(api.kvm_check_request(v, api.REQ.EVENT)).toBe(true);
    expect(api.kvm_check_request(v, api.REQ.EVENT)).toBe(false);
    expect(api.WARN_ON_ONCE(v, true, 'site')).toBe(true);
    expect(v.warned).toEqual(['site']);
    expect([api.SVM_EXIT_IRET, api.SVM_EXIT_NPF, api.SVM_EXIT_VINTR]).toEqual([0x74, 0x400, 0x64]);
  });

  it('a release version carries the upstream patches up to it and lists the changes it does not model', () => {
    const v = (id: string) => api.BUILTIN_VERSIONS.find((x) => x.id === id)!;
    expect(v('v6.7').patches).toEqual([]);
    expect(v('v6.8-rc1').patches.map((p) => p.id)).toEqual(['72046d0a']);
    expect(v('v6.10').patches.map((p) => p.id)).toEqual(['72046d0a', '6231c9e1', 'b4bd5564']);
    expect(v('v6.14').patches.map((p) => p.id)).toEqual(['72046d0a', '6231c9e1', 'b4bd5564', '1876dd69', 'be45bc4e']);
    // 1876dd69's fastpath half (v6.12) is not modelled: listed from v6.12 on, not before.
    expect(v('v6.14').differs?.map((d) => d.commit.slice(0, 12))).toContain('1876dd69dfe8');
    expect(v('v6.10').differs?.map((d) => d.commit.slice(0, 12))).not.toContain('1876dd69dfe8');
  });

  it('each seed pair differs by exactly its seed patch', () => {
    const reg = new api.Registry();
    const diff = (pair: string) => {
      const p = reg.pair(pair);
      const l = reg.version(p.left).patches.map((x) => x.id);
      return reg.version(p.right).patches.map((x) => x.id).filter((id) => !l.includes(id));
    };
    expect(diff('vnmi-iret')).toEqual(['72046d0a']);
    expect(diff('sti-shadow')).toEqual(['be45bc4e']);
    expect(diff('all')).toEqual(expect.arrayContaining(['72046d0a', 'be45bc4e']));
  });
});
