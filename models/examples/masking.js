// An example of a user's model file where one frequent change masks rarer ones (the
// shape that `--no-focus` exists to measure): four independent changes on top of v6.14.
//   - frequent: svm_handle_exit counts every exit twice (every stream that exits diverges
//     at its first exit, before any of the others can show);
//   - rarer: svm_clear_vintr leaves the VINTR intercept set; nested_svm_inject_npf_exit
//     forgets the interrupt whose delivery the nested #NPF cut (so exit_int_info loses it);
//     kvm_cpu_has_injectable_intr does not see vector 0xec.
// `svmfuzz fuzz --models models/examples/masking.js --pair masking --runs 30000` reports a
// cause per change; with --no-focus the frequent one hides some of the others.

import { BUILTIN_VERSIONS, BASE_OPS, definePatch, defineVersion, definePair } from 'svmfuzz/models';
// Two of the changes are those of three-changes.js.
import { keepVintr, ignoreEc } from './three-changes.js';

const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');

export const exitsTwice = definePatch({
  id: 'example-exits-twice', subject: 'example: svm_handle_exit counts each exit twice', upstream: 'example (not upstream)', scope: [],
  replaces: {
    svm_handle_exit(k, v) {
      v.stat.exits++;
      return BASE_OPS.svm_handle_exit(k, v);
    },
  },
});

export const npfInfo = definePatch({
  id: 'example-npf-info', subject: 'example: nested_svm_inject_npf_exit forgets the interrupt being delivered', upstream: 'example (not upstream)', scope: [],
  replaces: {
    nested_svm_inject_npf_exit(k, v) {
      v.interrupt.injected = false;
      return BASE_OPS.nested_svm_inject_npf_exit(k, v);
    },
  },
});

export const versions = [
  defineVersion({ id: 'v6.14-masking', description: 'v6.14 + four independent example changes, one frequent', patches: [...v614.patches, exitsTwice, keepVintr, npfInfo, ignoreEc] }),
];

export const pairs = [
  definePair({ id: 'masking', description: 'v6.14 vs four changes, one of them frequent', left: 'v6.14', right: 'v6.14-masking', config: { nested: true, npt: true } }),
];
