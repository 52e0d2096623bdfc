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


def test_generated_corpus(tmp):
    src = tmp / "gen.folded"
    r = run(["/usr/bin/python3", CORPUS / "gen_folded.py", "--unique", "3000", "--seed", "7",
             "-o", src])
    assert r.returncode == 0, r.stderr
    _, svg = render(tmp, src)
    xmllint_ok(svg)
    root, frames = parse_svg(svg)
    total = sum(read_folded(src).values())
    assert frames[0].n == total
    for f in frames:
        assert abs(f.w_px - f.n / total * 1180) <= 1.0
    # children never overflow their parent (a pre-order walk by depth)
    stack = []
    for f in frames:
        while stack and stack[-1].y <= f.y:
            stack.pop()
        if stack:
            p = stack[-1]
            assert f.x_px >= p.x_px - 0.01 and f.x_px + f.w_px <= p.x_px + p.w_px + 0.01
        stack.append(f)


def _root_children(frames):
    y1 = frames[0].y - 16
    return [f for f in frames if abs(f.y - y1) < 0.01]


def test_options_behave(tmp):
    text = "main;b_[k];x 30\nmain;a;y 50\nmain;c (app.py:3) 15\nmain;w_[w] 5\nsolo 1\n"
    _, svg = render(tmp, text, "--title", "My <T>", "--subtitle", "sub&", "--countname", "ms",
                    "--nametype", "Fn:", "--notes", "hello", "--fonttype", "Courier",
                    "--fontsize", "10", "--height", "20")
    xmllint_ok(svg)
    raw = svg.read_text()
    assert ">My &lt;T&gt;</text>" in raw and ">sub&amp;</text>" in raw
    assert "<desc>hello</desc>" in raw and 'data-nametype="Fn:"' in raw
    assert 'font-family:"Courier"' in raw and "font-size:10.0px" in raw
    root, frames = parse_svg(svg)
    assert frames[0].title == "all (101 ms, 100.00%)"
    assert any(f.title == "a (50 ms, 49.50%)" for f in frames)
    assert all(f.w_px >= 0 for f in frames)
    by = {f.title.rsplit(" (", 1)[0]: f for f in frames}
    # annotations: stripped from the text, chosen colours (kernel orange: no blue;
    # waiting blue-ish; Python frames their own blue tint)
    assert "b" in by and "w" in by
    k = by["b"].fill
    assert int(k[5:7], 16) == 0
    w = by["w"].fill
    assert int(w[5:7], 16) > int(w[1:3], 16)
    py = by["c (app.py:3)"].fill
    assert int(py[5:7], 16) > int(py[1:3], 16)
    rect_h = re.search(r'<rect x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)"', raw).group(1)
    assert rect_h == "19.0"
    # --sort weight: heaviest first, name order otherwise
    _, frames = parse_svg(render(tmp, text, out="n.svg")[1])
    kids = sorted(_root_children(frames), key=lambda f: f.x_px)
    assert [k.title.rsplit(" (", 1)[0] for k in kids] == ["main", "solo"]
    main_kids = sorted([f for f in frames if abs(f.y - (frames[0].y - 32)) < 0.01],
                       key=lambda f: f.x_px)
    assert [k.title.rsplit(" (", 1)[0] for k in main_kids] == ["a", "b", "c (app.py:3)", "w"]
    _, frames = parse_svg(render(tmp, text, "--sort", "weight", out="w.svg")[1])
    main_kids = sorted([f for f in frames if abs(f.y - (frames[0].y - 32)) < 0.01],
                       key=lambda f: f.x_px)
    assert [k.n for k in main_kids] == [50, 30, 15, 5]


def test_inverted_reverse_flamechart(tmp):
    text = "main;f;g 3\nmain;h 2\nmain;f;g 4\n"
    _, svg = render(tmp, text, "--inverted")
    raw = svg.read_text()
    assert ">Icicle Graph</text>" in raw
    _, frames = parse_svg(svg)
    assert frames[0].y < min(f.y for f in frames[1:])
    # --reverse: leaves become the roots
    _, svg = render(tmp, text, "--reverse", out="r.svg")
    _, frames = parse_svg(svg)
    names = sorted(f.title.rsplit(" (", 1)[0] for f in _root_children(frames))
    assert names == ["g", "h"]
    _, out = render(tmp, text, "--reverse", out="r.folded")
    assert out.read_text() == "g;f;main 7\nh;main 2\n"
    # --flamechart: input order, only neighbours merge
    _, svg = render(tmp, text, "--flamechart", out="c.svg")
    raw = svg.read_text()
    assert ">Flame Chart</text>" in raw
    _, frames = parse_svg(svg)
    fs = sorted([f for f in frames if f.title.startswith("f (")], key=lambda f: f.x_px)
    assert [f.n for f in fs] == [3, 4]
    h = [f for f in frames if f.title.startswith("h (")][0]
    assert fs[0].x_px < h.x_px < fs[1].x_px


