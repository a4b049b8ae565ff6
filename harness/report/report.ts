// `svmfuzz report <run dir>`: one self-contained report.html for a fuzz campaign or a
// comparison, written beside its files (and by fuzz and compare at their end). It reads
// what the run left (report-data), judges saturation (report-saturation), draws the plots
// (report-plots), re-runs and explains the buckets' reproducers (report-explain) and lays
// out the page (report-html).

import { join } from 'node:path';
import { loadRegistry } from '../../models/registry.js';
import { writeFileAtomic } from '../store/fsutil.js';
import { loadRun, type ReportBucket, type RunData } from './data.js';
import { explainBucket, type Explanation } from './explain.js';
import { renderPage } from './html.js';
import { buildPlots } from './plots.js';
import { saturation } from './saturation.js';

export { NoRunError } from './data.js';

export interface ReportOptions {
  /** Model files whose versions the run used (to re-run its reproducers). */
  modelFiles?: readonly string[];
}

/**
 * Buckets explained on the page: the first found (by first-seen execution; a comparison's
 * corpus buckets count as first), the most frequent (the main behaviours of a long run,
 * even when many rare buckets came first) and, for a comparison, one example of every
 * behaviour (patches and verdict). They appear in the table's order. The table lists every
 * bucket; the cap keeps the page under a megabyte.
 */
export const EXPLAIN_FIRST = 40;
export const EXPLAIN_MOST_FREQUENT = 10;

function chooseExplained(data: RunData): { chosen: ReportBucket[]; note: string | null } {
  const buckets = data.buckets;
  if (buckets.length <= EXPLAIN_FIRST) return { chosen: [...buckets], note: null };
  const firstSeen = (b: ReportBucket) => b.firstSeen?.execs ?? -1;
  const ids = new Set<string>();
  const take = (list: readonly ReportBucket[], n: number): void => { for (const b of list.slice(0, n)) ids.add(b.id); };
  take([...buckets].sort((a, b) => firstSeen(a) - firstSeen(b) || a.id.localeCompare(b.id)), EXPLAIN_FIRST);
  take([...buckets].sort((a, b) => b.count - a.count || a.id.localeCompare(b.id)), EXPLAIN_MOST_FREQUENT);
  // The first symptom of every cause: each cause gets an explained example.
  const examples = data.causes.map((c) => c.symptoms[0]).filter((id): id is string => id !== undefined);
  for (const id of examples) ids.add(id);
  const chosen = buckets.filter((b) => ids.has(b.id));
  return {
    chosen,
    note: `${chosen.length} of ${buckets.length} buckets are explained: the ${EXPLAIN_FIRST} found first, the ${EXPLAIN_MOST_FREQUENT} most frequent${examples.length ? ' and the first symptom of every cause' : ''}. The others are in the table; \`svmfuzz trace <bucket dir>/min.msgpack\` explains any of them.`,
  };
}

/** Writes `<runDir>/report.html` and returns its path. Throws NoRunError if the directory holds no run. */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<string> {
  const data = loadRun(runDir);
  const reg = await loadRegistry(opts.modelFiles ?? []);
  const sides = { left: data.left?.id ?? '?', right: data.right?.id ?? '?' };
  const { chosen, note } = chooseExplained(data);
  const explanations = new Map<string, Explanation>();
  for (const b of chosen) explanations.set(b.id, explainBucket(data.dir, b, reg, sides));
  const html = renderPage({
    data,
    saturation: saturation(data.buckets, data.stats, { endMs: data.durationMs, execs: data.execs }),
    plots: await buildPlots(data.stats, data.buckets, data.durationMs),
    explanations,
    explainedNote: note,
    generatedAt: new Date().toISOString(),
    dirLabel: runDir,
  });
  const file = join(runDir, 'report.html');
  writeFileAtomic(file, html);
  return file;
}
