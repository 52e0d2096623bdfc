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


# ---- flamegraph.pl's rarer options: --total, --factor, --encoding, --nameattr, --cp ----

TWO = "main;foo 600\nmain;bar 400\n"


def _by_name(frames):
    return {f.title.split(" (")[0]: f for f in frames}


def test_total_makes_a_narrower_graph(tmp):
    """flamegraph.pl's --total: N samples make the full width, so a profile of 1000
    samples with --total 2000 fills half of it; the root still spans the width and
    reads N samples, 100%; below the real total it is ignored with a warning."""
    _, svg = render(tmp, TWO, "--width", "1200", "--total", "2000", out="t.svg")
    xmllint_ok(svg)
    root, frames = parse_svg(svg, width=1200)
    f = _by_name(frames)
    span = 1200 - 20
    assert root.get("data-total") == "2000"
    assert f["all"].title == "all (2,000 samples, 100.00%)"
    assert abs(f["all"].w_px - span) < 0.1
    assert abs(f["main"].w_px - span / 2) < 0.1, f["main"].w_px
    assert abs(f["foo"].w_px - span * 0.3) < 0.1 and abs(f["bar"].w_px - span * 0.2) < 0.1
    assert f["main"].title == "main (1,000 samples, 50.00%)"
    assert f["foo"].title == "foo (600 samples, 30.00%)"
    # --minwidth in percent is of the --total: 25% of 2000 = 500 leaves foo, drops bar
    _, svg = render(tmp, TWO, "--total", "2000", "--minwidth", "25%", out="tm.svg")
    assert set(_by_name(parse_svg(svg)[1])) == {"all", "main", "foo"}
    # below the samples: ignored (the same bytes as without), said on stderr
    _, plain = render(tmp, TWO, out="plain.svg")
    r, low = render(tmp, TWO, "--total", "500", out="low.svg")
    assert "--total 500 is less than the 1000 samples" in r.stderr
    assert low.read_bytes() == plain.read_bytes()
    r, tiny = render(tmp, TWO, "--total", "10", out="tiny.svg")  # rounding-size: quiet
    assert r.stderr == "" and tiny.read_bytes() == plain.read_bytes()
    for bad in ("0", "-5", "abc", "nan", "1e30"):
        r, out = render(tmp, TWO, "--total", bad, out="bad.svg", check=False)
        assert r.returncode == 2 and "--total" in r.stderr and not out.exists(), bad


def test_factor_scales_shown_counts(tmp):
    """--factor: counts in tooltips and the script's data times F, rounded, shares
    unchanged; widths are still the raw counts."""
    _, svg = render(tmp, TWO, "--factor", "2.5", out="f.svg")
    xmllint_ok(svg)
    root, frames = parse_svg(svg)
    f = _by_name(frames)
    assert root.get("data-total") == "2500"
    assert f["all"].title == "all (2,500 samples, 100.00%)"
    assert f["foo"].title == "foo (1,500 samples, 60.00%)" and f["foo"].n == 1500
    assert f["bar"].title == "bar (1,000 samples, 40.00%)" and f["bar"].self == 1000
    _, plain = render(tmp, TWO, out="p.svg")
    pw = {k: v.w_px for k, v in _by_name(parse_svg(plain)[1]).items()}
    assert all(abs(v.w_px - pw[k]) < 1e-6 for k, v in f.items())
    # a fraction, with --total, as flamegraph.pl prints it
    _, svg = render(tmp, TWO, "--factor", "0.001", "--total", "4000", "--countname", "ms",
                    out="ms.svg")
    f = _by_name(parse_svg(svg)[1])
    assert f["all"].title == "all (4 ms, 100.00%)"
    assert f["foo"].title == "foo (1 ms, 25.00%)", f["foo"].title
    for bad in ("0", "-1", "x", "inf"):
        r, out = render(tmp, TWO, "--factor", bad, out="bad.svg", check=False)
        assert r.returncode == 2 and "--factor" in r.stderr and not out.exists(), bad


def test_encoding_attribute(tmp):
    _, svg = render(tmp, TWO, "--encoding", "ISO-8859-1", out="e.svg")
    assert svg.read_bytes().startswith(b'<?xml version="1.0" encoding="ISO-8859-1" ')
    xmllint_ok(svg)
    _, svg = render(tmp, TWO, out="d.svg")
    assert svg.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8" ')
    for bad in ('UTF-8" standalone="yes', "a b", "8bit", "", "x<y", "é"):
        r, out = render(tmp, TWO, "--encoding", bad, out="bad.svg", check=False)
        assert r.returncode == 2 and "--encoding" in r.stderr and not out.exists(), bad


