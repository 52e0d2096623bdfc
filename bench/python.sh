#!/bin/sh
# bench/python.sh: what sampling a CPU-bound Python script at 100 Hz costs the
# target. Runs bench/python_work.py (a fixed amount of work that prints its own CPU
# seconds) alone, under scorch (perf and ptrace modes) and under austin, in paired
# rounds (every tool once per round, order rotating), and prints the median CPU time
# of each and the slowdown against the run alone. The bar (issue #5): scorch costs
# no more than austin and less than 5%.
# Environment: PY (interpreter austin can read; default pyenv 3.9, else 3.8),
# ROUNDS (pairs, default 7), WORK (rounds of work, default 1000: ~2 s of CPU).
set -u
cd "$(dirname "$0")/.."
SCORCH=${SCORCH:-./scorch}
ROUNDS=${ROUNDS:-7}
WORK=${WORK:-1000}
if [ -z "${PY:-}" ]; then
	for p in /root/.pyenv/versions/3.9.*/bin/python3.9 /root/.pyenv/versions/3.8.*/bin/python3.8; do
		[ -x "$p" ] && PY=$p && break
	done
fi
if [ -z "${PY:-}" ] || [ ! -x "$PY" ]; then
	echo "python bench: no CPython 3.8 or 3.9 for austin (set PY)"; exit 0
fi
[ -x "$SCORCH" ] || { echo "python bench: build scorch first (make)"; exit 1; }
have_austin=1
command -v austin >/dev/null 2>&1 || have_austin=0
out=bench/out/python
mkdir -p "$out"
: >"$out/alone"; : >"$out/perf"; : >"$out/ptrace"; : >"$out/austin"

run() { # tool -> appends the target's CPU seconds to $out/tool
	case $1 in
	alone) "$PY" bench/python_work.py "$WORK" >"$out/last" ;;
	perf|ptrace)
		"$SCORCH" record -F 100 --mode "$1" -o "$out/$1.folded" -- \
			"$PY" bench/python_work.py "$WORK" >"$out/last" 2>"$out/$1.err" ;;
	austin)
		# austin writes its samples to -o and lets the script's stdout through
		austin -i 10000 -o "$out/austin.samples" "$PY" bench/python_work.py "$WORK" \
			>"$out/last" 2>"$out/austin.err" ;;
	esac
	tail -n 1 "$out/last" | grep -E '^[0-9.]+$' >>"$out/$1" || echo "python bench: $1 run failed"
}

tools="alone perf ptrace"
[ $have_austin = 1 ] && tools="$tools austin"
i=0
while [ $i -lt "$ROUNDS" ]; do
	# rotate the order so that no tool always runs first after a quiet spell
	set -- $tools
	k=0
	while [ $k -lt $((i % $#)) ]; do x=$1; shift; set -- "$@" "$x"; k=$((k + 1)); done
	for t in "$@"; do run "$t"; done
	i=$((i + 1))
done

median() { sort -n "$1" | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
base=$(median "$out/alone")
echo "python bench: $PY, $WORK rounds of work, $ROUNDS paired runs, 100 Hz, target CPU seconds (median)"
printf "%-22s %10s %10s\n" "run" "cpu s" "slowdown"
for t in $tools; do
	m=$(median "$out/$t")
	label=$t
	case $t in perf|ptrace) label="scorch --mode $t" ;; austin) label="austin -i 10ms" ;; esac
	printf "%-22s %10s %9s%%\n" "$label" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN {printf "%.1f", (m / b - 1) * 100}')"
done
grep -h "samples" "$out/perf.err" "$out/ptrace.err" 2>/dev/null | tail -n 2
