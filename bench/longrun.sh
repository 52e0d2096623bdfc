#!/bin/sh
# bench/longrun.sh: a long recording (issue 7): scorch record -F 999 --mode perf of a
# 16-thread process that loads and unloads libraries all the time
# (test/fixtures/fault_dlopen.c) for LONGRUN_SECONDS (default 600). Prints scorch's
# RSS sampled every second (it must stay flat, peak under 64 MiB), the samples and
# lost samples of the summary, and the time from the target's exit to scorch's exit
# with the SVG on disk (under 1 s). See bench/longrun.py; figures in bench/RESULTS.md
# under "## longrun". LONGRUN_THREADS, LONGRUN_HZ and LONGRUN_MODE change the set-up.
set -eu
cd "$(dirname "$0")/.."
[ -x ./scorch ] || { echo "build ./scorch first (make)"; exit 1; }
exec /usr/bin/python3 bench/longrun.py
