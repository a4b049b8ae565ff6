#!/usr/bin/env node
// Runs jsfuzz (the card's fuzzer, our compatibility target and baseline) on a model pair:
//   npm run fuzz:jsfuzz -- --pair all [--signature BODY] [-- extra jsfuzz args]
// jsfuzz takes no seed, stops at the first crash (divergence) and runs one child process;
// it writes crash-* files and .nyc_output into the working directory (here: --out, default
// crashes/jsfuzz-<pair>).

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let pair = 'all';
let signature = null;
let out = null;
const rest = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--pair') pair = args[++i];
  else if (args[i] === '--signature') signature = args[++i];
  else if (args[i] === '--out') out = args[++i];
  else rest.push(args[i]);
}
const cwd = resolve(out ?? join('crashes', `jsfuzz-${pair}`));
mkdirSync(cwd, { recursive: true });
const target = join(root, 'dist/cjs/harness/jsfuzz/target.js');
const jsfuzz = join(root, 'node_modules/jsfuzz/build/src/index.js');
console.log(`jsfuzz on pair ${pair}${signature ? ` (signature ${signature})` : ''}; artifacts in ${cwd}`);
// jsfuzz resolves the target against its working directory.
const child = spawn(process.execPath, [jsfuzz, relative(cwd, target), ...rest], {
  cwd, stdio: 'inherit', env: { ...process.env, SVMFUZZ_PAIR: pair, ...(signature ? { SVMFUZZ_SIGNATURE: signature } : {}) },
});
child.on('exit', (code) => { process.exitCode = code ?? 1; });
