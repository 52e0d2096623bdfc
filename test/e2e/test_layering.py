"""The stages stay apart (STYLE.md §1): a grep of the #includes of every source file.

profiler/ (but the CLI files) never includes symbolizer/ or render/; render/ includes
only render/ and common/; symbolizer/ includes profiler/ records (stacks.h, maps.h)
and render/profile.h, nothing else of theirs; common/ includes libc only."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
CLI = re.compile(r"^profiler/(main|cmd_[a-z_]+)\.c$")


def includes():
    for folder in ("common", "profiler", "symbolizer", "render"):
        for f in sorted((ROOT / folder).glob("*.[ch]")):
            rel = f.relative_to(ROOT).as_posix()
            for inc in INCLUDE.findall(f.read_text(errors="replace")):
                yield rel, inc


def allowed(src, inc):
    folder = src.split("/")[0]
    target = inc.split("/")[0]
    if folder == "common":
        return target == "common"
    if folder == "render":
        return target in ("render", "common")
    if folder == "symbolizer":
        return target in ("symbolizer", "common") or inc in (
            "profiler/stacks.h", "profiler/maps.h", "render/profile.h")
    if folder == "profiler":
        if CLI.match(src):
            return True
        return target in ("profiler", "common")
    return False


def test_stages_include_only_what_they_may():
    bad = [f"{src} includes {inc}" for src, inc in includes() if not allowed(src, inc)]
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_libraries_do_not_print_or_exit():
    """Only CLI files print to stderr or exit; libraries report through return codes."""
    pat = re.compile(r"\b(exit|abort|perror)\s*\(|\bfprintf\s*\(\s*stderr|\bprintf\s*\(")
    bad = []
    for folder in ("common", "profiler", "symbolizer", "render"):
        for f in sorted((ROOT / folder).glob("*.c")):
            rel = f.relative_to(ROOT).as_posix()
            if CLI.match(rel):
                continue
            text = re.sub(r"/\*.*?\*/", "", f.read_text(errors="replace"), flags=re.S)
            for n, line in enumerate(text.splitlines(), 1):
                if pat.search(line) and "_exit(" not in line:
                    bad.append(f"{rel}:{n}: {line.strip()}")
    assert not bad, "library code prints or exits:\n" + "\n".join(bad)
