"""ptrace mode's cost, printed side by side (run by bench/ptrace.sh).

Fixture: test/fixtures/burn_threads.c, 4 threads of fixed work (a slower run is a
longer run), -O2 -fomit-frame-pointer. Rounds alternate bare / ptrace / perf, and the
medians are compared: the fixture's own wall time (start to last join) and CPU time.
The ptrace runs write the sampler's figures on every stop (SCORCH_PTRACE_STATS):
held = from the stop's report to the resume (what the thread waits for scorch);
interrupt-to-resume also counts the time the thread took to reach the stop (on a
busy machine, its wait for a CPU). eu-stack (elfutils) is timed per snapshot of the
same running fixture, and its stall is the fixture's extra wall time under a
back-to-back eu-stack loop divided by the snapshots taken.
"""
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "ptrace"
SCORCH = str(ROOT / "scorch")
REPS = int(os.environ.get("BENCH_REPS", "3"))
THREADS = 4
ROUNDS = int(os.environ.get("BENCH_PTRACE_ROUNDS", "6000"))


def build():
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "burn_threads"
    subprocess.run(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-pthread", "-o", str(exe),
                    str(ROOT / "test" / "fixtures" / "burn_threads.c")], check=True)
    return exe


def parse(stdout):
    f = stdout.split()
    return float(f[f.index("wall") + 1]), float(f[f.index("cpu") + 1])


def run(kind, exe):
    cmd = [str(exe), str(THREADS), str(ROUNDS)]
    env = dict(os.environ)
    stats = OUT / "stats.txt"
    if kind == "bare":
        argv = cmd
    else:
        argv = [SCORCH, "record", "-q", "--mode", kind, "-F", "99", "-o",
                str(OUT / f"{kind}.folded"), "--", *cmd]
        if kind == "ptrace":
            env["SCORCH_PTRACE_STATS"] = str(stats)
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{kind}: {r.stderr}")
    wall, cpu = parse(r.stdout)
    figures = {}
    if kind == "ptrace" and stats.exists():
        f = stats.read_text().split()
        figures = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
    return wall, cpu, figures


class Poller(threading.Thread):
    """Reads the state of one thread of pid as fast as it can; frac() is the share of
    reads that found it in a tracing stop ('t')."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        self.path = f"/proc/{pid}/task/{tids[-1]}/stat"  # a worker thread
        self.reads = self.stopped = 0
        self.done = False

    def run(self):
        while not self.done:
            try:
                with open(self.path, "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            self.reads += 1
            self.stopped += state == b"t"

    def frac(self):
        return self.stopped / self.reads if self.reads else 0.0


def stopped_share(exe, attach_cmd, secs=3.0):
    """Runs the fixture, attaches attach_cmd(pid) (a list of commands run in turn until
    secs pass), and returns (share of time a worker was seen stopped, elapsed s,
    commands run)."""
    proc = subprocess.Popen([str(exe), str(THREADS), str(ROUNDS * 10)],
                            stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        poller = Poller(proc.pid)
        poller.start()
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < secs and proc.poll() is None:
            subprocess.run(attach_cmd(proc.pid), capture_output=True)
            n += 1
        elapsed = time.monotonic() - t0
        poller.done = True
        poller.join()
        return poller.frac(), elapsed, n
    finally:
        proc.kill()
        proc.wait()


def eu_stack(exe):
    """eu-stack per snapshot: its own time, and the time a worker thread spends
    stopped, seen from outside by polling /proc (the same for scorch, per tick)."""
    if not shutil.which("eu-stack"):
        return None
    t0 = time.monotonic()
    frac, elapsed, n = stopped_share(exe, lambda pid: ["eu-stack", "-p", str(pid)])
    eu_ms = (time.monotonic() - t0) / max(n, 1) * 1e3
    eu_stall = frac * elapsed / max(n, 1) * 1e3
    secs = 3
    frac, elapsed, _ = stopped_share(
        exe, lambda pid: [SCORCH, "record", "-q", "--mode", "ptrace", "-F", "99", "-d",
                          str(secs), "-o", str(OUT / "attach.folded"), "-p", str(pid)],
        secs=0.1)
    scorch_stall = frac * elapsed / (elapsed * 99) * 1e3
    return eu_ms, n, eu_stall, scorch_stall


def main():
    exe = build()
    perf_ok = subprocess.run([SCORCH, "record", "-q", "--mode", "perf", "-o", str(OUT / "t.folded"),
                              "--", "true"], capture_output=True).returncode == 0
    kinds = ["bare", "ptrace"] + (["perf"] if perf_ok else [])
    res = {k: [] for k in kinds}
    run("bare", exe)  # warm-up
    for _ in range(REPS):
        for k in kinds:
            res[k].append(run(k, exe))
    med = {k: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v))
           for k, v in res.items()}
    bw, bc = med["bare"]
    print(f"fixture: {THREADS} threads x {ROUNDS} rounds, 99 Hz, {REPS} paired rounds, "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':22} {'wall s':>8} {'cpu s':>8} {'wall x':>8} {'cpu x':>8}")
    for k in kinds:
        w, c = med[k]
        print(f"{k:22} {w:8.3f} {c:8.3f} {w / bw:8.3f} {c / bc:8.3f}")
    figs = [f for _, _, f in res["ptrace"] if f]
    if figs:
        def m(key):
            return statistics.median(f.get(key, 0.0) for f in figs)
        print(f"ptrace stops per run: {m('stops'):.0f}, samples {m('samples'):.0f}, "
              f"repeats (not stopped) {m('repeats'):.0f}")
        print(f"ptrace held per stop (us): median {m('held_us_median'):.1f}, "
              f"mean {m('held_us_mean'):.1f}, p99 {m('held_us_p99'):.1f}")
        print(f"ptrace interrupt-to-resume (us): median "
              f"{m('interrupt_to_resume_us_median'):.1f}, p99 "
              f"{m('interrupt_to_resume_us_p99'):.1f}")
    eu = eu_stack(exe)
    if eu:
        ms, n, stall, mine = eu
        # the poller runs more often while the target's threads are stopped (they free
        # a CPU), so on a loaded machine both figures are too high, alike
        print(f"seen from outside (polling a worker's /proc state; biased upwards on a "
              f"loaded machine): eu-stack -p takes "
              f"{ms:.0f} ms per snapshot ({n} taken) and stops the thread "
              f"{stall:.2f} ms each; scorch --mode ptrace at 99 Hz stops it "
              f"{mine * 1e3:.0f} us per tick ({stall / max(mine, 1e-6):.0f}x less)")
    else:
        print("eu-stack: not installed")


if __name__ == "__main__":
    sys.exit(main())