def test_nameattr_attributes_escaped(tmp):
    """--nameattr: per-function attributes on the frame's <g> (a link: <a>), values
    escaped, the title replacing the tooltip, the output well-formed."""
    na = tmp / "attrs.tsv"
    na.write_text("foo\tid=f1\tclass=a&\"<b>\ttitle=Foo <docs> & 'more'\t"
                  "href=https://example.com/?a=1&b=2\ttarget=_blank\t"
                  "g_extra=data-x=\"1\" aria-label='say \"hi\"'\ta_extra=rel=\"noopener\"\n"
                  "bar\tdata-y=<v>\tclass=plain\r\n"
                  "\n"
                  "nowhere\tid=unused\n")
    _, svg = render(tmp, TWO, "--nameattr", na, out="n.svg")
    xmllint_ok(svg)
    raw = svg.read_text()
    assert 'class="a&amp;&quot;&lt;b&gt;"' in raw and 'data-y="&lt;v&gt;"' in raw
    root = ET.parse(svg).getroot()
    links = list(root.iter(NS + "a"))
    assert len(links) == 1
    a = links[0]
    assert a.get("{http://www.w3.org/1999/xlink}href") == "https://example.com/?a=1&b=2"
    assert a.get("target") == "_blank" and a.get("rel") == "noopener"
    assert a.get("id") == "f1" and a.get("class") == 'a&"<b>' and a.get("data-x") == "1"
    assert a.get("aria-label") == 'say "hi"' and a.get("data-n") == "600"
    assert a.find(NS + "title").text == "Foo <docs> & 'more'"
    bar = [g for g in root.iter(NS + "g") if g.get("class") == "plain"]
    assert len(bar) == 1 and bar[0].get("data-y") == "<v>"
    assert bar[0].find(NS + "title").text.startswith("bar (400 samples")
    assert "unused" not in raw
    # a link without target opens at the top, as flamegraph.pl's
    na.write_text("bar\thref=docs/bar.html\n")
    _, svg = render(tmp, TWO, "--nameattr", na, out="n2.svg")
    a = list(ET.parse(svg).getroot().iter(NS + "a"))
    assert len(a) == 1 and a[0].get("target") == "_top"


@pytest.mark.parametrize("line,word", [
    ("foo\tonclick=alert(1)", "onclick"),
    ("foo\tOnMouseOver=alert(1)", "OnMouseOver"),
    ("foo\tg_extra=onload=\"alert(1)\"", "onload"),
    ("foo\ta_extra=x=\"1\" onfocus='a()'\thref=/x", "onfocus"),
    ("foo\thref=javascript:alert(1)", "javascript:alert(1)"),
    ("foo\thref=JavaScript:alert(1)", "JavaScript:alert(1)"),
    ("foo\thref=java script:alert(1)", "java script:alert(1)"),
    ("foo\thref=data:text/html,<script>", "data:text/html"),
    ("foo\tstyle=x:y", "style"),
    ("foo\tg_extra=xlink:href=\"javascript:x\"", "xlink:href"),
    ("foo\tg_extra=href=\"javascript:x\"", "href"),
    ("foo\txmlns=http://x", "xmlns"),
    ("foo\t\"><script>=1", "script"),
    ("foo\tid=a\tg_extra=id=\"b\"", "twice"),
    ("foo\tdata-n=1", "data-n"),
    ("foo\tg_extra=a=\"1", "g_extra"),
    ("foo\tg_extra=a=1", "g_extra"),
    ("foo\tnovalue", "NAME=VALUE"),
    ("foo without a tab", "FUNCTION<TAB>"),
])
def test_nameattr_hostile_refused(tmp, line, word):
    """A hostile or malformed --nameattr line is refused with its line number and
    exit status 1, before anything is written."""
    na = tmp / "bad.tsv"
    na.write_text("main\tid=ok\n" + line + "\n")
    r, out = render(tmp, TWO, "--nameattr", na, out="h.svg", check=False)
    assert r.returncode == 1, r.stderr
    assert f"{na}:2:" in r.stderr and word in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "Sanitizer" not in r.stderr
    assert not out.exists()


def test_nameattr_missing_file(tmp):
    r, out = render(tmp, TWO, "--nameattr", tmp / "nope.tsv", out="m.svg", check=False)
    assert r.returncode == 1 and "cannot read" in r.stderr and "nope.tsv" in r.stderr
    assert not out.exists()
    r, out = render(tmp, TWO, "--nameattr", tmp, out="m.svg", check=False)
    assert r.returncode == 1 and "not a regular file" in r.stderr and not out.exists()


def _fills(svg):
    return {f.title.split(" (")[0]: f.fill for f in parse_svg(svg)[1]}


