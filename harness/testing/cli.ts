// End-to-end test support: run the built CLI as a user does, and make scratch directories.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');
export const cli = join(root, 'dist/harness/cli.js');

/**
 * The tests' environment (as it is now: tests set variables) without a batch engine's shard variables: run inside a Slurm
 * array task or a Kubernetes Indexed Job, `fuzz` would otherwise run every test campaign
 * as a shard (harness/campaign/shard.ts).
 */
export function unsharded(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLURM_ARRAY_') && k !== 'JOB_COMPLETION_INDEX'));
}

/** `node dist/harness/cli.js ...args`: exit code, stdout, stderr. */
export function run(...args: string[]): { code: number | null; out: string; err: string } {
  return runIn(process.cwd(), ...args);
}

/** The same, from another working directory. */
export function runIn(cwd: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd, maxBuffer: 256 * 2 ** 20, env: unsharded() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export const tmp = (prefix = 'svmfuzz-test-'): string => mkdtempSync(join(tmpdir(), prefix));
