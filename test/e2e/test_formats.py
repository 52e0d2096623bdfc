"""Export formats and analysis commands, as their users see them:
pprof decoded by an independent decoder (npm pprof-format), speedscope JSON checked
against the schema the speedscope package ships, scorch report's table and tree,
scorch diff's differential graph, and scorch collapse perf on real perf output."""
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import (CORPUS, ROOT, compile_fixture, perf_event_allowed, read_folded, run,
                      scorch, share)

BROWSER = ROOT / "test" / "browser"
NODE_MODULES = BROWSER / "node_modules"
SCHEMA = NODE_MODULES / "speedscope" / "dist" / "release" / "file-format-schema.json"
REAL_SMALL = CORPUS / "real-small.folded"
NS = "{http://www.w3.org/2000/svg}"
SUFFIX = re.compile(r"_\[[kijw]\]$")
PYFRAME = re.compile(r"^(.*) \(([^()]*\.py)(?::(\d+))?\)$")

# A small profile with every kind of frame name: kernel, inlined, JIT, Python with and
# without a line, a hostile name, a recursion.
KINDS = """\
app;main;work;compute 600
app;main;work;compute;mix_[i] 250
app;main;read;sys_read_[k];vfs_read_[k] 100
app;main;interp;run (app.py:12);helper (lib/util.py) 30
app;main;interp;LazyCompile:*f_[j] 10
app;main;rec;rec;rec;leaf 7
app;main;odd <name> & "quoted" 3
"""


def node():
    exe = shutil.which("node")
    if not exe:
        pytest.skip("node is not installed (Debian package nodejs)")
    if not (NODE_MODULES / "pprof-format").is_dir() or not SCHEMA.exists():
        pytest.skip("npm test tools missing: run make check (npm ci in test/browser)")
    return exe


def write(tmp, name, text):
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def render(tmp, src, out, *args):
    dst = tmp / out
    r = scorch("render", src, "-o", dst, *args)
    assert r.returncode == 0, r.stderr
    return dst


def pprof_decode(path):
    r = run([node(), BROWSER / "pprof_dump.mjs", path], cwd=BROWSER)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def pprof_stacks(prof, value_index=0):
    """{root-first tuple of function names (inlined lines expanded): summed value}."""
    funcs = {f["id"]: f for f in prof["function"]}
    locs = {l["id"]: l for l in prof["location"]}
    stacks = {}
    for s in prof["sample"]:
        frames = []
        for lid in s["locationId"]:          # leaf first
            for line in locs[lid]["line"]:   # innermost first
                frames.append(funcs[line["functionId"]]["name"])
        key = tuple(reversed(frames))
        stacks[key] = stacks.get(key, 0) + int(s["value"][value_index])
    return stacks


def strip_name(frame):
    m = PYFRAME.match(frame)
    if m:
        return m.group(1)
    return SUFFIX.sub("", frame)


# ---- pprof ----------------------------------------------------------------------

@pytest.mark.parametrize("which", ["kinds", "real-small"])
def test_pprof_of_folded_decodes_with_the_same_stacks(tmp, which):
    src = write(tmp, "in.folded", KINDS) if which == "kinds" else REAL_SMALL
    folded = read_folded(src)
    out = render(tmp, src, "out.pb.gz")
    assert out.read_bytes()[:2] == b"\x1f\x8b"          # gzip
    prof = pprof_decode(out)
    assert prof["stringTable0"] == ""
    assert prof["sampleType"][0] == {"type": "samples", "unit": "count"}
    assert prof["mapping"] == []                          # names only, no addresses
    # every stack is there with its count, names without the annotation suffix
    want = {}
    for frames, count in folded.items():
        key = tuple(strip_name(f) for f in frames)
        want[key] = want.get(key, 0) + count
    assert pprof_stacks(prof) == want
    assert sum(int(s["value"][0]) for s in prof["sample"]) == sum(folded.values())
    # functions are unique by (name, system name, file); ids are 1..n
    keys = [(f["name"], f["systemName"], f["filename"]) for f in prof["function"]]
    assert len(keys) == len(set(keys))
    assert [f["id"] for f in prof["function"]] == list(range(1, len(keys) + 1))
    assert [l["id"] for l in prof["location"]] == list(range(1, len(prof["location"]) + 1))


def test_pprof_keeps_kinds_files_and_lines_of_imported_frames(tmp):
    out = render(tmp, write(tmp, "in.folded", KINDS), "out.pb.gz")
    prof = pprof_decode(out)
    funcs = {f["name"]: f for f in prof["function"]}
    # the kind survives in the system name
    assert funcs["sys_read"]["systemName"] == "sys_read_[k]"
    assert funcs["mix"]["systemName"] == "mix_[i]"
    assert funcs["LazyCompile:*f"]["systemName"] == "LazyCompile:*f_[j]"
    # Python frames: function, file and line
    assert funcs["run"]["filename"] == "app.py"
    assert funcs["helper"]["filename"] == "lib/util.py"
    run_id = funcs["run"]["id"]
    lines = [ln for l in prof["location"] for ln in l["line"] if ln["functionId"] == run_id]
    assert lines == [{"functionId": run_id, "line": 12}]
    assert funcs['odd <name> & "quoted"']


