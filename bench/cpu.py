"""CPU accounting for the benchmarks (Linux /proc): per process, per program, whole machine.

CPU seconds per unit of work are steadier than wall-clock rates on a shared VM whose
speed varies, so every throughput bench prints them.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy so far: the whole stack and anything else."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_by_program() -> dict[tuple[int, str], float]:
    """CPU seconds so far of every process on the machine, by (pid, program name)."""
    out: dict[tuple[int, str], float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
            out[(int(stat.parent.name), name)] = ticks / os.sysconf("SC_CLK_TCK")
    return out


def program_deltas(
    before: dict[tuple[int, str], float], after: dict[tuple[int, str], float], top: int = 6
) -> str:
    """The programs that used the most CPU between two `cpu_by_program` readings.

    Matched by pid, not name: a kernel worker renames itself with the queue it serves
    (`kworker/0:1-events` -> `kworker/0:1-mm_percpu_wq`), and matching by name would
    charge its whole lifetime to the run.
    """
    before_by_pid = {pid: seconds for (pid, _), seconds in before.items()}
    deltas: dict[str, float] = {}
    for (pid, name), seconds in after.items():
        program = name.split("-", 1)[0] if name.startswith("kworker") else name
        deltas[program] = deltas.get(program, 0.0) + seconds - before_by_pid.get(pid, 0.0)
    ranked = sorted(deltas.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in ranked)


def sampled(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """BENCH_PYSPY=<dir>: sample each named process with py-spy until `stop_sampling`.

    Writes <dir>/<name>.txt as collapsed stacks (py-spy's raw format), 250 samples/s.
    """
    out_dir = os.environ.get("BENCH_PYSPY")
    if not out_dir:
        return []
    py_spy = shutil.which("py-spy") or str(Path.home() / ".local/bin/py-spy")
    args = [py_spy, "record", "--format", "raw", "--rate", "250"]
    return [
        subprocess.Popen(
            [*args, "--pid", str(pid), "-o", str(Path(out_dir) / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def stop_sampling(spies: list[subprocess.Popen[bytes]]) -> None:
    """Stop the samplers; each writes its file on SIGINT."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        spy.wait(30)


def reference_seconds() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast the machine is right now.

    The 2-core VM's speed moves by up to half within an hour (this loop took 0.34-0.64 s
    within one session), and every figure moves with it. Printed beside a run, it says
    which state the run met; lower is faster.
    """
    start = time.process_time()
    sum(i * i for i in range(5_000_000))
    return time.process_time() - start
