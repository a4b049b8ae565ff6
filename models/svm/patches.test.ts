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

  it('a version lists the upstream changes it knowingly does not model (v6.14 lacks b4bd55646747)', () => {
    const v614 = api.BUILTIN_VERSIONS.find((v) => v.id === 'v6.14')!;
    expect(v614.differs?.map((d) => d.commit.slice(0, 12))).toContain('b4bd55646747');
  });
});
