// The report page, end to end: real runs through the built CLI (a campaign, a comparison,
// an empty run, a killed one, `svmfuzz report` on bad input), the page parsed and its
// content checked (bucket rows, both seed signatures, their reproducers, the highlighted
// differing field, the inline plots, no script and no network); and the saturation words.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saturation } from './saturation.js';
import { esc } from './html.js';
import type { ReportBucket, StatsRecord } from './data.js';
import { cli, run, tmp as tmpDir, unsharded } from '../testing/cli.js';
import { writeKillerModel } from '../testing/killer-model.js';

const tmp = () => tmpDir('svmfuzz-report-');

const SEED1 = (pair: string) => `${pair}|observable|iret|exits{+L1:IRET},stat.exits,stat.nmi_window_exits`;
const SEED2 = (pair: string) => `${pair}|observable|delivery_fault|vmcb12.int_state`;

// ---- a small HTML parser: enough to walk the page and to check that its tags balance ----

interface El { tag: string; attrs: Record<string, string>; children: (El | string)[]; parent: El | null }

const VOID = new Set(['meta', 'br', 'wbr', 'hr', 'img', 'input', 'link', 'col', 'source']);
const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, '\u00a0').replace(/&amp;/g, '&');

function parseHtml(html: string): El {
  const doc: El = { tag: '#document', attrs: {}, children: [], parent: null };
  let cur = doc;
  const re = /<!--[\s\S]*?-->|<!doctype[^>]*>|<(\/?)([a-zA-Z][\w:-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*(\/?)>|([^<]+)/gi;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(html))) {
    if (m.index !== last) throw new Error(`unparsed text at ${last}: ${html.slice(last, last + 40)}`);
    last = re.lastIndex;
    if (m[5] !== undefined) { cur.children.push(decode(m[5])); continue; }
    if (!m[2]) continue;
    const tag = m[2].toLowerCase();
    if (m[1]) {
      if (cur.tag !== tag) throw new Error(`</${tag}> closes <${cur.tag}>`);
      cur = cur.parent!;
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of m[3]!.matchAll(/([^\s=>/]+)(?:="([^"]*)")?/g)) attrs[a[1]!.toLowerCase()] = decode(a[2] ?? '');
    const el: El = { tag, attrs, children: [], parent: cur };
    cur.children.push(el);
    // <style> holds CSS, not markup: take it as text up to its end tag.
    if (tag === 'style') {
      const end = html.indexOf('</style>', last);
      el.children.push(html.slice(last, end));
      re.lastIndex = last = end + '</style>'.length;
      continue;
    }
    if (!VOID.has(tag) && !m[4]) cur = el;
  }
  if (last !== html.length) throw new Error('unparsed tail');
  if (cur !== doc) throw new Error(`<${cur.tag}> is never closed`);
  return doc;
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    if (pred(c)) out.push(c);
    all(c, pred, out);
  }
  return out;
}
const byId = (doc: El, id: string) => all(doc, (e) => e.attrs.id === id)[0];
const hasClass = (e: El, c: string) => (e.attrs.class ?? '').split(/\s+/).includes(c);
const text = (e: El): string => e.children.map((c) => (typeof c === 'string' ? c : text(c))).join('');

function readPage(dir: string): { html: string; doc: El } {
  const file = join(dir, 'report.html');
  expect(existsSync(file)).toBe(true);
  const html = readFileSync(file, 'utf8');
  return { html, doc: parseHtml(html) };
}

/** Self-contained: no script, no external resource, no URL off this machine. */
function expectSelfContained(html: string, doc: El, dir: string): void {
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/https?:\/\//i);
  expect(all(doc, (e) => 'src' in e.attrs || e.tag === 'link' || e.tag === 'iframe')).toEqual([]);
  // Every link is to a place on the page or to a file of the run that exists.
  for (const a of all(doc, (e) => e.tag === 'a')) {
    const href = a.attrs.href!;
    if (href.startsWith('#')) expect(byId(doc, href.slice(1)), href).toBeDefined();
    else expect(existsSync(join(dir, decodeURIComponent(href))), href).toBe(true);
  }
}

