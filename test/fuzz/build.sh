#!/bin/sh
# Builds every test/fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan+UBSan) in
# build-fuzz/ and runs each for FUZZ_SECONDS (default 10) over its corpus in
# test/fuzz/corpus/<name>/ (FUZZ_OUT: another build folder, FUZZ_ONLY: one target's
# short name). New crashes are left in build-fuzz/crashes/<name>/; add
# each one to the corpus with the fix that makes it pass.
set -eu
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-10}
out=${FUZZ_OUT:-build-fuzz}
mkdir -p "$out/obj" "$out/crashes"
# READ_BLOCK: the folded reader's 4 MiB read buffer shrunk to 64 bytes, so that short
# inputs take its partial-line and growth paths (and ASan does not poison 4 MiB a run)
flags="-std=c11 -D_GNU_SOURCE -DREAD_BLOCK=64u -I. -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(pkg-config --cflags libdw libelf libunwind-ptrace libunwind-generic zlib)"
libs="$(pkg-config --libs libdw libelf libunwind-ptrace libunwind-generic zlib) -liberty -lpthread -lm"
objs=
for src in common/*.c profiler/*.c symbolizer/*.c render/*.c; do
	# main.c and the command files (they call die() of main.c) are the CLI, not libraries
	case $src in profiler/main.c | profiler/cmd_*.c) continue ;; esac
	o="$out/obj/$(echo "$src" | tr / _).o"
	if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
		clang $flags -c -o "$o" "$src"
	fi
	objs="$objs $o"
done
status=0
for t in test/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	short=${name#fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$short" ]; then continue; fi
	clang $flags -fsanitize=fuzzer -o "$out/$name" "$t" $objs $libs
	mkdir -p "$out/work/$short" "$out/crashes/$short"
	# a private working corpus: what libFuzzer finds is not written into the repo
	cp test/fuzz/corpus/"$short"/* "$out/work/$short/" 2>/dev/null || true
	echo "fuzzing $short for ${secs}s"
	if ! "$out/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crashes/$short/" "$out/work/$short" >"$out/$short.log" 2>&1; then
		tail -n 30 "$out/$short.log"
		echo "FINDING in $short: see $out/crashes/$short/"
		status=1
	else
		grep -E '^#[0-9]+.*(DONE|pulse)' "$out/$short.log" | tail -n 1 || true
	fi
done
exit $status
