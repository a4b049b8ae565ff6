// The campaign's supervisor runs in a thread of its own, not in the process's main thread.
// Triage and minimization run model code there; a model that exits or exhausts memory
// ends that thread only. The main thread keeps the directory lock, relays the lines,
// answers signals at once (the stop flag is shared memory the supervisor polls), and
// restarts a lost supervisor from the state it saved, skipping the job that killed it.

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirLock } from '../store/fsutil.js';
import { CrashStore } from '../store/crashes.js';
import { earlierRunError, previousRun, ResumeError, type CampaignOptions, type CampaignSummary } from './campaign.js';
import type { SvmConfig } from '../../models/svm/config.js';

const SUPERVISOR = fileURLToPath(new URL('./supervisor-worker.js', import.meta.url));
/** Restarts of a lost supervisor before the campaign gives up (each skips the job that killed the last one). */
const MAX_RESTARTS = 8;
const JOB_BYTES = 1024;

/** What crosses to the supervisor thread: the options without functions, the selection by ids. */
export interface SupervisorData {
  options: Omit<CampaignOptions, 'selection' | 'log' | 'status' | 'stop' | 'job'>;
  selection: { label: string; left: string; right: string; config: SvmConfig };
  stopFlag: SharedArrayBuffer;
  jobBuffer: SharedArrayBuffer;
}

export type SupervisorMessage =
  | { type: 'log'; line: string }
  | { type: 'status'; line: string }
  | { type: 'done'; summary: CampaignSummary }
  | { type: 'error'; name: string; message: string; code?: string; path?: string; syscall?: string; stack?: string };

/** The job the supervisor announced last ('' when none), from shared memory. */
function readJob(buf: SharedArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  const n = new Int32Array(buf, 0, 1)[0]!;
  return new TextDecoder().decode(bytes.slice(4, 4 + Math.min(n, JOB_BYTES - 4)));
}

/** The supervisor thread's side of the job marker. */
export function jobWriter(buf: SharedArrayBuffer): (what: string) => void {
  const len = new Int32Array(buf, 0, 1);
  const bytes = new Uint8Array(buf, 4);
  return (what) => {
    const enc = new TextEncoder().encode(what).slice(0, JOB_BYTES - 4);
    bytes.set(enc);
    Atomics.store(len, 0, enc.length);
  };
}

function rebuildError(m: Extract<SupervisorMessage, { type: 'error' }>): Error {
  const err: Error & { code?: string; path?: string; syscall?: string } = m.name === 'ResumeError' ? new ResumeError(m.message) : new Error(m.message);
  if (m.code) err.code = m.code;
  if (m.path) err.path = m.path;
  if (m.syscall) err.syscall = m.syscall;
  if (m.stack && !(err instanceof ResumeError) && !m.code) err.stack = m.stack;
  return err;
}

/** One supervisor thread: its summary, an error it reported, or how it was lost. */
function supervise(o: CampaignOptions, data: SupervisorData, heapMb: number): Promise<{ summary: CampaignSummary } | { error: Error } | { lost: string }> {
  return new Promise((resolve) => {
    const w = new Worker(SUPERVISOR, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 64 } });
    let settled = false;
    const done = (r: { summary: CampaignSummary } | { error: Error } | { lost: string }): void => {
      if (!settled) { settled = true; resolve(r); }
    };
    // A signal arriving while the supervisor works: shared memory it reads between executions.
    const poll = setInterval(() => { if (o.stop?.requested) Atomics.store(new Int32Array(data.stopFlag), 0, 1); }, 20);
    w.on('message', (m: SupervisorMessage) => {
      if (m.type === 'log') o.log(m.line);
      else if (m.type === 'status') o.status(m.line);
      else if (m.type === 'done') done({ summary: m.summary });
      else done({ error: rebuildError(m) });
    });
    w.on('error', (err) => done({ lost: (err as Error).message }));
    w.on('exit', (code) => {
      clearInterval(poll);
      done({ lost: `the thread exited with code ${code}` });
    });
  });
}

/**
 * Runs a campaign in a supervisor thread (see the header). A lost supervisor is restarted
 * with --resume semantics from what it saved, the job it was doing skipped; the budget is
 * the campaign's (--runs counts every execution, --duration the wall time since the start).
 */
export async function runCampaign(o: CampaignOptions): Promise<CampaignSummary> {
  const lock = DirLock.acquire(o.out);
  const start = Date.now();
  try {
    const prev = o.resume ? null : previousRun(o.out);
    if (prev) throw earlierRunError(o.out, prev);
    const stopFlag = new SharedArrayBuffer(4);
    const jobBuffer = new SharedArrayBuffer(JOB_BYTES);
    const poison: string[] = [...(o.poison ?? [])];
    if (o.stop) o.stop.saveNow = () => lock.release(); // the supervisor saved its state within the last second
    let resume = o.resume;
    for (let restarts = 0; ; restarts++) {
      const { selection: sel, log: _l, status: _s, stop: _t, job: _j, ...rest } = o;
      const durationMs = o.durationMs === null ? null : Math.max(0, o.durationMs - (Date.now() - start));
      const data: SupervisorData = {
        options: { ...rest, resume, durationMs, poison: [...poison] },
        selection: { label: sel.label, left: sel.left.id, right: sel.right.id, config: sel.config },
        stopFlag, jobBuffer,
      };
      const r = await supervise(o, data, Math.max(512, 2 * o.laneHeapMb));
      if ('summary' in r) return r.summary;
      if ('error' in r) throw r.error;
      const job = readJob(jobBuffer);
      if (o.stop?.requested) throw new Error(`the supervisor thread was lost while stopping (${r.lost})`);
      if (restarts >= MAX_RESTARTS) throw new Error(`the supervisor thread was lost ${restarts + 1} times (last: ${r.lost}${job ? `, while ${job}` : ''}); giving up`);
      o.log(`SUPERVISOR_LOST ${r.lost}${job ? ` while ${job}` : ''}: restarting it from its saved state${job ? `, skipping that job` : ''} (${restarts + 1}/${MAX_RESTARTS})`);
      if (job) {
        poison.push(job);
        // The same kind of job killing it twice (a model that dies on every triage, say):
        // that kind of work is skipped for the rest of the campaign.
        const kind = job.split(' ')[0]!;
        if (poison.filter((p) => p.startsWith(`${kind} `)).length >= 2 && !poison.includes(`${kind} *`)) {
          poison.push(`${kind} *`);
          o.log(`SUPERVISOR_SKIPS every '${kind}' job from now on: it killed the supervisor twice`);
        }
      }
      new Int32Array(jobBuffer, 0, 1)[0] = 0;
      // Resume what is on disk; if nothing is (lost before its first bucket), start afresh.
      resume = existsSync(join(o.out, 'campaign.json')) || new CrashStore(o.out).listBuckets().length > 0;
    }
  } finally {
    if (o.stop) o.stop.saveNow = undefined;
    lock.release();
  }
}
