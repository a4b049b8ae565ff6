// One scratch directory per `npm test` run: every test's temp directories (and those of
// the CLI processes they start) go under it, and it is removed when the run ends, so a
// test run leaves nothing behind in the system temp directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'svmfuzz-test-run-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
