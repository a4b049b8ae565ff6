// A model file for fault tests: v6.14 plus a patch that diverges (stat.nmi_injections) and
// dies, by process.exit or by allocating without bound, only in the thread named by
// `where` (recognised by the keys of that thread's workerData). So the lanes find its
// divergences and only the thread under test is killed. The allocation doubles a string
// and keeps flat copies of it (starting again when a string reaches V8's length limit):
// a 1 GB heap is gone in about 0.5 s, well within a report re-run's 2 s budget on a
// loaded machine (arrays of numbers took 1.3-1.8 s even on a quiet one, and under the
// full test suite's load the re-run ended as a hang first).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** workerData keys that identify a thread: the supervisor's, the report's re-run thread's. */
const THREAD_KEYS = { supervisor: ['selection', 'jobBuffer'], report: ['sides', 'buckets'] } as const;

export function writeKillerModel(dir: string, o: { id: string; where: keyof typeof THREAD_KEYS; how: 'exit' | 'oom'; code: number }): string {
  const f = join(dir, `${o.id}-${o.how}.mjs`);
  const keys = THREAD_KEYS[o.where].map((k) => `'${k}' in workerData`).join(' && ');
  writeFileSync(f, [
    "import { workerData } from 'node:worker_threads';",
    "import { definePatch, defineVersion, BUILTIN_VERSIONS, BASE_OPS } from 'svmfuzz/models';",
    `const here = () => workerData && typeof workerData === 'object' && ${keys};`,
    'const hog = [];',
    `const kill = definePatch({ id: 'kill', subject: 'dies in the ${o.where} thread', upstream: '-', scope: [], replaces: {`,
    '  svm_inject_nmi(k, v) {',
    `    if (here()) { ${o.how === 'exit' ? `process.exit(${o.code});` : "let s = 'xy'; for (;;) { try { s = s + s; hog.push(s.slice(1)); } catch { s = 'xy' + hog.length; } }"} }`,
    '    v.stat.nmi_injections += 2;',
    '    return BASE_OPS.svm_inject_nmi(k, v);',
    '  } } });',
    "const v614 = BUILTIN_VERSIONS.find((v) => v.id === 'v6.14');",
    `export const versions = [defineVersion({ id: '${o.id}', description: '', patches: [...v614.patches, kill] })];`,
  ].join('\n'));
  return f;
}
