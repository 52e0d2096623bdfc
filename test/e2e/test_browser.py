"""The SVG flame graph in a real browser (Debian's chromium driven by playwright-core):
zoom, reset, regex search with Matched % and highlight, Ctrl-F / Ctrl-I, the view
kept in the URL, hostile names inert, two graphs in one page, dark theme, scripts
off, and a 10 000-frame graph staying quick. One browser session runs every step
(test/browser/svg.mjs) and the tests below assert on what it saw."""
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, read_folded, run, scorch

BROWSER = ROOT / "test" / "browser"
CHROMIUM = "/usr/bin/chromium"
REAL_SMALL = CORPUS / "real-small.folded"

HOSTILE = [
    "</text><script>window.__pwned=1,alert(1)</script>",
    "]]><script>window.__pwned=2,alert(2)</script>",
    "javascript:window.__pwned=3",
    "<img src=x onerror=\"window.__pwned=4,alert(4)\">",
    "\"><svg onload=\"window.__pwned=5\">",
    "a&b<c>'d'&lt",
]


def _skip_reason():
    if not os.path.exists(CHROMIUM):
        return "chromium is not installed (Debian package chromium)"
    if not shutil.which("node"):
        return "node is not installed (Debian package nodejs)"
    if not (BROWSER / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing: run 'sh scripts/deps.sh test' (npm ci in test/browser)"
    return None


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("browser")
    svg = tmp / "real-small.svg"
    r = scorch("render", REAL_SMALL, "-o", svg)
    assert r.returncode == 0, r.stderr
    # hostile names, each on its own wide stack so that it is drawn with a label
    hostile_folded = tmp / "hostile.folded"
    lines = [f"main;{name};leaf {100 + i}" for i, name in enumerate(HOSTILE)]
    hostile_folded.write_bytes(("\n".join(lines) + "\n").encode() + b"main;bad\xff\xfe;x 50\n")
    hostile = tmp / "hostile.svg"
    r = scorch("render", hostile_folded, "-o", hostile, "--title", HOSTILE[0],
               "--subtitle", HOSTILE[1], "--notes", "]]> -- <!--", "--countname", HOSTILE[3])
    assert r.returncode == 0, r.stderr
    # two graphs inlined in one HTML page
    other = tmp / "other.svg"
    r = scorch("render", "-o", other, input="main;a 3\nmain;b 1\npython3;x 2\n")
    assert r.returncode == 0, r.stderr

    def inline(p):
        text = p.read_text()
        return text[text.index("<svg"):]

    page = tmp / "two.html"
    page.write_text("<!DOCTYPE html><html><body><div id=\"first\">" + inline(svg) +
                    "</div><div id=\"second\">" + inline(other) + "</div></body></html>")
    # a graph of 10 000+ frames
    big_folded = tmp / "big.folded"
    r = run(["/usr/bin/python3", CORPUS / "gen_folded.py", "--unique", "20000", "-o", big_folded])
    assert r.returncode == 0, r.stderr
    big = tmp / "big.svg"
    r = scorch("render", big_folded, "-o", big)
    assert r.returncode == 0, r.stderr
    # a frame made a link with a class of its own by --nameattr
    attrs = tmp / "nameattr.txt"
    attrs.write_text("work\tclass=hot\thref=https://example.com/work\n")
    linked = tmp / "linked.svg"
    r = scorch("render", "--nameattr", attrs, "-o", linked, input="main;work 30\nmain;idle 10\n")
    assert r.returncode == 0, r.stderr
    cfg = {
        "chromium": CHROMIUM, "svg": str(svg), "hostile": str(hostile), "html": str(page),
        "linked": str(linked),
        "big": str(big), "zoom": "python3", "other": "cc1", "search": "^python3$",
        "searchUpper": "^PYTHON3$", "bigZoom": "postgres",
    }
    cfg_path = tmp / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    r = run(["node", BROWSER / "svg.mjs", cfg_path], cwd=BROWSER, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "fatal" not in out, out["fatal"]
    out["stacks"] = read_folded(REAL_SMALL)
    out["big_frames"] = big.read_text().count("<g data-n")
    return out


def python_share(seen):
    stacks = seen["stacks"]
    return 100 * sum(c for f, c in stacks.items() if f[0] == "python3") / sum(stacks.values())


def test_no_script_errors(seen):
    assert seen["errors"] == []
    assert seen["load"]["nHidden"] == 0
    assert seen["load"]["nFrames"] > 1000


def test_click_zooms_to_full_width(seen):
    before, z = seen["before"], seen["zoomed"]
    assert before["width"] < 0.5 * before["svgWidth"]
    # the clicked frame spans the frame area (the width less 10 px each side)
    assert abs(z["width"] - (z["svgWidth"] - 20)) <= 1.0
    assert abs(z["x"] - 10) <= 1.0
    assert "parent" in seen["zoomedRoot"]["cls"]  # ancestors stay, faded
    assert seen["zoomedOther"]["display"] == "none"  # unrelated frames hidden
    assert seen["zoomedState"]["unzoomVisible"]
    assert re.search(r"[?&]f=\d+", seen["zoomedState"]["url"])
    # the label got room and was refitted
    assert z["label"] == "python3"
    d = seen["hoverDetails"]
    assert d.startswith("Function: python3 (")
    assert "of the zoomed frame" in d and "self" in d


def test_reset_zoom(seen):
    assert abs(seen["reset"]["width"] - seen["before"]["width"]) <= 0.5
    assert not seen["resetState"]["unzoomVisible"]
    assert seen["resetState"]["nHidden"] == 0
    assert "f=" not in seen["resetState"]["url"]


def test_search_matched_and_highlight(seen):
    s = seen["searched"]
    want = python_share(seen)
    got = float(re.fullmatch(r"Matched: ([0-9.]+)%", s["matched"]).group(1))
    assert abs(got - want) <= 0.06
    assert s["nMatch"] == 1
    assert s["search"] == "Reset Search"
    assert seen["searchedFrame"]["fill"] == "rgb(230, 0, 230)"
    assert seen["searchedOther"]["fill"] != "rgb(230, 0, 230)"
    assert "s=%5Epython3%24" in s["url"] or "s=^python3$" in s["url"]


def test_ctrl_i_toggles_case(seen):
    s = seen["icState"]
    assert "active" in s["ic"]
    assert "i=1" in s["url"]
    assert s["nMatch"] >= 1


def test_url_restores_view(seen):
    b, r = seen["urlBefore"], seen["restored"]
    assert "f=" in b["url"] and "s=" in b["url"] and "i=1" in b["url"]
    assert r["matched"] == b["matched"] and r["matched"].startswith("Matched: ")
    assert r["nMatch"] >= 1
    assert "active" in r["ic"]
    f = seen["restoredFrame"]
    assert abs(f["width"] - (f["svgWidth"] - 20)) <= 1.0
    assert r["unzoomVisible"]


def test_fluid_width_refits_labels(seen):
    n = seen["narrow"]
    assert abs(n["svgWidth"] - 700) <= 20
    assert n["width"] < seen["before"]["width"]


def test_hostile_names_run_nothing(seen):
    h = seen["hostile"]
    assert h["pwned"] is None
    assert seen["hostileDialogs"] == []
    assert seen["hostileScripts"] == 1
    titles = seen["hostileTitles"]
    for name in HOSTILE:
        assert any(t.startswith(name + " (") for t in titles), name
    assert h["matched"].startswith("Matched: ")


def test_two_graphs_in_one_page(seen):
    ids = seen["pageIds"]
    assert len(ids) == len(set(ids))  # no id twice
    assert seen["pageFirst"]["nHidden"] > 0  # the first one zoomed
    assert seen["pageSecond"]["nHidden"] == 0  # the second one untouched
    assert not seen["pageSecond"]["unzoomVisible"]
    assert "f=" not in seen["pageUrl"]  # an embedded graph leaves the page URL alone


def test_dark_theme(seen):
    assert seen["darkBg"] == "rgb(29, 31, 33)"
    assert seen["darkTitle"] != "rgb(0, 0, 0)"
    assert seen["lightBg"].startswith("url(")


def test_readable_without_scripts(seen):
    ns = seen["noscript"]
    assert ns["frames"] == seen["load"]["nFrames"]
    assert ns["visible"] == ns["frames"]
    assert ns["labels"] > 50
    assert seen["noscriptFrame"]["label"] == "python3"


def test_big_graph_stays_quick(seen):
    assert seen["big_frames"] >= 10000
    assert seen["bigState"]["nFrames"] == seen["big_frames"]
    # generous bounds for a loaded 2-core machine; typical figures are far lower
    assert seen["bigLoadMs"] < 15000
    assert seen["bigRefitMs"] < 3000
    assert seen["bigZoomMs"] < 5000
    z = seen["bigZoomed"]
    assert abs(z["width"] - (z["svgWidth"] - 20)) <= 1.0


def test_link_frame_keeps_its_class_and_zooms(seen):
    """--nameattr's href makes a frame an <a>: it must act like any frame (hover
    outline, a plain click zooms rather than leaves the page) and keep the class the
    file gave it through zoom and search."""
    assert seen["linkBefore"]["cls"] == "hot"
    assert seen["linkHover"]["stroke"] not in ("none", ""), seen["linkHover"]
    assert seen["linkHover"]["cursor"] == "pointer"
    assert "example.com" not in seen["linkUrl"], seen["linkUrl"]
    z = seen["linkZoomed"]
    assert z["width"] >= 0.95 * z["svgWidth"] - 40, z  # fills the width (less padding)
    assert "hot" in z["cls"].split(), z
    assert set(seen["linkSearched"]["cls"].split()) >= {"hot", "match"}, seen["linkSearched"]