function bucketRows(doc: El): El[] {
  return all(doc, (e) => e.tag === 'tr' && hasClass(e, 'bucket-row'));
}

function article(doc: El, signature: string): El {
  const row = bucketRows(doc).find((r) => r.attrs['data-signature'] === signature);
  expect(row, signature).toBeDefined();
  const art = byId(doc, `b-${row!.attrs['data-bucket']}`);
  expect(art, `explanation of ${signature}`).toBeDefined();
  return art!;
}

/** The highlighted row of `field` in the side-by-side observations of an explanation. */
function diffRow(art: El, field: string): El | undefined {
  const obs = all(art, (e) => hasClass(e, 'observations'))[0];
  expect(obs).toBeDefined();
  return all(obs!, (e) => e.tag === 'tr' && e.attrs['data-field'] === field && hasClass(e, 'diff'))[0];
}

describe('svmfuzz report', () => {
  it('a fuzz campaign writes report.html at its end: buckets, both seeds explained, plots, saturation', () => {
    const out = tmp();
    const r = run('fuzz', '--pair', 'all', '--workers', '1', '--seed', '1', '--runs', '20000', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`REPORT ${join(out, 'report.html')}`);
    expect(r.out.trimEnd().split('\n').pop()).toContain(join(out, 'report.html'));
    const { html, doc } = readPage(out);
    expectSelfContained(html, doc, out);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));

    expect(byId(doc, 'status')!.attrs['data-status']).toBe('complete');
    const rows = bucketRows(doc);
    expect(rows.length).toBe(summary.buckets.length);
    const sigs = rows.map((row) => row.attrs['data-signature']);
    expect(sigs).toContain(SEED1('all'));
    expect(sigs).toContain(SEED2('all'));

    // Seed 2: the stream, and vmcb12.int_state highlighted side by side (1 vs 0).
    const s2 = article(doc, SEED2('all'));
    const stream = text(all(s2, (e) => e.tag === 'pre' && hasClass(e, 'stream'))[0]!);
    // Seed 2's mechanism: L1's VMRUN, then a #VMEXIT that cuts the event's delivery (which
    // one depends on the streams the seed draws: an #NPF, an intercepted exception, ...).
    expect(stream).toMatch(/^vmrun( |$)/m);
    expect(stream).toMatch(/^delivery_fault( cause=\w+)?( vector=\w+)?$/m);
    const row = diffRow(s2, 'vmcb12.int_state');
    expect(row).toBeDefined();
    expect(all(row!, (e) => e.tag === 'mark').map(text)).toEqual(['1', '0']);
    // The state that led there: the key fields of both sides just before that step.
    const before = all(s2, (e) => hasClass(e, 'state-before'))[0]!;
    expect(all(before, (e) => e.tag === 'tr' && e.attrs['data-field'] === 'phase').length).toBe(1);
    expect(text(before)).toContain('vmcb01.intercepts');

    // Seed 1: the IRET exit highlighted on the left only; the stream ends with iret.
    const s1 = article(doc, SEED1('all'));
    expect(text(all(s1, (e) => e.tag === 'pre')[0]!)).toMatch(/\niret\n$/);
    const exits = diffRow(s1, 'exits');
    expect(exits).toBeDefined();
    expect(text(exits!)).toContain('L1:IRET');
    expect(all(s1, (e) => e.tag === 'tr' && hasClass(e, 'first')).length).toBe(1);

    // Plots: inline SVG, at least executions/s, coverage, buckets.
    const plots = byId(doc, 'plots')!;
    expect(all(plots, (e) => e.tag === 'svg').length).toBeGreaterThanOrEqual(3);
    for (const id of ['plot-execs', 'plot-coverage', 'plot-buckets', 'plot-lanes']) expect(byId(doc, id), id).toBeDefined();
    // Saturation in words.
    const sat = byId(doc, 'saturation')!;
    expect(text(sat)).toMatch(/(Saturated|Still finding)/);
    expect(text(sat)).toMatch(/Last new bucket .* into the run/);
  });

  it('a comparison: verdict and responsible patch per bucket, the seeds intended', () => {
    const out = tmp();
    const r = run('compare', 'v6.7', 'v6.14', '--runs', '5000', '--workers', '1', '--seed', '1', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`REPORT ${join(out, 'report.html')}`);
    const { html, doc } = readPage(out);
    expectSelfContained(html, doc, out);
    const heads = all(byId(doc, 'buckets')!, (e) => e.tag === 'th').map(text);
    expect(heads).toEqual(expect.arrayContaining(['verdict', 'responsible patch']));
    const cmp = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(bucketRows(doc).length).toBe(cmp.buckets.length);
    for (const [sig, patch] of [[SEED1('all'), '72046d0a'], [SEED2('all'), 'be45bc4e']] as const) {
      const row = bucketRows(doc).find((x) => x.attrs['data-signature'] === sig);
      expect(row, sig).toBeDefined();
      expect(row!.attrs['data-verdict']).toBe('intended');
      expect(text(row!)).toContain(patch);
    }
    // The page leads with causes, one row per cause of compare.json, the two seed fixes among
    // them by function and patch.
    const causes = all(byId(doc, 'causes')!, (e) => e.attrs.class === 'cause-row');
    expect(causes.length).toBe(cmp.causes.length);
    expect(causes.map((c) => `${c.attrs['data-function']}:${c.attrs['data-patches']}`))
      .toEqual(expect.arrayContaining(['svm_inject_nmi:72046d0a', 'svm_vcpu_enter_exit:be45bc4e']));
    expect(html.indexOf('id="causes"')).toBeLessThan(html.indexOf('id="buckets"'));
    expect(diffRow(article(doc, SEED2('all')), 'vmcb12.int_state')).toBeDefined();
  });

  it('an empty run says that no divergence was found', () => {
    const out = tmp();
    expect(run('fuzz', '--versions', 'v6.14,v6.14', '--workers', '1', '--seed', '1', '--runs', '2000', '--out', out).code).toBe(0);
    const { html, doc } = readPage(out);
    expectSelfContained(html, doc, out);
    expect(bucketRows(doc)).toEqual([]);
    expect(text(doc)).toMatch(/no divergence found in 2,000 executions/);
    expect(all(byId(doc, 'saturation')!, (e) => e.attrs['data-verdict'] === 'empty').length).toBe(1);
  });

  it('a campaign killed with -9: `svmfuzz report` renders its last saved state and says it was interrupted', async () => {
    const out = tmp();
    const child = spawn(process.execPath, [cli, 'fuzz', '--pair', 'all', '--workers', '1', '--seed', '1', '--duration', '60s', '--out', out], { stdio: 'ignore', env: unsharded() });
    const exited = new Promise((r) => child.on('exit', r));
    // Kill once it has saved its state (about a second in), or after ~2 s at the latest.
    for (let i = 0; i < 40 && !existsSync(join(out, 'campaign.json')); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
    const r = run('report', out);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(join(out, 'report.html'));
    const { html, doc } = readPage(out);
    expectSelfContained(html, doc, out);
    expect(byId(doc, 'status')!.attrs['data-status']).toBe('interrupted');
    expect(text(byId(doc, 'what-happened')!)).toMatch(/interrupted: no summary\.json.*showing/);
    expect(text(byId(doc, 'what-happened')!)).toContain('--resume');
    expect(bucketRows(doc).length).toBeGreaterThan(0);
  });

  // A model that dies only where the report re-runs reproducers (its thread's workerData is
  // an explain job): the campaign finds its divergences, then the report re-runs them.
  const reportKiller = (dir: string, how: 'exit' | 'oom') => writeKillerModel(dir, { id: 'rkiller', where: 'report', how, code: 44 });
  for (const how of ['exit', 'oom'] as const) {
    it(`a model that ${how === 'exit' ? 'exits' : 'exhausts memory'} when the report re-runs it: the page is written, the buckets it killed shown as stored, with the reason`, () => {
      const dir = tmp();
      const out = join(dir, 'out');
      // A 256 MB re-run heap: the allocating model fills it within the re-run's 2 s budget
      // even on a loaded machine (1 GB took longer than that once in a full test run).
      process.env.SVMFUZZ_REPORT_HEAP_MB = '256';
      let r;
      try {
        r = run('fuzz', '--models', reportKiller(dir, how), '--versions', 'v6.14,rkiller', '--workers', '1', '--seed', '1', '--runs', '3000', '--out', out, '--corpus', tmp());
      } finally {
        delete process.env.SVMFUZZ_REPORT_HEAP_MB;
      }
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`REPORT ${join(out, 'report.html')}`);
      const { html, doc } = readPage(out);
      expectSelfContained(html, doc, out);
      const page = text(doc);
      const why = how === 'exit' ? /not re-run: re-running it ended the report's re-run thread \(exit code 44\)/ : /not re-run: re-running it ended the report's re-run thread \([^)]*memory/i;
      expect(page).toMatch(why);
      // Every explained bucket still has its stored first difference on the page.
      const arts = all(doc, (e) => e.tag === 'article');
      expect(arts.length).toBeGreaterThan(0);
      for (const a of arts) expect(text(a)).toMatch(/not re-run/);
      // Three deaths, then nothing more is re-run.
      if (arts.length > 3) expect(page).toMatch(/the report's re-run thread died on 3 reproducers of this run before this one/);
    }, 120_000);
  }

  it('exit 2 for a directory that does not exist or holds no run', () => {
    const missing = run('report', join(tmp(), 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no such directory/);
    const empty = run('report', tmp());
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/holds no run/);
  });
});

