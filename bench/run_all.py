"""`make bench`: run every benchmark and write docs/benchmarks.md.

Each benchmark is `bench/<name>/run.py` and prints a Markdown section on stdout.
"""

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"


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


def main() -> None:
    # The machine may be shared: the load average says how much of it the figures had.
    load_before = _load()
    sections = []
    for script in sorted(ROOT.glob("bench/*/run.py")):
        print(f"== {script.parent.name}", flush=True)
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            sections.append(
                f"## {script.parent.name}\n\nFAILED (exit {result.returncode}):\n\n"
                f"```\n{result.stderr[-2000:]}\n```\n"
            )
        elif result.stdout.lstrip().startswith("## "):
            sections.append(result.stdout)
        else:  # plain-text report: keep it verbatim
            sections.append(f"## {script.parent.name}\n\n```\n{result.stdout.strip()}\n```\n")
        print(sections[-1])
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
