"""Health as the monitor unit records it: `<runtime_dir>/health/<machine>` holds
starting|healthy|unhealthy (docs/runtime.md). No file: no healthcheck, or not started yet."""
from __future__ import annotations

import os


def health_state(runtime_dir: str, machine: str, has_check: bool) -> str:
    """The recorded state; "" for a machine without a healthcheck."""
    if not has_check:
        return ""
    try:
        with open(os.path.join(runtime_dir, "health", machine), encoding="utf-8") as fh:
            return fh.read().strip() or "starting"
    except OSError:
        return "starting"


def has_healthcheck(project, machine) -> bool:
    return any(f.endswith(f"/health/{machine.name}.sh") for f in project.files)
