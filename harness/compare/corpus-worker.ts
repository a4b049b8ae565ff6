// The corpus replay of `svmfuzz compare`, in a thread of its own (see compare.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { replayCorpus, type CorpusReplayJob } from './compare.js';

try {
  parentPort!.postMessage({ ok: true, result: await replayCorpus(workerData as CorpusReplayJob) });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: (err as Error)?.message ?? String(err) });
}
