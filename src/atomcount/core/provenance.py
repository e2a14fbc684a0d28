"""Provenance of written results: the machine they were measured on, and the sections of
``BENCHMARKS.md`` (each with its command, date and machine).

Used by the benchmarks (:mod:`atomcount.bench`), by training and shipping (model cards,
ledger) and by ``atomcount evaluate``.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

_HEADER = "# atomcount benchmarks\n\nEach section is written by the command it names; re-run it to refresh.\n"


def machine_description() -> str:
    """One line describing the CPU, core count, Python, GPU (if any) and the current load.

    The load average tells a reader whether other work shared the cores during a timing.
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    try:
        load = f", load average {os.getloadavg()[0]:.1f} when written"
    except OSError:
        load = ""
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}{gpu}{load}"


def write_section(name: str, title: str, body: str, command: str, path: str | Path = "BENCHMARKS.md") -> Path:
    """Replace (or append) the section ``name`` of the benchmarks file atomically.

    Parameters
    ----------
    name : str
        Section key, e.g. ``"hrtem-sim"``.
    title : str
        Heading shown in the file.
    body : str
        Markdown body (tables, notes).
    command : str
        The command that regenerates the section.
    path : str or Path
        Benchmarks file.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else _HEADER
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    block = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"`{command}` — {stamp}, {machine_description()}\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
