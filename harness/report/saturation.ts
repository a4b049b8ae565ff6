// Is the campaign still finding things? From the buckets' first-seen points and the
// coverage in stats.jsonl: the time since the last new bucket and since the last coverage
// increase (at the end of the run), and the trend of the discovery curve (buckets first
// seen per quarter of the run), said in words. A pure function of the run's data: the
// same run gives the same sentences.
//
// The trend is measured in executions, the fuzzing effort, when the run counted them:
// wall time also holds the lanes' start-up and the minimization of the last buckets after
// the last execution, which would make a short --runs campaign look saturated.

import { durationWords, type ReportBucket, type StatsRecord } from './data.js';

export type SaturationVerdict = 'empty' | 'saturated' | 'slowing' | 'still-finding' | 'unknown';

export interface Saturation {
  verdict: SaturationVerdict;
  /** The first sentence: the verdict in words. */
  headline: string;
  /** Supporting sentences (time since the last bucket, coverage, quarters). */
  details: string[];
  sinceLastBucketMs: number | null;
  sinceLastCoverageMs: number | null;
  /** Buckets first seen in each quarter of the run (null without first-seen points). */
  quarters: number[] | null;
}

/** The trailing share of the run without a new bucket that counts as saturation. */
const SATURATED_FRACTION = 0.25;

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const n = (x: number): string => x.toLocaleString('en-US');

export interface RunExtent {
  /** Wall time of the run (ms). */
  endMs: number | null;
  /** Executions of the run. */
  execs: number | null;
}

export function saturation(buckets: readonly ReportBucket[], stats: readonly StatsRecord[], extent: RunExtent): Saturation {
  const end = extent.endMs ?? stats[stats.length - 1]?.elapsedMs ?? null;
  const totalExecs = extent.execs ?? stats[stats.length - 1]?.execs ?? null;
  const details: string[] = [];

  // Coverage: the first status record at which it reached its final value. The increase
  // happened between that record and the one before, so "since" is a lower bound.
  let sinceLastCoverageMs: number | null = null;
  if (stats.length && end !== null) {
    const final = stats[stats.length - 1]!.coverage;
    const i = stats.findIndex((r) => r.coverage >= final);
    const at = stats[i]!;
    sinceLastCoverageMs = Math.max(0, end - at.elapsedMs);
    if (stats.length === 1) {
      details.push(`Coverage: ${n(final)} (one status record: no trend).`);
    } else if (i === stats.length - 1 && stats[i - 1]!.coverage < final) {
      details.push(`Coverage: ${n(final)}, still growing at the last status record (${durationWords(at.elapsedMs)} into the run).`);
    } else {
      const quiet = totalExecs ? ` (the last ${n(Math.max(0, totalExecs - at.execs))} executions, ${pct((totalExecs - at.execs) / totalExecs)} of the run)` : '';
      details.push(`Coverage: ${n(final)}, unchanged since ${durationWords(at.elapsedMs)} into the run: no increase in the last ${durationWords(sinceLastCoverageMs)}${quiet}.`);
    }
  } else {
    details.push('Coverage over time: unknown (no stats.jsonl).');
  }

  if (!buckets.length) {
    const what = [totalExecs ? `${n(totalExecs)} executions` : '', end ? durationWords(end) : ''].filter(Boolean).join(', ');
    return { verdict: 'empty', headline: `Nothing found: no bucket in the whole run${what ? ` (${what})` : ''}.`, details, sinceLastBucketMs: end, sinceLastCoverageMs, quarters: [0, 0, 0, 0] };
  }
  const seen = buckets.filter((b) => b.firstSeen !== null).map((b) => b.firstSeen!);
  // The effort axis: executions when counted, else wall time.
  const byExecs = !!totalExecs && totalExecs > 0;
  const total = byExecs ? totalExecs! : end;
  if (!seen.length || !total || total <= 0) {
    const why = !seen.length ? 'no bucket has a first-seen point (they were read from disk or the corpus)' : 'the run recorded neither executions nor time';
    return { verdict: 'unknown', headline: `Trend unknown: ${why}.`, details, sinceLastBucketMs: null, sinceLastCoverageMs, quarters: null };
  }
  const at = seen.map((f) => (byExecs ? f.execs : f.ms)).sort((a, b) => a - b);
  const quarters = [0, 0, 0, 0];
  for (const x of at) quarters[Math.min(3, Math.max(0, Math.floor((x / total) * 4)))]!++;
  const last = at[at.length - 1]!;
  const gap = Math.max(0, total - last) / total;
  const lastMs = Math.max(...seen.map((f) => f.ms));
  const sinceLastBucketMs = end !== null ? Math.max(0, end - lastMs) : null;
  const unit = byExecs ? 'executions' : 'time';
  details.unshift(`Last new bucket ${byExecs ? `at execution ${n(last)} of ${n(total)}, ` : ''}${durationWords(lastMs)} into the run${sinceLastBucketMs !== null ? `, ${durationWords(sinceLastBucketMs)} before its end` : ''}; first seen per quarter of the run (by ${unit}): ${quarters.join(', ')}.`);
  if (seen.length < buckets.length) details.push(`${buckets.length - seen.length} bucket(s) without a first-seen point are not counted.`);

  let verdict: SaturationVerdict;
  let headline: string;
  // Coverage that still grew in the last quarter of the run (when stats tell) means the
  // fuzzer is still reaching new states: no "saturated" then, however quiet the buckets.
  const coverageGrowing = sinceLastCoverageMs !== null && end !== null && end > 0 && stats.length > 1 && sinceLastCoverageMs / end < SATURATED_FRACTION;
  if (gap >= SATURATED_FRACTION && coverageGrowing) {
    verdict = 'slowing';
    headline = `Not saturated yet: no new bucket in the last ${pct(gap)} of the run, but coverage still grew ${durationWords(sinceLastCoverageMs!)} before its end; a longer run may find more.`;
  } else if (gap >= SATURATED_FRACTION) {
    verdict = 'saturated';
    headline = `Saturated: no new bucket in the last ${pct(gap)} of the run (${byExecs ? `${n(total - last)} executions` : durationWords(total - last)}).`;
  } else if (quarters[3]! * 4 < quarters[0]!) {
    verdict = 'slowing';
    headline = `Still finding, but slowing down: ${quarters[3]} new bucket(s) in the last 25% of the run, against ${quarters[0]} in the first 25%.`;
  } else {
    verdict = 'still-finding';
    headline = `Still finding: ${quarters[3]} new bucket(s) in the last 25% of the run (${quarters[0]} in the first 25%); a longer run should find more.`;
  }
  return { verdict, headline, details, sinceLastBucketMs, sinceLastCoverageMs, quarters };
}
