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
