// An example model file for `svmfuzz compare`: a version that changes one kernel function
// without declaring it in any patch's scope, so every behaviour it changes is reported as
// collateral (a possible regression) and attributed to this patch.
//
//   svmfuzz compare v6.14 v6.14-quiet-irq --models models/examples/collateral.js --duration 10s

import { BUILTIN_VERSIONS, BASE_OPS, definePatch, defineVersion } from 'svmfuzz/models';

const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');

/** svm_inject_irq that forgets to count irq_injections (and claims to change nothing). */
export const quietIrq = definePatch({
  id: 'example-quiet-irq',
  subject: 'example: svm_inject_irq no longer counts irq_injections',
  upstream: 'example (not upstream)',
  replaces: {
    svm_inject_irq(k, v, reinjected) {
      const before = v.stat.irq_injections;
      BASE_OPS.svm_inject_irq(k, v, reinjected);
      v.stat.irq_injections = before;
    },
  },
  scope: [],
});

export const versions = [
  defineVersion({ id: 'v6.14-quiet-irq', description: 'v6.14 + an unscoped change to svm_inject_irq', patches: [...v614.patches, quietIrq] }),
];