def test_pprof_same_input_same_bytes(tmp):
    src = write(tmp, "in.folded", KINDS)
    a = render(tmp, src, "a.pb.gz").read_bytes()
    b = render(tmp, src, "b.pb.gz").read_bytes()
    assert a == b
    assert gzip.decompress(a)  # a whole gzip stream


# ---- speedscope -----------------------------------------------------------------

class SchemaError(AssertionError):
    pass


def check_schema(value, schema, root, path="$"):
    """A JSON-schema checker for what speedscope's schema uses: $ref, type, const, enum,
    required, properties, items, anyOf."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return check_schema(value, root["definitions"][name], root, path)
    if "anyOf" in schema:
        errors = []
        for alt in schema["anyOf"]:
            try:
                check_schema(value, alt, root, path)
                return
            except SchemaError as e:
                errors.append(str(e))
        raise SchemaError(f"{path}: matches none of anyOf: {errors}")
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not math.isfinite(value)):
            raise SchemaError(f"{path}: not a number: {value!r}")
    elif t in types and not isinstance(value, types[t]):
        raise SchemaError(f"{path}: not {t}: {value!r}"[:200])
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                raise SchemaError(f"{path}: missing {req}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check_schema(value[key], sub, root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], root, f"{path}[{i}]")


def speedscope_valid(path):
    node()  # the schema comes with the npm tools
    root = json.loads(SCHEMA.read_text())
    doc = json.loads(path.read_bytes().decode("utf-8"))  # strict UTF-8 JSON
    check_schema(doc, root["definitions"]["FileFormat.File"], root)
    frames = doc["shared"]["frames"]
    for prof in doc["profiles"]:
        assert prof["type"] == "sampled"
        assert len(prof["samples"]) == len(prof["weights"])
        assert prof["endValue"] - prof["startValue"] == sum(prof["weights"])
        for s in prof["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in s)
    assert 0 <= doc.get("activeProfileIndex", 0) < len(doc["profiles"])
    return doc


def test_schema_checker_rejects_what_it_should():
    node()
    root = json.loads(SCHEMA.read_text())
    top = root["definitions"]["FileFormat.File"]
    good = {"$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": {"frames": [{"name": "a"}]},
            "profiles": [{"type": "sampled", "name": "x", "unit": "none", "startValue": 0,
                          "endValue": 1, "samples": [[0]], "weights": [1]}]}
    check_schema(good, top, root)
    for bad in ({**good, "shared": {"frames": [{"file": "f"}]}},
                {**good, "profiles": [{**good["profiles"][0], "unit": "parsecs"}]},
                {**good, "profiles": [{**good["profiles"][0], "weights": ["1"]}]},
                {k: v for k, v in good.items() if k != "$schema"}):
        with pytest.raises(SchemaError):
            check_schema(bad, top, root)


@pytest.mark.parametrize("which", ["kinds", "real-small"])
def test_speedscope_of_folded_is_valid_with_the_same_stacks(tmp, which):
    src = write(tmp, "in.folded", KINDS) if which == "kinds" else REAL_SMALL
    folded = read_folded(src)
    doc = speedscope_valid(render(tmp, src, "out.speedscope.json"))
    assert len(doc["profiles"]) == 1
    prof = doc["profiles"][0]
    names = [f["name"] for f in doc["shared"]["frames"]]
    got = {}
    for s, w in zip(prof["samples"], prof["weights"]):
        key = tuple(names[i] for i in s)
        got[key] = got.get(key, 0) + w
    assert got == folded
    assert prof["endValue"] == sum(folded.values())
    if which == "kinds":
        frames = {f["name"]: f for f in doc["shared"]["frames"]}
        assert frames["run (app.py:12)"]["file"] == "app.py"
        assert frames["run (app.py:12)"]["line"] == 12
        assert frames["helper (lib/util.py)"]["file"] == "lib/util.py"


def test_speedscope_escapes_hostile_names(tmp):
    text = (b"main;bad\xff\xfeutf8 5\n"
            b"main;ctl\x01\x1f\x7f\ttab 3\n"
            b"main;quote\"back\\slash 2\n"
            b"main;</script><b>x 1\n"
            b"main;\xe2\x82\xac\xf0\x9f\x94\xa5ok 1\n"
            b"main;overlong\xc0\xaf\xed\xa0\x80 1\n")
    out = render(tmp, write(tmp, "in.folded", text), "out.speedscope.json")
    doc = speedscope_valid(out)
    names = {f["name"] for f in doc["shared"]["frames"]}
    assert "bad\ufffd\ufffdutf8" in names
    assert "ctl\x01\x1f\x7f\ttab" in names
    assert 'quote"back\\slash' in names
    assert "</script><b>x" in names
    assert "\u20ac\U0001f525ok" in names
    assert "overlong\ufffd\ufffd\ufffd\ufffd\ufffd" in names
    raw = out.read_bytes()
    assert b"\x01" not in raw and b"\t" not in raw


# ---- report ---------------------------------------------------------------------

ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)%\s+(\d+)\s+([\d.]+)%\s+(.*)$")


def report(*args, input=None):
    r = scorch("report", *args, input=input)
    assert r.returncode == 0, r.stderr
    rows = []
    for line in r.stdout.splitlines():
        m = ROW.match(line)
        if m and not line.startswith("#"):
            rows.append((m.group(5), int(m.group(1)), float(m.group(2)), int(m.group(3)),
                         float(m.group(4))))
    return r.stdout, rows


def test_report_shares_add_up_and_sort_orders_hold():
    text, rows = report(REAL_SMALL)
    folded = read_folded(REAL_SMALL)
    total = sum(folded.values())
    assert f"# {total} samples" in text
    # self shares add up to 100 %, self counts to the total
    assert sum(r[1] for r in rows) == total
    assert abs(sum(r[2] for r in rows) - 100) < 0.01 * len(rows) + 0.01
    # sorted by self, then total
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    # totals are the samples with the function anywhere on the stack, once per sample
    for name, _, _, tot, _ in rows[:40]:
        assert tot == sum(c for f, c in folded.items() if name in f), name
    _, by_total = report(REAL_SMALL, "--sort", "total")
    assert [r[3] for r in by_total] == sorted((r[3] for r in by_total), reverse=True)
    assert sorted(by_total) == sorted(rows)
    _, top = report(REAL_SMALL, "--sort", "total", "--top", "5")
    assert top == by_total[:5]
    # columns are aligned: every row has the function name at the same column
    lines = [l for l in text.splitlines() if ROW.match(l) and not l.startswith("#")]
    cols = {l.index("%  ", l.index("%") + 1) for l in lines}
    assert len(cols) == 1
    # deterministic
    assert report(REAL_SMALL)[0] == text


def test_report_from_stdin_and_to_a_file(tmp):
    text, rows = report("-", input="main;a 6\nmain;b 3\nmain;a;a 1\n")
    assert rows[0][0] == "a" and rows[0][1] == 7 and rows[0][3] == 7
    assert ("main", 0, 0.0, 10, 100.0) in rows
    out = tmp / "r.txt"
    r = scorch("report", "-", "-o", out, input="x;y 2\n")
    assert r.returncode == 0, r.stderr
    assert "100.00%" in out.read_text()


def test_report_tree_and_min_share():
    r = scorch("report", "--tree", "--min-share", "0", "-",
               input="main;heavy;inner 90\nmain;light 9\nother 1\n")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l and not l.startswith("#")][1:]
    names = [l.split("%  ", 2)[-1] for l in lines]
    assert names == ["main", "  heavy", "    inner", "  light", "other"]
    assert lines[0].startswith(" 99.00%")
    r = scorch("report", "--tree", "--min-share", "5", "-",
               input="main;heavy;inner 90\nmain;light 9\nother 1\n")
    assert "other" not in r.stdout and "light" in r.stdout
    assert "1 subtrees under 5% not shown" in r.stdout


def test_report_errors():
    r = scorch("report", "/nonexistent/x.folded")
    assert r.returncode == 1 and "cannot open '/nonexistent/x.folded'" in r.stderr
    r = scorch("report", "--sort", "name", "-", input="a 1\n")
    assert r.returncode == 2 and "--sort" in r.stderr
    r = scorch("report", "--top", "0", "-", input="a 1\n")
    assert r.returncode == 2
    r = scorch("report", "-", input="no count here\n")
    assert r.returncode == 1 and "no samples" in r.stderr
    r = scorch("report", "--strict", "-", input="a 1\nbroken\n")
    assert r.returncode == 1 and "2" in r.stderr
    r = scorch("report", "--help")
    assert r.returncode == 0 and "--min-share" in r.stdout


def shares_fixture():
    if not (ROOT / "test" / "fixtures" / "cpu_shares.c").exists():
        pytest.skip("test/fixtures/cpu_shares.c has not landed yet")
    return compile_fixture("cpu_shares.c", flags=("-O2", "-fno-omit-frame-pointer"),
                           out_name="cpu_shares_fp")


SECS = "1"   # CPU seconds of each fixture run: ~1000 samples at 999 Hz


def record(tmp, exe, out, *args, secs=SECS):
    if not perf_event_allowed():
        pytest.skip("perf_event_open is not allowed here (perf_event_paranoid > 2)")
    r = scorch("record", "-F", "999", "-o", out, *args, "--", exe, secs)
    if r.returncode != 0 and "not built yet" in r.stderr:
        pytest.skip("scorch record has not landed yet")
    assert r.returncode == 0, r.stderr
    if all(re.fullmatch(r"0x[0-9a-f]+|\[unknown\]", f) for st in read_folded(out) for f in st):
        pytest.skip("scorch record writes no function names yet (symbolizer not landed)")
    return out


@pytest.fixture(scope="module")
def recorded_shares(tmp_path_factory):
    """scorch's own recording of cpu_shares, shared by the tests below."""
    exe = shares_fixture()
    tmp = tmp_path_factory.mktemp("shares")
    return record(tmp, exe, tmp / "shares.folded")


