// The report's plots: vega-lite specs from stats.jsonl and the buckets' first-seen times,
// compiled to vega and rendered to SVG here in Node (renderer 'none', no canvas, no
// browser), so the page carries them inline and needs no script or network. vega is
// imported lazily: it costs ~0.3 s to load and only the report needs it.

import type { TopLevelSpec } from 'vega-lite';
import type { ReportBucket, StatsRecord } from './data.js';

export interface Plot {
  id: string;
  title: string;
  /** One sentence under the plot: what it shows and how it was measured. */
  caption: string;
  svg: string;
}

type Row = Record<string, number | string>;

/** The time axis unit, chosen from the run's length so the ticks read well. */
function timeUnit(endMs: number): { div: number; name: string } {
  if (endMs <= 180_000) return { div: 1000, name: 'seconds' };
  if (endMs <= 3 * 3_600_000) return { div: 60_000, name: 'minutes' };
  return { div: 3_600_000, name: 'hours' };
}

const WIDTH = 520;
const MIN_INTERVAL_MS = 500;
const HEIGHT = 170;
const COLORS = ['#3b6ea8', '#d1743b', '#4c9a5b', '#b8454f', '#7a62a8', '#8a6d4b', '#c66aa8', '#6f7780'];

const baseConfig = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' as const, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 400, orient: 'bottom' as const, direction: 'horizontal' as const },
  range: { category: COLORS },
};

interface LineOpts {
  /** The time axis runs from 0 to this (the same on every plot). */
  xMax: number;
  color?: string;
  colorTitle?: string | null;
  step?: boolean;
  points?: boolean;
  /** Start the y axis at 0 (rates, counts) or at the data (coverage: its growth is the point). */
  yZero?: boolean;
}

/** The y scale: flat data (one record, nothing found) still gets a readable axis. */
function yScale(values: Row[], y: string, zero: boolean): Record<string, unknown> {
  const ys = values.map((r) => Number(r[y]));
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  if (!ys.length || lo === hi) return { domain: [Math.min(0, lo), Math.max(1, hi * 1.1)] };
  return { zero };
}

function lineSpec(values: Row[], x: string, y: string, yTitle: string, opts: LineOpts): TopLevelSpec {
  return {
    width: WIDTH, height: HEIGHT, config: baseConfig, data: { values },
    mark: { type: 'line', interpolate: opts.step ? 'step-after' : 'linear', point: opts.points ?? values.length < 40, strokeWidth: 1.8 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: x, scale: { domain: [0, opts.xMax] } },
      // Counts and rates are whole numbers: no fractional ticks, thousands separated.
      y: { field: y, type: 'quantitative', title: yTitle, scale: yScale(values, y, opts.yZero ?? true), axis: { format: ',d', tickMinStep: 1 } },
      ...(opts.color ? { color: { field: opts.color, type: 'nominal', title: opts.colorTitle === undefined ? opts.color : opts.colorTitle } } : { color: { value: COLORS[0]! } }),
    },
  } as TopLevelSpec;
}

/** vega-lite -> vega -> SVG, without a DOM; the namespace URLs are dropped (inline SVG needs none). */
async function render(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec as never), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}

/**
 * The plots a run has data for: executions per second, coverage and buckets over time
 * (the discovery curve), and the rate of each lane. Missing data gives fewer plots.
 */
export async function buildPlots(stats: readonly StatsRecord[], buckets: readonly ReportBucket[], endMs: number | null): Promise<Plot[]> {
  const end = Math.max(endMs ?? 0, stats[stats.length - 1]?.elapsedMs ?? 0, ...buckets.map((b) => b.firstSeen?.ms ?? 0));
  const u = timeUnit(end);
  const t = (ms: number) => Math.round((ms / u.div) * 1000) / 1000;
  const xTitle = `time into the run (${u.name})`;
  const xMax = t(end);
  const plots: Plot[] = [];

  if (stats.length) {
    // The rate over each status interval (execs and elapsed time both continue across a
    // resume, so intervals never span the downtime); a first interval from zero. An
    // interval shorter than MIN_INTERVAL_MS (the final record comes right after the last
    // round) is merged into the next one: one batch over a few ms is not a rate.
    const rate: Row[] = [];
    let prev = { elapsedMs: 0, execs: 0 };
    for (const r of stats) {
      const dt = r.elapsedMs - prev.elapsedMs;
      if (r.execs < prev.execs || dt < 0) prev = r;
      else if (dt >= MIN_INTERVAL_MS || (prev.elapsedMs === 0 && dt > 0)) {
        rate.push({ t: t(r.elapsedMs), value: Math.round(((r.execs - prev.execs) * 1000) / dt), series: 'over the interval' });
        prev = r;
      }
      rate.push({ t: t(r.elapsedMs), value: r.execPerSec, series: 'average so far (this session)' });
    }
    plots.push({
      id: 'execs', title: 'Executions per second',
      caption: 'All lanes together: over each status interval (about a second), and the running average that the status line prints.',
      svg: await render(lineSpec(rate, xTitle, 'value', 'executions / s', { xMax, color: 'series', colorTitle: null })),
    });
    const cov: Row[] = stats.map((r) => ({ t: t(r.elapsedMs), coverage: r.coverage }));
    plots.push({
      id: 'coverage', title: 'Coverage over time',
      caption: 'Model-state coverage (distinct abstract transitions of both models), at each status record.',
      svg: await render(lineSpec(cov, xTitle, 'coverage', 'coverage', { xMax, step: true, yZero: false })),
    });
  }

  // The discovery curve, from the buckets' first-seen times (finer than the status
  // records); without them, from the records' bucket counts.
  const seen = buckets.filter((b) => b.firstSeen).map((b) => b.firstSeen!.ms).sort((a, b) => a - b);
  let disc: Row[] = [];
  if (seen.length) {
    disc = [{ t: 0, buckets: 0 }, ...seen.map((ms, i) => ({ t: t(ms), buckets: i + 1 }))];
    if (end > seen[seen.length - 1]!) disc.push({ t: t(end), buckets: seen.length });
  } else if (stats.length) {
    disc = [{ t: 0, buckets: 0 }, ...stats.map((r) => ({ t: t(r.elapsedMs), buckets: r.buckets }))];
  }
  if (disc.length > 1 || (disc.length && stats.length)) {
    plots.push({
      id: 'buckets', title: 'Buckets over time (the discovery curve)',
      caption: seen.length ? 'Distinct divergences found so far, each at its first-seen time; a flat tail means saturation.' : 'Distinct divergences at each status record.',
      svg: await render(lineSpec(disc, xTitle, 'buckets', 'buckets', { xMax, step: true, points: false })),
    });
  }

  const lanes: Row[] = [];
  for (const r of stats) for (const l of r.lanes) lanes.push({ t: t(r.elapsedMs), rate: l.execPerSec, lane: l.lane });
  if (lanes.length) {
    plots.push({
      id: 'lanes', title: 'Per-lane rates',
      caption: "Each lane's executions per second over its last batch: a lane far below the others is starved or lost.",
      svg: await render(lineSpec(lanes, xTitle, 'rate', 'executions / s', { xMax, color: 'lane', colorTitle: 'lane' })),
    });
  }
  return plots;
}
