#!/bin/sh
# bench/formats.sh: the export formats and scorch collapse perf.
#  1. `scorch collapse perf --period` against FlameGraph's stackcollapse-perf.pl
#     --kernel on the same perf script text (a dwarf call-graph recording of xz -6 of
#     8 MB of base64, copied 10 times), when STACKCOLLAPSE_PL points at stackcollapse-perf.pl (or FLAMEGRAPH_PL
#     at flamegraph.pl beside it): median wall time and peak RSS of each, the ratio, and
#     whether the outputs agree once the known differences are taken out (scorch marks
#     inlined frames _[i] and does not call [vdso] a kernel frame).
#  2. `scorch render` to .pb.gz, .speedscope.json and `scorch report` (table and tree)
#     on real-small and synth medium: wall time, peak RSS, output size.
# Environment: SCORCH (default ./scorch), CORPUS (default ../shared/corpus), RUNS
# (default 3), STACKCOLLAPSE_PL, FLAMEGRAPH_PL.
set -u
cd "$(dirname "$0")/.."
SCORCH=${SCORCH:-./scorch}
CORPUS=${CORPUS:-$(cd .. && pwd)/shared/corpus}
RUNS=${RUNS:-3}
OUT=bench/out
mkdir -p "$OUT"
[ -x "$SCORCH" ] || { echo "formats bench: no $SCORCH (run make first)"; exit 1; }
[ -x /usr/bin/time ] || { echo "formats bench: needs /usr/bin/time (Debian package time)"; exit 1; }

median() {
	sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# measure OUTFILE CMD...: prints "median_wall_s peak_rss_kb"; stdin is $IN
measure() {
	out=$1
	shift
	: >"$OUT/fmt-times"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		/usr/bin/time -f "%e %M" -o "$OUT/fmt-time1" "$@" <"${IN:-/dev/null}" >"$out" \
			2>"$OUT/fmt-stderr" || { cat "$OUT/fmt-stderr" >&2; return 1; }
		cat "$OUT/fmt-time1" >>"$OUT/fmt-times"
		i=$((i + 1))
	done
	echo "$(cut -d' ' -f1 "$OUT/fmt-times" | median) $(cut -d' ' -f2 "$OUT/fmt-times" | sort -n | tail -n 1)"
}

echo "== scorch collapse perf"
text=$OUT/formats-perf.txt
if [ ! -s "$text" ]; then
	if ! command -v perf >/dev/null || ! command -v xz >/dev/null; then
		echo "skipped: needs perf and xz"
	else
		head -c 8000000 /dev/urandom | base64 >"$OUT/formats-input"
		perf record -q -F 999 --call-graph dwarf -o "$OUT/formats-perf.data" -- \
			xz -T1 -6 -c "$OUT/formats-input" >/dev/null 2>"$OUT/fmt-stderr" &&
			perf script -i "$OUT/formats-perf.data" >"$OUT/formats-one.txt" 2>/dev/null &&
			for i in 1 2 3 4 5 6 7 8 9 10; do cat "$OUT/formats-one.txt"; done >"$text"
		rm -f "$OUT/formats-input" "$OUT/formats-perf.data" "$OUT/formats-one.txt"
	fi
fi
if [ -s "$text" ]; then
	samples=$(grep -c -E '^[^[:space:]]' "$text")
	echo "input: $(wc -c <"$text") bytes of perf script text, $samples samples"
	IN=$text
	set -- $(measure "$OUT/formats-mine.folded" "$SCORCH" collapse perf --period)
	mine_s=$1
	mine_kb=$2
	printf '%-28s %8s s %8s MiB\n' "scorch collapse perf" "$mine_s" "$((mine_kb / 1024))"
	pl=${STACKCOLLAPSE_PL:-}
	if [ -z "$pl" ] && [ -n "${FLAMEGRAPH_PL:-}" ]; then
		pl=$(dirname "$FLAMEGRAPH_PL")/stackcollapse-perf.pl
	fi
	if [ -n "$pl" ] && [ -f "$pl" ]; then
		set -- $(measure "$OUT/formats-ref.folded" perl "$pl" --kernel)
		printf '%-28s %8s s %8s MiB\n' "stackcollapse-perf.pl" "$1" "$(($2 / 1024))"
		awk -v a="$1" -v b="$mine_s" 'BEGIN { if (b > 0) printf "ratio: scorch is %.1fx faster\n", a / b }'
		sed 's/\[\[vdso\]\]_\[k\]/[vdso]/g; s/\(__vdso_[a-z_]*\)_\[k\]/\1/g' \
			"$OUT/formats-ref.folded" | sort >"$OUT/formats-ref.sorted"
		sed 's/_\[i\]//g' "$OUT/formats-mine.folded" | sort >"$OUT/formats-mine.sorted"
		if cmp -s "$OUT/formats-ref.sorted" "$OUT/formats-mine.sorted"; then
			echo "outputs agree (after the known differences)"
		else
			echo "outputs differ: diff $OUT/formats-ref.sorted $OUT/formats-mine.sorted"
		fi
	else
		echo "stackcollapse-perf.pl: not measured (set STACKCOLLAPSE_PL or FLAMEGRAPH_PL)"
	fi
	IN=
fi

echo "== export formats"
medium=$OUT/synth-medium.folded
if [ ! -s "$medium" ]; then
	/usr/bin/python3 "$CORPUS/gen_folded.py" --preset medium -o "$medium.tmp" 2>/dev/null &&
		mv "$medium.tmp" "$medium" || rm -f "$medium.tmp"
fi
printf '%-14s %-22s %8s %8s %10s\n' input output wall_s rss_MiB bytes
for input in "$CORPUS/real-small.folded" "$medium"; do
	[ -s "$input" ] || continue
	name=$(basename "$input" .folded)
	for fmt in pb.gz speedscope.json txt tree.txt; do
		dst=$OUT/formats-out.$fmt
		case $fmt in
		tree.txt) set -- $(measure /dev/null "$SCORCH" report --tree "$input" -o "$dst") ;;
		txt) set -- $(measure /dev/null "$SCORCH" report "$input" -o "$dst") ;;
		*) set -- $(measure /dev/null "$SCORCH" render "$input" -o "$dst") ;;
		esac
		printf '%-14s %-22s %8s %8s %10s\n' "$name" "$fmt" "$1" "$(($2 / 1024))" \
			"$(wc -c <"$dst")"
	done
done
