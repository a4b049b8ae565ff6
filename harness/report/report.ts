// `svmfuzz report <run dir>`: one self-contained report.html for a fuzz campaign or a
// comparison, written beside its files (and by fuzz and compare at their end). It reads
// what the run left (report-data), judges saturation (report-saturation), draws the plots
// (report-plots), re-runs and explains the buckets' reproducers (report-explain) and lays
// out the page (report-html).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from '../store/fsutil.js';
import { loadRun, type ReportBucket, type RunData } from './data.js';
import { explainBucket, type ExplainJob, type ExplainMessage, type Explanation } from './explain.js';
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

const EXPLAIN_WORKER = fileURLToPath(new URL('./explain-worker.js', import.meta.url));
/** A bucket's re-run and state walk take milliseconds; past this the thread is ended. */
export const EXPLAIN_BUCKET_MS = 15_000;
/** After this many deaths of the re-run thread, the remaining buckets are shown as stored. */
export const EXPLAIN_MAX_DEATHS = 3;
/**
 * Heap of the re-run thread (MB): a model that allocates without bound ends it, not the
 * report. SVMFUZZ_REPORT_HEAP_MB overrides it (a machine with little memory; the tests
 * use a small one so that such a model dies fast even on a loaded machine).
 */
export function explainHeapMb(): number {
  const env = process.env.SVMFUZZ_REPORT_HEAP_MB;
  if (env === undefined || env === '') return 1024;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 64) throw new Error(`SVMFUZZ_REPORT_HEAP_MB: '${env}' is not a number of megabytes of 64 or more`);
  return n;
}

/**
 * The explanations of `buckets`, re-run in a thread of their own. When the thread dies
 * (a model exits, throws outside the watchdog or exhausts memory) or overruns
 * EXPLAIN_BUCKET_MS on a bucket, that bucket is shown from its stored observations with
 * the reason, and a new thread goes on with the rest: every death skips one bucket. After
 * EXPLAIN_MAX_DEATHS deaths nothing more is re-run (a model that dies on every reproducer
 * would cost a thread start and its death per bucket).
 */
export function explainIsolated(job: ExplainJob, bucketMs = EXPLAIN_BUCKET_MS): Promise<Map<string, Explanation>> {
  const out = new Map<string, Explanation>();
  const stored = (b: ExplainJob['buckets'][number], why: string): void => {
    out.set(b.id, explainBucket(job.runDir, b, null, job.sides, why));
  };
  let deaths = 0;
  return new Promise((resolve) => {
    const runFrom = (rest: ExplainJob['buckets']): void => {
      if (!rest.length) { resolve(out); return; }
      if (deaths >= EXPLAIN_MAX_DEATHS) {
        for (const b of rest) stored(b, `the report's re-run thread died on ${deaths} reproducers of this run before this one, so no more are re-run`);
        resolve(out);
        return;
      }
      const w = new Worker(EXPLAIN_WORKER, { workerData: { ...job, buckets: rest } satisfies ExplainJob, resourceLimits: { maxOldGenerationSizeMb: explainHeapMb() } });
      let current: string | null = null;
      let started = false;
      let over = false;
      let timer: NodeJS.Timeout | null = null;
      let cause: string | null = null;
      const arm = (): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => { over = true; void w.terminate(); }, bucketMs);
      };
      arm();
      w.on('message', (m: ExplainMessage) => {
        if (m.type === 'start') { current = m.id; started = true; arm(); }
        else if (m.type === 'done') { out.set(m.id, m.explanation); current = null; }
        else if (m.type === 'failed') cause = m.message;
      });
      w.on('error', (err) => { cause = (err as Error).message; });
      w.on('exit', (code) => {
        if (timer) clearTimeout(timer);
        const left = rest.filter((b) => !out.has(b.id));
        if (!left.length) { resolve(out); return; }
        if (current === null) {
          if (!started) {
            // Died before its first bucket (e.g. a model file that does not load): no re-runs.
            for (const b of left) stored(b, `the re-run thread could not start (${cause ?? `exit code ${code}`})`);
            resolve(out);
            return;
          }
          // Died between two buckets: go on with the rest in a new thread (deaths are bounded).
          deaths++;
          runFrom(left);
          return;
        }
        const killer = left.find((b) => b.id === current)!;
        deaths++;
        stored(killer, over ? `re-running it took over ${bucketMs / 1000} s (the re-run thread was stopped)` : `re-running it ended the report's re-run thread (${cause ?? `exit code ${code}`})`);
        runFrom(left.filter((b) => b !== killer));
      });
    };
    runFrom(job.buckets);
  });
}

/** Writes `<runDir>/report.html` and returns its path. Throws NoRunError if the directory holds no run. */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<string> {
  const data = loadRun(runDir);
  const sides = { left: data.left?.id ?? '?', right: data.right?.id ?? '?' };
  const { chosen, note } = chooseExplained(data);
  const explanations = await explainIsolated({ runDir: data.dir, buckets: chosen, modelFiles: [...(opts.modelFiles ?? [])], sides });
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
