"""Faults while recording (issue 7), in perf mode (test_ptrace.py covers SIGINT,
SIGTERM and SIGKILL of scorch in ptrace mode): the target exits, execs, forks 100
children, creates and ends 1 000 threads, loads and unloads libraries, is stopped;
the disk fills up; scorch is sent SIGINT, SIGTERM, SIGPIPE or SIGKILL. Each time the
target is unaffected, and the output is valid with counts that add up (the folded
counts sum to the samples of the summary line) or there is a clear error and the
previous file is untouched. The behaviours are tabled in docs/hardening.md."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ASAN, SCORCH, compile_fixture, perf_event_allowed, read_folded, run, scorch

needs_perf = pytest.mark.skipif(not perf_event_allowed(),
                                reason="perf_event_open is not permitted here "
                                       "(kernel.perf_event_paranoid > 2 and not root)")

OLD = b"previous output: must survive\n"
SUMMARY = re.compile(r"scorch: (\d+) samples \((\d+) lost\)")


def target():
    return compile_fixture("fault_target.c", libs=("-lpthread",))


def summary(stderr):
    m = SUMMARY.search(stderr)
    assert m, f"no summary line in: {stderr}"
    return int(m.group(1)), int(m.group(2))


def counts_add_up(stderr, path):
    """The folded output is well-formed and its counts sum to the summary's samples."""
    stacks = read_folded(path)
    samples, lost = summary(stderr)
    assert sum(stacks.values()) == samples, (sum(stacks.values()), samples)
    return stacks


def has_frame(stacks, name):
    return sum(c for s, c in stacks.items() if name in s)


def clean(sanitized_stderr):
    assert "Sanitizer" not in sanitized_stderr and "runtime error" not in sanitized_stderr, \
        sanitized_stderr


def record(tmp, *cmd, args=(), out="out.folded", **kw):
    path = Path(tmp) / out
    r = scorch("record", "--mode", "perf", "-F", "999", "-o", path, *args, "--", *cmd, **kw)
    clean(r.stderr)
    return r, path


# ---------------------------------------------------------------- the target misbehaves

@needs_perf
def test_target_execs(tmp):
    r, path = record(tmp, target(), "exec", "1")
    assert r.returncode == 7, r.stderr
    stacks = counts_add_up(r.stderr, path)
    assert has_frame(stacks, "fault_before_exec") > 0
    assert has_frame(stacks, "fault_after_exec") > 0, "samples after exec are lost"


@needs_perf
def test_target_forks_100_children(tmp):
    r, path = record(tmp, target(), "fork", "100", "1.5")
    assert r.returncode == 7, r.stderr
    stacks = counts_add_up(r.stderr, path)
    assert has_frame(stacks, "fault_child") > 0.5 * sum(stacks.values()), stacks
    # the children come from a fork of main
    for s in stacks:
        if "fault_child" in s:
            assert "main" in s and s.index("main") < s.index("fault_child"), s


@needs_perf
def test_target_creates_and_ends_1000_threads(tmp):
    r, path = record(tmp, target(), "threads", "1000", "1.5")
    assert r.returncode == 7, r.stderr
    stacks = counts_add_up(r.stderr, path)
    assert has_frame(stacks, "fault_thread") > 0.5 * sum(stacks.values())
    m = re.search(r"from (\d+) threads", r.stderr)
    assert m and int(m.group(1)) > 50, r.stderr


def dlopen_fixture(tmp, copies=4):
    lib = compile_fixture("fault_dlib.c", flags=("-O2", "-fomit-frame-pointer", "-shared",
                                                  "-fPIC"), out_name="fault_dlib.so")
    exe = compile_fixture("fault_dlopen.c", libs=("-ldl", "-lpthread"))
    libs = []
    for i in range(copies):  # distinct files, so that dlclose really unmaps them
        p = Path(tmp) / f"libfault{i}.so"
        shutil.copy(lib, p)
        libs.append(str(p))
    return exe, libs


