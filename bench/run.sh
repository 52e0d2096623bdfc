#!/bin/sh
# make bench: runs every bench/<area>.sh in turn and prints what each measured,
# side by side with the tools scorch must beat (perf, flamegraph.pl when
# FLAMEGRAPH_PL points at it, eu-stack, austin). Scratch files go to bench/out/.
# BENCH_ONLY=render,record runs a subset. The measured numbers are kept in
# bench/RESULTS.md.
set -u
cd "$(dirname "$0")/.."
mkdir -p bench/out
status=0
for script in bench/*.sh; do
	name=$(basename "$script" .sh)
	[ "$name" = run ] && continue
	if [ -n "${BENCH_ONLY:-}" ]; then
		case ",$BENCH_ONLY," in *",$name,"*) ;; *) continue ;; esac
	fi
	echo "=============== bench: $name"
	sh "$script" || { echo "bench $name failed"; status=1; }
done
exit $status
