"""The long-run benchmark (bench/longrun.sh): records a library-churning 16-thread
fixture for LONGRUN_SECONDS at 999 Hz and reports what a user running scorch on a
production process for that long cares about: memory that does not grow, samples
lost, and how soon the flame graph is on disk once the target has ended."""
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "longrun"
SECS = float(os.environ.get("LONGRUN_SECONDS", "600"))
THREADS = int(os.environ.get("LONGRUN_THREADS", "16"))
HZ = int(os.environ.get("LONGRUN_HZ", "999"))
MODE = os.environ.get("LONGRUN_MODE", "perf")
LIMIT_MIB = 64.0
END_LIMIT_S = 1.0


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed: {r.stderr}")


def build():
    OUT.mkdir(parents=True, exist_ok=True)
    fx = ROOT / "test" / "fixtures"
    lib = OUT / "fault_dlib.so"
    exe = OUT / "fault_dlopen"
    sh("gcc", "-O2", "-g", "-fomit-frame-pointer", "-shared", "-fPIC", "-o", lib,
       fx / "fault_dlib.c")
    sh("gcc", "-O2", "-g", "-fomit-frame-pointer", "-o", exe, fx / "fault_dlopen.c",
       "-ldl", "-lpthread")
    libs = []
    for i in range(8):  # distinct files: each dlclose of the last user unmaps one
        p = OUT / f"libfault{i}.so"
        shutil.copy(lib, p)
        libs.append(p)
    return exe, libs


def rss_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB: now and the kernel's high-water mark."""
    rss = hwm = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def main():
    exe, libs = build()
    svg = OUT / "longrun.svg"
    if svg.exists():
        svg.unlink()
    # the target's exit is stamped by a wrapper: sh runs it, then date writes the
    # wall clock (CLOCK_REALTIME, compared with time.time() here) to a file
    stamp = OUT / "target-exit"
    if stamp.exists():
        stamp.unlink()
    wrapper = ("'{exe}' {threads} {secs} {libs}; s=$?; "
               "date +%s.%N > '{stamp}'; exit $s").format(
        exe=exe, threads=THREADS, secs=SECS, libs=" ".join(f"'{l}'" for l in libs),
        stamp=stamp)
    cmd = [str(ROOT / "scorch"), "record", "--mode", MODE, "-F", str(HZ), "-o", str(svg),
           "--", "sh", "-c", wrapper]
    print(f"longrun: {' '.join(cmd[:8])} -- fault_dlopen {THREADS} {SECS:g} "
          f"[{len(libs)} libraries]", flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    series = []  # (seconds since start, RSS KiB)
    peak = 0  # VmHWM: exact even between two polls, up to the last poll (~0.25 s
    # before scorch exits: the symbolizing and writing are polled too)
    next_print = 0.0
    while p.poll() is None:
        kib, hwm = rss_kib(p.pid)
        now = time.monotonic() - t0
        if kib:
            series.append((now, kib))
            peak = max(peak, kib, hwm or 0)
        if now >= next_print:
            print(f"  t={now:6.0f} s  scorch RSS {kib / 1024 if kib else 0:6.1f} MiB "
                  f"(peak {peak / 1024:.1f})", flush=True)
            next_print += max(SECS / 10, 5)
        time.sleep(0.25)
    t_exit = time.time()
    err = p.stderr.read()
    print(err.strip())
    if p.returncode != 7:
        sys.exit(f"longrun: scorch exited {p.returncode}, want the target's 7")
    target_end = float(stamp.read_text())
    end_to_svg = t_exit - target_end
    m = re.search(r"(\d+) samples \((\d+) lost\)", err)
    samples, lost = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    ET.parse(svg)  # well-formed
    size = svg.stat().st_size
    # flatness: RSS at the end of the recording against a quarter of the way in
    rec = [(t, k) for t, k in series if t <= SECS]
    early = [k for t, k in rec if SECS * 0.2 <= t <= SECS * 0.3] or [rec[0][1]]
    late = [k for t, k in rec if SECS * 0.9 <= t <= SECS] or [rec[-1][1]]
    growth = max(late) / max(early)
    print()
    print(f"| duration | threads | Hz | samples | lost | peak RSS | RSS at 25% -> 95% "
          f"| target exit -> SVG on disk | SVG |")
    print(f"|---|---|---|---|---|---|---|---|---|")
    print(f"| {SECS:g} s | {THREADS} | {HZ} | {samples} | {lost} ({100 * lost / max(samples + lost, 1):.2f} %) "
          f"| {peak / 1024:.1f} MiB | {max(early) / 1024:.1f} -> {max(late) / 1024:.1f} MiB "
          f"(x{growth:.2f}) | {end_to_svg:.2f} s | {size / 1024:.0f} KiB |")
    ok = peak / 1024 < LIMIT_MIB and end_to_svg < END_LIMIT_S and growth < 1.25
    print(f"longrun: peak {peak / 1024:.1f} MiB (bar {LIMIT_MIB:g}), end to SVG "
          f"{end_to_svg:.2f} s (bar {END_LIMIT_S:g}), growth x{growth:.2f} (bar 1.25): "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
