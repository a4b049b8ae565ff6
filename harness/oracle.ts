// The minimizer's predicate for a bucket: a candidate keeps the bug iff running the pair
// on it gives the same signature.

import { makeModel } from '../models/svm/model.js';
import type { Version } from '../models/svm/versions.js';
import { executePair } from './execute.js';
import { signatureOf } from './signature.js';
import type { Oracle } from './minimize.js';

export function signatureOracle(pair: string, left: Version, right: Version, signatureText: string): Oracle {
  const ml = makeModel(left);
  const mr = makeModel(right);
  return (s) => {
    const ex = executePair(ml, mr, s, false);
    if (!ex.divergence) return { keep: false, divergenceStep: null };
    return { keep: signatureOf(pair, ex.divergence).text === signatureText, divergenceStep: ex.divergence.step };
  };
}
