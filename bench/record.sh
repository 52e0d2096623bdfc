#!/bin/sh
# bench/record.sh: scorch record against perf record --call-graph dwarf + perf script
# + a collapse to folded stacks, on the cpu_shares fixture and on xz, at 99 and
# 999 Hz (see bench/record.py for what is measured and how). BENCH_REPS=N sets the
# paired rounds (default 3); BENCH_LONG=0 skips the 60 s peak-memory run.
set -eu
cd "$(dirname "$0")/.."
[ -x ./scorch ] || { echo "build ./scorch first (make)"; exit 1; }
exec /usr/bin/python3 bench/record.py