@needs_perf
def test_target_dlopens_and_dlcloses_in_a_loop(tmp):
    exe, libs = dlopen_fixture(tmp)
    r, path = record(tmp, exe, "4", "2", *libs)
    assert r.returncode == 7, r.stderr
    stacks = counts_add_up(r.stderr, path)
    assert has_frame(stacks, "fault_dlopen_main") > 0
    # a library unloaded since is still named
    assert has_frame(stacks, "fault_in_library") > 0, sorted(stacks)[:20]


def wait_for(pred, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def proc_state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def children_of(pid):
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@needs_perf
def test_target_stopped_and_continued(tmp):
    """SIGSTOP to a launched command: scorch keeps recording (nothing to sample),
    does not end, and after SIGCONT the command finishes with its own status."""
    path = Path(tmp) / "out.folded"
    p = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-F", "999", "-o", path, "--",
                          target(), "burn", "2"], stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: children_of(p.pid)), "the command did not start"
    child = children_of(p.pid)[0]
    time.sleep(0.5)
    os.kill(child, signal.SIGSTOP)
    assert wait_for(lambda: proc_state(child) == "T")
    time.sleep(1.0)
    assert p.poll() is None, "scorch ended while its command was stopped"
    assert proc_state(child) == "T", "scorch continued a stopped command"
    os.kill(child, signal.SIGCONT)
    _, err = p.communicate(timeout=60)
    clean(err)
    assert p.returncode == 7, err
    stacks = counts_add_up(err, path)
    assert has_frame(stacks, "fault_burn") > 0


@needs_perf
def test_attached_target_stopped_itself_stays_stopped(tmp):
    """A target that stops itself while attached: scorch ends at -d, leaves it
    stopped as it found it, and the target goes on when continued."""
    t = subprocess.Popen([target(), "selfstop", "1.0"])
    try:
        assert wait_for(lambda: proc_state(t.pid) == "T"), "the fixture did not stop itself"
        path = Path(tmp) / "out.folded"
        r = scorch("record", "--mode", "perf", "-F", "999", "-p", t.pid, "-d", "1", "-o", path)
        clean(r.stderr)
        assert r.returncode == 0, r.stderr
        counts_add_up(r.stderr, path)
        assert proc_state(t.pid) == "T"
        os.kill(t.pid, signal.SIGCONT)
        assert t.wait(timeout=60) == 7
    finally:
        if t.poll() is None:
            t.kill()
            t.wait()


@needs_perf
def test_attached_target_exits(tmp):
    """The process exits while attached (no -d): the recording ends with it and the
    output is valid."""
    t = subprocess.Popen([target(), "burn", "1.5"])
    path = Path(tmp) / "out.folded"
    r = scorch("record", "--mode", "perf", "-F", "999", "-p", t.pid, "-o", path, timeout=60)
    clean(r.stderr)
    assert t.wait() == 7
    assert r.returncode == 0, r.stderr
    stacks = counts_add_up(r.stderr, path)
    assert has_frame(stacks, "fault_burn") > 0


# ---------------------------------------------------------------- full disk

@needs_perf
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk(tmp):
    """A 64 KiB tmpfs, nearly filled, holding the previous output: render and record
    both fail naming the path and ENOSPC; the previous file and the tmpfs are as they
    were; the recorded command still runs to completion."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    mnt = Path(tmp) / "small"
    mnt.mkdir()
    src = Path(tmp) / "big.folded"
    # 200 unique stacks of 40 frames: an SVG far larger than what is left
    src.write_text("".join(";".join(f"frame_{i}_{d}" for d in range(40)) + f" {i + 1}\n"
                           for i in range(200)))
    done = Path(tmp) / "done"
    script = f"""
