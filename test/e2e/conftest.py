"""Shared helpers of the end-to-end tests: the binary under test, fixture programs
compiled on demand (cached in $BUILD/fixtures by source, flags and compiler), and
parsers for what scorch writes."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures"
BUILD = ROOT / os.environ.get("BUILD", "build")
SCORCH = os.environ.get("SCORCH", str(ROOT / "scorch"))
CORPUS = ROOT.parent / "shared" / "corpus"
ASAN = os.environ.get("SCORCH_ASAN") == "1"


def run(args, **kw):
    """Runs a command, returning CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run([str(a) for a in args], **kw)


def scorch(*args, **kw):
    """Runs ./scorch with args."""
    return run([SCORCH, *args], **kw)


def compile_fixture(source, flags=("-O2", "-fomit-frame-pointer"), libs=(), out_name=None,
                    compiler=None, extra_sources=()):
    """Compiles test/fixtures/<source> (C or C++) and returns the binary's path.
    Cached by content and flags, so each build happens once per run."""
    src = FIXTURES / source
    compiler = compiler or ("g++" if src.suffix in (".cc", ".cpp") else "gcc")
    srcs = [src] + [FIXTURES / s for s in extra_sources]
    h = hashlib.sha256()
    for s in srcs:
        h.update(s.read_bytes())
    h.update(repr((flags, libs, compiler)).encode())
    outdir = BUILD / "fixtures"
    outdir.mkdir(parents=True, exist_ok=True)
    name = out_name or src.stem
    out = outdir / f"{name}-{h.hexdigest()[:10]}"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        r = run([compiler, "-g", *flags, "-o", tmp, *srcs, *libs])
        if r.returncode != 0:
            raise RuntimeError(f"cannot compile {source}: {r.stderr}")
        os.replace(tmp, out)
    return out


def read_folded(path_or_text):
    """Parses folded stacks into {tuple(frames): count}."""
    text = path_or_text
    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in path_or_text
                                          and os.path.exists(path_or_text)):
        text = Path(path_or_text).read_text(errors="surrogateescape")
    stacks = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        frames = tuple(stack.split(";"))
        stacks[frames] = stacks.get(frames, 0) + int(count)
    return stacks


def share(stacks, pred):
    """Share (0..1) of samples whose stack has a frame for which pred(frame) holds."""
    total = sum(stacks.values())
    hit = sum(c for frames, c in stacks.items() if any(pred(f) for f in frames))
    return hit / total if total else 0.0


def self_share(stacks, pred):
    """Share of samples whose leaf frame satisfies pred."""
    total = sum(stacks.values())
    hit = sum(c for frames, c in stacks.items() if frames and pred(frames[-1]))
    return hit / total if total else 0.0


def perf_event_allowed():
    """Whether perf_event_open of cpu-clock works here (root or paranoid <= 2)."""
    try:
        level = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    except OSError:
        return False
    return os.geteuid() == 0 or level <= 2


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
