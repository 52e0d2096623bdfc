#!/usr/bin/env python3
"""bench/record.py (run by bench/record.sh): scorch record against
perf record --call-graph dwarf + perf script + a collapse to folded stacks.

For each workload (the cpu_shares fixture, xz -6 -T1 on generated text) and rate
(99, 999 Hz), REPS rounds of paired runs (bare, scorch, perf, in turn; one warm-up
round first), medians of:
  * the target's CPU time (user+sys, measured by GNU time inside the recorder) over
    its bare CPU time: the slowdown each recorder causes;
  * the recorder's own CPU: scorch record (outer CPU - target CPU), against
    perf record (outer - target) + perf script + the collapse (awk);
  * from the target's exit to the output on disk: scorch's SVG, perf's folded file
    (perf record's end + perf script + collapse);
  * scorch's peak RSS (VmHWM of the scorch process, polled every 10 ms).
Then one 60 s recording at 999 Hz of a CPU-bound fixture for the peak RSS bar
(BENCH_LONG=0 skips it).
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCORCH = os.environ.get("SCORCH", str(ROOT / "scorch"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
LONG = os.environ.get("BENCH_LONG", "1") != "0"
OUT = ROOT / "bench" / "out" / "record"
GNU_TIME = "/usr/bin/time"
# perf script output to folded stacks: header lines start at column 0, frames are
# indented "addr sym+off (dso)" lines (leaf first), a blank line ends a sample
COLLAPSE_AWK = (r'/^[^ \t]/ {s = ""; next} '
                r'/^[ \t]*$/ {if (s != "") c[s]++; s = ""; next} '
                r'{f = $2; sub(/\+0x[0-9a-f]+$/, "", f); s = (s == "") ? f : f ";" s} '
                r'END {for (k in c) print k, c[k]}')


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def read_time(path):
    """(wall, cpu) from a GNU time file written with -f '%e %U %S'."""
    e, u, s = Path(path).read_text().split()[-3:]
    return float(e), float(u) + float(s)


def timed(argv, outer):
    """Runs argv under GNU time writing to outer; returns (wall, cpu, end_ns)."""
    subprocess.run([GNU_TIME, "-f", "%e %U %S", "-o", str(outer), *argv],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    end = time.monotonic_ns()
    w, c = read_time(outer)
    return w, c, end


def hwm_poller(pid, box):
    """Polls VmHWM (kB) of pid until it exits; the last value read lands in box."""
    path = f"/proc/{pid}/status"
    while True:
        try:
            for line in open(path):
                if line.startswith("VmHWM:"):
                    box[0] = max(box[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.01)


def stamp_cmd(work, stamp):
    """The workload, then a monotonic timestamp of its exit written to stamp."""
    py = sys.executable
    return ["sh", "-c", f'"$@"; s=$?; {py} -c "import time; print(time.monotonic_ns())" > {stamp}; exit $s',
            "sh", *work]


def run_bare(work, d):
    inner = d / "bare.time"
    sh([GNU_TIME, "-f", "%e %U %S", "-o", str(inner), *work], stdout=subprocess.DEVNULL)
    return read_time(inner)[1]


def run_scorch(work, hz, d):
    inner, outer, stamp = d / "s.inner", d / "s.outer", d / "s.stamp"
    svg = d / "s.svg"
    argv = [GNU_TIME, "-f", "%e %U %S", "-o", str(outer), SCORCH, "record", "-q", "--mode", "perf",
            "-F", str(hz), "-o", str(svg), "--",
            *stamp_cmd([GNU_TIME, "-f", "%e %U %S", "-o", str(inner), *work], stamp)]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    box = [0]
    # the scorch process is the child of GNU time
    t = None
    for _ in range(200):
        kids = Path(f"/proc/{p.pid}/task/{p.pid}/children")
        try:
            pids = kids.read_text().split()
        except OSError:
            pids = []
        if pids:
            t = threading.Thread(target=hwm_poller, args=(int(pids[0]), box), daemon=True)
            t.start()
            break
        time.sleep(0.005)
    if p.wait() != 0:
        raise RuntimeError("scorch record failed")
    end = time.monotonic_ns()
    if t:
        t.join(timeout=1)
    target = read_time(inner)[1]
    total = read_time(outer)[1]
    latency = (end - int(stamp.read_text())) / 1e9
    return target, total - target, latency, box[0] / 1024.0, svg.stat().st_size


def run_perf(work, hz, d):
    inner, outer, stamp = d / "p.inner", d / "p.outer", d / "p.stamp"
    data = d / "perf.data"
    argv = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(hz), "--call-graph", "dwarf,16384",
            "-o", str(data), "--", *stamp_cmd([GNU_TIME, "-f", "%e %U %S", "-o", str(inner), *work],
                                              stamp)]
    timed(argv, outer)
    target = read_time(inner)[1]
    rec_cpu = read_time(outer)[1] - target
    script = d / "p.script.time"
    folded = d / "p.folded"
    sh(f"{GNU_TIME} -f '%e %U %S' -o {script} perf script -i {data} 2>/dev/null > {d}/p.txt")
    collapse = d / "p.collapse.time"
    with open(folded, "w") as f:
        sh([GNU_TIME, "-f", "%e %U %S", "-o", str(collapse), "awk", COLLAPSE_AWK, f"{d}/p.txt"],
           stdout=f)
    end = time.monotonic_ns()
    script_cpu = read_time(script)[1]
    collapse_cpu = read_time(collapse)[1]
    latency = (end - int(stamp.read_text())) / 1e9
    return target, rec_cpu, script_cpu, collapse_cpu, latency


def med(v):
    return statistics.median(v) if v else float("nan")


def bench(name, work, hz, d):
    print(f"-- {name} at {hz} Hz: {REPS} paired rounds (+1 warm-up)", flush=True)
    rows = []
    for r in range(REPS + 1):
        bare = run_bare(work, d)
        s = run_scorch(work, hz, d)
        p = run_perf(work, hz, d)
        if r:
            rows.append((bare, s, p))
    slow_s = med([s[0] / b for b, s, _ in rows])
    slow_p = med([p[0] / b for b, _, p in rows])
    s_cpu = med([s[1] for _, s, _ in rows])
    p_rec = med([p[1] for _, _, p in rows])
    p_script = med([p[2] for _, _, p in rows])
    p_coll = med([p[3] for _, _, p in rows])
    p_cpu = med([p[1] + p[2] + p[3] for _, _, p in rows])
    s_lat = med([s[2] for _, s, _ in rows])
    p_lat = med([p[4] for _, _, p in rows])
    s_rss = max(s[3] for _, s, _ in rows)
    bare = med([b for b, _, _ in rows])
    print(f"   target CPU bare {bare:.2f} s; slowdown: scorch x{slow_s:.3f}, perf record x{slow_p:.3f}")
    print(f"   recorder CPU: scorch {s_cpu:.3f} s | perf record {p_rec:.3f} + perf script {p_script:.3f}"
          f" + collapse {p_coll:.3f} = {p_cpu:.3f} s | ratio scorch/perf {s_cpu / p_cpu:.3f}")
    print(f"   exit to output: scorch SVG {s_lat:.3f} s | perf folded {p_lat:.3f} s")
    print(f"   scorch peak RSS {s_rss:.1f} MiB", flush=True)
    return dict(name=name, hz=hz, bare=bare, slow_s=slow_s, slow_p=slow_p, s_cpu=s_cpu, p_cpu=p_cpu,
                p_rec=p_rec, p_script=p_script, p_coll=p_coll, s_lat=s_lat, p_lat=p_lat, s_rss=s_rss)


def main():
    if not shutil.which("perf"):
        print("perf is not installed: nothing to compare against")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=OUT))
    shares = d / "cpu_shares"
    sh(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-o", str(shares),
        str(ROOT / "test" / "fixtures" / "cpu_shares.c")])
    text = d / "data.txt"
    words = [f"w{(i * 7919) % 5003:x}" for i in range(5003)]
    x = 12345
    with open(text, "w") as f:
        for i in range(120000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            f.write(" ".join(words[(x >> s) % len(words)] for s in (0, 3, 7, 11, 13)) + f" {i}\n")
    xz = shutil.which("xz")
    workloads = [("cpu_shares (fixed work, ~2 s)", [str(shares), "2", "0", "fixed"])]
    if xz:
        workloads.append(("xz -6 -T1 (4.3 MB)", ["sh", "-c", f"exec {xz} -6 -T1 -c {text} > /dev/null"]))
    results = []
    for name, work in workloads:
        for hz in (99, 999):
            results.append(bench(name, work, hz, d))
    print()
    print("| workload | Hz | target slowdown scorch / perf | recorder CPU s scorch / perf pipeline (ratio) "
          "| exit to output s scorch SVG / perf folded | scorch peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['hz']} | {r['slow_s']:.3f} / {r['slow_p']:.3f} | "
              f"{r['s_cpu']:.3f} / {r['p_cpu']:.3f} ({r['s_cpu'] / r['p_cpu']:.2f}) | "
              f"{r['s_lat']:.3f} / {r['p_lat']:.3f} | {r['s_rss']:.1f} |")
    if LONG:
        print()
        print("-- 60 s at 999 Hz (cpu_shares 60), peak RSS", flush=True)
        s = run_scorch([str(shares), "60"], 999, d)
        print(f"   scorch peak RSS {s[3]:.1f} MiB (bar: 64 MiB), own CPU {s[1]:.2f} s, "
              f"exit to SVG {s[2]:.3f} s")
    shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
