"""scorch render: folded stacks to an SVG flame graph (and other formats), as a user
of flamegraph.pl sees it: valid XML, widths proportional to counts, options,
hostile names inert, same bytes for the same input, clear errors."""
import hashlib
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import CORPUS, SCORCH, read_folded, run, scorch

NS = "{http://www.w3.org/2000/svg}"
REAL_SMALL = CORPUS / "real-small.folded"


def xmllint_ok(path):
    if not shutil.which("xmllint"):
        pytest.skip("xmllint is not installed (Debian package libxml2-utils)")
    r = run(["xmllint", "--noout", path])
    assert r.returncode == 0, r.stderr[:2000]


class Frame:
    def __init__(self, g, pad, width):
        self.n = int(g.get("data-n"))
        self.self = int(g.get("data-s", "0"))
        self.before = g.get("data-b")
        self.title = g.find(NS + "title").text or ""
        rect = g.find(NS + "rect")
        self.fill = rect.get("fill")
        span = width * (100 - 2 * pad) / 100
        self.x_px = (float(rect.get("x").rstrip("%")) - pad) / (100 - 2 * pad) * span
        self.w_px = float(rect.get("width").rstrip("%")) / (100 - 2 * pad) * span
        self.y = float(rect.get("y"))
        t = g.find(NS + "text")
        self.label = None if t is None else (t.text or "")


def parse_svg(path, width=1200):
    root = ET.parse(path).getroot()
    pad = float(root.get("data-pad"))
    groups = [g for g in root.iter(NS + "g") if g.get("data-n") is not None]
    return root, [Frame(g, pad, width) for g in groups]


def render(tmp, text_or_path, *args, name="in.folded", out="out.svg", check=True):
    if isinstance(text_or_path, Path):
        src = text_or_path
    else:
        src = tmp / name
        src.write_bytes(text_or_path if isinstance(text_or_path, bytes) else text_or_path.encode())
    dst = tmp / out
    r = scorch("render", src, "-o", dst, *args)
    if check:
        assert r.returncode == 0, r.stderr
    return r, dst


def test_real_small_valid_and_proportional(tmp):
    r, svg = render(tmp, REAL_SMALL)
    xmllint_ok(svg)
    root, frames = parse_svg(svg)
    total = sum(read_folded(REAL_SMALL).values())
    assert frames[0].title.startswith("all (")
    assert frames[0].n == total == int(root.get("data-total"))
    span = 1200 - 20
    for f in frames:
        assert abs(f.w_px - f.n / total * span) <= 1.0, f.title
    # pruned frames keep their samples in the parent: a parent is at least as wide
    # as its drawn children together (checked on the root's children)
    root_y = frames[0].y
    kids = [f for f in frames if abs(f.y - (root_y - 16)) < 0.01]
    assert sum(k.n for k in kids) <= frames[0].n
    # the default --minwidth of 0.1 px drops nothing wider than that
    assert all(f.w_px >= 0.1 - 1e-6 for f in frames)
    assert len(frames) > 1000


def test_fixed_width_proportional(tmp):
    r, svg = render(tmp, REAL_SMALL, "--width", "1800")
    root, frames = parse_svg(svg, width=1800)
    assert root.get("width") == "1800"
    total = frames[0].n
    for f in frames:
        assert abs(f.w_px - f.n / total * (1800 - 20)) <= 1.0


def test_identical_bytes(tmp):
    _, a = render(tmp, REAL_SMALL, out="a.svg")
    _, b = render(tmp, REAL_SMALL, out="b.svg")
    assert a.read_bytes() == b.read_bytes()
    # stdin gives the same bytes as a file
    r = run([SCORCH, "render"], input=REAL_SMALL.read_text(errors="surrogateescape"),
            capture_output=True, text=True, errors="surrogateescape")
    assert r.returncode == 0
    assert r.stdout.encode("utf-8", "surrogateescape") == a.read_bytes()


def test_folded_round_trip(tmp):
    r, out = render(tmp, REAL_SMALL, out="out.folded")
    data = out.read_bytes()
    assert data == b"".join(sorted(REAL_SMALL.read_bytes().splitlines(keepends=True)))
    r2, out2 = render(tmp, out, out="again.folded")
    assert out2.read_bytes() == data


HOSTILE = [
    "</text><script>alert(1)</script>",
    "]]><script>alert(2)</script>",
    "javascript:alert(3)",
    "a&b<c>d\"e'f",
    "ctl\x01\x02\x1b[31m\x7f",
    "<!--",
    "--><g onload=\"alert(4)\">",
]


def test_hostile_names_inert(tmp):
    lines = [f"main;{name};leaf {i + 1}" for i, name in enumerate(HOSTILE)]
    data = "\n".join(lines).encode() + b"\nmain;bad\xff\xfe\xc3;x 2\nmain;\xed\xa0\x80;y 1\n"
    _, svg = render(tmp, data)
    xmllint_ok(svg)
    text = svg.read_bytes()
    assert b"<script>alert" not in text
    assert text.count(b"<script") == 1
    assert b"onload=\"" not in text
    _, frames = parse_svg(svg)
    titles = [f.title for f in frames]
    for name in HOSTILE[:4]:
        assert any(t.startswith(name + " (") for t in titles), name
    assert any("\ufffd" in t and t.startswith("bad") for t in titles)
    assert any(t.startswith("ctl\ufffd\ufffd\ufffd[31m\ufffd (") for t in titles)


def test_empty_input_is_an_error(tmp):
    r, svg = render(tmp, "", check=False)
    assert r.returncode == 1
    assert "no stacks" in r.stderr and "empty" in r.stderr
    assert not svg.exists()
    r, svg = render(tmp, "\n\n  \n", check=False)
    assert r.returncode == 1


def test_malformed_lines_warn_once_and_strict(tmp):
    text = "a;b 3\nnot a line\na;c -1\na;d 2\n"
    r, svg = render(tmp, text)
    assert r.stderr.count("warning") == 1
    assert "skipped 2 malformed lines (first: line 2: no count" in r.stderr
    _, frames = parse_svg(svg)
    assert frames[0].n == 5
    r, _ = render(tmp, text, "--strict", out="strict.svg", check=False)
    assert r.returncode == 1
    assert "line 2" in r.stderr
    r, _ = render(tmp, "x 1.5\n", out="frac.svg", check=False)
    assert r.returncode == 1
    assert "fractional count '1.5'" in r.stderr


def test_usage_errors(tmp):
    for args in (["--width", "abc"], ["--colors", "nope"], ["--minwidth", "x%"],
                 ["--sort", "size"], ["--bogus"], ["a", "b"]):
        r = scorch("render", *args)
        assert r.returncode == 2, args
        assert "scorch render --help" in r.stderr
    r = scorch("render", tmp / "missing.folded", "-o", tmp / "x.svg")
    assert r.returncode == 1 and "cannot open" in r.stderr
    r = scorch("render", REAL_SMALL, "-o", tmp / "x.unknown")
    assert r.returncode == 2 and "format" in r.stderr
    r = scorch("render", "--help")
    assert r.returncode == 0 and "--minwidth" in r.stdout


def test_large_counts_64bit(tmp):
    _, svg = render(tmp, "a;b 9000000000000000000\na;c 9000000000000000000\n")
    _, frames = parse_svg(svg)
    assert frames[0].n == 18000000000000000000
    r, _ = render(tmp, "a 18446744073709551615\nb 1\n", out="o.svg", check=False)
    assert r.returncode == 1 and "2^64" in r.stderr