def test_report_of_the_60_30_10_fixture(recorded_shares):
    text, rows = report(recorded_shares, "--sort", "total")
    by_name = {r[0]: r for r in rows}
    for name, want in (("burn_sixty", 60), ("burn_thirty", 30), ("burn_ten", 10)):
        assert name in by_name, text
        assert abs(by_name[name][4] - want) <= 5, text


# ---- diff -----------------------------------------------------------------------

def svg_frames(path):
    root = ET.parse(path).getroot()
    out = {}
    for g in root.iter(NS + "g"):
        if g.get("data-n") is None:
            continue
        title = g.find(NS + "title").text
        name = title[:title.rindex(" (")]
        fill = g.find(NS + "rect").get("fill")
        out[name] = (title, fill, int(g.get("data-n")), g.get("data-b"))
    return out


def redness(fill):
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return r - b


def test_diff_share_doubles_is_red_with_both_counts(tmp):
    before = write(tmp, "before.folded", "main;work;hot 200\nmain;work;cold 600\nmain;idle 200\n")
    after = write(tmp, "after.folded", "main;work;hot 800\nmain;work;cold 800\nmain;idle 400\n")
    out = tmp / "diff.svg"
    r = scorch("diff", before, after, "-o", out)
    assert r.returncode == 0, r.stderr
    frames = svg_frames(out)
    title, fill, n, b = frames["hot"]
    assert redness(fill) > 100                 # share 20 % -> 40 %: red
    assert n == 800 and int(b) == 400          # BEFORE scaled to AFTER's total (x2)
    assert "800" in title and "400" in title
    assert redness(frames["cold"][1]) < 0      # 60 % -> 40 %: blue
    assert frames["idle"][1] == "#ffffff"      # 20 % -> 20 %: unchanged
    # --negate swaps the colours
    r = scorch("diff", before, after, "-o", out, "--negate")
    assert redness(svg_frames(out)["hot"][1]) < 0
    # --no-normalize keeps BEFORE's counts
    r = scorch("diff", before, after, "-o", out, "--no-normalize")
    assert int(svg_frames(out)["hot"][3]) == 200


