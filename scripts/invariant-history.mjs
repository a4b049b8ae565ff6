#!/usr/bin/env node
// The invariants over the release timeline: the same generated streams (made on the newest
// version, pair `all`'s config) run on every built-in version, each invariant checked on
// its own (so one violation does not hide another); prints, per version and invariant, how
// many streams break it and the first one. A fix whose bug breaks an invariant shows as
// streams before its release and none (or fewer: another path) after.
//
// Usage: npm run build && node scripts/invariant-history.mjs [--streams N] [--seed S] [--json]
// (from the dist build; about 30 s for 20000 streams on this 2-core machine)

import { Registry } from '../dist/models/registry.js';
import { makeModel } from '../dist/models/svm/model.js';
import { INVARIANTS } from '../dist/models/svm/invariants.js';
import { findViolation } from '../dist/models/svm/violations.js';
import { generateStream } from '../dist/harness/engine/generate.js';
import { Rng, deriveSeed } from '../dist/harness/engine/rng.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`invariant-history: ${name} takes a positive integer (got '${process.argv[i + 1]}')`);
    process.exit(2);
  }
  return n;
};
const streams = arg('--streams', 20000);
const seed = arg('--seed', 1);
const reg = new Registry();
const versions = [...reg.versions.values()];
const config = reg.select({ pair: 'all' }).config;
const gen = makeModel(versions[versions.length - 1]);
const models = versions.map((v) => makeModel(v));
const rows = versions.map((v) => ({ version: v.id, invariants: Object.fromEntries(INVARIANTS.map((i) => [i.id, { streams: 0, first: null, message: null }])) }));
const t0 = performance.now();
for (let n = 0; n < streams; n++) {
  const s = generateStream(new Rng(deriveSeed(seed, n)), gen, config, 24);
  models.forEach((m, vi) => {
    for (const inv of INVARIANTS) {
      const hit = findViolation(m, s.config, s.events, [inv]);
      if (!hit) continue;
      const r = rows[vi].invariants[inv.id];
      r.streams++;
      if (r.first === null) { r.first = n; r.message = hit.message; }
    }
  });
}
const seconds = (performance.now() - t0) / 1000;
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ streams, seed, seconds, rows }, null, 2));
} else {
  console.log(`${streams} streams (seed ${seed}, pair all's config, generated on ${versions[versions.length - 1].id}), ${seconds.toFixed(1)} s; streams breaking each invariant (first stream):`);
  console.log(`| version | ${INVARIANTS.map((i) => i.id).join(' | ')} |`);
  console.log(`|---|${INVARIANTS.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.version} | ${INVARIANTS.map((i) => { const x = r.invariants[i.id]; return x.streams ? `${x.streams} (#${x.first})` : '0'; }).join(' | ')} |`);
}