set -u
mount -t tmpfs -o size=64k tmpfs '{mnt}' || exit 99
printf '%s' '{OLD.decode().strip()}' > '{mnt}/prev.svg'
printf '%s' '{OLD.decode().strip()}' > '{mnt}/prev.folded'
dd if=/dev/zero of='{mnt}/filler' bs=1k count=56 2>/dev/null
ls '{mnt}' > '{tmp}/before'
'{SCORCH}' render '{src}' -o '{mnt}/prev.svg'; echo render=$?
FAULT_DONE='{done}' '{SCORCH}' record --mode perf -F 999 -o '{mnt}/prev.folded' -- '{target()}' deep 0.5; echo record=$?
ls '{mnt}' > '{tmp}/after'
cat '{mnt}/prev.svg' > '{tmp}/prev.svg'; cat '{mnt}/prev.folded' > '{tmp}/prev.folded'
"""
    r = run(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    if "render=" not in r.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    clean(r.stderr)
    assert "render=1" in r.stdout, r.stdout + r.stderr
    assert f"cannot write '{mnt}/prev.svg': No space left on device" in r.stderr, r.stderr
    assert "record=1" in r.stdout, r.stdout + r.stderr
    assert f"cannot write '{mnt}/prev.folded': No space left on device" in r.stderr, r.stderr
    assert (Path(tmp) / "before").read_text() == (Path(tmp) / "after").read_text()
    assert (Path(tmp) / "prev.svg").read_bytes() == OLD.strip()
    assert (Path(tmp) / "prev.folded").read_bytes() == OLD.strip()
    assert done.read_text() == "done 7\n", "the recorded command did not finish"


# ---------------------------------------------------------------- signals to scorch

def start_attached(tmp, secs="4"):
    """A target started by the test (so its exit status is ours to read) and scorch
    attached to it without -d."""
    t = subprocess.Popen([target(), "burn", secs])
    path = Path(tmp) / "out.folded"
    (Path(tmp) / "out.folded").write_bytes(OLD)
    p = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-F", "999", "-p", str(t.pid),
                          "-o", path], stderr=subprocess.PIPE, text=True)
    return t, p, path


@needs_perf
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sigterm_attached(tmp, sig):
    """Attached: scorch stops, writes a valid profile, exits 0; the target never
    notices and exits with its own status when its work is done."""
    t, p, path = start_attached(tmp)
    try:
        time.sleep(1.5)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        clean(err)
        assert p.returncode == 0, err
        stacks = counts_add_up(err, path)
        assert has_frame(stacks, "fault_burn") > 0
        assert t.poll() is None, "the target ended with scorch"
        assert t.wait(timeout=60) == 7
    finally:
        for x in (t, p):
            if x.poll() is None:
                x.kill()
                x.wait()


@needs_perf
def test_sigkill_attached(tmp):
    """SIGKILL: nothing is written (the previous file stays), the target goes on."""
    t, p, path = start_attached(tmp)
    try:
        time.sleep(1.5)
        p.kill()
        p.wait()
        assert p.returncode == -signal.SIGKILL
        assert path.read_bytes() == OLD
        assert not [n for n in os.listdir(tmp) if ".tmp." in n]
        assert t.poll() is None, "the target died with scorch"
        assert t.wait(timeout=60) == 7
    finally:
        for x in (t, p):
            if x.poll() is None:
                x.kill()
                x.wait()


@needs_perf
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sigterm_launched(tmp, sig):
    """Launched: a kill() aimed at scorch stops the recording, never the command:
    scorch writes a valid profile, the command runs on to its own end, and scorch
    exits with the command's status."""
    path = Path(tmp) / "out.folded"
    p = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-F", "999", "-o", path, "--",
                          target(), "burn", "5"], stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: children_of(p.pid))
    time.sleep(1.0)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    clean(err)
    assert p.returncode == 7, err
    stacks = counts_add_up(err, path)
    assert has_frame(stacks, "fault_burn") > 0


@needs_perf
def test_sigkill_launched(tmp):
    """SIGKILL of scorch: the command it launched runs on to its own end."""
    path = Path(tmp) / "out.folded"
    done = Path(tmp) / "done"
    p = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-F", "999", "-o", path, "--",
                          target(), "burn", "2"], env=dict(os.environ, FAULT_DONE=str(done)),
                         stderr=subprocess.DEVNULL)
    assert wait_for(lambda: children_of(p.pid))
    time.sleep(0.5)
    p.kill()
    p.wait()
    assert wait_for(lambda: done.exists() and done.read_text() == "done 7\n", 30), \
        "the command did not finish after scorch was killed"
    assert not path.exists()
    assert not [n for n in os.listdir(tmp) if ".tmp." in n]


