#!/bin/sh
# symbolize: resolve_profile (symbolizer/) on the addresses of live processes, beside
# eu-addr2line on the very same addresses. Targets: a Python 3.12 with a shared
# libpython that has DWARF (pyenv; else the system python3) running json, zlib, re and
# sha256, and xz compressing. Address sets: the real one (what `perf record
# --call-graph dwarf` sampled for 5 s, through `perf script`) and a random one (5,000
# distinct text addresses, half in libpython, half in libc: a pessimistic spread).
# Figures are the median of 5 runs; CPU time is the one to compare on a shared machine.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=bench/out/symbolize
RUNS=${RUNS:-5}
mkdir -p "$OUT"
CC=${CC:-cc}

objs="$(ls "$BUILD"/common/*.o "$BUILD"/symbolizer/*.o) $BUILD/profiler/maps.o $BUILD/profiler/stacks.o $BUILD/render/profile.o"
# shellcheck disable=SC2086
$CC -std=c11 -D_GNU_SOURCE -I. -O2 -g -o "$OUT/symbolize_bench" bench/symbolize_bench.c $objs \
	$(pkg-config --libs libdw libelf) -liberty || exit 1
BENCH=$OUT/symbolize_bench

PY=${SYMBOLIZE_PYTHON:-$(ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -n 1)}
[ -n "$PY" ] && [ -x "$PY" ] || PY=$(command -v python3)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

"$PY" -c '
import json, zlib, re, hashlib
data = json.dumps([{"k%d" % i: [i, str(i) * 5, {"x": i / 3}]} for i in range(2000)])
pat = re.compile(r"\"k(\d+)\": \[(\d+)")
while True:
    d = json.loads(data)
    z = zlib.compress(data.encode(), 6)
    zlib.decompress(z)
    sum(int(m.group(1)) for m in pat.finditer(data))
    hashlib.sha256(z).hexdigest()
' &
pypid=$!
pids="$pids $pypid"
head -c 50000000 /dev/urandom >"$OUT/xz.in"
sh -c "while :; do xz -6 -c '$OUT/xz.in' >/dev/null; done" &
xzloop=$!
pids="$pids $xzloop"
sleep 1
xzpid=$(pgrep -P "$xzloop" xz | head -n 1)

# the median (by CPU time) of $RUNS runs of the bench
median() {
	i=0
	: >"$OUT/runs"
	while [ $i -lt "$RUNS" ]; do
		"$BENCH" "$@" >>"$OUT/runs" || return 1
		i=$((i + 1))
	done
	sort -t' ' -k13 -n "$OUT/runs" | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}

# eu-addr2line on the unique addresses of a dump: wall, user+sys, max RSS
eu_time() { # pid dump out
	cut -f1 "$2" | sed 's/^/0x/' >"$3.addrs"
	/usr/bin/time -f "%e %U %S %M" -o "$3.time" eu-addr2line -p "$1" -a -f -i -C \
		--pretty-print <"$3.addrs" >"$3" 2>/dev/null
	# (eu-addr2line exits 1 when an address has no name: time notes it on a line of its own)
	awk 'NF == 4 && $1 ~ /^[0-9.]+$/ { printf "eu-addr2line -f -i -C --pretty-print: cpu %.0f ms, wall %.0f ms, max RSS %.0f MB\n", ($2 + $3) * 1000, $1 * 1000, $4 / 1024 }' "$3.time"
}

# scorch's whole bench process (maps, stacks, resolve), as eu-addr2line's is timed
whole_time() { # args...
	/usr/bin/time -f "%e %U %S %M" -o "$OUT/whole.time" "$BENCH" "$@" >/dev/null
	awk 'NF == 4 && $1 ~ /^[0-9.]+$/ { printf "symbolize_bench whole process:       cpu %.0f ms, wall %.0f ms, max RSS %.0f MB\n", ($2 + $3) * 1000, $1 * 1000, $4 / 1024 }' "$OUT/whole.time"
}

