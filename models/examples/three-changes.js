// An example of a user's model file with three independent changes on top of v6.14, each
// in another kernel function and each of another shape:
//   - a predicate that answers differently (kvm_cpu_has_injectable_intr ignores vector 0xec),
//   - a function called from several places that forgets part of its work
//     (svm_clear_vintr leaves the VINTR intercept set),
//   - a plain state change (svm_inject_irq counts every injection twice).
// `svmfuzz fuzz --models models/examples/three-changes.js --pair three --duration 30s`
// reports three causes, one per change, each naming its function (triage tests run it).

import { BUILTIN_VERSIONS, BASE_OPS, definePatch, defineVersion, definePair } from 'svmfuzz/models';

const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');

export const ignoreEc = definePatch({
  id: 'example-ignore-0xec',
  subject: 'example: kvm_cpu_has_injectable_intr does not see vector 0xec',
  upstream: 'example (not upstream)',
  replaces: {
    kvm_cpu_has_injectable_intr(k, v) {
      if (v.apicIrr[0] === 0xec) return false;
      return BASE_OPS.kvm_cpu_has_injectable_intr(k, v);
    },
  },
  scope: [],
});

export const keepVintr = definePatch({
  id: 'example-keep-vintr',
  subject: 'example: svm_clear_vintr leaves the VINTR intercept set',
  upstream: 'example (not upstream)',
  replaces: {
    svm_clear_vintr(k, v) {
      const intercepts = v.vmcb01.intercepts;
      BASE_OPS.svm_clear_vintr(k, v);
      v.vmcb01.intercepts = intercepts;
    },
  },
  scope: [],
});

export const countTwice = definePatch({
  id: 'example-count-twice',
  subject: 'example: svm_inject_irq counts each injection twice',
  upstream: 'example (not upstream)',
  replaces: {
    svm_inject_irq(k, v, reinjected) {
      BASE_OPS.svm_inject_irq(k, v, reinjected);
      v.stat.irq_injections++;
    },
  },
  scope: [],
});

export const versions = [
  defineVersion({ id: 'v6.14-three', description: 'v6.14 + three independent example changes', patches: [...v614.patches, ignoreEc, keepVintr, countTwice] }),
];

export const pairs = [
  definePair({ id: 'three', description: 'v6.14 vs three independent changes', left: 'v6.14', right: 'v6.14-three', config: { nested: true } }),
];
