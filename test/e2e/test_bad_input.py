"""Hostile and broken input (issue 7): one test per row of the bad-input table in
docs/hardening.md. Each asserts the message a user reads, the exit status, and what
is left on disk: nothing new (no output, no *.tmp.* leftover) and a file that was
already at the output path untouched."""
import gzip
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import ASAN, SCORCH, compile_fixture, perf_event_allowed, read_folded, run, scorch

OLD = b"previous output: must survive\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


class Out:
    """An output directory holding a previous file at out/prev.<ext>, so a test can
    check that a failed command leaves the directory exactly as it was."""

    def __init__(self, tmp, ext="svg"):
        self.dir = Path(tmp) / "out"
        self.dir.mkdir(exist_ok=True)
        self.path = self.dir / f"prev.{ext}"
        self.path.write_bytes(OLD)
        self.before = sorted(os.listdir(self.dir))

    def untouched(self):
        now = sorted(os.listdir(self.dir))
        assert now == self.before, f"left behind: {set(now) - set(self.before)}"
        assert self.path.read_bytes() == OLD, "the previous output was changed"


def no_tmp_files(d):
    left = [n for n in os.listdir(d) if ".tmp." in n]
    assert not left, f"temporary files left: {left}"


def failed(r, status=1):
    """The command failed cleanly: the exit status asked for, not a signal, no
    sanitizer report."""
    assert r.returncode == status, (r.returncode, r.stderr)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr


def svg_texts(path):
    """Every <title> and <text> string of an SVG (parsing it also proves it is
    well-formed XML)."""
    root = ET.parse(path).getroot()
    return [e.text or "" for e in root.iter() if e.tag in (SVG_NS + "title", SVG_NS + "text")]


def xmllint_ok(path):
    if shutil.which("xmllint") is None:
        return
    r = run(["xmllint", "--noout", path])
    assert r.returncode == 0, r.stderr[:2000]


def as_nobody():
    """preexec_fn dropping to nobody/nogroup (the tests run as root in CI)."""
    import pwd
    pw = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


@pytest.fixture
def pubdir():
    """A folder under /tmp that user nobody can reach (pytest's tmp_path is 0700)."""
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="scorch-harden-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to user nobody "
                                "or to mount")


# ---------------------------------------------------------------- record targets

def test_no_such_pid(tmp):
    out = Out(tmp)
    # a pid that cannot exist: above the kernel's pid_max
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    r = scorch("record", "-p", str(pid_max + 1), "-d", "1", "-o", out.path)
    failed(r)
    assert f"no such process: pid {pid_max + 1}" in r.stderr
    out.untouched()


def test_kernel_thread(tmp):
    out = Out(tmp)
    # pid 2 is kthreadd on every Linux since 2.6.22 (unless in a pid namespace)
    comm = Path("/proc/2/comm").read_text().strip() if Path("/proc/2").exists() else ""
    if comm != "kthreadd":
        pytest.skip("pid 2 is not kthreadd here (a pid namespace)")
    r = scorch("record", "-p", "2", "-d", "1", "-o", out.path)
    failed(r)
    assert "pid 2 is a kernel thread" in r.stderr
    out.untouched()


def test_zombie(tmp):
    out = Out(tmp)
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    try:
        # the child exits and stays a zombie until we wait for it
        for _ in range(200):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            time.sleep(0.01)
        assert state == "Z"
        r = scorch("record", "-p", str(pid), "-d", "1", "-o", out.path)
        failed(r)
        assert f"pid {pid} is a zombie" in r.stderr
        out.untouched()
    finally:
        os.waitpid(pid, 0)


@needs_root
def test_pid_we_may_not_trace(pubdir):
    """scorch as user nobody against a process of root: refused, in both samplers."""
    d = pubdir / "nobody"
    d.mkdir()
    os.chmod(d, 0o777)
    victim = subprocess.Popen(["sleep", "30"])
    try:
        for mode in ("perf", "ptrace", "auto"):
            path = d / f"{mode}.svg"
            r = run([SCORCH, "record", "--mode", mode, "-p", victim.pid, "-d", "1", "-o", path],
                    preexec_fn=as_nobody(), cwd=d)
            failed(r)
            msg = r.stderr.lower()
            assert f"pid {victim.pid}" in msg and "permission denied" in msg, r.stderr
            assert "docs/permissions.md" in r.stderr, r.stderr
            assert not os.listdir(d), os.listdir(d)
        assert victim.poll() is None, "the process we could not trace was harmed"
    finally:
        victim.kill()
        victim.wait()