def test_diff_folded_form(tmp):
    before = write(tmp, "b.folded", "main;a 50\nmain;b 50\ngone 10\n")
    after = write(tmp, "a.folded", "main;a 100\nmain;b 60\nmain;c 20\n")
    r = scorch("diff", before, after, "--format", "folded")
    assert r.returncode == 0, r.stderr
    lines = dict((l.rsplit(" ", 2)[0], tuple(map(int, l.rsplit(" ", 2)[1:])))
                 for l in r.stdout.splitlines())
    # BEFORE (110) scaled to AFTER's total (180)
    assert lines == {"main;a": (82, 100), "main;b": (82, 60), "main;c": (0, 20), "gone": (16, 0)}
    r = scorch("diff", before, after, "--format", "folded", "--no-normalize")
    lines = dict((l.rsplit(" ", 2)[0], tuple(map(int, l.rsplit(" ", 2)[1:])))
                 for l in r.stdout.splitlines())
    assert lines["main;a"] == (50, 100) and lines["gone"] == (10, 0)
    # scorch render reads the two-column form back as a differential graph
    out = tmp / "again.svg"
    r = scorch("render", "-o", out, input=scorch("diff", before, after, "--format",
                                                    "folded").stdout)
    assert r.returncode == 0, r.stderr
    assert svg_frames(out)["a"][3] == "82"


def test_diff_errors(tmp):
    a = write(tmp, "a.folded", "x 1\n")
    r = scorch("diff", a)
    assert r.returncode == 2 and "BEFORE and AFTER" in r.stderr
    r = scorch("diff", a, tmp / "missing.folded")
    assert r.returncode == 1 and "missing.folded" in r.stderr
    r = scorch("diff", a, a, "--format", "pprof")
    assert r.returncode == 2
    r = scorch("diff", "-", "-")
    assert r.returncode == 2


