// The minimizer's predicate for a bucket: a candidate keeps the bug iff running the pair
// on it gives the same signature. Executions are guarded by the watchdog, so a hanging
// model is a `hang` divergence here too instead of a hung minimizer.

import type { Model } from '../../models/svm/model.js';
import { makeModel } from '../../models/svm/model.js';
import type { Version } from '../../models/svm/versions.js';
import { executePair, progress, type Execution } from './execute.js';
import { runWithTimeout, HangError } from './watchdog.js';
import { signatureKey } from './signature.js';
import type { Oracle } from './minimize.js';
import type { Stream } from '../text/text.js';

/** executePair under a time budget: a stream that does not finish is a `hang` divergence. */
export function executeGuarded(ml: Model, mr: Model, s: Stream, ms: number): Execution {
  try {
    return runWithTimeout(() => executePair(ml, mr, s, false), ms);
  } catch (err) {
    if (!(err instanceof HangError)) throw err;
    const step = Math.max(0, progress.step);
    return {
      divergence: { kind: 'hang', step, event: s.events[step]?.kind ?? '(none)', fields: [], error: `the ${progress.side === 0 ? 'left' : 'right'} model does not return` },
      at: null,
      transitions: [],
    };
  }
}

export function signatureOracle(pair: string, left: Version, right: Version, signatureText: string, timeoutMs = 2000): Oracle {
  const ml = makeModel(left);
  const mr = makeModel(right);
  return (s) => {
    const ex = executeGuarded(ml, mr, s, timeoutMs);
    if (!ex.divergence) return { keep: false, divergenceStep: null };
    return { keep: signatureKey(pair, ex.divergence).text === signatureText, divergenceStep: ex.divergence.step };
  };
}
