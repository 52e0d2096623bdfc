"""A short libFuzzer run of every fuzz target (make check runs seconds; the long run
and its result are in docs/hardening.md). The plain-C replay of the stored corpus runs
earlier in make check without clang."""
import os
import shutil

import pytest

from conftest import ROOT, run


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed (libFuzzer)")
@pytest.mark.skipif(os.environ.get("SCORCH_ASAN") == "1", reason="make check runs it once")
def test_short_fuzz_runs_find_nothing():
    env = dict(os.environ, FUZZ_SECONDS=os.environ.get("FUZZ_SECONDS", "5"))
    r = run(["sh", ROOT / "test" / "fuzz" / "build.sh"], env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "fuzzing folded" in r.stdout
