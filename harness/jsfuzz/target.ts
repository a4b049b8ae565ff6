// The jsfuzz compatibility target: `fuzz(buf)` decodes bytes into a config and a stream
// (harness/engine/bytes.ts), runs the pair, and throws on a divergence. Built as CommonJS into
// dist/cjs (jsfuzz requires a CommonJS module and instruments what it requires, so the
// models are built as CommonJS beside it and jsfuzz sees their coverage).
// Environment: SVMFUZZ_PAIR (default all); SVMFUZZ_SIGNATURE: throw only on divergences
// whose signature (without the pair) is this one, to time one bucket (jsfuzz stops at
// the first crash).

import { BUILTIN_PAIRS, BUILTIN_VERSIONS } from '../../models/svm/versions.js';
import { defaultConfig } from '../../models/svm/config.js';
import { makeModel } from '../../models/svm/model.js';
import { executePair } from '../engine/execute.js';
import { signatureOf } from '../engine/signature.js';
import { decodeBytes } from '../engine/bytes.js';

const pairId = process.env.SVMFUZZ_PAIR ?? 'all';
const pair = BUILTIN_PAIRS.find((p) => p.id === pairId);
if (!pair) throw new Error(`SVMFUZZ_PAIR: unknown pair '${pairId}' (known: ${BUILTIN_PAIRS.map((p) => p.id).join(', ')})`);
const version = (id: string) => BUILTIN_VERSIONS.find((v) => v.id === id)!;
const left = makeModel(version(pair.left));
const right = makeModel(version(pair.right));
const base = defaultConfig(pair.config);
const wanted = process.env.SVMFUZZ_SIGNATURE ?? null;
let executions = 0;

export function fuzz(buf: Buffer): void {
  executions++;
  const ex = executePair(left, right, decodeBytes(buf, base), false);
  if (!ex.divergence) return;
  const sig = signatureOf(pair!.id, ex.divergence).text;
  const body = sig.slice(sig.indexOf('|') + 1);
  if (wanted === null || body === wanted) throw new Error(`svmfuzz divergence after ${executions} executions: ${sig}`);
}
