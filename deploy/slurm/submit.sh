#!/usr/bin/env bash
# Submits a partitioned Winnow run to Slurm: an array of TASKS parts, and the merge once they all succeeded.
#
#   bash deploy/slurm/submit.sh PIPELINE INPUTS_FILE OUTPUT TASKS [sbatch options...]
#
# INPUTS_FILE lists the inputs, one a line (WAT/WARC files, URL lists, candidate files, Parquet; local paths or
# http(s) URLs), plain or .gz; it may itself be a URL, such as a crawl's
# https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/wat.paths.gz, read where it is. OUTPUT must be on a
# filesystem every node sees. Set WINNOW to the executable (default: winnow on PATH) and WINNOW_ARGS to more
# 'winnow run' arguments. Extra arguments go to both sbatch calls (--partition, --time, --account...).
# Prints the two job ids: "array JOBID" and "merge JOBID". Logs go to OUTPUT.logs/ (beside OUTPUT: a Winnow output
# directory holds only what Winnow writes).
#
# How many parts: one per input file at most (a part is a set of whole input files); for a Common Crawl segment
# of 100,000 WAT files, a few hundred to a few thousand tasks of a few hours each. A requeued or timed-out task
# resumes its part; the merge waits for all of them.
set -euo pipefail
PIPELINE=$(realpath "${1:?usage: submit.sh PIPELINE INPUTS_FILE OUTPUT TASKS [sbatch options...]}")
INPUTS=${2:?INPUTS_FILE}
case "$INPUTS" in http://* | https://* | s3://*) ;; *) INPUTS=$(realpath "$INPUTS") ;; esac
OUTPUT=$(realpath -m "${3:?OUTPUT}")
TASKS=${4:?TASKS}
shift 4
here=$(dirname "$(realpath "$0")")
LOGS="$OUTPUT.logs"
mkdir -p "$LOGS"
export PIPELINE INPUTS OUTPUT WINNOW="${WINNOW:-winnow}" WINNOW_ARGS="${WINNOW_ARGS:-}"
array=$(sbatch --parsable --export=ALL --array="0-$((TASKS - 1))" --output="$LOGS/part-%a.log" "$@" \
    "$here/winnow-part.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --output="$LOGS/merge.log" "$@" "$here/winnow-merge.sbatch")
echo "array ${array}"
echo "merge ${merge%%;*}"