def test_diff_of_two_recordings(tmp, recorded_shares):
    """Two real recordings: cpu_shares, then the same program with burn_ten given twice
    the time (its share goes from 10 % to about 18 %): burn_ten is red, and its tooltip
    gives both counts."""
    exe = shares_fixture()
    src = (ROOT / "test" / "fixtures" / "cpu_shares.c").read_text()
    # AFTER: the same program with burn_ten burning twice as long (10 % -> ~18 %)
    variant = tmp / "cpu_shares_after.c"
    variant.write_text(src.replace("burn_ten(0.05 * 0.1)", "burn_ten(0.05 * 0.2)"))
    if variant.read_text() == src:
        pytest.skip("cpu_shares.c no longer has the line this test edits")
    after_exe = tmp / "cpu_shares_after"
    r = run(["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", after_exe, variant])
    assert r.returncode == 0, r.stderr
    before = recorded_shares
    after = record(tmp, after_exe, tmp / "after.folded")
    bs = share(read_folded(before), lambda f: f == "burn_ten")
    as_ = share(read_folded(after), lambda f: f == "burn_ten")
    assert as_ > bs * 1.5, (bs, as_)
    out = tmp / "diff.svg"
    r = scorch("diff", before, after, "-o", out)
    assert r.returncode == 0, r.stderr
    title, fill, n, b = svg_frames(out)["burn_ten"]
    assert redness(fill) > 0, (title, fill)
    assert f"({n:,}".replace(",", "") in title.replace(",", "") and f"before {int(b):,}" \
        .replace(",", "") in title.replace(",", "")


# ---- collapse perf --------------------------------------------------------------

def perf():
    exe = shutil.which("perf") or ("/usr/bin/perf" if os.path.exists("/usr/bin/perf") else None)
    if not exe:
        pytest.skip("perf is not installed (Debian package linux-perf)")
    if not perf_event_allowed():
        pytest.skip("perf_event_open is not allowed here (perf_event_paranoid > 2)")
    return exe


