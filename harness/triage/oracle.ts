// The minimizer's predicate for a cause: a candidate keeps it iff the two versions still
// diverge on it and triage gives the same cause. Among the candidates that do, one whose
// first divergence is observable is preferred to a latent-only one: once an observable
// candidate was kept, latent-only ones are rejected (the minimizer only ever proposes
// strictly simpler candidates, so the preference holds for the rest of the run).

import { makeModel } from '../../models/svm/model.js';
import { executeGuarded } from '../engine/oracle.js';
import type { Oracle } from '../engine/minimize.js';
import type { Triage } from './cause.js';

export function causeOracle(t: Triage, causeId: string, timeoutMs = 2000): Oracle {
  const ml = makeModel(t.left);
  const mr = makeModel(t.right);
  let observable = false;
  return (s) => {
    const ex = executeGuarded(ml, mr, s, timeoutMs);
    const d = ex.divergence;
    if (!d) return { keep: false, divergenceStep: null };
    const isObservable = d.kind !== 'latent';
    if (observable && !isObservable) return { keep: false, divergenceStep: d.step };
    const keep = t.of(s, d).id === causeId;
    if (keep && isObservable) observable = true;
    return { keep, divergenceStep: d.step };
  };
}
