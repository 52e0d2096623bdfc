#!/bin/sh
# bench/render.sh: `scorch render` on the folded corpora (real-small as stored;
# synth medium and large regenerated into bench/out/ once, then reused). Prints per
# input: the median wall time of several runs, the peak RSS, the SVG's size and
# frame count, and beside them flamegraph.pl's figures: measured when FLAMEGRAPH_PL
# points at flamegraph.pl, otherwise the reference figures of
# ../shared/reference/renderers.md (same 2-core VM). The bar: >= 40x faster than
# flamegraph.pl on medium and large, peak RSS below the input's size, an SVG no
# larger than flamegraph.pl's at the same --minwidth.
# Environment: SCORCH (binary, default ./scorch), CORPUS (default ../shared/corpus),
# RUNS (override the run counts), RENDER_INPUTS (default "real-small medium large"),
# FLAMEGRAPH_PL.
set -u
cd "$(dirname "$0")/.."
SCORCH=${SCORCH:-./scorch}
CORPUS=${CORPUS:-$(cd .. && pwd)/shared/corpus}
OUT=bench/out
PY=/usr/bin/python3
mkdir -p "$OUT"

[ -x "$SCORCH" ] || { echo "render bench: no $SCORCH (run make first)"; exit 1; }
[ -x /usr/bin/time ] || { echo "render bench: needs /usr/bin/time (Debian package time)"; exit 1; }

# synth inputs: generated once (large takes ~75 s and 1.1 GB of RAM to generate)
gen() {
	preset=$1
	f=$OUT/synth-$preset.folded
	if [ ! -s "$f" ]; then
		echo "generating $f ..." >&2
		"$PY" "$CORPUS/gen_folded.py" --preset "$preset" -o "$f.tmp" 2>/dev/null &&
			mv "$f.tmp" "$f" || { rm -f "$f.tmp"; return 1; }
	fi
	echo "$f"
}

# median of the numbers on stdin
median() {
	sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# measure RUNS OUTFILE CMD...: prints "median_wall_s peak_rss_kb median_cpu_s"
# (cpu = user + system: less disturbed than wall time on a shared machine)
measure() {
	runs=$1
	out=$2
	shift 2
	: >"$OUT/times"
	i=0
	while [ "$i" -lt "$runs" ]; do
		/usr/bin/time -f "%e %M %U %S" -o "$OUT/time1" "$@" >"$out" 2>"$OUT/stderr" ||
			{ cat "$OUT/stderr" >&2; return 1; }
		cat "$OUT/time1" >>"$OUT/times"
		i=$((i + 1))
	done
	wall=$(cut -d' ' -f1 "$OUT/times" | median)
	rss=$(cut -d' ' -f2 "$OUT/times" | sort -n | tail -n 1)
	cpu=$(awk '{ printf "%.2f\n", $3 + $4 }' "$OUT/times" | median)
	echo "$wall $rss $cpu"
}

# reference figures of flamegraph.pl (renderers.md section 6): wall s, RSS MiB, SVG bytes
ref() {
	case $1 in
	real-small) echo "0.177 13.9 1456010" ;;
	synth-medium) echo "4.544 245.4 1879804" ;;
	synth-large) echo "60.628 2275.4 1684297" ;;
	esac
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '%-13s %7s %4s %7s %6s %8s %9s %6s | %7s %7s %9s %7s\n' input "in MB" runs "wall s" "cpu s" "RSS MiB" "SVG B" frames \
	"fg.pl s" "fg RSS" "fg SVG B" speedup
row() {
	name=$1
	in=$2
	runs=$3
	[ -n "${RUNS:-}" ] && runs=$RUNS
	svg=$OUT/$name.svg
	set -- $(measure "$runs" "$svg" "$SCORCH" render "$in") || return 1
	wall=$1
	rss_kb=$2
	cpu=$3
	size=$(wc -c <"$svg")
	frames=$(grep -c '<g data-n' "$svg")
	in_mb=$(awk -v b="$(wc -c <"$in")" 'BEGIN { printf "%.1f", b / 1e6 }')
	if [ -n "${FLAMEGRAPH_PL:-}" ]; then
		fruns=$runs
		[ "$fruns" -gt 3 ] && fruns=3
		[ "$name" = synth-large ] && fruns=1 # a minute or more a run
		set -- $(measure "$fruns" "$OUT/$name.fg.svg" perl "$FLAMEGRAPH_PL" "$in") || return 1
		fwall=$1
		fcpu=$3
		frss=$(awk -v k="$2" 'BEGIN { printf "%.1f", k / 1024 }')
		fsize=$(wc -c <"$OUT/$name.fg.svg")
		src="measured; cpu $(awk -v a="$fcpu" -v b="$cpu" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "inf" }') faster"
	else
		set -- $(ref "$name")
		fwall=$1
		frss=$2
		fsize=$3
		src=reference
	fi
	speed=$(awk -v a="$fwall" -v b="$wall" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "inf" }')
	printf '%-13s %7s %4s %7s %6s %8s %9s %6s | %7s %7s %9s %7s (%s)\n' "$name" "$in_mb" "$runs" "$wall" "$cpu" \
		"$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')" "$size" "$frames" \
		"$fwall" "$frss" "$fsize" "$speed" "$src"
}

INPUTS=${RENDER_INPUTS:-real-small medium large}
medium=
large=
for input in $INPUTS; do
	case $input in
	real-small) row real-small "$CORPUS/real-small.folded" 10 ;;
	medium) medium=$(gen medium) && row synth-medium "$medium" 5 ;;
	large) large=$(gen large) && row synth-large "$large" 3 ;;
	esac
done

# the same inputs through the folded writer (parse, merge, sort, write back)
if [ -n "${large:-}" ]; then
	set -- $(measure 1 /dev/null "$SCORCH" render "$large" --format folded)
	echo "synth-large to folded (read, merge, sorted write): $1 s, peak RSS $(awk -v k="$2" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
fi
if [ -n "${medium:-}" ]; then
	set -- $(measure 1 "$OUT/medium-all.svg" "$SCORCH" render "$medium" --minwidth 0)
	echo "synth-medium --minwidth 0 (every frame drawn): $1 s, $(grep -c '<g data-n' "$OUT/medium-all.svg") frames, $(wc -c <"$OUT/medium-all.svg") bytes (flamegraph.pl: 9.9 s, 92,451,019 bytes)"
fi
