// The base function table: KVM v6.4..v6.7 on the modelled paths (before both seed fixes).

import { x86 } from './x86.js';
import { svm } from './svm.js';
import { nested, nestedState } from './nested.js';
import type { KvmOps } from './ops.js';

export const BASE_OPS: Readonly<KvmOps> = Object.freeze({ ...x86, ...svm, ...nested, ...nestedState } satisfies KvmOps);
