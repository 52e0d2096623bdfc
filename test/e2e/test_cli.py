"""The command table: help, version, unknown commands and exit statuses."""
from conftest import scorch

COMMANDS = ["record", "render", "report", "diff", "collapse"]


def test_version():
    r = scorch("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("scorch ")


def test_help_lists_every_command():
    r = scorch("help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert f"  {c} " in r.stdout


def test_no_arguments_is_a_usage_error():
    r = scorch()
    assert r.returncode == 2
    assert "usage: scorch" in r.stderr


def test_unknown_command():
    r = scorch("flamify")
    assert r.returncode == 2
    assert "unknown command 'flamify'" in r.stderr


def test_each_command_has_help_on_stdout():
    for c in COMMANDS:
        r = scorch(c, "--help")
        assert r.returncode == 0, (c, r.stderr)
        assert r.stdout.strip(), c
        assert f"scorch {c}" in r.stdout, c
        r2 = scorch("help", c)
        assert r2.returncode == 0 and r2.stdout == r.stdout, c


def test_unknown_option_is_a_usage_error():
    for c in COMMANDS:
        r = scorch(c, "--no-such-option")
        assert r.returncode == 2, (c, r.returncode, r.stderr)
        assert f"scorch {c} --help" in r.stderr, (c, r.stderr)


def test_man_page_names_every_command_and_renders():
    """docs/scorch.1 is installed by make install: every command has a section and
    man(1) renders it without warnings."""
    import shutil
    from conftest import ROOT, run
    page = (ROOT / "docs" / "scorch.1").read_text()
    for c in COMMANDS:
        assert f".SS {c}" in page, c
    if shutil.which("man") is None:
        return
    r = run(["man", "--warnings", "-l", ROOT / "docs" / "scorch.1"], env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr


def test_install_puts_binary_and_man_page_under_prefix(tmp_path):
    from conftest import ROOT, run
    r = run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={tmp_path}", "PREFIX=/usr"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "usr/bin/scorch").stat().st_mode & 0o111
    assert (tmp_path / "usr/share/man/man1/scorch.1").exists()
