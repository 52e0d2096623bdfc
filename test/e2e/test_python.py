"""Python frames merged with native stacks (issue #5), under every CPython 3.8-3.13
on the machine: Debian's python3.11 (stripped, static, not PIE) and the pyenv builds
(shared libpython). A missing interpreter is a skip that names it.

Each scenario runs a script of test/fixtures/python/ (which burns the CPU seconds
given, so that a loaded machine changes the wall time, not the shares) under
`scorch record` and looks at the folded stacks, where a Python frame reads
`func (file.py)` or, with --lines, `func (file.py:LINE)`.

Shares, lines and frame order are checked in ptrace mode, where the Python chain is
read while the thread is stopped; perf mode reads it after the sample (docs/python.md)
and is checked on what holds whatever the delay: the dominant function and merging."""
import collections
import glob
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, perf_event_allowed, read_folded, run, scorch, share

PYDIR = FIXTURES / "python"
FREQ = "999"
PTRACE = ("--mode", "ptrace")
PERF = ("--mode", "perf")
PYFRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _interpreters():
    out = [pytest.param(("/usr/bin/python3.11", 11), id="debian-3.11")]
    for minor in range(8, 14):
        found = sorted(glob.glob(f"/root/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"),
                       key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[4])])
        out.append(pytest.param((found[-1] if found else None, minor), id=f"pyenv-3.{minor}"))
    return out


@pytest.fixture(params=_interpreters())
def py(request):
    path, minor = request.param
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"no CPython 3.{minor} here ({request.node.callspec.id})")
    return path, minor


def pyframe(frame):
    """(func, file, line) of a Python frame, None for a native one."""
    m = PYFRAME.match(frame)
    if not m or not (m["file"].endswith(".py") or m["file"].startswith("<")):
        return None
    return m["func"], m["file"], int(m["line"]) if m["line"] else None


def is_func(name):
    return lambda f: (pyframe(f) or ("",))[0] == name


_records = {}


