// Triage: from a symptom (a divergence, bucketed by its signature) to its cause (where
// the two versions first part inside the model, and the patches responsible).
//
// For one diverging stream:
//   1. the responsible patches S: the smallest set of the patches that differ between the
//      versions that alone reproduces the symptom's signature (attribute.ts);
//   2. the stream runs once more on the left version and on the left version with S,
//      every table function instrumented (calltrace.ts), and the two call trees are walked
//      in lock step to the first point where they part (walk.ts): that function, and the
//      fields that differ there, is the cause;
//   3. the verdict: the symptom is intended when every field it differs in lies in the
//      declared scope of the patches in S, else collateral. The change itself is
//      `declared` when the fields that differ at the parting lie in that scope; its
//      out-of-scope consequences stay its symptoms, except a WARN (SEPARATE_EFFECTS): that
//      is a cause of its own, kind `effect`, at the function that warns, with the change as
//      its origin. A throw or a hang: the innermost table function open at that moment.
//
// Identity. A cause id is 12 hex digits of sha1(kind | function | patches): stable across
// runs, machines and pairs (a cause seen on `all` and on `vnmi-iret` is one cause). The
// differing fields are its description, not its identity: one change can show different
// field sets at its parting (with and without a KVM request, say), and keying on them
// would split it in two.

import { createHash } from 'node:crypto';
import { inScope } from '../../models/svm/patches.js';
import type { Version } from '../../models/svm/versions.js';
import type { Divergence } from '../engine/execute.js';
import { signatureOf, signatureBody, abstractError } from '../engine/signature.js';
import type { Stream } from '../text/text.js';
import { attribute, applyPatches, patchDiff } from './attribute.js';
import { traceStream, firstDifferingStep, invariantSite, STEP_FN } from './calltrace.js';
import { firstParting, effectSite, type SnapshotDiff } from './walk.js';
import { runWithTimeout, HangError } from '../engine/watchdog.js';

export type CauseKind = 'change' | 'effect' | 'throw' | 'hang' | 'invariant';

export interface Cause {
  id: string;
  kind: CauseKind;
  /** The kernel function (table entry) the cause is in; `cpu` for the event's own code. */
  function: string;
  /** The responsible patches (those that replace the function when some do). */
  patches: string[];
  /** The fields that differ at the cause (abstracted paths), or the error for a throw. */
  fields: string[];
  /** A few of those fields with both values, by side. */
  values: SnapshotDiff[];
  /** The symptom's verdict: every differing field inside the patches' declared scope, or not. */
  verdict: 'intended' | 'collateral';
  outOfScope: string[];
  /** The table functions open at the cause, outermost first. */
  stack: string[];
  /** The stream step the cause is in. */
  step: number;
  /** For an effect: the change it follows from. */
  origin: { function: string; fields: string[] } | null;
  /** The fields that differ where the versions part are all in the patches' declared scope: the change is the declared one. */
  declared: boolean;
  /** The cause in words, sides named by version. */
  words: string;
}

const ids = new Map<string, string>();
export function causeId(kind: CauseKind, fn: string, patches: readonly string[]): string {
  const text = `${kind}|${fn}|${patches.join('+')}`;
  let id = ids.get(text);
  if (id === undefined) {
    id = createHash('sha1').update(text).digest('hex').slice(0, 12);
    ids.set(text, id);
  }
  return id;
}

/**
 * The invariant a checked version's divergence shows (`invariant.<id>`, set on the right
 * side only), when that is all the divergence is; else null.
 */
function brokenInvariant(right: Version, d: Divergence): string | null {
  if (!right.invariants?.length || d.kind !== 'observable' || !d.fields.length) return null;
  if (!d.fields.every((f) => f.path.startsWith('invariant.'))) return null;
  const f = d.fields[0]!;
  // A user's invariant: `invariant.user` holds 'id: message'.
  if (f.path === 'invariant.user') return String(f.right).split(':')[0]!;
  return f.path.slice('invariant.'.length);
}

