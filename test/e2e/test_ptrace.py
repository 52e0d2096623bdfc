"""scorch record --mode ptrace: the same profiles as perf mode where perf_event is
denied, and a target that is never harmed: never left stopped or killed when scorch
is interrupted or killed, every signal delivered, job control as without scorch,
forks, execs and threads followed. Fixtures burn CPU time (not wall time) so that
the shares hold on a loaded machine."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SCORCH, compile_fixture, read_folded, scorch, share


def record(tmp, *args, cmd=(), out="out.folded", **kw):
    path = Path(tmp) / out
    argv = ["record", "--mode", "ptrace", "-o", path, *args]
    if cmd:
        argv += ["--", *cmd]
    r = scorch(*argv, **kw)
    return r, (read_folded(path) if path.exists() else None)


def has(name):
    return lambda f: f == name


def proc_state(pid):
    """The State letter of /proc/PID/status, or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        return None
    return None


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for_file(path, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.01)
    raise AssertionError(f"{path} never written")


def watch_until_gone(pid, proc=None, timeout=120):
    """Polls the state of pid until it exits; returns the states seen."""
    seen = set()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            break
        s = proc_state(pid)
        if s is None or s in ("Z", "X"):
            break
        seen.add(s)
        time.sleep(0.005)
    return seen


def test_shares_60_30_10(tmp):
    exe = compile_fixture("cpu_shares.c")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "2"])
    assert r.returncode == 0, r.stderr
    total = sum(stacks.values())
    # a sample per period of CPU time, as perf's cpu-clock: 2 s at 999 Hz
    assert 1800 <= total <= 2100, f"{total} samples for 2 s of CPU at 999 Hz"
    for name, want in (("burn_sixty", 0.60), ("burn_thirty", 0.30), ("burn_ten", 0.10)):
        got = share(stacks, has(name))
        assert abs(got - want) <= 0.03, f"{name}: {got:.3f}, want {want:.2f} +- 0.03"
    for s in stacks:
        if "burn_sixty" in s:
            assert s.index("main") < s.index("burn_sixty"), s
    assert "ptrace mode" in r.stderr, r.stderr


def test_threads_followed(tmp):
    exe = compile_fixture("threads8.c", libs=("-pthread",))
    r, stacks = record(tmp, "-F", "499", "--per-thread", cmd=[exe, "0.3"])
    assert r.returncode == 0, r.stderr
    roots = set()
    for k in range(8):
        mine = {s[0] for s in stacks if f"thread_burn_{k}" in s}
        assert len(mine) == 1, f"thread_burn_{k}: {mine}"
        root = mine.pop()
        assert re.fullmatch(rf"worker-{k}-\d+/\d+", root), root
        roots.add(root)
        got = share(stacks, has(f"thread_burn_{k}"))
        assert 0.08 <= got <= 0.17, f"thread_burn_{k}: {got:.3f} of the CPU time, want 1/8"
    assert len(roots) == 8


def test_fork_and_exec_followed(tmp):
    exe = compile_fixture("fork_exec.c")
    r, stacks = record(tmp, "-F", "499", cmd=[exe, "0.5"])
    assert r.returncode == 5, r.stderr  # the command's own status
    assert share(stacks, has("child_work")) > 0.6
    for s in stacks:
        if "child_work" in s:
            assert s.index("main") < s.index("child_work"), s


def test_forks_execs_and_threads_while_sampled(tmp):
    exe = compile_fixture("churn.c", libs=("-pthread",))
    r, stacks = record(tmp, "-F", "499", cmd=[exe, "15"])
    assert r.returncode == 0, r.stderr + r.stdout
    assert "churn ok" in r.stdout
    assert share(stacks, has("child_burn")) > 0.05
    assert share(stacks, has("short_thread")) > 0.05


