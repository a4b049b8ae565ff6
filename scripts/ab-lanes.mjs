#!/usr/bin/env node
// Side-by-side engine throughput of several builds of svmfuzz, in one process, so that a
// noisy machine slows them all alike: one lane per build (each build's own dist/), taking
// turns of 100 ms for SECONDS, then exec/s per build and the ratios to the first (of
// exec/s and of model steps/s).
//
//   node scripts/ab-lanes.mjs PAIR SECONDS ROOT [ROOT...]
//
// A ROOT is a checkout with dist/ built (`npm run build`), e.g. a git worktree of an older
// commit with node_modules linked: `git worktree add /tmp/old <commit>`,
// `ln -s "$PWD/node_modules" /tmp/old/node_modules`, `(cd /tmp/old && npm run build)`.

import { resolve } from 'node:path';

const [pair, seconds, ...roots] = process.argv.slice(2);
if (!pair || !(Number(seconds) > 0) || roots.length === 0) {
  console.error('usage: node scripts/ab-lanes.mjs PAIR SECONDS ROOT [ROOT...]');
  process.exit(2);
}
const lanes = [];
for (const r of roots) {
  const root = resolve(r);
  let Lane, Registry;
  try {
    ({ Lane } = await import(`${root}/dist/harness/engine/lane.js`));
    ({ Registry } = await import(`${root}/dist/models/registry.js`));
  } catch (err) {
    console.error(`${root}: no built svmfuzz there (${err.message.split('\n')[0]}); run npm run build in it`);
    process.exit(2);
  }
  const sel = new Registry().select({ pair });
  const lane = new Lane({ seed: 1, lane: 0, pair, left: sel.left, right: sel.right, config: sel.config, maxLen: 24, samplesPerBucket: 4, corpusCap: 2000, hangMs: 2000 });
  lane.runBatch(2000); // warm-up: JIT and an initial corpus
  lanes.push({ root, lane, execs: 0, events: 0, ms: 0 });
}
const end = Date.now() + Number(seconds) * 1000;
while (Date.now() < end) {
  for (const l of lanes) {
    const t0 = performance.now();
    while (performance.now() < t0 + 100) {
      const r = l.lane.runBatch(100);
      l.execs += r.execs;
      l.events += r.events;
    }
    l.ms += performance.now() - t0;
  }
}
// Exec/s, and model steps/s (the events of the executed streams, as the bench's engine
// section counts them): builds whose streams differ in length do different work per exec.
const first = lanes[0].execs / lanes[0].ms;
const firstSteps = lanes[0].events / lanes[0].ms;
for (const l of lanes) {
  console.log(JSON.stringify({
    pair, root: l.root, execPerSec: Math.round((l.execs / l.ms) * 1000), eventsPerExec: +(l.events / l.execs).toFixed(1),
    vsFirst: +(l.execs / l.ms / first).toFixed(3), stepsVsFirst: +(l.events / l.ms / firstSteps).toFixed(3),
  }));
}