/** Fields named by the observation or latent records, when any differ; else the raw state paths. */
function describedFields(fields: readonly SnapshotDiff[]): SnapshotDiff[] {
  const named = fields.filter((f) => !f.path.startsWith('state.'));
  return named.length ? named : [...fields];
}

const show = (x: unknown): string => (typeof x === 'string' ? (x === '' ? "''" : x) : String(x));

const items = (x: unknown): string[] | null => (typeof x === 'string' && /[|,;]/.test(x) ? x.split(/[|,;]/).filter(Boolean) : null);

/**
 * One differing field with the sides named by version: `nmi_masked: true in v6.7, false
 * in v6.8`; for a list, what one side has and the other lacks: `vmcb01.intercepts: IRET in
 * v6.7 only`.
 */
export function sideWords(f: { path: string; left: unknown; right: unknown }, leftId: string, rightId: string): string {
  const a = items(f.left) ?? (f.left === '' ? [] : null);
  const b = items(f.right) ?? (f.right === '' ? [] : null);
  if (a && b && (a.length > 1 || b.length > 1)) {
    const onlyA = a.filter((x) => !b.includes(x));
    const onlyB = b.filter((x) => !a.includes(x));
    const parts = [onlyA.length ? `${onlyA.join(', ')} in ${leftId} only` : '', onlyB.length ? `${onlyB.join(', ')} in ${rightId} only` : ''].filter(Boolean);
    if (parts.length) return `${f.path}: ${parts.join('; ')}`;
  }
  return `${f.path}: ${show(f.left)} in ${leftId}, ${show(f.right)} in ${rightId}`;
}

export interface TriageOptions {
  label: string;
  left: Version;
  right: Version;
  hangMs?: number;
  /** Trace the whole rest of the stream at once: the reference the step-first tracing is tested against. */
  wholeTraces?: boolean;
}

/** Triage for one pair of versions (the scopes and patch lists are read once). */
export class Triage {
  readonly label: string;
  readonly left: Version;
  readonly right: Version;
  private readonly hangMs: number;
  private readonly wholeTraces: boolean;
  private readonly diff: string[];
  private readonly scopes = new Map<string, readonly string[]>();
  private readonly replaces = new Map<string, ReadonlySet<string>>();
  private readonly derived = new Map<string, Version>();
  /** Milliseconds spent in triage (the bench reports the share of a campaign). */
  ms = 0;
  runs = 0;

  constructor(o: TriageOptions) {
    this.label = o.label;
    this.left = o.left;
    this.right = o.right;
    this.hangMs = o.hangMs ?? 2000;
    this.wholeTraces = o.wholeTraces ?? false;
    this.diff = patchDiff(o.left, o.right).all;
    for (const p of [...o.left.patches, ...o.right.patches]) {
      this.scopes.set(p.id, p.scope);
      this.replaces.set(p.id, new Set(Object.keys(p.replaces)));
    }
  }

  /** The version the cause is looked for against: left with exactly the responsible patches. */
  private against(patches: readonly string[]): Version {
    if (patches.length === this.diff.length) return this.right;
    const key = patches.join('+');
    let v = this.derived.get(key);
    if (!v) {
      v = applyPatches(this.left, this.right, new Set(patches));
      this.derived.set(key, v);
    }
    return v;
  }

  /** The cause of the divergence `d` that `stream` shows. */
  of(stream: Stream, d: Divergence): Cause {
    const t0 = performance.now();
    try {
      this.runs++;
      if (d.kind === 'hang') return this.triage(stream, d);
      // One guard for the whole triage (its runs nest inside it); should a bisection step
      // or a trace hang after all, triage again with each run guarded on its own, so the
      // trace that hangs tells where.
      try {
        return runWithTimeout(() => this.triage(stream, d), this.hangMs * 8);
      } catch (err) {
        if (!(err instanceof HangError)) throw err;
        return this.triage(stream, d);
      }
    } finally {
      this.ms += performance.now() - t0;
    }
  }

