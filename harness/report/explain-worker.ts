// The report's re-runs (explain.ts), in a thread of its own (see explainIsolated in
// report.ts): a reproducer may make a model exit, hang or exhaust memory, and the report
// is written after the run's results are on disk, so it must not end the process.
// Every bucket is announced before it is re-run and its explanation sent when done, so
// the parent knows which reproducer ended the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../../models/registry.js';
import { explainBucket } from './explain.js';
import type { ExplainJob, ExplainMessage } from './explain.js';

const job = workerData as ExplainJob;
const post = (m: ExplainMessage): void => parentPort!.postMessage(m);
try {
  const reg = await loadRegistry(job.modelFiles);
  for (const b of job.buckets) {
    post({ type: 'start', id: b.id });
    post({ type: 'done', id: b.id, explanation: explainBucket(job.runDir, b, reg, job.sides) });
  }
  post({ type: 'end' });
} catch (err) {
  post({ type: 'failed', message: (err as Error)?.message ?? String(err) });
}
