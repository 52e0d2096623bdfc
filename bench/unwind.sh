#!/bin/sh
# bench/unwind.sh: microseconds per unwind of profiler/unwind.c on real snapshots
# (ptrace: registers + 16 KiB of stack, as the samplers take them), with the
# sigprocmask interposer (as scorch runs) and without it (unwind.o's sigprocmask
# made local, so Debian libunwind blocks signals around every lock as shipped).
# Workloads: the -O2 -fomit-frame-pointer fixture chain, xz -T1 compressing 5 MB of
# base64, and a python3 loop. Each figure is the median of 3 passes over the same
# snapshots, each pass with a fresh unwinder (cold caches, warming as in a recording).
# mean = thread CPU time of a pass / samples (set-up included, preemption excluded);
# median and p99 = wall time of single unwinds.
set -eu
cd "$(dirname "$0")/.."
out=bench/out/unwind
mkdir -p "$out"
make -s -j2 scorch >/dev/null
pkgs="libdw libelf libunwind-ptrace libunwind-generic zlib"
cflags="-std=c11 -D_GNU_SOURCE -I. -O2 -g $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -liberty -lpthread -lm"
objs="$(ls build/common/*.o) build/profiler/maps.o build/profiler/unwind.o build/profiler/unwind_elf.o"
objcopy --localize-symbol=sigprocmask build/profiler/unwind.o "$out/unwind-nofix.o"
objs_nofix=$(echo "$objs" | sed "s#build/profiler/unwind\.o#$out/unwind-nofix.o#")
cc $cflags -o "$out/unwind_bench" bench/unwind_bench.c $objs $libs
cc $cflags -o "$out/unwind_bench_nofix" bench/unwind_bench.c $objs_nofix $libs
if nm -D "$out/unwind_bench_nofix" | grep -q ' T sigprocmask'; then
	echo "unwind bench: the no-fix build still exports sigprocmask" >&2
	exit 1
fi
cc -O2 -fomit-frame-pointer -o "$out/chain" test/fixtures/unwind_chain.c
[ -s "$out/xz.in" ] || head -c 3900000 /dev/urandom | base64 >"$out/xz.in"

n=${UNWIND_BENCH_SAMPLES:-2000}
"$out/unwind_bench" capture "$out/chain.snap" -n "$n" -u 1000 -- "$out/chain" burn 60
"$out/unwind_bench" capture "$out/xz.snap" -n "$n" -u 1000 -i "$out/xz.in" -- xz -T1 -9 -c
workloads="chain xz"
if command -v python3 >/dev/null; then
	"$out/unwind_bench" capture "$out/python.snap" -n "$n" -u 1000 -- python3 -c '
def f(n):
    return sum(i * i for i in range(n))
while True:
    f(10000)'
	workloads="$workloads python"
fi

printf '%-8s %7s %6s %9s | %-25s | %-25s | %s\n' workload samples depth complete \
	"with fix: mean/median/p99" "without: mean/median/p99" "mean ratio"
for w in $workloads; do
	set -- $("$out/unwind_bench" run "$out/$w.snap" -r 3)
	fix_mean=$2 fix_med=$3 fix_p99=$4
	samples=$1 depth=$5 complete=$6
	set -- $("$out/unwind_bench_nofix" run "$out/$w.snap" -r 3)
	ratio=$(awk -v a="$2" -v b="$fix_mean" 'BEGIN { printf "%.1fx", a / b }')
	printf '%-8s %7s %6s %8s%% | %7s / %6s / %6s us | %7s / %6s / %6s us | %s\n' "$w" "$samples" \
		"$depth" "$complete" "$fix_mean" "$fix_med" "$fix_p99" "$2" "$3" "$4" "$ratio"
done
