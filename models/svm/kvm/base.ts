// The base function table: KVM before either seed fix (v6.7 behaviour on the modelled paths).

import { x86 } from './x86.js';
import { svm } from './svm.js';
import { nested } from './nested.js';
import type { KvmOps } from './ops.js';

export const BASE_OPS: Readonly<KvmOps> = Object.freeze({ ...x86, ...svm, ...nested } satisfies KvmOps);