def test_consistent_palette(tmp):
    """--cp: colours per function kept in ./palette.map (flamegraph.pl's format),
    read if present and written back, so a second graph reuses them."""
    (tmp / "a.folded").write_text(TWO)
    (tmp / "b.folded").write_text("main;foo 5\nmain;baz;qux 5\n")
    r = scorch("render", "a.folded", "-o", "a.svg", "--cp", cwd=tmp)
    assert r.returncode == 0, r.stderr
    pal = (tmp / "palette.map").read_text().splitlines()
    assert [ln.split("->")[0] for ln in pal] == ["bar", "foo", "main"]  # sorted
    assert all(re.fullmatch(r"[a-z]+->rgb\(\d+,\d+,\d+\)", ln) for ln in pal)
    a = _fills(tmp / "a.svg")
    for ln in pal:
        name, rgb = ln.split("->")
        assert a[name] == "#%02x%02x%02x" % tuple(map(int, rgb[4:-1].split(","))), ln
    # a colour chosen by hand is kept; the second graph reuses foo's and main's;
    # --hash would give other colours, but the palette wins
    with open(tmp / "palette.map", "a") as f:
        f.write("baz->rgb(1,2,3)\n")
    r = scorch("render", "b.folded", "-o", "b.svg", "--cp", "--hash", cwd=tmp)
    assert r.returncode == 0, r.stderr
    b = _fills(tmp / "b.svg")
    assert b["foo"] == a["foo"] and b["main"] == a["main"] and b["baz"] == "#010203"
    names = [ln.split("->")[0] for ln in (tmp / "palette.map").read_text().splitlines()]
    assert names == ["bar", "baz", "foo", "main", "qux"]
    assert not list(tmp.glob("palette.map.tmp*"))
    # --palette FILE: the same with another file; same input, same bytes
    r1 = scorch("render", "a.folded", "-o", "c.svg", "--palette", "p2.map", cwd=tmp)
    r2 = scorch("render", "a.folded", "-o", "d.svg", "--palette", "p2.map", cwd=tmp)
    assert r1.returncode == 0 and r2.returncode == 0
    assert (tmp / "c.svg").read_bytes() == (tmp / "d.svg").read_bytes()
    assert (tmp / "p2.map").read_text() == "\n".join(pal) + "\n"
    # other formats leave the palette alone
    r = scorch("render", "a.folded", "-o", "a.txt", "--palette", "p3.map", cwd=tmp)
    assert r.returncode == 0 and not (tmp / "p3.map").exists()


def test_palette_bad_files(tmp):
    (tmp / "a.folded").write_text(TWO)
    for text, word in (("foo rgb(1,2,3)\n", "NAME->rgb"),
                       ("foo->rgb(1,2,256)\n", "0 to 255"),
                       ("foo->rgb(1,2)\n", "rgb(R,G,B)"),
                       ("foo->#ff0000\n", "rgb(R,G,B)")):
        (tmp / "bad.map").write_text("main->rgb(9,9,9)\n" + text)
        r = scorch("render", "a.folded", "-o", "x.svg", "--palette", "bad.map", cwd=tmp)
        assert r.returncode == 1 and "bad.map:2:" in r.stderr and word in r.stderr, r.stderr
        assert not (tmp / "x.svg").exists()
        assert (tmp / "bad.map").read_text().endswith(text)  # left as it was
    r = scorch("render", "a.folded", "-o", "x.svg", "--palette", "no/such/dir/p.map", cwd=tmp)
    assert r.returncode == 1 and "cannot write" in r.stderr and not (tmp / "x.svg").exists()
    r = scorch("render", "a.folded", "-o", "x.svg", "--palette", ".", cwd=tmp)
    assert r.returncode == 1 and not (tmp / "x.svg").exists()
    # a name holding "->" (C++'s operator->) and a flamegraph.pl root entry read fine
    (tmp / "ok.map").write_text("->rgb(1,1,1)\nA::operator->->rgb(4,5,6)\n")
    (tmp / "op.folded").write_text("main;A::operator-> 3\n")
    r = scorch("render", "op.folded", "-o", "op.svg", "--palette", "ok.map", cwd=tmp)
    assert r.returncode == 0, r.stderr
    fills = {f.title.rsplit(" (", 1)[0]: f.fill for f in parse_svg(tmp / "op.svg")[1]}
    assert fills["A::operator->"] == "#040506"


def test_rare_options_on_a_corpus_same_bytes(tmp):
    """Every rare option at once on a real corpus: well-formed, and the same bytes
    twice."""
    na = tmp / "na.tsv"
    (tmp / "pal.map").write_text("")
    stacks = read_folded(REAL_SMALL)
    some = sorted({s[-1] for s in stacks if s[-1].isascii() and "\t" not in s[-1]})[:5]
    na.write_text("".join(f"{n}\tclass=k{i}\thref=#f{i}\n" for i, n in enumerate(some)))
    args = ("--total", "999999", "--factor", "0.25", "--encoding", "utf-8",
            "--nameattr", na, "--palette", tmp / "pal.map")
    _, a = render(tmp, REAL_SMALL, *args, out="a.svg")
    _, b = render(tmp, REAL_SMALL, *args, out="b.svg")
    xmllint_ok(a)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().count("<a data-n=") >= 1