def record(tmp_path_factory, interp, script, seconds, *opts):
    """Records `interp script seconds` with scorch (cached per arguments); returns
    (stacks, stderr)."""
    key = (interp, script, seconds, opts)
    if key in _records:
        return _records[key]
    out = tmp_path_factory.mktemp("py") / "out.folded"
    r = scorch("record", "-F", FREQ, "-o", out, *opts, "--", interp, PYDIR / script,
               str(seconds))
    if r.returncode != 0 and "not built yet" in r.stderr:
        pytest.skip(f"scorch record cannot sample yet: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    stacks = read_folded(out)
    assert sum(stacks.values()) > 100, f"too few samples: {r.stderr}"
    _records[key] = (stacks, r.stderr)
    return _records[key]


def while_script_ran(stacks, script):
    """The samples taken once the script itself ran: those with one of its frames,
    plus those that have the evaluation loop and no Python frame (a mismatch may
    come from any moment, so it counts against the script). Start-up before the
    script (the dynamic loader, site imports) is left out."""
    def mine(frames):
        py = [p for p in map(pyframe, frames) if p]
        if not py:
            return any(f.startswith("_PyEval_EvalFrameDefault") for f in frames)
        return any(p[1].endswith(script) for p in py)
    return {fr: c for fr, c in stacks.items() if mine(fr)}


def marked_line(script, marker):
    for i, text in enumerate((PYDIR / script).read_text().splitlines(), 1):
        if marker in text:
            return i
    raise AssertionError(f"no line with {marker!r} in {script}")


def test_hot_function_and_line(py, tmp_path_factory):
    stacks, _ = record(tmp_path_factory, py[0], "quad.py", 1.2, "--lines", *PTRACE)
    assert share(stacks, is_func("quadratic")) >= 0.75  # start-up included
    stacks = while_script_ran(stacks, "quad.py")
    assert share(stacks, is_func("quadratic")) >= 0.90
    # the caller chain reads <module> -> main -> quadratic, root first
    chain = [c for frames, c in stacks.items()
             if [p[0] for p in map(pyframe, frames) if p][-3:] == ["<module>", "main",
                                                                   "quadratic"]]
    assert sum(chain) >= 0.85 * sum(stacks.values())
    lines = collections.Counter()
    for frames, c in stacks.items():
        for f in frames:
            p = pyframe(f)
            if p and p[0] == "quadratic":
                lines[p[2]] += c
    assert lines.most_common(1)[0][0] == marked_line("quad.py", "inner loop's line"), lines


def test_zlib_native_below_python(py, tmp_path_factory):
    stacks, _ = record(tmp_path_factory, py[0], "zlibloop.py", 0.5, *PTRACE)
    total = sum(stacks.values())
    in_deflate = {fr: c for fr, c in stacks.items() if any(f == "deflate" for f in fr)}
    assert sum(in_deflate.values()) >= 0.5 * total
    # Debian's interpreter is stripped: its static zlib_compress has no name there
    named = py[0] != "/usr/bin/python3.11"
    ordered = 0
    for frames, c in in_deflate.items():
        caller = max(i for i, f in enumerate(frames) if is_func("compress_all")(f)) \
            if any(is_func("compress_all")(f) for f in frames) else None
        deflate = frames.index("deflate")
        between = frames[caller + 1:deflate] if caller is not None else ()
        if caller is not None and caller < deflate and \
                all(pyframe(f) is None for f in between) and \
                (not named or any(f.startswith("zlib_compress") for f in between)):
            ordered += c
    assert ordered >= 0.95 * sum(in_deflate.values())


def test_python_part_read_at_the_native_instant(py, tmp_path_factory):
    """ptrace mode reads the Python chain while the thread is stopped, at the same
    instant as its registers and stack. alternate.py switches every ~100 us between a
    Python function calling zlib (C) and one computing in pure Python: a sample in
    deflate whose innermost Python frame is not compress_small is a stack that never
    existed (read after the resume, a fifth to a half of them were, by then, in
    pure_python). None may appear; those whose Python part could not be told keep
    their native frames and are counted."""
    stacks, err = record(tmp_path_factory, py[0], "alternate.py", 2, *PTRACE)
    innermost = innermost_above_deflate(stacks)
    total = sum(innermost.values())
    assert total >= 100, (total, sum(stacks.values()))
    wrong = {name: c for name, c in innermost.items() if name not in ("compress_small", None)}
    assert not wrong, (wrong, innermost)
    # kept native (counted, reported): a native stack not unwound through the
    # evaluation loop, the first samples of the process; 0-0.5% on a quiet machine,
    # 1.2% once under ASan
    assert innermost[None] <= 0.04 * total, (innermost, err)
    m = re.search(r"(\d+) samples \(([\d.]+)%\) kept native frames only", err)
    assert not m or float(m[2]) <= 4.0, err


def innermost_above_deflate(stacks):
    """How many samples in deflate have each innermost Python frame (None: none)."""
    out = collections.Counter()
    for frames, c in stacks.items():
        if "deflate" in frames:
            names = [p[0] for p in map(pyframe, frames[:frames.index("deflate")]) if p]
            out[names[-1] if names else None] += c
    return out


def test_auto_mode_takes_ptrace_for_cpython(tmp_path):
    """The default mode picks ptrace for a CPython command, so that Python frames are
    read with the native stack; here a script run through its "#!/usr/bin/env" line,
    which also checks that the libraries the dynamic loader maps after the exec are
    found (ptrace mode unwound none of such a script's stacks now and then)."""
    interp = "/usr/bin/python3.11"
    if not os.access(interp, os.X_OK):
        pytest.skip(f"{interp} is not installed")
    script = tmp_path / "alternate"
    script.write_text("#!/usr/bin/env python3.11\n" + (PYDIR / "alternate.py").read_text())
    script.chmod(0o755)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    out = tmp_path / "out.folded"
    r = scorch("record", "-F", FREQ, "-o", out, "--", script, "1.5", env=env)
    assert r.returncode == 0, r.stderr
    assert "CPython target: using ptrace sampling" in r.stderr, r.stderr
    assert "(ptrace mode" in r.stderr, r.stderr
    assert "reads Python frames after" not in r.stderr, r.stderr
    unwound = float(re.search(r"([\d.]+)% of stacks unwound", r.stderr)[1])
    assert unwound >= 95, r.stderr
    inner = innermost_above_deflate(read_folded(out))
    assert sum(inner.values()) >= 50, inner
    assert set(inner) <= {"compress_small", None}, inner
    # asked for, perf mode stays; a program without CPython keeps the default perf mode
    if perf_event_allowed():
        r = scorch("record", "--mode", "perf", "-o", out, "--", script, "0.2", env=env)
        assert r.returncode == 0 and "(perf mode" in r.stderr, r.stderr
        assert "CPython target" not in r.stderr, r.stderr
        # ... and says that its Python frames come from a later instant
        assert "perf mode reads Python frames after each sample" in r.stderr, r.stderr
        r = scorch("record", "-o", out, "--", "/usr/bin/sha256sum", interp, env=env)
        assert r.returncode == 0 and "(perf mode" in r.stderr, r.stderr


def test_auto_mode_attached_to_cpython(tmp_path):
    interp = "/usr/bin/python3.11"
    if not os.access(interp, os.X_OK):
        pytest.skip(f"{interp} is not installed")
    proc = subprocess.Popen([interp, PYDIR / "alternate.py", "3"])
    try:
        time.sleep(0.3)  # past the interpreter's start-up
        out = tmp_path / "out.folded"
        r = scorch("record", "-F", FREQ, "-d", "1", "-o", out, "-p", str(proc.pid))
        assert r.returncode == 0, r.stderr
        assert "CPython target: using ptrace sampling" in r.stderr, r.stderr
        inner = innermost_above_deflate(read_folded(out))
        assert set(inner) <= {"compress_small", None}, inner
    finally:
        proc.kill()
        proc.wait()


def test_threads_each_with_own_share(py, tmp_path_factory):
    stacks, _ = record(tmp_path_factory, py[0], "threads.py", 0.8, *PTRACE)
    alpha, beta = is_func("alpha_worker"), is_func("beta_worker")
    assert share(stacks, alpha) >= 0.2
    assert share(stacks, beta) >= 0.2
    assert not any(any(map(alpha, fr)) and any(map(beta, fr)) for fr in stacks)


def test_names(py, tmp_path_factory):
    stacks, _ = record(tmp_path_factory, py[0], "names.py", 1, *PTRACE)
    new = py[1] >= 11  # co_qualname
    method = "Worker.spin" if new else "spin"
    lam = "größe.<locals>.<lambda>" if new else "<lambda>"
    # present under its right name: a few samples each (the lambda is short-lived,
    # 3-12% of the samples)
    for name in (method, "größe", "squares", lam):
        hits = sum(c for frames, c in stacks.items() if any(map(is_func(name), frames)))
        assert hits >= 5, (name, hits, sum(stacks.values()))
    # the lambda runs under sorted(), called by größe
    for frames in stacks:
        if any(map(is_func(lam), frames)):
            assert any(map(is_func("größe"), frames)), frames


@pytest.mark.parametrize("interp", ["/usr/bin/python3.11", "/root/.pyenv/versions/3.9.18/bin/python3.9"])
def test_python_only_and_no_python(interp, tmp_path_factory):
    if not os.access(interp, os.X_OK):
        pytest.skip(f"{interp} is not installed")
    # 1.5 s of work, so that the interpreter's start-up (native frames only, before
    # any Python ran: up to ~10% of a 0.5 s run) stays well under the 10% allowed
    only, _ = record(tmp_path_factory, interp, "zlibloop.py", 1.5, "--python-only", *PTRACE)
    total = sum(only.values())
    pure = sum(c for fr, c in only.items() if all(pyframe(f) for f in fr))
    assert pure >= 0.9 * total  # the rest: before the interpreter ran Python
    assert not any(any(pyframe(f) for f in fr) and not all(pyframe(f) for f in fr)
                   for fr in only)
    assert share(only, is_func("compress_all")) >= 0.8
    native, _ = record(tmp_path_factory, interp, "zlibloop.py", 0.5, "--no-python", *PTRACE)
    assert not any(pyframe(f) for fr in native for f in fr)
    assert share(native, lambda f: f == "deflate") >= 0.5


def austin_share(interp, script, seconds, func, other, tmp):
    """austin's share of func among the samples in func or other (one line per
    sample; counted, like scorch's samples, rather than weighted by time)."""
    out = tmp / "out.austin"
    r = run(["austin", "-i", "1000", "-o", out, interp, PYDIR / script, str(seconds)])
    assert r.returncode == 0, r.stderr
    total = hit = 0
    for line in out.read_text().splitlines():
        stack, _, value = line.rpartition(" ")
        if not stack.startswith("Thread") or not value.isdigit():
            continue
        if re.search(rf";{re.escape(func)} \(", stack):
            hit += 1
        elif not re.search(rf";{re.escape(other)} \(", stack):
            continue
        total += 1
    assert total > 500, "austin recorded too little"
    return hit / total


@pytest.mark.parametrize("minor", [8, 9])
def test_top_function_agrees_with_austin(minor, tmp_path_factory):
    found = sorted(glob.glob(f"/root/.pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"no CPython 3.{minor} here")
    if not shutil.which("austin"):
        pytest.skip("austin is not installed (Debian package austin)")
    stacks, _ = record(tmp_path_factory, found[-1], "split.py", 2, *PTRACE)
    # the top function's share of the script's two functions, in both tools (start-up
    # and austin's idle samples apart)
    both = {fr: c for fr, c in stacks.items()
            if any(map(is_func("heavy"), fr)) or any(map(is_func("light"), fr))}
    assert sum(both.values()) >= 0.85 * sum(stacks.values())
    ours = share(both, is_func("heavy"))
    theirs = austin_share(found[-1], "split.py", 2, "heavy", "light",
                          tmp_path_factory.mktemp("austin"))
    assert 0.55 < ours < 0.8, ours
    assert abs(ours - theirs) <= 0.05, (ours, theirs)


@pytest.mark.parametrize("interp", ["/usr/bin/python3.11",
                                    "/root/.pyenv/versions/3.9.18/bin/python3.9",
                                    "/root/.pyenv/versions/3.13.0/bin/python3.13"])
def test_perf_mode_merges(interp, tmp_path_factory):
    """perf mode reads the chain when the ring buffer is drained, after the sample:
    the dominant function still dominates, merged below the interpreter's entry."""
    if not os.access(interp, os.X_OK):
        pytest.skip(f"{interp} is not installed")
    stacks, _ = record(tmp_path_factory, interp, "quad.py", 1, *PERF)
    stacks = while_script_ran(stacks, "quad.py")
    assert share(stacks, is_func("quadratic")) >= 0.75
    merged = sum(c for fr, c in stacks.items()
                 if any(f.startswith("PyEval_EvalCode") for f in fr)
                 and [p[0] for p in map(pyframe, fr) if p][-1:] == ["quadratic"])
    assert merged >= 0.6 * sum(stacks.values())