def perf_script(tmp, exe, callgraph, *args, name="perf.data"):
    data = tmp / name
    r = run([perf(), "record", "-q", "-F", "999", *callgraph, "-o", data, "--", exe, *args],
            timeout=120)
    if r.returncode != 0:
        pytest.skip(f"perf record failed here: {r.stderr[-300:]}")
    r = run([perf(), "script", "-F+pid", "-i", data], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def collapse(text, *args):
    r = scorch("collapse", "perf", *args, input=text)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


@pytest.fixture(scope="module")
def perf_fp_text(tmp_path_factory):
    exe = shares_fixture()
    return exe, perf_script(tmp_path_factory.mktemp("perf"), exe, ["-g"], SECS)


@pytest.mark.parametrize("callgraph", ["fp", "dwarf"])
def test_collapse_perf_matches_scorch_record(tmp, callgraph, perf_fp_text, request):
    exe, text = perf_fp_text
    if callgraph == "dwarf":
        text = perf_script(tmp, exe, ["--call-graph", "dwarf"], SECS)
    out, err = collapse(text)
    stacks = read_folded(out)
    total = sum(stacks.values())
    assert total > 700, total   # ~1 CPU s at 999 Hz
    roots = {f[0] for f in stacks}
    assert len(roots) == 1 and exe.name.startswith(roots.pop())
    perf_shares = {n: share(stacks, lambda f, n=n: f == n)
                   for n in ("burn_sixty", "burn_thirty", "burn_ten")}
    for name, want in (("burn_sixty", .6), ("burn_thirty", .3), ("burn_ten", .1)):
        assert abs(perf_shares[name] - want) <= .05, perf_shares
    # against scorch's own recording of the same fixture
    # (the recording is asked for only now, so that a skip of it keeps the checks above)
    mine = read_folded(request.getfixturevalue("recorded_shares"))
    mine_total = sum(mine.values())
    for name, s in perf_shares.items():
        assert abs(share(mine, lambda f, n=name: f == n) - s) <= .05, name
    # the same top frames, in the same order
    def top(st):
        leafish = {}
        for f, c in st.items():
            for name in set(f):
                if name.startswith("burn_"):
                    leafish[name] = leafish.get(name, 0) + c
        return sorted(leafish, key=lambda n: -leafish[n])
    assert top(stacks) == top(mine)
    # totals: both sampled the same CPU seconds at 999 Hz
    assert 0.8 < total / mine_total < 1.25, (total, mine_total)


def test_collapse_perf_options(tmp, perf_fp_text):
    exe, text = perf_fp_text
    plain = read_folded(collapse(text)[0])
    with_tid = read_folded(collapse(text, "--tid")[0])
    with_pid = read_folded(collapse(text, "--pid")[0])
    assert sum(plain.values()) == sum(with_tid.values()) == sum(with_pid.values())
    comm = {f[0] for f in plain}
    assert len(comm) == 1 and exe.name.startswith(next(iter(comm)))  # comm: 15 bytes
    comm = re.escape(next(iter(comm)))
    assert all(re.fullmatch(comm + r"-\d+/\d+", f[0]) for f in with_tid)
    assert all(re.fullmatch(comm + r"-\d+", f[0]) for f in with_pid)
    nok = read_folded(collapse(text, "--no-kernel")[0])
    assert not any(SUFFIX.search(x) and x.endswith("_[k]") for f in nok for x in f)
    assert sum(nok.values()) == sum(plain.values())
    period = read_folded(collapse(text, "--period")[0])
    assert sum(period.values()) > sum(plain.values()) * 1000   # ns per sample
    # no call graph: one frame per sample, on the header line
    flat = read_folded(collapse(perf_script(tmp, exe, [], "0.5", name="flat.data"))[0])
    assert all(len(f) == 2 for f in flat)
    assert share(flat, lambda f: f == "spin") > .8


PERF_TEXT = """\
app 100/101 [001] 12.000001:    1001001 cpu-clock:ppp: 
\t    ffffffff8225f2d9 pvm_irq_enable+0x19 ([kernel.kallsyms])
\t            1244 mix+0xb4 (inlined)
\t            1244 burn_a+0xb4 (inlined)
\t            1090 main+0x20 (/tmp/app)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

Web Content 100/102 [000] 12.000002:    1001001 cpu-clock:ppp: 
\t             79d [unknown] ([vdso])
\t            1339 ns::Foo<int>::bar(int, char const*)+0x9 (/tmp/app)
\t            1400 (anonymous namespace)::run(void*)+0x3 (/tmp/app)

app 100/101 [001] 12.000003:    1001001 cpu-clock:ppp: 
\t            1248 burn_a+0xb8 (/tmp/app)
\t            1090 main+0x20 (/tmp/app)

"""


def test_collapse_perf_names_and_kinds():
    out, err = collapse(PERF_TEXT)
    got = read_folded(out)
    assert got == {
        ("app", "__libc_start_call_main", "main", "burn_a", "mix_[i]", "pvm_irq_enable_[k]"): 1,
        ("app", "main", "burn_a"): 1,
        ("Web_Content", "(anonymous namespace)::run", "ns::Foo<int>::bar", "[vdso]"): 1,
    }
    got = read_folded(collapse(PERF_TEXT, "--tid", "--no-kernel", "--addrs")[0])
    assert ("app-100/101", "__libc_start_call_main", "main", "burn_a", "mix_[i]") in got
    assert ("Web_Content-100/102", "(anonymous namespace)::run", "ns::Foo<int>::bar",
            "[vdso]+0x79d") in got


def test_collapse_perf_bad_input(tmp):
    # a truncated stream: the cut sample is skipped with a warning naming its line
    cut = PERF_TEXT[:PERF_TEXT.index("burn_a+0xb8") + 4]
    r = scorch("collapse", "perf", input=cut)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 malformed sample" in r.stderr and "line 14" in r.stderr
    assert sum(read_folded(r.stdout).values()) == 2
    r = scorch("collapse", "perf", "--strict", input=cut)
    assert r.returncode == 1 and "line 14" in r.stderr
    # garbage, a perf.data file, nothing at all
    r = scorch("collapse", "perf", input="hello world\nthis is not perf\n")
    assert r.returncode == 1 and "no samples" in r.stderr
    data = tmp / "perf.data"
    data.write_bytes(b"PERFILE2" + bytes(200))
    r = scorch("collapse", "perf", data)
    assert r.returncode == 1 and "perf.data file" in r.stderr
    r = scorch("collapse", "perf", input="")
    assert r.returncode == 1
    r = scorch("collapse", "dtrace")
    assert r.returncode == 2 and "perf" in r.stderr
    r = scorch("collapse", "perf", "/nonexistent")
    assert r.returncode == 1 and "cannot open" in r.stderr
    # a second event is left out with a warning
    two = PERF_TEXT + PERF_TEXT.replace("cpu-clock:ppp:", "page-faults:u:")
    r = scorch("collapse", "perf", input=two)
    assert r.returncode == 0 and "page-faults" not in r.stdout
    assert "3 samples of events other than 'cpu-clock:ppp'" in r.stderr
    r = scorch("collapse", "perf", "--event", "page-faults", input=two)
    assert sum(read_folded(r.stdout).values()) == 3


# ---- recorded profiles ------------------------------------------------------------

def elf_build_id(path):
    r = run(["readelf", "-n", path])
    m = re.search(r"Build ID: ([0-9a-f]+)", r.stdout)
    return m.group(1) if m else ""


def elf_symbols(path):
    """{name: (vaddr, size)} of the defined functions."""
    r = run(["nm", "-S", "--defined-only", path])
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            out[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return out


def elf_vaddr(path, file_offset):
    """The link-time address of a file offset, by the LOAD program headers."""
    r = run(["readelf", "-lW", path])
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["LOAD"]:
            off, vaddr, filesz = int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)
            if off <= file_offset < off + filesz:
                return file_offset - off + vaddr
    raise AssertionError(f"offset {file_offset:#x} is in no LOAD segment of {path}")


def source_span(src, func):
    """First and last line of a function's definition in a C source file."""
    lines = src.read_text().splitlines()
    start = next(i for i, l in enumerate(lines, 1) if re.match(rf"^\w.*\b{func}\(", l))
    end = next(i for i, l in enumerate(lines, 1) if i > start and l == "}")
    return start, end


@pytest.fixture(scope="module")
def recorded_pprof(tmp_path_factory):
    exe = shares_fixture()
    tmp = tmp_path_factory.mktemp("pprof")
    if not perf_event_allowed():
        pytest.skip("perf_event_open is not allowed here (perf_event_paranoid > 2)")
    out = tmp / "rec.pb.gz"
    # --lines: the symbolizer reads file:line (off by default), which pprof's Lines carry
    r = scorch("record", "--lines", "-F", "999", "-o", out, "--", exe, "1")
    assert r.returncode == 0, r.stderr
    m = re.search(r"(\d+) samples", r.stderr)
    return exe, pprof_decode(out), int(m.group(1))


def test_pprof_of_a_recording_totals_and_types(recorded_pprof):
    exe, prof, nsamples = recorded_pprof
    assert prof["stringTable0"] == ""
    assert prof["sampleType"] == [{"type": "samples", "unit": "count"},
                                  {"type": "cpu", "unit": "nanoseconds"}]
    assert prof["periodType"] == {"type": "cpu", "unit": "nanoseconds"}
    assert prof["period"] == round(1e9 / 999)
    assert int(prof["timeNanos"]) > 1_600_000_000 * 10**9        # a wall-clock time
    assert 0 < prof["durationNanos"] < 600 * 10**9
    assert sum(s["value"][0] for s in prof["sample"]) == nsamples
    for s in prof["sample"]:
        assert s["value"][1] == s["value"][0] * prof["period"]
        labels = {l["key"]: l for l in s["label"]}
        assert labels["pid"]["num"] > 0 and labels["tid"]["num"] > 0
        assert exe.name.startswith(labels["thread"]["str"])
    stacks = pprof_stacks(prof)
    for name, want in (("burn_sixty", .6), ("burn_thirty", .3), ("burn_ten", .1)):
        assert abs(share(stacks, lambda f, n=name: f == n) - want) <= .05, name


def test_pprof_of_a_recording_mappings_build_ids_and_addresses(recorded_pprof):
    exe, prof, _ = recorded_pprof
    maps = {m["id"]: m for m in prof["mapping"]}
    assert [m["id"] for m in prof["mapping"]] == list(range(1, len(maps) + 1))
    mine = [m for m in prof["mapping"] if m["filename"] == str(exe)]
    assert len(mine) == 1, [m["filename"] for m in prof["mapping"]]
    assert mine[0]["buildId"] == elf_build_id(exe) != ""
    for m in prof["mapping"]:
        assert m["start"] < m["limit"]
        if m["filename"].startswith("/") and os.path.exists(m["filename"]) and m["buildId"]:
            assert m["buildId"] == elf_build_id(m["filename"]), m["filename"]
    # every location lies in its mapping; the fixture's functions are where nm says
    syms = elf_symbols(exe)
    funcs = {f["id"]: f for f in prof["function"]}
    checked = 0
    for loc in prof["location"]:
        if not loc["mappingId"]:
            continue
        m = maps[loc["mappingId"]]
        assert m["start"] <= loc["address"] < m["limit"], loc
        if m["id"] != mine[0]["id"] or not loc["line"]:
            continue
        outer = funcs[loc["line"][-1]["functionId"]]["name"]
        if outer not in ("burn_sixty", "burn_thirty", "burn_ten", "spin", "main"):
            continue
        vaddr = elf_vaddr(exe, loc["address"] - m["start"] + m["offset"])
        lo, size = next(v for k, v in syms.items() if k == outer or k.startswith(outer + "."))
        # a caller's address is the return address: it may sit just past the call
        assert lo <= vaddr <= lo + size, (outer, hex(vaddr), hex(lo), size)
        checked += 1
    assert checked >= 4


def test_pprof_of_a_recording_line_numbers(recorded_pprof):
    exe, prof, _ = recorded_pprof
    src = ROOT / "test" / "fixtures" / "cpu_shares.c"
    funcs = {f["id"]: f for f in prof["function"]}
    seen = 0
    for loc in prof["location"]:
        for ln in loc["line"]:
            f = funcs[ln["functionId"]]
            if f["name"] not in ("burn_sixty", "burn_thirty", "burn_ten", "spin"):
                continue
            if not ln["line"]:
                continue
            lo, hi = source_span(src, f["name"])
            assert lo <= ln["line"] <= hi, (f["name"], ln["line"], lo, hi)
            assert f["filename"].endswith("cpu_shares.c"), f
            # Function.start_line: the line of its definition (DWARF's decl_line)
            assert int(f.get("startLine", 0)) == lo, (f, lo)
            seen += 1
    assert seen >= 4


@pytest.fixture(scope="module")
def threads8_speedscope(tmp_path_factory):
    if not perf_event_allowed():
        pytest.skip("perf_event_open is not allowed here (perf_event_paranoid > 2)")
    exe = compile_fixture("threads8.c", libs=("-lpthread",))
    out = tmp_path_factory.mktemp("threads8") / "t.speedscope.json"
    r = scorch("record", "-F", "999", "-o", out, "--", exe, "0.15")
    assert r.returncode == 0, r.stderr
    return out, int(re.search(r"(\d+) samples", r.stderr).group(1))


def test_speedscope_of_a_recording_has_a_profile_per_thread(threads8_speedscope):
    out, nsamples = threads8_speedscope
    doc = speedscope_valid(out)
    period = round(1e9 / 999)
    profs = {p["name"]: p for p in doc["profiles"]}
    assert sum(p["endValue"] for p in doc["profiles"]) == nsamples * period
    assert all(p["unit"] == "nanoseconds" for p in doc["profiles"])
    names = [f["name"] for f in doc["shared"]["frames"]]
    workers = {}
    for name, p in profs.items():
        m = re.fullmatch(r"worker-(\d) \(pid (\d+), tid (\d+)\)", name)
        if m:
            workers[int(m.group(1))] = p
    assert sorted(workers) == list(range(8)), list(profs)
    busy = sum(p["endValue"] for p in workers.values())
    for n, p in workers.items():
        # each worker burns the same CPU time, in its own function
        assert abs(p["endValue"] / busy - 1 / 8) <= .05, (n, p["endValue"], busy)
        mine = sum(w for s, w in zip(p["samples"], p["weights"])
                   if f"thread_burn_{n}" in (names[i] for i in s))
        assert mine / p["endValue"] > .9, n
    # the busiest thread is the one speedscope opens
    active = doc["profiles"][doc["activeProfileIndex"]]
    assert active["endValue"] == max(p["endValue"] for p in doc["profiles"])


def test_speedscope_opens_them(tmp, threads8_speedscope):
    """speedscope itself (the npm package's build, in chromium) imports each file and
    shows its profile: the tab is named after it, the flame chart is drawn, no error."""
    node()
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("chromium is not installed (Debian package chromium)")
    if not (NODE_MODULES / "playwright-core").is_dir():
        pytest.skip("playwright-core is missing: run make check (npm ci in test/browser)")
    files = [render(tmp, REAL_SMALL, "real.speedscope.json"),
             render(tmp, write(tmp, "bad.folded", b"main;bad\xff\xfe\x01name 5\nmain;ok 1\n"),
                    "bad.speedscope.json", "--title", "hostile </title><b>x</b>"),
             threads8_speedscope[0]]
    r = run([node(), BROWSER / "speedscope.mjs", *files], cwd=BROWSER, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    seen = json.loads(r.stdout)
    assert len(seen) == len(files)
    for s in seen:
        assert s["errors"] == [] and s["dialogs"] == [], s
        assert s["title"].endswith(" - speedscope"), s
        assert s["canvases"] >= 1, s
    assert seen[1]["title"] == "hostile </title><b>x</b> - speedscope"
    # the recording opens on its busiest thread, one of nine
    assert re.search(r"worker-\d \(pid \d+, tid \d+\) \(\d/9\)", seen[2]["text"]), seen[2]["text"]


def test_pprof_of_a_wall_clock_recording(tmp):
    """--clock wall: wall/nanoseconds values, and an off_cpu label whose split is the
    one scorch record reported for the recording."""
    if not perf_event_allowed():
        pytest.skip("perf_event_open is not allowed here (perf_event_paranoid > 2)")
    exe = compile_fixture("half_sleep.c", libs=("-lpthread",))
    out = tmp / "wall.pb.gz"
    r = scorch("record", "--clock", "wall", "-F", "499", "-o", out, "--", exe, "2")
    assert r.returncode == 0, r.stderr
    m = re.search(r"([\d.]+)% waiting", r.stderr)
    assert m, r.stderr
    reported_wait = float(m.group(1)) / 100
    prof = pprof_decode(out)
    assert prof["sampleType"][1] == {"type": "wall", "unit": "nanoseconds"}
    assert prof["periodType"] == {"type": "wall", "unit": "nanoseconds"}
    assert prof["defaultSampleType"] == "wall"
    split = {"true": 0, "false": 0}
    for s in prof["sample"]:
        labels = {l["key"]: l for l in s["label"]}
        split[labels["off_cpu"]["str"]] += s["value"][0]
    off = split["true"] / (split["true"] + split["false"])
    assert abs(off - reported_wait) <= .002, (off, reported_wait)
    # the waiting samples are in wait_part, the running ones mostly in compute_part
    funcs = {f["id"]: f["name"] for f in prof["function"]}
    locs = {l["id"]: l for l in prof["location"]}
    waiting = sum(s["value"][0] for s in prof["sample"]
                  if any(l["key"] == "off_cpu" and l["str"] == "true" for l in s["label"]) and
                  any(funcs[ln["functionId"]] == "wait_part"
                      for lid in s["locationId"] for ln in locs[lid]["line"]))
    assert waiting >= .9 * split["true"], (waiting, split)