  private triage(full: Stream, d: Divergence): Cause {
    const { left, right, label } = this;
    const broken = brokenInvariant(right, d);
    if (broken) {
      // A checked version (V vs V!all): the tables are the same, the symptom is the rule
      // broken; one cause per invariant and shape of what broke it (its message with the
      // numbers taken out: one WARN site, one kind of frame).
      const f = d.fields[0]!;
      const message = f.path === 'invariant.user' ? String(f.right).slice(broken.length + 2) : String(f.right);
      const shape = message.replace(/0x[0-9a-f]+|\d+/g, 'N');
      // The kernel function in whose code the state broke the rule for good (the check
      // evaluated at every call and return of a table function in the violating step).
      const inv = right.invariants!.find((i) => i.id === broken);
      const site = inv ? invariantSite(left, full, d.step, inv.check, this.hangMs) : { fn: STEP_FN, stack: [] };
      return {
        id: causeId('invariant', `${broken}: ${shape} @ ${site.fn}`, []), kind: 'invariant', function: site.fn, patches: [], fields: d.fields.map((x) => x.path),
        values: [], verdict: 'collateral', outOfScope: [], stack: site.stack, step: d.step, origin: null, declared: false,
        words: `${left.id} breaks the invariant ${broken}${site.fn === STEP_FN ? '' : ` in ${site.fn}`}: ${message}`,
      };
    }
    // The two versions part at or before the first differing step: nothing after it can
    // be the cause, so triage runs the prefix that ends there (a latent divergence is
    // keyed at the last step, so it keeps the whole stream).
    const stream: Stream = d.step + 1 < full.events.length ? { config: full.config, events: full.events.slice(0, d.step + 1) } : full;
    const body = signatureBody(signatureOf(label, d).text);
    const S = this.diff.length ? attribute(left, right, this.diff, stream, body, label, this.hangMs) : [];
    const other = this.against(S);
    const from = firstDifferingStep(left, other, stream, this.hangMs);
    const throwsOrHangs = d.kind === 'left-throws' || d.kind === 'right-throws' || d.kind === 'hang';
    // The sides part inside step `from` (the first after which their states differ), so
    // that step alone is traced first; the whole rest of the stream only when the walk
    // needs it (a throw or a hang, no parting in that step, or a WARN to place).
    let whole = this.wholeTraces || throwsOrHangs || from >= stream.events.length - 1;
    let tl = traceStream(left, stream, this.hangMs, from, whole ? Infinity : from);
    let tr = traceStream(other, stream, this.hangMs, from, whole ? Infinity : from);
    const traceWhole = (): void => {
      if (whole) return;
      whole = true;
      tl = traceStream(left, stream, this.hangMs, from);
      tr = traceStream(other, stream, this.hangMs, from);
    };
    const scope = S.flatMap((id) => this.scopes.get(id) ?? []);
    const narrow = (fn: string): string[] => {
      const own = S.filter((id) => this.replaces.get(id)?.has(fn));
      return own.length ? own : S;
    };
    const base = { values: [] as SnapshotDiff[], origin: null, declared: false };

    if (d.kind === 'left-throws' || d.kind === 'right-throws' || d.kind === 'hang') {
      const kind: CauseKind = d.kind === 'hang' ? 'hang' : 'throw';
      const stops = d.kind === 'left-throws' ? [tl.stop] : d.kind === 'right-throws' ? [tr.stop] : [tr.stop, tl.stop];
      const stop = stops.find((s) => s && s.kind === kind) ?? stops.find((s) => s) ?? null;
      const stack = stop?.stack ?? [];
      const fn = stack[stack.length - 1] ?? STEP_FN;
      // The side that threw (or hung) carries the code: its patch that replaces the
      // innermost replaced function on the stack, when one does; else the bisection's set.
      const side = d.kind === 'left-throws' ? left : d.kind === 'right-throws' ? other : stop === tl.stop ? left : other;
      const own = [...stack].reverse().map((f) => side.patches.filter((p) => this.replaces.get(p.id)?.has(f)).map((p) => p.id)).find((ids) => ids.length);
      const patches = own ?? narrow(fn);
      const what = kind === 'hang' ? 'does not return' : `throws: ${abstractError(stop?.message ?? d.error ?? '')}`;
      const where = d.kind === 'left-throws' ? left.id : d.kind === 'right-throws' ? right.id : side.id;
      return {
        ...base, id: causeId(kind, fn, patches), kind, function: fn, patches, fields: [what],
        verdict: 'collateral', outOfScope: [d.kind], stack, step: d.step,
        words: `${fn}${patchWords(patches)} ${what} (in ${where})`,
      };
    }

    const paths = [...new Set(d.fields.map((f) => f.path))];
    const outOfScope = paths.filter((p) => !inScope(scope, p));
    const verdict = outOfScope.length ? 'collateral' : 'intended';
    let parting = firstParting(tl, tr);
    if (!parting) {
      traceWhole();
      parting = firstParting(tl, tr);
    }
    if (!parting) {
      // Never seen on the built-in models: every difference is made by some code.
      const fn = '(unexplained)';
      return {
        ...base, id: causeId('change', fn, S), kind: 'change', function: fn, patches: S, fields: paths, verdict, outOfScope,
        stack: [], step: d.step, words: `no parting found inside the model for ${paths.join(', ')}`,
      };
    }
    const at = describedFields(parting.fields);
    const partingInScope = at.length > 0 && at.every((f) => inScope(scope, f.path));
    const separate = outOfScope.filter((p) => SEPARATE_EFFECTS.includes(p));
    if (separate.length && partingInScope) {
      traceWhole();
      const effect = effectSite(tl, tr, separate);
      if (effect && effect.fn !== parting.fn) {
        const patches = narrow(parting.fn);
        const fields = separate;
        return {
          id: causeId('effect', effect.fn, patches), kind: 'effect', function: effect.fn, patches, fields,
          values: d.fields.filter((f) => outOfScope.includes(f.path)).slice(0, 4).map((f) => ({ path: f.path, left: f.left, right: f.right })),
          verdict, outOfScope, stack: effect.stack, step: effect.step, declared: false,
          origin: { function: parting.fn, fields: at.map((f) => f.path) },
          words: `${effect.fn}${patchWords(patches)}: ${fields.join(', ')} differ, outside the declared scope; follows from ${parting.fn} changing ${at.map((f) => f.path).join(', ')}`,
        };
      }
    }
    const patches = narrow(parting.fn);
    const verb = parting.where === 'entry' ? 'passes on' : parting.where === 'calls' ? 'takes another path and leaves' : 'leaves';
    return {
      ...base, id: causeId('change', parting.fn, patches), kind: 'change', function: parting.fn, patches,
      fields: at.map((f) => f.path), values: at.slice(0, 4), verdict, outOfScope, stack: parting.stack, step: parting.step,
      declared: partingInScope,
      words: `${parting.fn}${patchWords(patches)} ${verb} ${at.map((f) => f.path).join(', ')} different (${at.slice(0, 2).map((f) => sideWords(f, left.id, right.id)).join('; ')})`,
    };
  }
}

/**
 * Out-of-scope differences that are a cause of their own even when the change that leads
 * there is the declared one: a WARN is a host-side event (a denial of service under
 * panic_on_warn), so one that a change makes reachable, or unreachable, is reported at the
 * function that warns (e.g. the svm_enable_nmi_window WARN that 72046d0a makes reachable),
 * not folded into the change as one more consequence. Every other difference a declared
 * change leads to (an extra exit moves counters, where the vCPU is, what userspace sees)
 * is a symptom of that change, outside scope or not.
 */
export const SEPARATE_EFFECTS: readonly string[] = ['warns'];

const patchWords = (patches: readonly string[]): string => (patches.length ? ` [${patches.join('+')}]` : '');
