"""scorch record: sample real fixture programs (gcc -O2 -fomit-frame-pointer unless
stated) and Debian binaries with the perf_event sampler, and check what a user sees:
shares of known functions, frames in order, threads, children, attach, exit statuses
and error messages."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SCORCH, compile_fixture, read_folded, run, scorch, share, perf_event_allowed

needs_perf = pytest.mark.skipif(not perf_event_allowed(),
                                reason="perf_event_open is not permitted here "
                                       "(kernel.perf_event_paranoid > 2 and not root)")


def record(tmp, *args, out="out.folded", cmd=(), **kw):
    """Runs scorch record --mode perf with args, then the command; returns
    (CompletedProcess, stacks) with stacks None when no output was written."""
    path = Path(tmp) / out
    argv = ["record", "--mode", "perf", "-o", path, *args]
    if cmd:
        argv += ["--", *cmd]
    r = scorch(*argv, **kw)
    stacks = read_folded(path) if path.exists() and out.endswith(".folded") else None
    return r, stacks


def has(name):
    return lambda f: f == name


def frames_with(stacks, name):
    """The stacks (with counts) that hold the frame name."""
    return {s: c for s, c in stacks.items() if name in s}


@needs_perf
def test_shares_60_30_10(tmp):
    exe = compile_fixture("cpu_shares.c")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "3"])
    assert r.returncode == 0, r.stderr
    total = sum(stacks.values())
    assert total >= 2000, f"too few samples: {total}"
    for name, want in (("burn_sixty", 0.60), ("burn_thirty", 0.30), ("burn_ten", 0.10)):
        got = share(stacks, has(name))
        assert abs(got - want) <= 0.03, f"{name}: {got:.3f}, want {want:.2f} +- 0.03"
    # callers are above their callees, and main is above them all
    for s in frames_with(stacks, "burn_sixty"):
        assert s.index("main") < s.index("burn_sixty"), s
    assert "samples" in r.stderr and "wrote" in r.stderr


@needs_perf
def test_shared_library_and_dlopen_plugin(tmp):
    lib = compile_fixture("libhot.c", flags=("-O2", "-fomit-frame-pointer", "-shared", "-fPIC"),
                          out_name="libhot.so")
    plugin = compile_fixture("plugin.c", flags=("-O2", "-fomit-frame-pointer", "-shared", "-fPIC"),
                             out_name="plugin.so")
    exe = compile_fixture("dl_main.c", libs=(str(lib), f"-Wl,-rpath,{lib.parent}", "-ldl"))
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "0.8", plugin])
    assert r.returncode == 0, r.stderr
    lib_share = share(stacks, has("hot_in_library"))
    plug_share = share(stacks, has("hot_in_plugin"))
    assert lib_share > 0.35, f"hot_in_library {lib_share:.3f}"
    assert plug_share > 0.35, f"hot_in_plugin {plug_share:.3f} (dlopen'ed after the start)"
    for s in frames_with(stacks, "hot_in_plugin"):
        assert "main" in s and s.index("main") < s.index("hot_in_plugin"), s


@needs_perf
def test_inlined_function_is_its_own_frame(tmp):
    exe = compile_fixture("inline_hot.c")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "1"])
    assert r.returncode == 0, r.stderr
    total = sum(stacks.values())
    under = sum(c for s, c in stacks.items()
                if any(a == "caller_of_inline" and b == "inlined_mix_[i]"
                       for a, b in zip(s, s[1:])))
    assert under / total > 0.8, f"inlined_mix_[i] under caller_of_inline: {under}/{total}"
    # --no-inline folds it back into its caller
    r, stacks = record(tmp, "-F", "499", "--no-inline", out="noinl.folded", cmd=[exe, "0.5"])
    assert r.returncode == 0, r.stderr
    assert share(stacks, lambda f: f.startswith("inlined_mix")) == 0
    assert share(stacks, has("caller_of_inline")) > 0.8


@needs_perf
def test_recursion_300_deep_unwinds_to_main(tmp):
    exe = compile_fixture("recursion.c")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "1", "300"])
    assert r.returncode == 0, r.stderr
    bottom = frames_with(stacks, "burn_at_bottom")
    total = sum(bottom.values())
    assert total > 500
    full = sum(c for s, c in bottom.items() if "main" in s and s.count("recurse") == 301)
    assert full / total >= 0.95, f"{full}/{total} stacks hold main and 301 recurse frames"


@needs_perf
def test_cpp_names_are_demangled(tmp):
    exe = compile_fixture("templates.cc")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "1"])
    assert r.returncode == 0, r.stderr
    step = share(stacks, lambda f: f.startswith("scorch_fixture::Kernel<double, 4>::step"))
    assert step > 0.7, f"Kernel<double, 4>::step: {step:.3f}"
    assert share(stacks, lambda f: f.startswith("void scorch_fixture::drive<")
                 or f.startswith("scorch_fixture::drive<")) > 0.7
    assert share(stacks, lambda f: f.startswith("_Z")) == 0


@needs_perf
def test_eight_threads_and_per_thread(tmp):
    exe = compile_fixture("threads8.c", libs=("-pthread",))
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "0.25"])
    assert r.returncode == 0, r.stderr
    for k in range(8):
        got = share(stacks, has(f"thread_burn_{k}"))
        assert got > 0.06, f"thread_burn_{k}: {got:.3f}"
    assert re.search(r"from (9|1\d) threads", r.stderr), r.stderr

    r, stacks = record(tmp, "-F", "999", "--per-thread", out="pt.folded", cmd=[exe, "0.25"])
    assert r.returncode == 0, r.stderr
    roots = set()
    for k in range(8):
        mine = {s[0] for s in frames_with(stacks, f"thread_burn_{k}")}
        assert len(mine) == 1, f"thread_burn_{k} under several roots: {mine}"
        root = mine.pop()
        assert re.fullmatch(rf"worker-{k}-\d+/\d+", root), root
        roots.add(root)
    assert len(roots) == 8


@needs_perf
def test_fork_and_exec_child_is_followed(tmp):
    exe = compile_fixture("fork_exec.c")
    r, stacks = record(tmp, "-F", "999", cmd=[exe, "1"])
    assert r.returncode == 5, r.stderr  # the command's own status
    assert share(stacks, has("child_work")) > 0.6
    for s in frames_with(stacks, "child_work"):
        assert s.index("main") < s.index("child_work")


@needs_perf
def test_attach_for_two_seconds(tmp):
    exe = compile_fixture("cpu_shares.c")
    proc = subprocess.Popen([str(exe), "3", "33"])
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        r, stacks = record(tmp, "-F", "999", "-d", "2", "-p", str(proc.pid))
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert took > 1.9, took
        # on a loaded machine the target may get little CPU in 2 s: ask for some
        # samples, nearly all in its burning functions
        assert sum(stacks.values()) >= 20, r.stderr
        assert share(stacks, lambda f: f.startswith("burn_")) > 0.9
        # the process goes on untouched and ends with its own status
        assert proc.wait(timeout=60) == 33
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_perf
@pytest.mark.parametrize("out", [
    "true.folded",
    "true.svg",
])
def test_true_gives_a_valid_small_output(tmp, out):
    r, _ = record(tmp, out=out, cmd=["true"])
    assert r.returncode == 0, r.stderr
    path = Path(tmp) / out
    assert path.exists()
    if out.endswith(".svg"):
        ET.parse(path)
    else:
        read_folded(path.read_text() + "\n")  # every line parses


@needs_perf
def test_command_exiting_at_once_keeps_its_status(tmp):
    exe = compile_fixture("exit_now.c")
    r, stacks = record(tmp, cmd=[exe])
    assert r.returncode == 7, r.stderr
    assert stacks is not None


@needs_perf
def test_stripped_binary_gives_module_offsets(tmp):
    exe = compile_fixture("cpu_shares.c")
    stripped = Path(tmp) / "shares-stripped"
    shutil.copy(exe, stripped)
    assert run(["strip", "-s", stripped]).returncode == 0
    r, stacks = record(tmp, "-F", "999", cmd=[stripped, "1"])
    assert r.returncode == 0, r.stderr
    pat = re.compile(r"shares-stripped\+0x[0-9a-f]+")
    assert share(stacks, lambda f: bool(pat.fullmatch(f))) > 0.9
    assert share(stacks, lambda f: f in ("[unknown]", "")) == 0


@pytest.fixture(scope="module")
def xz_input(tmp_path_factory):
    """About 2 MB of deterministic, compressible text."""
    path = tmp_path_factory.mktemp("xz") / "data.txt"
    words = [f"w{(i * 7919) % 5003:x}" for i in range(5003)]
    lines = []
    x = 12345
    for i in range(60000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        lines.append(" ".join(words[(x >> s) % len(words)] for s in (0, 3, 7, 11, 13)) + f" {i}")
    path.write_text("\n".join(lines))
    return path


@needs_perf
def test_xz_stacks_reach_main(tmp, xz_input):
    xz = shutil.which("xz")
    if not xz:
        pytest.skip("xz is not installed")
    out = Path(tmp) / "data.xz"
    r, stacks = record(tmp, "-F", "999",
                       cmd=["sh", "-c", f"exec {xz} -6 -T1 -c {xz_input} > {out}"])
    assert r.returncode == 0, r.stderr
    total = sum(stacks.values())
    assert total > 300
    # xz is stripped: its main has no name. A stack reaches main when the libc
    # routine that calls main is its root side (__libc_start_call_main, or
    # __libc_start_main when libc's local symbols are not installed).
    reached = share(stacks, lambda f: f.startswith("__libc_start"))
    assert reached >= 0.99, f"{reached:.4f} of stacks reach main"
    m = re.search(r"([\d.]+)% of stacks unwound to the root", r.stderr)
    assert m and float(m.group(1)) >= 99.0, r.stderr


@needs_perf
def test_frame_pointer_call_graph(tmp):
    exe = compile_fixture("cpu_shares.c", flags=("-O2", "-fno-omit-frame-pointer"),
                          out_name="cpu_shares_fp")
    r, stacks = record(tmp, "-F", "999", "--call-graph", "fp", cmd=[exe, "1.5"])
    assert r.returncode == 0, r.stderr
    assert abs(share(stacks, has("burn_sixty")) - 0.6) <= 0.04
    assert abs(share(stacks, has("burn_thirty")) - 0.3) <= 0.04
    burning = frames_with(stacks, "burn_sixty")
    with_main = sum(c for s, c in burning.items() if "main" in s)
    assert with_main / sum(burning.values()) > 0.9
    m = re.search(r"([\d.]+)% of stacks unwound to the root", r.stderr)
    assert m and float(m.group(1)) > 90, r.stderr
    # the same program without frame pointers: the summary does not claim whole stacks
    nofp = compile_fixture("cpu_shares.c")
    r, stacks = record(tmp, "-F", "999", "--call-graph", "fp", out="nofp.folded", cmd=[nofp, "0.5"])
    assert r.returncode == 0, r.stderr
    m = re.search(r"([\d.]+)% of stacks unwound to the root", r.stderr)
    assert m and float(m.group(1)) < 50, r.stderr


@needs_perf
def test_output_to_stdout(tmp):
    exe = compile_fixture("cpu_shares.c")
    r = scorch("record", "--mode", "perf", "-F", "499", "-o", "-", "--", exe, "0.3")
    assert r.returncode == 0, r.stderr
    stacks = read_folded(r.stdout + "\n")
    assert share(stacks, has("burn_sixty")) > 0.3


def test_no_such_pid(tmp):
    out = Path(tmp) / "x.svg"
    r = scorch("record", "-o", out, "-p", "999999999")
    assert r.returncode != 0
    r = scorch("record", "-o", out, "-p", "4194303")
    assert r.returncode == 1
    assert "no such process" in r.stderr
    assert not out.exists()


def test_command_not_found(tmp):
    out = Path(tmp) / "x.svg"
    r = scorch("record", "-o", out, "--", str(Path(tmp) / "no-such-command"))
    assert r.returncode == 1
    assert "not found" in r.stderr and "no-such-command" in r.stderr
    assert not out.exists()
    r = scorch("record", "-o", out, "--", "scorch-no-such-command-in-path")
    assert r.returncode == 1 and "not found" in r.stderr
    assert not out.exists()


def test_command_not_executable(tmp):
    out = Path(tmp) / "x.svg"
    script = Path(tmp) / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    r = scorch("record", "-o", out, "--", script)
    assert r.returncode == 1
    assert "not executable" in r.stderr or "permission denied" in r.stderr
    assert not out.exists()


def test_usage_errors(tmp):
    r = scorch("record")
    assert r.returncode == 2 and "nothing to record" in r.stderr
    r = scorch("record", "-F", "0", "--", "true")
    assert r.returncode == 2
    r = scorch("record", "-p", "1", "--", "true")
    assert r.returncode == 2
    r = scorch("record", "--call-graph", "lbr", "--", "true")
    assert r.returncode == 2
    r = scorch("record", "-o", str(Path(tmp) / "x.unknownext"), "--", "true")
    assert r.returncode == 2 and "format" in r.stderr
    r = scorch("record", "--freq")
    assert r.returncode == 2 and "needs a value" in r.stderr
    r = scorch("record", "--bogus", "--", "true")
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr
    r = scorch("record", "--help")
    assert r.returncode == 0 and "usage: scorch record" in r.stdout


@needs_perf
def test_duration_with_a_command_writes_then_waits_for_it(tmp):
    exe = compile_fixture("cpu_shares.c")
    out = Path(tmp) / "d.folded"
    proc = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-d", "0.5", "-o", str(out),
                             "--", str(exe), "1.5", "9"], stderr=subprocess.PIPE, text=True)
    # the output is on disk while the command still runs
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert out.exists() and proc.poll() is None
    assert proc.wait(timeout=60) == 9, proc.stderr.read()
    assert share(read_folded(out), has("burn_sixty")) > 0.3


@needs_perf
def test_kill_int_stops_the_recording_not_the_command(tmp):
    exe = compile_fixture("exit_now.c")
    out = Path(tmp) / "k.folded"
    # the command sleeps 3 s, then exits 7 (exit_now.c with a delay); scorch is
    # signalled after 1 s: it writes what it has and waits for the command
    proc = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-o", str(out),
                             "--", "sh", "-c", f"sleep 3; exec {exe}"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)  # from kill(): the command does not get it
    assert proc.wait(timeout=30) == 7, proc.stderr.read()
    assert time.monotonic() - t0 >= 1.5  # it waited for the command's own end
    assert out.exists()


@needs_perf
def test_status_line_on_a_terminal(tmp):
    import pty
    exe = compile_fixture("cpu_shares.c")
    out = Path(tmp) / "t.folded"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-o", str(out),
                                 "--", str(exe), "0.8"], stderr=slave, stdout=subprocess.DEVNULL)
        os.close(slave)
        text = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = text.decode(errors="replace")
    assert re.search(r"\rscorch: recording [\d.]+ s, \d+ samples \(\d+/s\), \d+ lost", text), text
    assert "wrote" in text


def kernel_frames_allowed():
    try:
        level = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    except OSError:
        return False
    return os.geteuid() == 0 or level <= 1


@needs_perf
@pytest.mark.parametrize("callgraph", ["dwarf", "fp"])
def test_kernel_frames(tmp, callgraph):
    if not kernel_frames_allowed():
        pytest.skip("kernel frames need kernel.perf_event_paranoid <= 1 or CAP_PERFMON")
    dd = shutil.which("dd")
    r, stacks = record(tmp, "-F", "999", "--kernel", "--call-graph", callgraph,
                       cmd=[dd, "if=/dev/zero", "of=/dev/null", "bs=1k", "count=200000"])
    assert r.returncode == 0, r.stderr
    # dd spends most of its time in read and write system calls
    assert share(stacks, lambda f: f.endswith("_[k]")) > 0.3
    for s in stacks:
        ks = [i for i, f in enumerate(s) if f.endswith("_[k]")]
        if ks:  # kernel frames are the leaf end of a stack, below the user frames
            assert ks == list(range(ks[0], len(s))), "misplaced kernel frames: " + ";".join(s)
    # without --kernel there are none
    r, stacks = record(tmp, "-F", "499", "--call-graph", callgraph, out="nok.folded",
                       cmd=[dd, "if=/dev/zero", "of=/dev/null", "bs=1k", "count=50000"])
    assert share(stacks, lambda f: f.endswith("_[k]")) == 0


@needs_perf
def test_attach_follows_threads_created_later(tmp):
    exe = compile_fixture("threads8.c", libs=("-pthread",))
    proc = subprocess.Popen([str(exe), "0.2", "0.8"])  # threads start 0.8 s after launch
    try:
        time.sleep(0.2)
        r, stacks = record(tmp, "-F", "999", "-d", "20", "-p", str(proc.pid))
        assert r.returncode == 0, r.stderr
        # recording ended when the process exited, long before -d
        assert proc.wait(timeout=5) == 0
        for k in range(8):
            assert share(stacks, has(f"thread_burn_{k}")) > 0.04, f"thread_burn_{k}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_perf
def test_attach_to_two_processes_per_process(tmp):
    exe = compile_fixture("cpu_shares.c")
    procs = [subprocess.Popen([str(exe), "1.5", "0"]), subprocess.Popen([str(exe), "1.5", "0"])]
    try:
        time.sleep(0.2)
        pids = ",".join(str(p.pid) for p in procs)
        r, stacks = record(tmp, "-F", "999", "-d", "1", "--per-process", "-p", pids)
        assert r.returncode == 0, r.stderr
        roots = {s[0] for s in stacks}
        for p in procs:
            assert any(re.fullmatch(rf"\S+-{p.pid}", root) for root in roots), (p.pid, roots)
        assert "of 2 processes" in r.stderr
        for p in procs:
            assert p.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
