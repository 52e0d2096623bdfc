#!/bin/sh
# bench/ptrace.sh: the cost of ptrace mode on a 4-thread CPU-bound fixture at 99 Hz:
# the target's slowdown under scorch --mode ptrace and --mode perf, how long each
# thread is held stopped per tick (the sampler's own figures, SCORCH_PTRACE_STATS),
# side by side with eu-stack taking the same stacks (time per snapshot and the stall
# it causes). See bench/ptrace.py. BENCH_REPS=N sets the paired rounds (default 3).
set -eu
cd "$(dirname "$0")/.."
[ -x ./scorch ] || { echo "build ./scorch first (make)"; exit 1; }
exec /usr/bin/python3 bench/ptrace.py