def test_attach_leaves_the_process_running(tmp):
    exe = compile_fixture("cpu_shares.c")
    proc = subprocess.Popen([str(exe), "2", "33"])
    try:
        time.sleep(0.2)
        r, stacks = record(tmp, "-F", "499", "-d", "1", "-p", str(proc.pid))
        assert r.returncode == 0, r.stderr
        # a sample per period of the CPU time it got in that second (little when busy)
        assert sum(stacks.values()) > 30
        assert share(stacks, has("burn_sixty")) + share(stacks, has("burn_thirty")) > 0.5
        seen = watch_until_gone(proc.pid, proc)
        assert not seen & {"t", "T"}, seen
        assert proc.wait(timeout=120) == 33
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_scorch_signalled_while_launching(tmp, sig):
    """The command goes on to its end, its threads never left in a tracing stop,
    and a kill() of scorch never reaches it."""
    exe = compile_fixture("sig_target.c", libs=("-pthread",))
    pidfile = Path(tmp) / "pid"
    out = Path(tmp) / "out.folded"
    sc = subprocess.Popen([SCORCH, "record", "--mode", "ptrace", "-F", "999", "-o", str(out),
                           "--", str(exe), "2w", "23", str(pidfile)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = wait_for_file(pidfile)
        time.sleep(0.5)
        sc.send_signal(sig)
        if sig == signal.SIGKILL:
            sc.wait(timeout=30)
            seen = watch_until_gone(pid)
            # the command has lost its parent: its end shows on the pipe it shares
            stdout = sc.stdout.read()
            assert not seen & {"t", "T"}, seen
            assert "done" in stdout, stdout
            assert "int=0 term=0" in stdout, stdout
        else:
            stdout, stderr = sc.communicate(timeout=120)
            assert sc.returncode == 23, stderr
            assert "int=0 term=0" in stdout, stdout
            assert proc_state(pid) is None
            assert out.exists(), stderr
    finally:
        if sc.poll() is None:
            sc.kill()
            sc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_scorch_signalled_while_attached(tmp, sig):
    """An attached process gets nothing from scorch's end and finishes with its status."""
    exe = compile_fixture("sig_target.c", libs=("-pthread",))
    proc = subprocess.Popen([str(exe), "2.5w", "23"], stdout=subprocess.PIPE, text=True)
    out = Path(tmp) / "out.folded"
    try:
        time.sleep(0.2)
        sc = subprocess.Popen([SCORCH, "record", "--mode", "ptrace", "--clock", "wall",
                               "-F", "999", "-o", str(out), "-p", str(proc.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        sc.send_signal(sig)
        _, stderr = sc.communicate(timeout=30)
        seen = watch_until_gone(proc.pid, proc)
        assert not seen & {"t", "T"}, seen
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 23
        assert "done rt=0 usr1=0 int=0 term=0 hup=0" in stdout, stdout
        if sig != signal.SIGKILL:
            assert sc.returncode == 0, stderr
            assert sum(read_folded(out).values()) > 50
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_signal_is_delivered(tmp):
    exe = compile_fixture("sig_target.c", libs=("-pthread",))
    pidfile = Path(tmp) / "pid"
    sc = subprocess.Popen([SCORCH, "record", "--mode", "ptrace", "-F", "999", "-o",
                           str(Path(tmp) / "out.folded"), "--", str(exe), "2.5w", "23",
                           str(pidfile)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = wait_for_file(pidfile)
        for _ in range(300):  # real-time signals queue: each must arrive once
            os.kill(pid, signal.SIGRTMIN)
            time.sleep(0.002)
        stdout, stderr = sc.communicate(timeout=120)
        assert sc.returncode == 23, stderr
        assert "rt=300 " in stdout, stdout
    finally:
        if sc.poll() is None:
            sc.kill()
            sc.wait()


def test_sigstop_and_sigcont_as_without_scorch(tmp):
    exe = compile_fixture("sig_target.c", libs=("-pthread",))
    pidfile = Path(tmp) / "pid"
    sc = subprocess.Popen([SCORCH, "record", "--mode", "ptrace", "-F", "999", "-o",
                           str(Path(tmp) / "out.folded"), "--", str(exe), "0.5", "23",
                           str(pidfile)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = wait_for_file(pidfile)
        time.sleep(0.2)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)
        # stopped ('t' while scorch listens for SIGCONT on its behalf): no CPU used
        assert proc_state(pid) in ("T", "t"), proc_state(pid)
        before = cpu_ticks(pid)
        time.sleep(0.5)
        assert proc_state(pid) in ("T", "t"), proc_state(pid)
        assert cpu_ticks(pid) == before
        os.kill(pid, signal.SIGCONT)
        stdout, stderr = sc.communicate(timeout=120)
        assert sc.returncode == 23, stderr
        assert "done" in stdout
    finally:
        if sc.poll() is None:
            sc.kill()
            sc.wait()


def test_perf_event_denied_falls_back_to_ptrace(tmp):
    deny = compile_fixture("deny_perf.c")
    exe = compile_fixture("cpu_shares.c")
    out = Path(tmp) / "out.folded"
    r = subprocess.run([str(deny), SCORCH, "record", "-F", "499", "-o", str(out), "--",
                        str(exe), "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    notices = [line for line in r.stderr.splitlines() if "ptrace" in line and "perf" in line]
    assert len(notices) == 1, r.stderr
    # the notice names what refused perf_event: here the seccomp filter, not the sysctl
    assert "seccomp filter" in notices[0], notices[0]
    assert "ptrace mode" in r.stderr
    stacks = read_folded(out)
    assert sum(stacks.values()) >= 400
    assert abs(share(stacks, has("burn_sixty")) - 0.6) <= 0.06
