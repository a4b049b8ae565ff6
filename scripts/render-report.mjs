#!/usr/bin/env node
// Renders a report.html to a PNG in headless Chromium, for a person to look at (the
// tests never need a browser). Uses Debian's /usr/bin/chromium; without it, says how to
// install it and exits 2. Chromium runs offline: the page needs no network and gets none.
// The screenshot is the top --height pixels of the page (default 3000).
//
//   node scripts/render-report.mjs <report.html> [out.png] [--width 1400] [--height 3000]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// CHROMIUM=/path/to/chromium overrides the Debian paths (another build, or a test of the
// not-installed message with a path that does not exist).
const CANDIDATES = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function usage(msg) {
  if (msg) process.stderr.write(`render-report: ${msg}\n`);
  process.stderr.write('usage: node scripts/render-report.mjs <report.html> [out.png] [--width N] [--height N]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { width: 1400, height: 3000 };
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--width' || a === '--height') {
    const n = Number(args[++i]);
    if (!Number.isInteger(n) || n < 200) usage(`${a}: expected an integer >= 200`);
    opts[a.slice(2)] = n;
  } else if (a === '-h' || a === '--help') {
    usage();
  } else {
    positional.push(a);
  }
}
if (positional.length < 1 || positional.length > 2) usage();
const page = resolve(positional[0]);
if (!existsSync(page) || !statSync(page).isFile()) usage(`${positional[0]}: no such file`);
const png = resolve(positional[1] ?? page.replace(/\.html?$/, '') + '.png');

const chromium = CANDIDATES.find((c) => existsSync(c));
if (!chromium) {
  process.stderr.write(`render-report: chromium is not installed (looked for ${CANDIDATES.join(', ')}).\n`
    + 'Install it with:  sudo apt-get install chromium   (Debian/Ubuntu), then run this again.\n'
    + `Or open ${page} in any browser.\n`);
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), 'svmfuzz-chromium-'));
try {
  const r = spawnSync(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`,
    `--screenshot=${png}`, `--window-size=${opts.width},${opts.height}`, pathToFileURL(page).href,
  ], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) {
    process.stderr.write(`render-report: ${chromium}: ${r.error.message}\n`);
    process.exit(3);
  }
  if (r.status !== 0 || !existsSync(png)) {
    process.stderr.write(`render-report: chromium failed (exit ${r.status})\n${r.stderr}`);
    process.exit(3);
  }
  process.stdout.write(`${png}\n`);
} finally {
  rmSync(profile, { recursive: true, force: true });
}
