#!/usr/bin/env bash
# Submits a svmfuzz campaign of N shards as a Slurm job array, and the merge as a job
# that runs once every shard has finished. Run from the project directory:
#
#   SVMFUZZ_SEED=42 SVMFUZZ_OUT=/shared/campaign deploy/slurm/submit.sh 8
#
# (settings: see svmfuzz-array.sbatch). Add --wait as a second argument to wait for the
# merge to finish (sbatch --wait), as the project's Slurm test does.
set -euo pipefail
n="${1:?usage: submit.sh N [--wait]: the number of shards}"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive integer (got '$n')" >&2; exit 2; }
: "${SVMFUZZ_SEED:?set SVMFUZZ_SEED, the campaign seed}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${SVMFUZZ_OUT:-campaign}"
mkdir -p "$out/logs"
array=$(sbatch --parsable --export=ALL --array="0-$((n - 1))" --output="$out/logs/shard-%A_%a.out" "$here/svmfuzz-array.sbatch")
echo "submitted shards: job array $array (0-$((n - 1)))"
# afterok: a shard that failed or hit its time limit has no summary.json to merge;
# resume it (fuzz --resume with the same --shard) and run the merge job again.
wait=()
[[ "${2:-}" == --wait ]] && wait=(--wait)
merge=$(sbatch --parsable --export=ALL "${wait[@]}" --output="$out/logs/merge-%j.out" --dependency="afterok:${array%%;*}" "$here/svmfuzz-merge.sbatch")
echo "submitted merge: job $merge (after the array); logs in $out/logs"