def test_command_not_found(tmp):
    out = Out(tmp)
    for cmd in ("scorch-no-such-command", str(Path(tmp) / "missing" / "prog")):
        r = scorch("record", "-o", out.path, "--", cmd, "arg")
        failed(r)
        assert f"cannot run '{cmd}': command not found" in r.stderr
        out.untouched()


def test_command_not_executable(tmp):
    out = Out(tmp)
    prog = Path(tmp) / "not-executable.sh"
    prog.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(prog, 0o644)
    r = scorch("record", "-o", out.path, "--", prog)
    failed(r)
    assert f"cannot run '{prog}': command is not executable" in r.stderr
    out.untouched()
    # a directory is not executable either
    r = scorch("record", "-o", out.path, "--", tmp)
    failed(r)
    assert f"cannot run '{tmp}'" in r.stderr
    out.untouched()


# ---------------------------------------------------------------- output paths

FOLDED = "main;a 3\nmain;b 2\n"


def write_input(tmp, text=FOLDED, name="in.folded"):
    p = Path(tmp) / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


@needs_root
def test_unwritable_output_read_only_mount(tmp):
    """A read-only bind mount (in a private mount namespace) over the output folder:
    render and record both fail naming the path, the old file stays, and record
    fails before the command runs."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    out = Out(tmp)
    src = write_input(tmp)
    marker = Path(tmp) / "command-ran"
    script = (f"mount --bind -o ro '{out.dir}' '{out.dir}' || exit 99\n"
              f"'{SCORCH}' render '{src}' -o '{out.path}'; echo render=$?\n"
              f"'{SCORCH}' record -o '{out.dir}/new.svg' -- touch '{marker}'; echo record=$?\n")
    r = run(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    if "render=" not in r.stdout:
        pytest.skip(f"cannot make a read-only bind mount here: {r.stderr.strip()}")
    assert "render=1" in r.stdout and "record=1" in r.stdout, r.stdout + r.stderr
    assert f"cannot write '{out.path}': Read-only file system" in r.stderr
    assert f"cannot write '{out.dir}/new.svg': Read-only file system" in r.stderr
    assert not marker.exists(), "record ran the command although it could not write"
    out.untouched()


@needs_root
def test_unwritable_output_as_nobody(pubdir):
    """A folder without write permission for the user running scorch."""
    src = write_input(pubdir)
    os.chmod(src, 0o644)
    out = Out(pubdir)
    os.chmod(out.dir, 0o755)  # root's, not writable by nobody
    r = run([SCORCH, "render", src, "-o", out.path], preexec_fn=as_nobody())
    failed(r)
    assert f"cannot write '{out.path}': Permission denied" in r.stderr
    out.untouched()
    r = run([SCORCH, "record", "-o", out.dir / "new.svg", "--", "true"], preexec_fn=as_nobody())
    failed(r)
    assert f"cannot write '{out.dir / 'new.svg'}': Permission denied" in r.stderr
    out.untouched()


def test_output_in_missing_folder_or_proc(tmp):
    src = write_input(tmp)
    for path in (Path(tmp) / "no-such-dir" / "x.svg", Path("/proc/scorch-test.svg")):
        r = scorch("render", src, "-o", path)
        failed(r)
        assert f"cannot write '{path}': No such file or directory" in r.stderr
        assert not path.exists()
    assert not (Path(tmp) / "no-such-dir").exists()


def test_output_is_a_directory(tmp):
    src = write_input(tmp)
    d = Path(tmp) / "adir.svg"
    d.mkdir()
    r = scorch("render", src, "-o", d)
    failed(r)
    assert f"cannot write '{d}': not a regular file" in r.stderr
    assert os.listdir(d) == []
    no_tmp_files(tmp)
    r = scorch("record", "-o", d, "--", "true")
    failed(r)
    assert f"cannot write '{d}': it is a directory" in r.stderr


def test_output_symlink_is_written_through(tmp):
    """Our own link to our own file: the link stays a link and its target gets the
    new content, replaced whole (rename), with the target's permission bits kept."""
    src = write_input(tmp)
    target = Path(tmp) / "real.folded"
    target.write_bytes(OLD)
    os.chmod(target, 0o600)
    link = Path(tmp) / "link.folded"
    link.symlink_to(target)
    r = scorch("render", src, "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert read_folded(target) == read_folded(FOLDED)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600, "the target's mode was changed"
    no_tmp_files(tmp)


def test_output_dangling_symlink_is_refused(tmp):
    src = write_input(tmp)
    link = Path(tmp) / "dangling.svg"
    link.symlink_to(Path(tmp) / "nowhere" / "x.svg")
    link2 = Path(tmp) / "dangling2.svg"
    link2.symlink_to(Path(tmp) / "would-be-created.svg")
    for l in (link, link2):
        r = scorch("render", src, "-o", l)
        failed(r)
        assert f"cannot write '{l}': it is a dangling symbolic link" in r.stderr
        assert l.is_symlink()
    assert not (Path(tmp) / "would-be-created.svg").exists()
    no_tmp_files(tmp)


@needs_root
def test_output_symlink_planted_in_sticky_dir_is_refused(tmp):
    """The /tmp attack: another user plants out.svg -> a file of ours in a sticky,
    world-writable folder. As fs.protected_symlinks does for open(), scorch refuses
    to follow it (realpath + rename would bypass the kernel's check); the file
    the link points at is untouched."""
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    src = write_input(tmp)
    precious = Path(tmp) / "precious"
    precious.write_bytes(OLD)
    shared = Path(tmp) / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    link = shared / "out.svg"
    link.symlink_to(precious)
    os.lchown(link, nobody, -1)
    r = scorch("render", src, "-o", link)
    failed(r)
    assert f"cannot write '{link}'" in r.stderr and "symbolic link" in r.stderr, r.stderr
    assert "another user" in r.stderr, r.stderr
    assert precious.read_bytes() == OLD
    assert link.is_symlink()
    no_tmp_files(tmp)
    no_tmp_files(shared)
    # the same link owned by us is ours to follow
    os.lchown(link, 0, -1)
    r = scorch("render", src, "-o", link)
    assert r.returncode == 0, r.stderr
    xmllint_ok(precious)


def test_unknown_output_extension(tmp):
    src = write_input(tmp)
    out = Out(tmp, ext="xyz")
    r = scorch("render", src, "-o", out.path)
    failed(r, 2)
    assert f"cannot tell the format of '{out.path}'" in r.stderr and ".svg" in r.stderr
    out.untouched()
    marker = Path(tmp) / "command-ran"
    r = scorch("record", "-o", out.path, "--", "touch", marker)
    failed(r, 2)
    assert f"unknown output format for '{out.path}'" in r.stderr and "--format" in r.stderr
    assert not marker.exists(), "record ran the command although it could not write"
    out.untouched()
    r = scorch("render", src, "-o", out.dir / "x.svg", "--format", "png")
    failed(r, 2)
    assert "unknown format 'png'" in r.stderr
    out.untouched()


# ---------------------------------------------------------------- folded input

def test_empty_folded_file(tmp):
    out = Out(tmp)
    for text, what in (("", "the input is empty"), ("\n\n  \r\n", "the input is empty"),
                       ("main;a\nmain;b x\n", "every line with data was malformed")):
        src = write_input(tmp, text)
        r = scorch("render", src, "-o", out.path)
        failed(r)
        assert what in r.stderr, r.stderr
        out.untouched()
    r = scorch("render", "-o", out.path, input="")
    failed(r)
    assert "stdin: no stacks to draw (the input is empty)" in r.stderr
    out.untouched()


def test_missing_and_directory_input(tmp):
    out = Out(tmp)
    r = scorch("render", Path(tmp) / "nope.folded", "-o", out.path)
    failed(r)
    assert f"cannot open '{Path(tmp) / 'nope.folded'}': No such file or directory" in r.stderr
    r = scorch("render", tmp, "-o", out.path)
    failed(r)
    assert f"'{tmp}'" in r.stderr and "directory" in r.stderr
    out.untouched()


GEN = r"""
import sys
lines, i = [], 0
while sum(map(len, lines)) < (1 << 20):
    lines.append("main;worker_%d;compute_%d;leaf_%d %d\n" % (i % 50, i % 500, i, i % 7 + 1))
    i += 1
block = "".join(lines).encode()
total, n, blocks = int(sys.argv[1]), 0, 0
while n < total:
    sys.stdout.buffer.write(block)
    n += len(block)
    blocks += 1
sys.stderr.write("%d %d\n" % (blocks, sum(int(l.rsplit(" ", 1)[1]) for l in lines)))
"""


@pytest.mark.skipif(ASAN, reason="1 GiB through ASan takes minutes; the plain build proves it")
def test_one_gib_folded_stream_from_stdin(tmp):
    """1 GiB of folded lines (about 2 000 unique stacks) generated on the fly and
    piped into scorch render: it completes, scorch's own peak RSS (from wait4 of its
    pid, so the generator does not count) stays far below the input, and the SVG is
    well-formed with the exact total."""
    gen = subprocess.Popen([sys.executable, "-c", GEN, str(1 << 30)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    svg = Path(tmp) / "big.svg"
    errf = open(Path(tmp) / "stderr", "w+")
    t0 = time.monotonic()
    p = subprocess.Popen([SCORCH, "render", "-o", svg], stdin=gen.stdout, stderr=errf)
    gen.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.monotonic() - t0
    gen.wait()
    blocks, per_block = map(int, gen.stderr.read().split())
    errf.seek(0)
    assert p.returncode == 0, errf.read()
    peak_mib = ru.ru_maxrss / 1024
    assert peak_mib < 64, f"peak RSS {peak_mib:.1f} MiB for a 1 GiB stream"
    xmllint_ok(svg)
    texts = svg_texts(svg)
    total = blocks * per_block
    assert any(t.replace(",", "").startswith(f"all ({total} samples") for t in texts), \
        ([t for t in texts if t.startswith("all")], total)
    print(f"1 GiB in {secs:.1f} s, peak RSS {peak_mib:.1f} MiB")


def run_bounded(argv, stdin=None, limit_mib=2048):
    """Runs scorch with an address-space limit (unless under ASan, whose
    shadow memory needs far more), so that a failure to bound memory cannot take the
    machine down; returns (status, stderr, peak RSS in MiB from wait4)."""
    def limit():
        if not ASAN:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mib << 20, limit_mib << 20))
    p = subprocess.Popen([SCORCH, *map(str, argv)], stdin=stdin or subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, err, ru.ru_maxrss / 1024


def test_input_without_newline_is_bounded(tmp):
    """/dev/zero, or 100 MB with no newline on stdin: one endless line. The folded
    reader stops at 64 MiB with a clear error instead of growing until memory runs
    out."""
    out = Out(tmp)
    status, err, peak = run_bounded(["render", "/dev/zero", "-o", out.path])
    assert status == 1, err
    assert err == "scorch: /dev/zero: line 1 is longer than 64 MiB: not folded stacks\n", err
    assert peak < 200, f"peak RSS {peak:.0f} MiB"
    out.untouched()
    gen = subprocess.Popen([sys.executable, "-c",
                            "import sys\nfor _ in range(100): sys.stdout.write('a' * 1000000)"],
                           stdout=subprocess.PIPE)
    status, err, peak = run_bounded(["render", "-o", out.path], stdin=gen.stdout)
    gen.stdout.close()
    gen.kill()
    gen.wait()
    assert status == 1, err
    assert "stdin: line 1 is longer than 64 MiB" in err
    out.untouched()


def test_perf_script_without_newline_is_bounded(tmp):
    if not collapse_built():
        pytest.skip("scorch collapse perf is not built yet (issue 6)")
    out = Out(tmp, ext="folded")
    status, err, peak = run_bounded(["collapse", "perf", "/dev/zero", "-o", out.path],
                                    limit_mib=512)
    out.untouched()
    assert status == 1, err
    assert peak < 200, f"peak RSS {peak:.0f} MiB; {err}"
    assert "longer than" in err or "too long" in err, err


@pytest.mark.parametrize("line,reason", [
    ("main;a", "no count at the end of the line (got 'main;a')"),
    ("main;a -5", "negative count '-5'"),
    ("main;a 1.5", "fractional count '1.5'"),
    ("main;a 18446744073709551616", "count '18446744073709551616' does not fit in 64 bits"),
    ("main;a 99999999999999999999999", "count '99999999999999999999999' does not fit in 64 bits"),
    ("main;a 0x10", "no count at the end of the line (got '0x10')"),
    (" 5", "no stack before the count"),
])
def test_malformed_count(tmp, line, reason):
    """Skipped with one warning naming the line and why; with --strict, exit 1 and
    nothing written."""
    src = write_input(tmp, f"ok;x 4\n{line}\nok;y 1\n")
    out = Out(tmp, ext="folded")
    good = Path(tmp) / "good.folded"
    r = scorch("render", src, "-o", good)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 malformed line (first: line 2: " in r.stderr, r.stderr
    assert reason in r.stderr, r.stderr
    assert read_folded(good) == {("ok", "x"): 4, ("ok", "y"): 1}
    r = scorch("render", "--strict", src, "-o", out.path)
    failed(r)
    assert "line 2: " + reason in r.stderr, r.stderr
    out.untouched()


def test_count_total_overflowing_64_bits(tmp):
    """Each count fits, their sum does not: an error, not a wrapped total."""
    out = Out(tmp)
    src = write_input(tmp, "a;b 18446744073709551615\na;c 1\n")
    r = scorch("render", src, "-o", out.path)
    failed(r)
    assert "line 2: the total count passes 2^64-1" in r.stderr
    out.untouched()
    # the largest count alone is fine, and kept exactly
    src = write_input(tmp, "a;b 18446744073709551615\n")
    r = scorch("render", src, "-o", Path(tmp) / "max.folded")
    assert r.returncode == 0, r.stderr
    assert read_folded(Path(tmp) / "max.folded") == {("a", "b"): 2**64 - 1}


def test_hundred_kb_frame_names(tmp):
    name = "n" * 100_000
    src = write_input(tmp, f"main;{name};leaf 5\nmain;other 3\n{name} 2\n")
    svg = Path(tmp) / "long.svg"
    r = scorch("render", src, "-o", svg)
    assert r.returncode == 0, r.stderr
    xmllint_ok(svg)
    texts = svg_texts(svg)
    assert any(t.startswith(name + " (") for t in texts), "the 100 kB name is not in a tooltip"
    back = Path(tmp) / "back.folded"
    assert scorch("render", src, "-o", back).returncode == 0
    assert read_folded(back) == read_folded(src.read_text())


def test_ten_thousand_frames_deep(tmp):
    frames = [f"f{i}" for i in range(10_000)]
    src = write_input(tmp, ";".join(frames) + " 7\n" + ";".join(frames[:5000]) + " 3\n")
    svg = Path(tmp) / "deep.svg"
    r = scorch("render", src, "-o", svg)
    assert r.returncode == 0, r.stderr
    xmllint_ok(svg)
    texts = svg_texts(svg)
    assert any(t.startswith("f9999 (7 samples") for t in texts)
    back = Path(tmp) / "back.folded"
    assert scorch("render", src, "-o", back).returncode == 0
    assert sorted(back.read_text().splitlines()) == sorted(src.read_text().splitlines())


def test_invalid_utf8_and_control_bytes(tmp):
    """Kept byte-exact in folded output; in the SVG they become U+FFFD and the XML
    stays well-formed (flamegraph.pl writes invalid XML for these)."""
    raw = (b"main;\xff\xfe\xc3(;leaf 3\n"      # invalid UTF-8, a truncated sequence
           b"main;ctl\x01\x1b[31m\x7f 2\n"    # C0 controls, an ANSI escape, DEL
           b"main;\xed\xa0\x80surrogate 1\n"  # an encoded UTF-16 surrogate
           b"main;caf\xc3\xa9 1\n")           # valid UTF-8 stays as is
    src = write_input(tmp, raw)
    svg = Path(tmp) / "u.svg"
    r = scorch("render", src, "-o", svg)
    assert r.returncode == 0, r.stderr
    xmllint_ok(svg)
    texts = svg_texts(svg)
    assert any(t.startswith("caf\u00e9 (") for t in texts)
    assert any(t.startswith("\ufffd") for t in texts), texts
    assert not any(c in t for t in texts for c in "\x01\x1b"), "control bytes reached the SVG"
    back = Path(tmp) / "back.folded"
    assert scorch("render", src, "-o", back).returncode == 0
    assert sorted(back.read_bytes().splitlines()) == sorted(raw.splitlines())


def test_nul_bytes(tmp):
    """A NUL inside a frame name neither cuts the line nor reaches the XML."""
    raw = b"main;x\x00y;leaf 2\nmain;\x00 1\nmain;z 4\n"
    src = write_input(tmp, raw)
    svg = Path(tmp) / "nul.svg"
    r = scorch("render", src, "-o", svg)
    assert r.returncode == 0, r.stderr
    xmllint_ok(svg)
    assert b"\x00" not in svg.read_bytes()
    texts = svg_texts(svg)
    assert any(t.replace(",", "").startswith("all (7 samples") for t in texts), \
        "a NUL line lost samples"
    back = Path(tmp) / "back.folded"
    assert scorch("render", src, "-o", back).returncode == 0
    assert sorted(back.read_bytes().splitlines()) == sorted(raw.splitlines())


HOSTILE = [
    "<script>alert(1)</script>",
    "</text><script>alert(2)</script><text>",
    "]]><script>alert(3)</script><![CDATA[",
    "&#x3cscript&#x3ealert(4)&#x3c/script&#x3e",  # no ';': it separates frames
    "&lt&gt&amp&#0&#xffffffff",
    "javascript:alert(5)",
    "\" onload=\"alert(6)\" x=\"",
    "' onmouseover='alert(7)",
    "<!-- -->",
    "<?xml-stylesheet href='http://x/'?>",
]


@pytest.mark.parametrize("fmt", ["svg", "speedscope.json", "txt", "folded"])
def test_markup_and_script_names_are_text(tmp, fmt):
    src = write_input(tmp, "".join(f"main;{n} {i + 1}\n" for i, n in enumerate(HOSTILE)))
    out = Path(tmp) / f"h.{fmt}"
    r = scorch("render", src, "-o", out)
    assert r.returncode == 0, r.stderr
    data = out.read_text()
    if fmt == "svg":
        xmllint_ok(out)
        root = ET.parse(out).getroot()
        texts = svg_texts(out)
        for n in HOSTILE:
            assert any(t.startswith(n + " (") for t in texts), f"{n!r} is not shown as text"
        # the only script is scorch's own, and no element or attribute came from a name
        scripts = [e for e in root.iter() if e.tag in (SVG_NS + "script", "script")]
        assert len(scripts) <= 1
        for e in root.iter():
            for k, v in e.attrib.items():
                assert not k.lower().startswith("on") or "alert" not in v, (k, v)
                assert "javascript:" not in v, (k, v)
            if e.tag.endswith("script"):
                assert "alert(" not in (e.text or "")
    elif fmt == "speedscope.json":
        import json
        names = {f["name"] for f in json.loads(data)["shared"]["frames"]}
        assert set(HOSTILE) <= names
    else:
        for n in HOSTILE:
            assert n in data


# ---------------------------------------------------------------- other readers

def collapse_built():
    r = scorch("collapse", "--help")
    return r.returncode == 0


PERF_SCRIPT = """prog 1234/1234  1000.000001:     250000 cpu-clock:u:
\t    55555555511a burn+0x1a (/tmp/prog)
\t    555555555200 main+0x30 (/tmp/prog)
\t    7ffff7c29d90 __libc_start_call_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)

prog 1234/1234  1000.000002:     250000 cpu-clock:u:
\t    555555555200 main+0x30 (/tmp/prog)
\t    7ffff7c29d90 __libc_start_call_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)

"""


def test_perf_script_truncated_and_corrupt(tmp):
    if not collapse_built():
        pytest.skip("scorch collapse perf is not built yet (issue 6)")
    whole = Path(tmp) / "whole.txt"
    whole.write_text(PERF_SCRIPT)
    r = scorch("collapse", "perf", whole)
    assert r.returncode == 0, r.stderr
    assert read_folded(r.stdout) == {("prog", "__libc_start_call_main", "main", "burn"): 1,
                                     ("prog", "__libc_start_call_main", "main"): 1}
    # name: (input, exit status, what stderr says, folded output when it succeeds)
    cut = "input cut off in the middle of a line"
    nothing = "no samples found in the perf script output"
    cases = {
        "cut-mid-frame": (PERF_SCRIPT[:PERF_SCRIPT.index("main+0x30") + 4], 1, (cut, nothing),
                          None),
        "cut-mid-header": (PERF_SCRIPT[:PERF_SCRIPT.index("1000.000002") + 3], 0, (cut,),
                           {("prog", "__libc_start_call_main", "main", "burn"): 1}),
        "garbage": ("\x00\xff\x01binary junk\n" * 50, 1, ("NUL byte in a line", nothing), None),
        "perf.data": ("PERFILE2" + "\x00" * 200, 1,
                      ("this is a perf.data file, not perf script text", "perf script -i"),
                      None),
        "frames-without-header": ("\t    55555555511a burn+0x1a (/tmp/prog)\n" * 10, 1,
                                  ("a call chain line outside a sample", nothing), None),
        "huge-frame": ("prog 1/1 1.0: 1 cpu-clock:\n\t" + "f" * 200_000 + "\n\n", 0, (),
                       {("prog", "f" * 200_000): 1}),
        "nul-in-symbol": (PERF_SCRIPT.replace("burn+0x1a", "bu\x00rn+0x1a"), 0,
                          ("NUL byte in a line",),
                          {("prog", "__libc_start_call_main", "main"): 1}),
        "empty": ("", 1, (nothing,), None),
    }
    for name, (text, status, says, want) in cases.items():
        src = Path(tmp) / f"{name}.txt"
        src.write_bytes(text.encode("latin-1"))
        out = Out(tmp, ext="folded")
        dest = out.dir / "c.folded"
        r = scorch("collapse", "perf", src, "-o", dest, errors="replace")
        failed(r, status)
        for s in says:
            assert s in r.stderr, (name, r.stderr)
        if status:
            out.untouched()
        else:
            assert read_folded(dest) == want, name
        no_tmp_files(out.dir)


def test_no_command_reads_pprof(tmp):
    """pprof is an output only: no command takes a .pb.gz as input. Given one where
    folded stacks are expected, scorch render says the lines are malformed and writes
    nothing (the gzip bytes are never parsed as a profile)."""
    folded = write_input(tmp)
    pb = Path(tmp) / "p.pb.gz"
    assert scorch("render", folded, "-o", pb).returncode == 0
    data = pb.read_bytes()
    assert gzip.decompress(data)  # a real pprof
    out = Out(tmp)
    for name, blob in (("whole", data), ("truncated", data[:len(data) // 2]),
                       ("corrupt", data[:10] + bytes(b ^ 0x5a for b in data[10:]))):
        src = Path(tmp) / f"{name}.pb.gz"
        src.write_bytes(blob)
        r = scorch("render", src, "-o", out.path, errors="replace")
        failed(r)
        assert "no valid stacks" in r.stderr or "no stacks to draw" in r.stderr, r.stderr
        out.untouched()


# ---------------------------------------------------------------- command lines

VALUES = ["", "0", "-1", "1", "7", "100%", "101%", "1e999", "nan", "inf", "-0", "0x10",
          "18446744073709551616", "99999999999999999999999999", "1.5", "%", "%%s%n",
          "a" * 5000, "\u00e9\u202e", "--", "-", "weight", "name", "hot", "svg", "folded",
          "total", "self", "speedscope", "ptrace", "perf", "auto", "wall", "cpu", "fp",
          "dwarf"]
OPTS = {
    "render": ["-o", "--format", "--title", "--subtitle", "--width", "--height",
               "--minwidth", "--fontsize", "--fonttype", "--countname", "--nametype",
               "--colors", "--hash", "--reverse", "--inverted", "--flamechart", "--negate",
               "--notes", "--sort", "--strict", "--bogus", "-x"],
    "report": ["--sort", "--top", "--tree", "--min-share", "--strict", "-o", "--bogus"],
    "diff": ["-o", "--no-normalize", "--format", "--title", "--width", "--height",
             "--minwidth", "--countname", "--negate", "--inverted", "--strict", "--bogus"],
    "collapse": ["--pid", "--tid", "--no-kernel", "--addrs", "--period", "--event",
                 "--strict", "-o", "--bogus"],
    "record": ["-F", "--call-graph", "--stack-size", "--mode", "--clock", "--format",
               "--title", "--per-thread", "--per-process", "--lines", "--no-inline",
               "--no-python", "--python-only", "-q", "-d", "--bogus"],
}
FLAGS = {"--hash", "--reverse", "--inverted", "--flamechart", "--negate", "--strict",
         "--tree", "--no-normalize", "--pid", "--tid", "--no-kernel", "--addrs", "--period",
         "--per-thread", "--per-process", "--lines", "--no-inline", "--no-python",
         "--python-only", "-q", "--bogus", "-x"}


def test_random_command_lines(tmp):
    """Option parsing is not fuzzed in-process (a bad option exits through
    usage_error(), which libFuzzer would count as a finding): seeded random command
    lines instead, valid and hostile values alike. Every run ends with 0, 1 or 2, no
    signal, no sanitizer report, and a failure says why on stderr."""
    import random
    rnd = random.Random(7)
    src = write_input(tmp)
    outdir = Path(tmp) / "outs"
    outdir.mkdir()
    runs = 0
    for cmd, opts in OPTS.items():
        n = 12 if cmd == "record" else 20 if ASAN else 60  # ASan: slower starts
        for i in range(n):
            argv = [cmd] + (["perf"] if cmd == "collapse" else [])
            for _ in range(rnd.randint(1, 5)):
                o = rnd.choice(opts)
                argv.append(o)
                if o not in FLAGS:
                    if o == "-o":
                        argv.append(str(outdir / f"{i}.{rnd.choice(['svg', 'folded', 'txt', 'x'])}"))
                    elif o == "-d":
                        argv.append(rnd.choice(["0.2", "0", "-1", "nan", "1e999"]))
                    else:
                        argv.append(rnd.choice(VALUES))
            if cmd == "record":
                argv += ["-o", str(outdir / f"r{i}.folded"), "--", "true"]
            elif cmd == "diff":
                argv += [str(src), str(src)]
            elif cmd == "collapse":
                argv += [str(Path(tmp) / "none.txt")]
            else:
                argv.append(str(src))
            r = scorch(*argv, errors="replace", timeout=120, capture_output=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            runs += 1
            assert r.returncode in (0, 1, 2), (argv, r.returncode, r.stderr[-2000:])
            assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, \
                (argv, r.stderr)
            if r.returncode:
                assert r.stderr.startswith("scorch: "), (argv, r.stderr)
    assert runs == 4 * (20 if ASAN else 60) + 12
    no_tmp_files(outdir)


@pytest.mark.parametrize("cmd", [["render"], ["report"], ["diff"], ["collapse", "perf"],
                                 ["record"]])
def test_unknown_option_and_missing_value_are_named(tmp, cmd):
    """The message names the option, under scorch's own name (getopt's would say
    'perf: unrecognized option' for scorch collapse perf)."""
    for argv, want in ((["--bogus"], "scorch: unknown option '--bogus'"),
                       (["-Z"], "scorch: unknown option '-Z'"),
                       (["-o"], "scorch: option '-o' needs a value")):
        r = scorch(*cmd, *argv, input="")
        failed(r, 2)
        assert r.stderr.splitlines()[0] == want, r.stderr
        assert r.stderr.splitlines()[1] == f"try 'scorch {cmd[0]} --help'", r.stderr
