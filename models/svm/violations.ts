// Runs a stream on one version against the invariants (invariants.ts): the first violation.

import { createState } from './state.js';
import { advance, type Model } from './model.js';
import { INVARIANTS, type InvariantSpec } from './invariants.js';
import type { SvmEvent } from './events.js';
import type { SvmConfig } from './config.js';

export interface Violation {
  step: number;
  event: string;
  invariant: string;
  message: string;
}

/**
 * Runs `events` on `model` from a fresh state and checks the invariants (all, or those
 * named) after every step that ran; returns the first violation, or null.
 */
export function findViolation(model: Model, config: SvmConfig, events: readonly SvmEvent[], invariants: readonly InvariantSpec[] = INVARIANTS): Violation | null {
  const v = createState(config);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    advance(model, v, e);
    if (v.log.skipped) continue;
    for (const inv of invariants) {
      const message = inv.check(v, e);
      if (message !== null) return { step: i, event: e.kind, invariant: inv.id, message };
    }
  }
  return null;
}