describe('saturation in words', () => {
  const bucket = (ms: number): ReportBucket => ({
    id: String(ms), pair: 'p', signature: 's', words: 'w', kind: 'observable', event: 'nop', count: 1, countIsLowerBound: false,
    firstSeen: { execs: ms, ms }, minimizedLength: 1, dir: null, files: { dir: null, description: null, min: null, minTxt: null, samples: [] }, compare: null,
  });
  const stats = (cov: number[]): StatsRecord[] => cov.map((coverage, i) => ({
    t: '', elapsedMs: (i + 1) * 1000, execs: (i + 1) * 100, execPerSec: 100, coverage, corpus: 0, buckets: 0, lostBatches: 0, lanes: [],
  }));

  it('saturated when the last quarter or more found nothing', () => {
    const s = saturation([bucket(100), bucket(2000), bucket(5000)], stats([10, 20, 30, 30, 30, 30, 30, 30, 30, 30]), { endMs: 10_000, execs: 10_000 });
    expect(s.verdict).toBe('saturated');
    expect(s.headline).toBe('Saturated: no new bucket in the last 50% of the run (5,000 executions).');
    expect(s.sinceLastBucketMs).toBe(5000);
    expect(s.sinceLastCoverageMs).toBe(7000);
    expect(s.quarters).toEqual([2, 0, 1, 0]);
  });

  it('not saturated while coverage still grows, however quiet the buckets (a short run)', () => {
    const s = saturation([bucket(100), bucket(2000)], stats([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]), { endMs: 10_000, execs: 10_000 });
    expect(s.verdict).toBe('slowing');
    expect(s.headline).toMatch(/^Not saturated yet: no new bucket in the last 80% of the run, but coverage still grew/);
  });

  it('still finding when the last quarter keeps finding', () => {
    const s = saturation([bucket(100), bucket(8000), bucket(9000), bucket(9900)], stats([10, 20, 30, 40]), { endMs: 10_000, execs: 10_000 });
    expect(s.verdict).toBe('still-finding');
    expect(s.headline).toMatch(/^Still finding: 3 new bucket\(s\) in the last 25% of the run \(1 in the first 25%\)/);
    expect(s.details.join(' ')).toMatch(/still growing/);
  });

  it('nothing found; and text is escaped for HTML', () => {
    expect(saturation([], [], { endMs: 5000, execs: 100 }).verdict).toBe('empty');
    // Without executions the trend falls back to wall time.
    expect(saturation([bucket(1000)], [], { endMs: 10_000, execs: null }).headline).toBe('Saturated: no new bucket in the last 90% of the run (9.0 s).');
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
