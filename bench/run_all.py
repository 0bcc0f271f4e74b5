"""`make bench`: run every benchmark and write docs/benchmarks.md.

Each benchmark is `bench/<name>/run.py` and prints a Markdown section on stdout.
`python bench/run_all.py NAME...` re-runs only those and replaces their sections.
"""

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"
MARKER_PREFIX = "<!-- bench: "
MARKER = MARKER_PREFIX + "{} -->"
"""Opens each benchmark's section, so a re-run of one can replace it."""


def _machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(script: Path) -> str:
    """One benchmark's Markdown section, behind the marker a later re-run replaces."""
    print(f"== {script.parent.name}", flush=True)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        body = (
            f"## {script.parent.name}\n\nFAILED (exit {result.returncode}):\n\n"
            f"```\n{result.stderr[-2000:]}\n```\n"
        )
    elif result.stdout.lstrip().startswith("## "):
        body = result.stdout
    else:  # plain-text report: keep it verbatim
        body = f"## {script.parent.name}\n\n```\n{result.stdout.strip()}\n```\n"
    print(body)
    return f"{MARKER.format(script.parent.name)}\n{body}"


def _replace(document: str, name: str, section: str) -> str:
    """`document` with the section of benchmark `name` replaced (appended if absent)."""
    marker = MARKER.format(name)
    start = document.find(marker)
    if start < 0:
        return f"{document.rstrip()}\n\n{section}"
    end = document.find(MARKER_PREFIX, start + len(marker))
    rest = document[end:] if end >= 0 else ""
    return f"{document[:start]}{section}\n{rest}"


def main() -> None:
    """`make bench`: every benchmark; with names (`run_all.py poster`), only those.

    A re-run of some replaces their sections in docs/benchmarks.md and says when.
    """
    # The machine may be shared: the load average says how much of it the figures had.
    load_before = _load()
    names = sys.argv[1:]
    scripts = sorted(ROOT.glob("bench/*/run.py"))
    unknown = set(names) - {s.parent.name for s in scripts}
    if unknown:
        sys.exit(f"no benchmark named {', '.join(sorted(unknown))} under bench/")
    if names:
        document = OUT.read_text()
        for script in (s for s in scripts if s.parent.name in names):
            section = _run(script)
            head, _, body = section.partition("\n")
            note = (
                f"_Re-run alone on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
                f"(`python bench/run_all.py {script.parent.name}`); load average before: "
                f"{load_before}, after: {_load()}._\n\n"
            )
            document = _replace(document, script.parent.name, f"{head}\n{note}{body}")
        OUT.write_text(document)
        print(f"Updated {OUT}")
        return
    sections = [_run(script) for script in scripts]
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n\n"
        f"Machine: {_machine()}.\n\n"
        f"Load average (1 / 5 / 15 min) before the run: {load_before}; after: {_load()}.\n\n"
    )
    OUT.write_text(header + "\n".join(sections))
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    main()
