#!/bin/sh
# Runs every test: the cmocka unit tests, the fuzz corpus replays, then the pytest
# end-to-end and browser tests. Ends with one line: "N passed, M failed, K skipped".
# Environment: SCORCH (binary under test), BUILD (build dir), PYTHON.
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export SCORCH=${SCORCH:-$(pwd)/scorch}
passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== unit tests"
for t in "$BUILD"/test/unit/test_*; do
	[ -x "$t" ] || continue
	"$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		cat "$log"
		echo "FAIL $(basename "$t")"
	else
		echo "ok   $(basename "$t"): $p passed"
	fi
done

echo "== fuzz corpus replays"
for t in "$BUILD"/test/fuzz/fuzz_*-replay; do
	[ -x "$t" ] || continue
	name=$(basename "$t" -replay)
	if "$t" "test/fuzz/corpus/${name#fuzz_}" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name: $(tail -n 1 "$log")"
	else
		failed=$((failed + 1))
		cat "$log"
		echo "FAIL $name"
	fi
done

echo "== end-to-end tests (pytest)"
"$PYTHON" -m pytest -p no:cacheprovider -q -rs test/e2e >"$log" 2>&1
rc=$?
cat "$log"
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|error)' "$log" | tail -n 1)
for kind in passed failed skipped error errors; do
	n=$(echo "$summary" | grep -oE "[0-9]+ $kind" | grep -oE '^[0-9]+')
	case $kind in
	passed) passed=$((passed + ${n:-0})) ;;
	skipped) skipped=$((skipped + ${n:-0})) ;;
	*) failed=$((failed + ${n:-0})) ;;
	esac
done
# pytest exits 5 when it collected nothing: that is a failure of the suite here
if [ "$rc" != 0 ] && [ -z "$summary" ]; then failed=$((failed + 1)); fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
