// The report page as one self-contained HTML string: inline CSS, inline SVG plots, no
// script, no font or image from anywhere, links only to the run's own files (relative).
// Every piece of text that comes from a file is escaped here, in one place (esc).

import type { Primitive } from '../../models/svm/observe.js';
import { durationWords, type ReportBucket, type RunData } from './data.js';
import type { Explanation, FieldRow } from './explain.js';
import type { Plot } from './plots.js';
import type { Saturation } from './saturation.js';

export interface PageInput {
  data: RunData;
  saturation: Saturation;
  plots: Plot[];
  explanations: Map<string, Explanation>;
  /** Why only some buckets are explained (null: all are). */
  explainedNote: string | null;
  generatedAt: string;
  /** The run directory as the user named it (for the commands shown). */
  dirLabel: string;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

/** Text with `backquoted` parts as code (after escaping, so nothing else becomes markup). */
const prose = (s: string): string => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');
const num = (n: number | null | undefined): string => (n === null || n === undefined ? '–' : n.toLocaleString('en-US'));
/** A relative link to a file of the run (paths come from directory listings: escaped, never trusted). */
const href = (p: string): string => esc(p.split('/').map(encodeURIComponent).join('/'));

function value(x: Primitive): string {
  if (x === null) return '<span class="null">null</span>';
  if (x === '') return '<span class="null">(empty)</span>';
  return esc(String(x));
}

const CSS = `
:root { --fg:#1d232a; --muted:#5c6670; --line:#d8dde3; --bg2:#f5f7f9; --diff:#fff1b8; --mark:#ffd43b; --first:#ffe3e0; --accent:#3b6ea8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg);
  margin: 0 auto; padding: 24px 28px 60px; max-width: 1360px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 18px; margin: 30px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 6px; } h4 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; margin: 0; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
a { color: var(--accent); }
.status { font-size: 15px; padding: 8px 12px; border-radius: 4px; margin: 8px 0; border-left: 5px solid; }
.status-complete { background: #e9f5ec; border-color: #3f9a5a; } .status-interrupted { background: #fff4e0; border-color: #d98a1b; }
.status-running { background: #e8f0fb; border-color: var(--accent); }
.notes ul { margin: 6px 0; padding-left: 20px; } .notes li { margin: 2px 0; }
table { border-collapse: collapse; } th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg2); font-weight: 600; }
table.kv th { background: none; color: var(--muted); font-weight: normal; padding-right: 18px; }
.verdict { font-size: 15px; font-weight: 600; margin: 6px 0; }
.v-saturated { color: #3f7a4f; } .v-still-finding, .v-slowing { color: #a85d12; } .v-empty, .v-unknown { color: var(--muted); }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: 10px; }
figure h3 { margin-bottom: 2px; } figcaption { color: var(--muted); font-size: 12.5px; margin-bottom: 6px; }
figure svg { max-width: 100%; height: auto; display: block; }
table.buckets { width: 100%; font-size: 13px; } table.buckets td.sig { min-width: 360px; max-width: 560px; }
table.buckets td.nowrap { white-space: nowrap; }
table.buckets code.signature { display: block; color: var(--muted); font-size: 11.5px; word-break: break-all; margin-top: 2px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; border: 1px solid var(--line); background: var(--bg2); white-space: nowrap; }
.badge.intended { background: #e9f5ec; border-color: #9dcfaa; } .badge.collateral { background: #fde8e6; border-color: #eba59c; }
.badge.new { background: #fff4d6; border-color: #e0c068; } .badge.known { background: #eeeeee; }
table.causes pre.repro { font-size: 11.5px; padding: 4px 6px; white-space: pre; word-break: normal; } table.causes td { vertical-align: top; }
.badge.observable { background: #eef3fb; } .badge.latent { background: #f3eefb; } .badge.left-throws, .badge.right-throws, .badge.hang { background: #fde8e6; }
.files a { margin-right: 6px; white-space: nowrap; }
article.bucket { border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin: 18px 0; }
article.bucket > p { margin: 4px 0; }
.grid2b { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px; }
table.steps, table.side { width: 100%; font-size: 12.5px; }
table.steps td, table.side td { overflow-wrap: anywhere; } table.steps td.ev, td.field { white-space: nowrap; }
table.steps th:nth-child(3), table.steps th:nth-child(4) { width: 34%; }
table.steps td.differs { overflow-wrap: normal; min-width: 150px; } table.steps td.differs mark { display: inline-block; margin: 0 0 2px; }
tr.first td { background: var(--first); } tr.first td.idx::before { content: "!! "; color: #b8454f; font-weight: 700; }
tr.latent-first td.idx::after { content: " *"; color: #7a62a8; font-weight: 700; }
tr.diff td { background: var(--diff); } tr.diff mark { background: var(--mark); padding: 0 2px; }
.null { color: #98a1aa; }
.muted { color: var(--muted); } .small { font-size: 12.5px; }
.error { color: #b8454f; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 900px) { .grid2b { grid-template-columns: 1fr; } }
`;

function statusLine(d: RunData): string {
  if (d.status === 'running') return 'running: the campaign has not finished; this is its last saved state';
  if (d.status === 'interrupted') return 'interrupted: the run ended without writing summary.json (killed, or crashed)';
  const how = d.stopped === 'runs' ? 'after its --runs budget' : d.stopped === 'duration' ? 'after its --duration budget'
    : d.stopped === 'signal' ? 'by a signal (SIGINT/SIGTERM), cleanly' : null;
  const what = `${num(d.execs)} executions in ${d.durationMs !== null ? durationWords(d.durationMs) : '?'}, ${d.buckets.length} bucket(s)`;
  if (d.kind === 'compare') return d.execs ? `complete comparison: ${what}` : `complete comparison of the regression corpus (no fuzzing): ${d.buckets.length} bucket(s)`;
  return how ? `complete: stopped ${how}: ${what}` : `complete: ${what}`;
}

const sideName = (s: RunData['left']): string => (s ? `${s.id}${s.patches ? ` [${s.patches.join(' ') || 'no patches'}]` : ''}` : '?');

function overview(d: RunData): string {
  const rows: [string, string][] = [
    ['run directory', `<code>${esc(d.dir)}</code>`],
    ['pair', d.pair !== null ? `<code>${esc(d.pair)}</code>` : '–'],
    ['left vs right', `${esc(sideName(d.left))} vs ${esc(sideName(d.right))}`],
  ];
  const c = d.compare;
  if (c) {
    rows.push(['patches between them', esc([...c.patches.added.map((p) => `+${p}`), ...c.patches.removed.map((p) => `-${p}`)].join(' ') || 'none (the versions differ elsewhere)')]);
    rows.push(['regression corpus', esc(`${c.corpus.entries} entries replayed, ${c.corpus.diverging} diverge${c.corpus.unreadable.length ? `, ${c.corpus.unreadable.length} unreadable` : ''}`)]);
  }
  rows.push(['seed', num(d.seed)], ['workers (lanes)', num(d.workers)], ['executions', num(d.execs)],
    ['duration', d.durationMs !== null ? esc(durationWords(d.durationMs)) : '–'],
    ['average rate', d.execs !== null && d.durationMs ? `${num(Math.round((d.execs * 1000) / d.durationMs))} executions/s` : '–'],
    ['coverage', num(d.coverage)], ['corpus', num(d.corpus)], ['buckets', num(d.buckets.length)],
    ['stopped by', esc(d.stopped ?? (d.status === 'complete' ? '–' : d.status))], ['lost batches', num(d.lostBatches)]);
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** A merged directory's inputs: each one's rate, its share of the executions, and what it alone found. */
function shardsSection(d: RunData): string {
  if (!d.shards.length) return '';
  const total = d.shards.reduce((n, s) => n + s.execs, 0);
  const rate = d.shards.reduce((n, s) => n + s.execPerSec, 0);
  const rows = d.shards.map((s) => {
    const sync = s.sync ? `${num(s.sync.published)} / ${num(s.sync.imported)}${s.sync.minimizedAdopted !== undefined ? `; minimized ${num(s.sync.minimizedPublished)} / ${num(s.sync.minimizedAdopted)}` : ''}${s.sync.triageAdopted !== undefined ? `; triaged ${num(s.sync.triagePublished)} / ${num(s.sync.triageAdopted)}` : ''}` : '–';
    return `<tr><td><code>${esc(s.name)}</code></td><td>${esc(s.shard ?? '–')}</td><td>${num(s.seed)}</td><td>${num(s.workers)}</td><td>${num(s.execs)}</td><td>${total ? `${((100 * s.execs) / total).toFixed(1)}%` : '–'}</td><td>${esc(durationWords(s.durationMs))}</td><td>${num(s.execPerSec)}</td><td>${num(s.buckets)}</td><td>${num(s.onlyHere)}</td><td>${num(s.causes)}</td><td>${sync}</td></tr>`;
  });
  return `<section id="shards"><h2>Shards (${d.shards.length})</h2><p class="muted">The campaigns this directory merges; their rates add up to ${num(rate)} executions/s. A shard far below the others ran on a slower or busier machine. <em>only here</em>: buckets no other shard found. <em>sync</em>: inputs published / imported, minimized reproducers and triaged buckets published / adopted.</p>
<table class="shards"><thead><tr><th>input</th><th>shard</th><th>seed</th><th>lanes</th><th>executions</th><th>share</th><th>duration</th><th>exec/s</th><th>buckets</th><th>only here</th><th>causes</th><th>sync</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></section>`;
}

function firstSeen(b: ReportBucket): string {
  if (!b.firstSeen) return b.compare?.source === 'corpus' ? '<span class="muted">corpus</span>' : '<span class="muted">unknown</span>';
  return `exec ${num(b.firstSeen.execs)}<br><span class="muted">${esc(durationWords(b.firstSeen.ms))}</span>`;
}

function fileLinks(b: ReportBucket): string {
  const f = b.files;
  const links: string[] = [];
  if (f.dir) links.push(`<a href="${href(f.dir)}">dir</a>`);
  if (f.minTxt) links.push(`<a href="${href(f.minTxt)}">min.txt</a>`);
  if (f.min) links.push(`<a href="${href(f.min)}">min.msgpack</a>`);
  if (f.samples.length) links.push(`<a href="${href(f.samples[0]!)}">samples</a>&nbsp;(${f.samples.length})`);
  if (f.description) links.push(`<a href="${href(f.description)}">description</a>`);
  if (!links.length && b.compare?.corpusFile) links.push(`<span class="mono small">${esc(b.compare.corpusFile)}</span>`);
  return links.join(' ') || '<span class="muted">none</span>';
}

function bucketTable(d: RunData, explained: Map<string, Explanation>): string {
  if (!d.buckets.length) return '<p class="muted">No bucket: the two versions never diverged in this run.</p>';
  const cmp = d.kind === 'compare';
  const head = ['#', 'bucket', 'cause', 'signature in words', 'kind', 'count', 'first seen', 'reproducer', ...(cmp ? ['verdict', 'responsible patch', 'source'] : []), 'files'];
  const fnOf = new Map(d.causes.map((c) => [c.id, c.function]));
  const rows = d.buckets.map((b, i) => {
    const idCell = explained.has(b.id) ? `<a href="#b-${esc(b.id)}"><code>${esc(b.id)}</code></a>` : `<code>${esc(b.id)}</code>`;
    const cells = [
      `${i + 1}`, idCell,
      b.cause ? `<a href="#cause-${esc(b.cause)}"><code>${esc(fnOf.get(b.cause) ?? b.cause)}</code></a>` : '<span class="muted">–</span>',
      `<td class="sig">${prose(b.words)}<code class="signature">${esc(b.signature)}</code></td>`,
      `<span class="badge ${esc(b.kind)}">${esc(b.kind)}</span><br><span class="muted small">at ${esc(b.event)}</span>`,
      `<td class="nowrap">${num(b.count)}${b.countIsLowerBound ? '+' : ''}</td>`,
      `<td class="nowrap">${firstSeen(b)}</td>`,
      b.minimizedLength !== null ? `${b.minimizedLength} events` : '<span class="muted">not minimized</span>',
      ...(cmp && b.compare ? [
        `<span class="badge ${esc(b.compare.verdict)}">${esc(b.compare.verdict)}</span>${b.compare.outOfScope.length ? `<br><span class="muted small">outside scope: ${esc(b.compare.outOfScope.join(', '))}</span>` : ''}`,
        b.compare.responsible.length ? b.compare.responsible.map((p) => `<code>${esc(p)}</code>`).join(' + ') : '<span class="muted">none (not a patch)</span>',
        esc(b.compare.source),
      ] : cmp ? ['–', '–', '–'] : []),
      fileLinks(b),
    ];
    const tds = cells.map((c) => (c.startsWith('<td') ? c : `<td>${c}</td>`)).join('');
    return `<tr id="row-${esc(b.id)}" class="bucket-row" data-bucket="${esc(b.id)}" data-signature="${esc(b.signature)}"${b.cause ? ` data-cause="${esc(b.cause)}"` : ''}${b.compare ? ` data-verdict="${esc(b.compare.verdict)}"` : ''}>${tds}</tr>`;
  });
  return `<table class="buckets"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

/**
 * The causes, first thing on the page: what changed and why. One row per cause, declared
 * changes first, then possible regressions: the function and patches, the fields that
 * differ there with each side named by its version, the symptoms, and the reproducer.
 */
function causesSection(d: RunData): string {
  const left = d.left?.id ?? 'left';
  const right = d.right?.id ?? 'right';
  const legend = `<p class="muted small">A cause is where the two versions first part inside the model: the kernel function whose code made the difference, and the patches responsible (found by applying the differing patches alone). Values are named by version: "<code>true in ${esc(left)}, false in ${esc(right)}</code>"; "<code>IRET in ${esc(left)} only</code>" for a list. <b>intended</b>: the change its patches declare; <b>collateral</b>: outside every responsible patch's declared scope (a possible regression). <b>known</b>: the regression corpus already reproduces it. Buckets below are its symptoms.</p>`;
  if (!d.causes.length) return `<section id="causes"><h2>Causes</h2><p class="muted">No cause: no divergence was found.</p>${legend}</section>`;
  const rows = d.causes.map((c, i) => {
    const repro = c.reproducer.text
      ? `<pre class="repro">${esc(c.reproducer.text.trimEnd().split('\n').slice(1).join('\n'))}</pre>${c.minTxt ? `<a href="${href(c.minTxt)}">min.txt</a>` : ''}${c.reproducer.observable === false ? ' <span class="muted small">latent only</span>' : ''}`
      : '<span class="muted">not minimized</span>';
    // A change's consequences outside scope (an effect's symptoms are all outside it, by definition).
    const scope = c.collateralSymptoms && c.kind === 'change' ? `<br><span class="muted small">${c.collateralSymptoms} of its symptoms also differ outside the declared scope: ${esc(c.outOfScope.join(', '))}</span>` : '';
    const known = c.known ? `<br><span class="badge known">known</span> <span class="mono small">${esc(c.known)}</span>` : '<br><span class="badge new">new</span>';
    return `<tr class="cause-row" id="cause-${esc(c.id)}" data-cause="${esc(c.id)}" data-function="${esc(c.function)}" data-verdict="${esc(c.verdict)}" data-patches="${esc(c.patches.join('+'))}">`
      + `<td>${i + 1}</td><td><code>${esc(c.id)}</code>${known}</td>`
      + `<td><b><code>${esc(c.function)}</code></b><br>${c.patches.length ? c.patches.map((p) => `<code>${esc(p)}</code>`).join(' + ') : '<span class="muted">no patch</span>'}</td>`
      + `<td><span class="badge ${esc(c.verdict)}">${esc(c.verdict)}</span><br><span class="muted small">${esc(c.kind)}</span></td>`
      + `<td class="sig">${esc(c.words)}${scope}</td>`
      + `<td class="nowrap">${c.symptoms.length} symptom(s)<br><span class="muted small">x${num(c.count)}</span></td>`
      + `<td>${repro}</td></tr>`;
  });
  return `<section id="causes"><h2>Causes (${d.causes.length}) behind ${d.buckets.length} bucket(s)</h2>${legend}<table class="causes"><thead><tr><th>#</th><th>cause</th><th>function and patches</th><th>verdict</th><th>what changed</th><th>symptoms</th><th>reproducer</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table></section>`;
}

/**
 * A differing list value (a|b|c, a,b): the items the other side lacks are marked, the rest
 * stay plain, so a long intercept list shows which bit changed. `marked` is 0 when this
 * side has nothing the other lacks.
 */
const LIST_SEP = /([|,;])/;
function itemMarks(x: Primitive, other: Primitive): { html: string; marked: number } {
  if (typeof x !== 'string' || typeof other !== 'string' || x === '' || !LIST_SEP.test(x + other)) return { html: value(x), marked: 0 };
  // A multiset: L1:IRET,L1:IRET against L1:IRET marks the second one.
  const pool = other.split(LIST_SEP).filter((_, i) => i % 2 === 0);
  let marked = 0;
  // Separators are kept (odd indexes) and followed by a break opportunity for long lists.
  const html = x.split(LIST_SEP).map((p, i) => {
    if (i % 2) return `${esc(p)}<wbr>`;
    const k = pool.indexOf(p);
    if (k >= 0) { pool.splice(k, 1); return esc(p); }
    marked++;
    return `<mark>${esc(p)}</mark>`;
  }).join('');
  return { html, marked };
}

/** Both sides of a differing field; whole values are marked unless items could be. */
function markPair(l: Primitive, r: Primitive): [string, string] {
  const a = itemMarks(l, r);
  const b = itemMarks(r, l);
  if (a.marked + b.marked === 0) return [`<mark>${a.html}</mark>`, `<mark>${b.html}</mark>`];
  return [a.html, b.html];
}

function fieldTable(rows: FieldRow[], left: string, right: string, cls: string): string {
  const body = rows.map((r) => {
    const [l, rt] = r.differs ? markPair(r.left, r.right) : [value(r.left), value(r.right)];
    return `<tr${r.differs ? ' class="diff"' : ''} data-field="${esc(r.field)}"><td class="field mono">${esc(r.field)}</td><td class="mono">${l}</td><td class="mono">${rt}</td></tr>`;
  }).join('');
  return `<table class="${cls}"><thead><tr><th>field</th><th>${esc(left)} (left)</th><th>${esc(right)} (right)</th></tr></thead><tbody>${body}</tbody></table>`;
}

function explanation(b: ReportBucket, n: number, ex: Explanation, dirLabel: string): string {
  const out: string[] = [];
  const verdict = b.compare ? ` <span class="badge ${esc(b.compare.verdict)}">${esc(b.compare.verdict)}</span>${b.compare.responsible.length ? ` <code>${esc(b.compare.responsible.join(' + '))}</code>` : ''}` : '';
  out.push(`<article class="bucket" id="b-${esc(b.id)}" data-bucket="${esc(b.id)}">`);
  out.push(`<h3>#${n} <code>${esc(b.id)}</code> <span class="badge ${esc(b.kind)}">${esc(b.kind)}</span>${verdict} <span class="muted small">x${num(b.count)}</span></h3>`);
  out.push(`<p>${prose(b.words)}</p><p><code class="small">${esc(b.signature)}</code></p>`);
  const entryPath = ex.source ? `${dirLabel.replace(/\/$/, '')}/${ex.source}` : null;
  if (ex.source) out.push(`<p class="small muted">From the ${esc(ex.sourceWhat)} <a href="${href(ex.source)}">${esc(ex.source)}</a>; trace it with <code>npx svmfuzz trace ${esc(entryPath!)}</code></p>`);
  else if (ex.sourceWhat) out.push(`<p class="small muted">From ${esc(ex.sourceWhat)}.</p>`);
  for (const note of ex.notes) out.push(`<p class="small error">${prose(note)}</p>`);
  if (ex.stream) {
    const steps = ex.steps.map((s) => {
      const cls = [s.first ? 'first' : '', s.latentFirst ? 'latent-first' : ''].filter(Boolean).join(' ');
      return `<tr${cls ? ` class="${cls}"` : ''}><td class="idx mono">#${s.index}</td><td class="ev mono">${esc(s.event)}</td><td class="mono">${esc(s.left)}</td><td class="mono">${esc(s.right)}</td><td class="mono differs">${s.diff.map((f) => `<mark>${esc(f)}</mark>`).join(' ')}</td></tr>`;
    }).join('');
    const legend = ex.rerun ? '<p class="small muted">!! the first differing step; * the internal state of the two sides first differs after this step. Per side: exits, deliveries, userspace reads, and fields that changed.</p>' : '';
    out.push(`<h4>Reproducer (${ex.length} events)</h4><pre class="stream">${esc(ex.stream)}</pre>`);
    out.push(`<h4>Step by step</h4><table class="steps"><thead><tr><th>step</th><th>event</th><th>${esc(ex.left)}</th><th>${esc(ex.right)}</th><th>differs</th></tr></thead><tbody>${steps}</tbody></table>${legend}`);
  }
  const d = ex.divergence;
  if (d) {
    const where = d.kind === 'latent' ? 'at the end of the stream (internal state only: every step looked the same)' : `at step #${d.step}: <code>${esc(d.eventText)}</code>`;
    out.push(`<h4>First difference</h4><p>${esc(d.kind)} ${where}${ex.latentFirstStep !== null && ex.latentFirstStep !== d.step ? `; the internal state already differed after step #${ex.latentFirstStep} (<code>${esc(ex.steps[ex.latentFirstStep]?.event ?? '')}</code>)` : ''}.</p>`);
    if (d.error) out.push(`<p class="error mono small">${esc(d.error)}</p>`);
    out.push('<div class="grid2b">');
    if (ex.observations) {
      const hidden = ex.observations.hiddenNull ? `<p class="small muted">${ex.observations.hiddenNull} field(s) null on both sides (not read at this step) are left out.</p>` : '';
      out.push(`<div class="observations"><h4>${esc(ex.observations.title)}, side by side</h4>${fieldTable(ex.observations.rows, ex.left, ex.right, 'side')}${hidden}</div>`);
    }
    if (ex.before) {
      out.push(`<div class="state-before"><h4>${esc(ex.before.title)}: the state that led there</h4>${fieldTable(ex.before.rows, ex.left, ex.right, 'side')}<p class="small muted">Fields that differ between the two sides (marked), and the NMI, interrupt and shadow tracking fields that steer the next step.</p></div>`);
    }
    out.push('</div>');
  }
  out.push('</article>');
  return out.join('\n');
}

export function renderPage(p: PageInput): string {
  const d = p.data;
  const title = `svmfuzz ${d.kind === 'compare' ? 'comparison' : 'campaign'} report: ${d.pair ?? d.dir}${d.left && d.right ? ` (${d.left.id} vs ${d.right.id})` : ''}`;
  const sat = p.saturation;
  const plots = p.plots.length
    ? `<div class="plots">${p.plots.map((pl) => `<figure id="plot-${esc(pl.id)}"><h3>${esc(pl.title)}</h3><figcaption>${esc(pl.caption)}</figcaption>${pl.svg}</figure>`).join('\n')}</div>`
    : '<p class="muted">No plots: the run left no stats.jsonl and no first-seen times.</p>';
  const explained = d.buckets.filter((b) => p.explanations.has(b.id));
  const articles = explained.map((b) => explanation(b, d.buckets.indexOf(b) + 1, p.explanations.get(b.id)!, p.dirLabel));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="status status-${esc(d.status)}" id="status" data-status="${esc(d.status)}">${esc(statusLine(d))}</p>
</header>
${causesSection(d)}
${d.notes.length ? `<section id="what-happened" class="notes"><h2>What happened</h2><ul>${d.notes.map((n) => `<li>${prose(n)}</li>`).join('')}</ul></section>` : ''}
<section id="overview"><h2>Run</h2>${overview(d)}</section>
${shardsSection(d)}
<section id="saturation"><h2>Saturation</h2>
<p class="verdict v-${esc(sat.verdict)}" data-verdict="${esc(sat.verdict)}">${esc(sat.headline)}</p>
<ul>${sat.details.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
</section>
<section id="plots"><h2>Plots</h2>
${plots}
</section>
<section id="buckets"><h2>Buckets (${d.buckets.length})</h2>
${bucketTable(d, p.explanations)}
</section>
<section id="explanations"><h2>Explained divergences</h2>
${p.explainedNote ? `<p class="muted">${prose(p.explainedNote)}</p>` : ''}
${articles.length ? articles.join('\n') : '<p class="muted">Nothing to explain: no bucket.</p>'}
</section>
<footer>Generated by <code>svmfuzz report</code> at ${esc(p.generatedAt)}. Regenerate with <code>npx svmfuzz report ${esc(p.dirLabel)}</code>; render to a PNG with <code>node scripts/render-report.mjs ${esc(p.dirLabel.replace(/\/$/, ''))}/report.html</code>.</footer>
</body>
</html>
`;
}
