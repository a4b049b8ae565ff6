// The supervisor thread (see supervisor.ts): rebuilds the selection from its version ids
// (loading the user's model files), runs the campaign here, and reports lines, the
// summary or the error to the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../../models/registry.js';
import { runCampaignHere } from './campaign.js';
import { jobWriter, type SupervisorData, type SupervisorMessage } from './supervisor.js';

const data = workerData as SupervisorData;
const post = (m: SupervisorMessage): void => parentPort!.postMessage(m);
const flag = new Int32Array(data.stopFlag);

try {
  const reg = await loadRegistry(data.options.modelFiles);
  const s = data.selection;
  const summary = await runCampaignHere({
    ...data.options,
    selection: { label: s.label, left: reg.version(s.left), right: reg.version(s.right), config: s.config },
    log: (line) => post({ type: 'log', line }),
    status: (line) => post({ type: 'status', line }),
    stop: { get requested() { return Atomics.load(flag, 0) !== 0; }, set requested(_v: boolean) { /* set by the main thread */ } },
    job: jobWriter(data.jobBuffer),
  }, true);
  post({ type: 'done', summary });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  post({ type: 'error', name: e?.constructor?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code, path: e?.path, syscall: e?.syscall, stack: e?.stack });
}