def test_minwidth(tmp):
    _, svg = render(tmp, REAL_SMALL, "--minwidth", "5")
    _, frames = parse_svg(svg)
    assert all(f.w_px >= 5 - 0.01 for f in frames)
    _, svg0 = render(tmp, REAL_SMALL, out="d.svg")
    _, frames0 = parse_svg(svg0)
    assert len(frames) < len(frames0)
    assert frames[0].n == frames0[0].n
    _, svg = render(tmp, REAL_SMALL, "--minwidth", "1%", out="p.svg")
    _, frames = parse_svg(svg)
    assert all(f.n >= frames[0].n / 100 for f in frames)
    assert len(frames) > 10
    _, svg = render(tmp, REAL_SMALL, "--minwidth", "0", out="z.svg")
    _, frames = parse_svg(svg)
    assert len(frames) == 7325  # every merged node and the root


def test_palettes_and_hash(tmp):
    fills = {}
    for pal in ("hot", "mem", "io", "wakeup", "red", "green", "blue", "aqua", "yellow",
                "purple", "orange", "java", "js", "perl", "python"):
        _, svg = render(tmp, REAL_SMALL, "--colors", pal, out=f"{pal}.svg")
        _, frames = parse_svg(svg)
        fills[pal] = [f.fill for f in frames]
    assert len({tuple(v) for v in fills.values()}) >= 12
    _, a = render(tmp, REAL_SMALL, "--hash", out="h1.svg")
    _, b = render(tmp, REAL_SMALL, "--hash", out="h2.svg")
    assert a.read_bytes() == b.read_bytes()
    _, frames = parse_svg(a)
    assert [f.fill for f in frames] != fills["hot"]


def test_differential_input(tmp):
    src = tmp / "diff.folded"
    r = run(["/usr/bin/python3", CORPUS / "gen_folded.py", "--unique", "2000", "--seed", "3",
             "--diff", "-o", src])
    assert r.returncode == 0, r.stderr
    _, svg = render(tmp, src)
    xmllint_ok(svg)
    root, frames = parse_svg(svg)
    after = before = 0
    for line in src.read_text(errors="surrogateescape").splitlines():
        parts = line.rsplit(" ", 2)
        before += int(parts[1])
        after += int(parts[2])
    assert frames[0].n == after
    assert int(root.get("data-base-total")) == before
    assert all(f.before is not None for f in frames)
    reds = [f for f in frames if f.fill.startswith("#ff") and f.fill != "#ffffff"]
    blues = [f for f in frames if f.fill.endswith("ff") and not f.fill.startswith("#ff")]
    assert reds and blues
    grew = max(frames[1:], key=lambda f: f.n / after - int(f.before) / before)
    assert grew.fill.startswith("#ff")
    assert "; before " in grew.title and "; +" in grew.title
    _, neg = render(tmp, src, "--negate", out="neg.svg")
    _, nframes = parse_svg(neg)
    same = [f for f in nframes if f.title == grew.title][0]
    assert same.fill.endswith("ff") and not same.fill.startswith("#ff")
    # the folded writer keeps both columns
    _, out = render(tmp, src, out="diff2.folded")
    back = {}
    for line in out.read_text(errors="surrogateescape").splitlines():
        stack, b, a = line.rsplit(" ", 2)
        back[stack] = (int(b), int(a))
    assert sum(v[0] for v in back.values()) == before
    assert sum(v[1] for v in back.values()) == after


def test_format_selection(tmp):
    r = scorch("render", REAL_SMALL, "--format", "folded")
    assert r.returncode == 0 and r.stdout.startswith("as;")
    r = scorch("render", REAL_SMALL)
    assert r.returncode == 0 and r.stdout.startswith("<?xml")
    r = scorch("render", REAL_SMALL, "-o", tmp / "x.collapsed")
    assert r.returncode == 0 and (tmp / "x.collapsed").read_text().startswith("as;")
    r = scorch("render", REAL_SMALL, "--format", "svg", "-o", tmp / "x.folded")
    assert r.returncode == 0 and (tmp / "x.folded").read_text().startswith("<?xml")
    # a failed write leaves the previous file alone
    target = tmp / "keep.svg"
    target.write_text("previous")
    r = scorch("render", tmp / "nothing.folded", "-o", target)
    assert r.returncode == 1 and target.read_text() == "previous"