def test_sigpipe_render_to_closed_pipe(tmp):
    """scorch render to stdout, piped to head: the same rule as record."""
    src = Path(tmp) / "big.folded"
    src.write_text("".join(";".join(f"frame_{i}_{d}" for d in range(40)) + f" {i + 1}\n"
                           for i in range(300)))
    r = run(["bash", "-c", f"'{SCORCH}' render '{src}' | head -c 10; "
             "s=${PIPESTATUS[0]}; echo; echo status=$s"])
    head, status = r.stdout.rsplit("status=", 1)
    assert head == "<?xml vers\n"
    assert int(status) == 1, r.stderr
    assert r.stderr == "scorch: cannot write to stdout: Broken pipe\n", r.stderr


def sig_ignored_or_caught(pid, sig):
    status = Path(f"/proc/{pid}/status").read_text()
    ign = int(re.search(r"SigIgn:\s*([0-9a-f]+)", status).group(1), 16)
    return bool(ign & (1 << (sig - 1)))


@pytest.mark.parametrize("mode", ["perf", "ptrace"])
@pytest.mark.parametrize("how", ["launch", "attach"])
def test_sigpipe_stdout_closed(tmp, how, mode):
    """-o - into a pipe whose reader is gone: scorch is not killed by SIGPIPE; it
    says it could not write to stdout (EPIPE) and exits 1, and the target goes on.
    Launched: piped to head -c 10, the command burning enough CPU for a profile far
    larger than a pipe holds (so head exits before scorch has written it all); head
    got the profile's first bytes and the command finished with its status first.
    Attached (-d 2): a reader that exits at once, since under load 2 s of wall time
    may give too small a profile to overflow the pipe."""
    if mode == "perf" and not perf_event_allowed():
        pytest.skip("perf_event_open is not permitted here")
    exe = target()
    done = Path(tmp) / "done"
    env = dict(os.environ, FAULT_DONE=str(done))
    if how == "launch":
        cmd = (f"'{SCORCH}' record --mode {mode} -F 999 -o - -- '{exe}' deep 1.5 | head -c 10; "
               "s=${PIPESTATUS[0]}; echo; echo status=$s")
        t = None
    else:
        t = subprocess.Popen([exe, "burn", "60"])
        cmd = (f"'{SCORCH}' record --mode {mode} -F 999 -o - -p {t.pid} -d 2 | true; "
               "s=${PIPESTATUS[0]}; echo; echo status=$s")
    try:
        r = run(["bash", "-c", cmd], env=env)
        clean(r.stderr)
        head, status = r.stdout.rsplit("status=", 1)
        if how == "launch":
            assert len(head) == 11, head  # 10 bytes of the profile, then echo's newline
            assert done.read_text() == "done 7\n"
        assert int(status) == 1, (status, r.stderr)
        assert "scorch: cannot write to stdout: Broken pipe" in r.stderr, r.stderr
        if t:
            assert t.poll() is None, "the attached target was harmed"
            assert proc_state(t.pid) in ("R", "S"), proc_state(t.pid)
            assert not sig_ignored_or_caught(t.pid, signal.SIGPIPE)
    finally:
        if t:
            t.kill()
            t.wait()


@needs_perf
def test_launched_command_keeps_default_sigpipe(tmp):
    """However scorch treats SIGPIPE itself, the command it runs starts with the
    default disposition (a SIG_IGN would be inherited across exec)."""
    path = Path(tmp) / "out.folded"
    p = subprocess.Popen([SCORCH, "record", "--mode", "perf", "-o", path, "--", target(),
                          "burn", "1.5"], stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: children_of(p.pid))
    child = children_of(p.pid)[0]
    assert wait_for(lambda: "fault_target" in Path(f"/proc/{child}/exe").resolve().name or
                    Path(f"/proc/{child}/exe").resolve().name.startswith("fault_target"))
    assert not sig_ignored_or_caught(child, signal.SIGPIPE)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 7, err
