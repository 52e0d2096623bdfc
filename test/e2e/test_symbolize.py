"""Symbolization through `scorch record`: file:line on every frame (--lines) with
inlined functions at their own lines and their callers at the call sites, debug info
found in a separate file through .gnu_debuglink, JIT frames from perf-PID.map, and
kernel frames from /proc/kallsyms."""
import glob
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, compile_fixture, read_folded, run, scorch, perf_event_allowed

needs_perf = pytest.mark.skipif(not perf_event_allowed(),
                                reason="perf_event_open is not permitted here "
                                       "(kernel.perf_event_paranoid > 2 and not root)")


def marks(source):
    """{name: line} of the `MARK: name` comments of a fixture."""
    out = {}
    for n, line in enumerate((FIXTURES / source).read_text().splitlines(), 1):
        m = re.search(r"MARK: (\w+)", line)
        if m:
            out[m.group(1)] = n
    return out


def record(tmp, *args, out="out.folded", cmd=()):
    path = Path(tmp) / out
    r = scorch("record", "--mode", "perf", "-q", "-o", path, *args, "--", *cmd)
    assert r.returncode == 0, r.stderr
    return read_folded(path)


def inline_share(stacks, m, exe_name="sym_lines.c"):
    """Share of samples whose stack ends in sym_outer at the call site, then sym_mix
    inlined at one of its own lines, under main at its call site."""
    mix = {f"sym_mix ({exe_name}:{m['mix_loop']})_[i]", f"sym_mix ({exe_name}:{m['mix_body']})_[i]"}
    outer = f"sym_outer ({exe_name}:{m['call_mix']})"
    main = f"main ({exe_name}:{m['call_outer']})"
    total = sum(stacks.values())
    hit = 0
    for frames, c in stacks.items():
        if frames[-1] in mix and len(frames) >= 3 and frames[-2] == outer and main in frames:
            if frames.index(main) < len(frames) - 2:
                hit += c
    return hit / total if total else 0.0, total


@needs_perf
def test_lines_and_inlined_frames(tmp):
    m = marks("sym_lines.c")
    exe = compile_fixture("sym_lines.c")
    stacks = record(tmp, "-F", "999", "--lines", cmd=[exe, "1.5"])
    got, total = inline_share(stacks, m)
    assert total >= 500, f"too few samples: {total}"
    # the rest of the time goes to reading the clock (fixture_cpu_now, vdso)
    assert got > 0.75, f"{got:.3f} of samples end in sym_outer;sym_mix_[i] at the right lines"
    # every frame of the program itself carries a line; libc frames carry theirs
    # (libc6-dbg) or none
    for frames in stacks:
        for f in frames:
            if f.startswith(("sym_", "main")):
                assert re.search(r" \(sym_lines\.c:\d+\)(_\[i\])?$", f), f
    # without --lines, the same frames without file:line
    stacks = record(tmp, "-F", "499", out="nolines.folded", cmd=[exe, "0.5"])
    assert any(fr[-2:] == ("sym_outer", "sym_mix_[i]") for fr in stacks), list(stacks)[:5]
    assert not any("sym_lines.c" in f for fr in stacks for f in fr)


@needs_perf
def test_separate_debug_info_by_debuglink(tmp):
    """A stripped executable whose DWARF sits in DIR/.debug/NAME.debug, named by its
    .gnu_debuglink: names, inlined frames and lines as if it were not stripped."""
    m = marks("sym_lines.c")
    exe = compile_fixture("sym_lines.c")
    d = Path(tmp)
    stripped = d / "sym_lines-dl"
    (d / ".debug").mkdir()
    assert run(["objcopy", "--only-keep-debug", exe, d / ".debug" / "sym_lines-dl.debug"]).returncode == 0
    assert run(["objcopy", "--strip-all", exe, stripped]).returncode == 0
    r = run(["objcopy", "--add-gnu-debuglink=sym_lines-dl.debug", stripped], cwd=d / ".debug")
    assert r.returncode == 0, r.stderr
    assert run(["readelf", "-S", stripped]).stdout.count(".debug_info") == 0
    stacks = record(tmp, "-F", "999", "--lines", cmd=[stripped, "1"])
    got, total = inline_share(stacks, m)
    assert got > 0.75, f"{got:.3f} of {total}: {list(stacks)[:3]}"

    # without the debug file: module+0xVADDR frames, never a bare [unknown]
    shutil.rmtree(d / ".debug")
    stacks = record(tmp, "-F", "999", out="nodebug.folded", cmd=[stripped, "1"])
    total = sum(stacks.values())
    mod = sum(c for fr, c in stacks.items() if re.fullmatch(r"sym_lines-dl\+0x[0-9a-f]+", fr[-1]))
    assert mod / total > 0.75, sorted(stacks.items(), key=lambda kv: -kv[1])[:5]
    # [unknown] means no mapping held the address: the odd sample taken while the
    # process execs, never the program's own code
    unknown = sum(c for fr, c in stacks.items() if "[unknown]" in fr)
    assert unknown / total < 0.01, sorted(stacks.items(), key=lambda kv: -kv[1])[:5]


def python_with_perf_trampoline():
    """A CPython >= 3.12 (which writes /tmp/perf-PID.map with -X perf)."""
    cands = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]"))
    for name in ("python3.13", "python3.12"):
        p = shutil.which(name)
        if p:
            cands.append(p)
    for p in cands:
        r = run([p, "-X", "perf", "-c", "import sys; print(sys.version_info >= (3, 12))"])
        if r.returncode == 0 and r.stdout.strip() == "True":
            return p
    return None


@needs_perf
def test_jit_frames_from_perf_map(tmp):
    py = python_with_perf_trampoline()
    if not py:
        pytest.skip("no CPython >= 3.12 with -X perf here")
    script = Path(tmp) / "burn.py"
    script.write_text("import time\n"
                      "def burn_in_python(n):\n"
                      "    s = 0\n"
                      "    for i in range(n):\n"
                      "        s += i * i % 7\n"
                      "    return s\n"
                      "end = time.process_time() + 1.0\n"
                      "while time.process_time() < end:\n"
                      "    burn_in_python(20000)\n")
    stacks = record(tmp, "-F", "999", "--no-python", cmd=[py, "-X", "perf", script])
    jit = [f for fr in stacks for f in fr if f.endswith("_[j]")]
    assert any(re.fullmatch(r"py::burn_in_python:.*burn\.py_\[j\]", f) for f in jit), \
        sorted(set(jit))[:10]


@needs_perf
def test_kernel_frames(tmp):
    exe = shutil.which("dd")
    r = scorch("record", "--mode", "perf", "--kernel", "-q", "-F", "999",
               "-o", Path(tmp) / "k.folded", "--", exe, "if=/dev/zero", "of=/dev/null",
               "bs=64k", "count=200000")
    if r.returncode != 0 and "kernel" in r.stderr:
        pytest.skip(f"kernel frames are not permitted here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    stacks = read_folded(Path(tmp) / "k.folded")
    kframes = [f for fr in stacks for f in fr if f.endswith("_[k]")]
    assert kframes, "no kernel frames"
    zeros = all(l.startswith("0000000000000000") for l in open("/proc/kallsyms").readlines()[:50])
    if zeros:
        assert set(kframes) == {"[kernel]_[k]"}
    else:
        # named from kallsyms, and the kernel part is the leaf end of each stack
        assert any(f != "[kernel]_[k]" for f in kframes)
        for fr in stacks:
            ks = [i for i, f in enumerate(fr) if f.endswith("_[k]")]
            if ks:
                assert ks == list(range(ks[0], len(fr))), fr