# how many addresses give the same function chain (and lines) as eu-addr2line
agree() { # dump eu
	/usr/bin/python3 - "$1" "$2" <<'PYEOF'
import os, re, sys
ours = {}
for line in open(sys.argv[1]):
    addr, _, frames = line.rstrip("\n").partition("\t")
    ours[int(addr, 16)] = [f for f in frames.split(";")]
eu, cur = {}, None
for line in open(sys.argv[2]):
    line = line.rstrip("\n")
    m = re.match(r"0x([0-9a-f]+): (.*)", line)
    if m:
        cur = int(m.group(1), 16)
        eu[cur] = [m.group(2)]
    elif line.startswith(" (inlined by) ") and cur is not None:
        eu[cur].append(line[len(" (inlined by) "):])
def eu_frame(t):
    name, _, where = t.partition(" at ")
    name = re.sub(r"\(.*\)( const)?$", "", name)  # -C adds parameters
    where = re.sub(r"(:\d+):\d+$", r"\1", where)   # and columns
    return name, os.path.basename(where) if where and not where.startswith("??") else ""
def our_frame(t):
    m = re.match(r"(.*) \((.*):(\d+)\)$", t)
    return (m.group(1), os.path.basename(m.group(2)) + ":" + m.group(3)) if m else (t, "")
same = differ = eu_unknown = gi = 0
samples = []
for a, fr in ours.items():
    e = [eu_frame(t) for t in eu.get(a, ["??"])]
    o = [our_frame(t) for t in fr]
    if e[0][0] == "??":
        eu_unknown += 1
        continue
    lines = all(x[1] for x in o)
    ok = [x[0] for x in o] == [x[0] for x in e] and (not lines or [x[1] for x in o] == [x[1] for x in e])
    # glibc's DIEs carry __GI_ labels as linkage names; scorch names them as declared
    gi_only = len(o) == len(e) and all(x == y or ("__GI_" + x[0], x[1]) == y for x, y in zip(o, e))
    if ok:
        same += 1
    elif gi_only:
        gi += 1
    else:
        differ += 1
        if len(samples) < 3:
            samples.append("    %x: ours %s | eu %s" % (a, o, e))
print("agreement with eu-addr2line (function chain and lines): %d identical, %d differ only by glibc's __GI_ alias, %d differ, %d '??' in eu-addr2line (named or module+0x here)" % (same, gi, differ, eu_unknown))
for s in samples:
    print(s)
PYEOF
}

echo "python: $PY (pid $pypid); xz: pid $xzpid"
if perf record -q -F 999 --call-graph dwarf -p "$pypid" -o "$OUT/py.data" -- sleep 5 >/dev/null 2>&1 &&
	perf script -i "$OUT/py.data" -F ip,dso --no-inline >"$OUT/py.script" 2>/dev/null; then
	echo "--- python, real set (perf record --call-graph dwarf, 5 s at 999 Hz)"
	for mode in --symbols --no-inline "" --lines; do
		printf '%-12s ' "${mode:---inline}"
		median -p "$pypid" --perf-script "$OUT/py.script" $mode
	done
	"$BENCH" -p "$pypid" --perf-script "$OUT/py.script" --lines --dump "$OUT/py.dump" >/dev/null
	whole_time -p "$pypid" --perf-script "$OUT/py.script" --lines
	eu_time "$pypid" "$OUT/py.dump" "$OUT/py.eu"
	agree "$OUT/py.dump" "$OUT/py.eu"
else
	echo "--- python, real set: skipped (perf record failed: perf_event_paranoid? not root?)"
fi

echo "--- python, random set (5,000 text addresses: half libpython, half libc)"
lib=libpython3
"$BENCH" -p "$pypid" --random 2 --in "$lib" >/dev/null 2>&1 || lib=python3
for mode in --symbols --no-inline "" --lines; do
	printf '%-12s ' "${mode:---inline}"
	median -p "$pypid" --random 5000 --in "$lib" --in libc.so $mode
done
"$BENCH" -p "$pypid" --random 5000 --in "$lib" --in libc.so --lines --dump "$OUT/rnd.dump" >/dev/null
whole_time -p "$pypid" --random 5000 --in "$lib" --in libc.so --lines
eu_time "$pypid" "$OUT/rnd.dump" "$OUT/rnd.eu"
agree "$OUT/rnd.dump" "$OUT/rnd.eu"

if [ -n "$xzpid" ] && perf record -q -F 999 --call-graph dwarf -p "$xzpid" -o "$OUT/xz.data" -- sleep 3 >/dev/null 2>&1 &&
	perf script -i "$OUT/xz.data" -F ip,dso --no-inline >"$OUT/xz.script" 2>/dev/null; then
	# xz may have been replaced by the loop's next run: take the one alive now
	xzpid=$(pgrep -P "$xzloop" xz | head -n 1)
	echo "--- xz (stripped Debian binary and liblzma; libc with libc6-dbg), real set"
	for mode in --symbols ""  --lines; do
		printf '%-12s ' "${mode:---inline}"
		median -p "$xzpid" --perf-script "$OUT/xz.script" $mode
	done
fi
