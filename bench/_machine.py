"""The machine a benchmark ran on, for the figures quoted in README (one place for every bench script)."""
from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> dict:
    """Usable cores, CPUs, CPU model, Python, platform, load average and date."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {"nproc": usable, "cpu_count": os.cpu_count(), "cpu": cpu_model(), "arch": platform.machine(),
            "python": platform.python_version(), "platform": platform.platform(), "load": load,
            "date": dt.date.today().isoformat()}


def machine_line() -> str:
    m = machine()
    return (f"{m['nproc']} cores ({m['cpu_count']} CPUs), {m['cpu']}, {m['arch']}, Python {m['python']}, "
            f"{m['platform']}; load average {m['load']}; {m['date']}")
