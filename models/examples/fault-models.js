// An example of a user's model file (plain JavaScript, no build step):
//
//   svmfuzz list --models models/examples/fault-models.js
//   svmfuzz fuzz --models models/examples/fault-models.js --pair faults --duration 20s
//
// It imports the model API through the package's own export, so a copy of this file
// anywhere on disk works the same. It adds patches on top of v6.14 that misbehave the
// way a broken model can: one throws (like a kernel BUG()), one never returns, one kills
// its thread. The fuzzer must report the first two as findings and survive the third.

import { BUILTIN_VERSIONS, BASE_OPS, definePatch, defineVersion, definePair } from 'svmfuzz/models';

const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');

/** BUG() when KVM injects IRQ vector 0xec. */
export const bugOnIrqEc = definePatch({
  id: 'example-bug-irq-ec',
  subject: 'example: BUG() in svm_inject_irq for vector 0xec',
  upstream: 'example (not upstream)',
  replaces: {
    svm_inject_irq(k, v, reinjected) {
      if (v.interrupt.nr === 0xec) throw new Error('BUG: example fault, svm_inject_irq(0xec)');
      return BASE_OPS.svm_inject_irq(k, v, reinjected);
    },
  },
  scope: [],
});

/** Never returns from iret_interception while L2 runs. */
export const hangOnL2Iret = definePatch({
  id: 'example-hang-l2-iret',
  subject: 'example: iret_interception loops forever for an L2 IRET',
  upstream: 'example (not upstream)',
  replaces: {
    iret_interception(k, v) {
      if (v.guestMode) for (;;) { /* spin */ }
      return BASE_OPS.iret_interception(k, v);
    },
  },
  scope: [],
});

/** Ends its thread (process.exit in a worker) on a triple fault of L2. */
export const exitOnShutdown = definePatch({
  id: 'example-exit-shutdown',
  subject: 'example: process.exit in shutdown_interception while L2 runs',
  upstream: 'example (not upstream)',
  replaces: {
    shutdown_interception(k, v) {
      if (v.guestMode) process.exit(42);
      return BASE_OPS.shutdown_interception(k, v);
    },
  },
  scope: [],
});

export const versions = [
  defineVersion({ id: 'v6.14-bug', description: 'v6.14 + a BUG() on IRQ 0xec', patches: [...v614.patches, bugOnIrqEc] }),
  defineVersion({ id: 'v6.14-hang', description: 'v6.14 + a hang on L2 IRET exits', patches: [...v614.patches, hangOnL2Iret] }),
  defineVersion({ id: 'v6.14-exit', description: 'v6.14 + process.exit on an L2 SHUTDOWN', patches: [...v614.patches, exitOnShutdown] }),
];

export const pairs = [
  definePair({ id: 'faults', description: 'a throwing left model vs a hanging right model', left: 'v6.14-bug', right: 'v6.14-hang', config: {} }),
  definePair({ id: 'lane-killer', description: 'v6.14 vs a model that kills its thread', left: 'v6.14', right: 'v6.14-exit', config: {} }),
];
