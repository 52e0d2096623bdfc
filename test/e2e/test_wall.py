"""scorch record --clock wall: every thread at every tick, running or waiting. A
fixture that computes half the time and waits the other half (in nanosleep, or in
read() on a pipe) shows both halves, the waiting one ending in the system call it
waits in (annotated _[w]); an on-CPU profile of the same program shows only the
computing half."""
import re
from pathlib import Path

from conftest import compile_fixture, read_folded, scorch


def record(tmp, *args, cmd, out="out.folded"):
    path = Path(tmp) / out
    r = scorch("record", "-o", path, *args, "--", *cmd)
    assert r.returncode == 0, r.stderr
    return r, read_folded(path)


def measured(stdout):
    """The split the fixture measured itself: (compute %, wait %)."""
    m = re.search(r"compute ([\d.]+) wait ([\d.]+)", stdout)
    assert m, stdout
    return float(m.group(1)), float(m.group(2))


def main_thread(stacks):
    """The stacks of the main thread (they go through main)."""
    return {s: c for s, c in stacks.items() if "main" in s}


def pct(stacks, name):
    total = sum(stacks.values())
    return 100.0 * sum(c for s, c in stacks.items() if name in s) / total if total else 0.0


def check_wall(tmp, mode_args, wait_leaf):
    exe = compile_fixture("half_sleep.c", libs=("-pthread",))
    r, stacks = record(tmp, "--clock", "wall", "-F", "199", *mode_args,
                       cmd=[exe, "3", *(["pipe"] if wait_leaf == "read" else [])])
    compute, wait = measured(r.stdout)
    assert 30 <= wait <= 70, f"the fixture itself waited {wait}% of the time"
    mine = main_thread(stacks)
    total = sum(mine.values())
    assert total >= 400, f"too few samples of the main thread: {total}"
    got_compute, got_wait = pct(mine, "compute_part"), pct(mine, "wait_part")
    assert abs(got_compute - compute) <= 5, (got_compute, compute)
    assert abs(got_wait - wait) <= 5, (got_wait, wait)
    # waiting samples end in the system call, annotated as waiting
    leaves = {}
    for s, c in mine.items():
        if "wait_part" in s and s[-1].endswith("_[w]"):
            leaves[s[-1]] = leaves.get(s[-1], 0) + c
    assert sum(leaves.values()) >= 0.3 * sum(c for s, c in mine.items() if "wait_part" in s), leaves
    want = re.compile(r"(clock_)?nanosleep_\[w\]" if wait_leaf == "nanosleep" else r"read_\[w\]")
    assert all(want.fullmatch(leaf) for leaf in leaves), leaves
    # nothing computing is marked as waiting
    assert not any(s[-1].endswith("_[w]") for s in mine if "compute_part" in s)
    # the summary gives the on/off-CPU split of every sample
    m = re.search(r"([\d.]+)% of samples on CPU, ([\d.]+)% waiting", r.stderr)
    assert m, r.stderr
    waiting = 100.0 * sum(c for s, c in stacks.items() if s[-1].endswith("_[w]")) / sum(
        stacks.values())
    assert abs(float(m.group(2)) - waiting) <= 0.2, (m.group(0), waiting)
    return r


def test_wall_half_nanosleep(tmp):
    check_wall(tmp, ("--mode", "ptrace"), "nanosleep")


def test_wall_half_pipe_read(tmp):
    check_wall(tmp, ("--mode", "ptrace"), "read")


def test_wall_in_auto_mode_uses_ptrace_with_a_notice(tmp):
    r = check_wall(tmp, (), "nanosleep")
    assert "ptrace" in r.stderr, r.stderr


def test_cpu_clock_leaves_the_waiting_half_out(tmp):
    exe = compile_fixture("half_sleep.c", libs=("-pthread",))
    r, stacks = record(tmp, "--mode", "ptrace", "-F", "499", cmd=[exe, "2"])
    mine = main_thread(stacks)
    assert sum(mine.values()) >= 50, sum(mine.values())
    assert pct(mine, "compute_part") >= 90, pct(mine, "compute_part")
    # what is left of the waiting half is the thread waking from nanosleep and waiting
    # for a CPU (runnable) on a busy machine: its credit of CPU time goes to that stack
    assert pct(mine, "wait_part") <= 10, pct(mine, "wait_part")
    assert not any(s[-1].endswith("_[w]") for s in stacks), "off-CPU frames in a cpu profile"
