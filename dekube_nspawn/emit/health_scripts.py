"""`health/<machine>.sh`: one machine's healthcheck as shell variables, sourced by `lib/health.sh`.

Only definitions live here (test argv, times, retries, state file); the state machine that runs
them is `lib/health.sh` (see `scripts.py`), the same for every machine.
"""
from __future__ import annotations

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.scripts import render_template
from dekube_nspawn.ir import Plan


def seconds(value: float) -> str:
    """Seconds as `sleep` and `timeout` read them: `30`, `0.5`, never an exponent."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def render(plan: Plan) -> list[OutputFile]:
    files = []
    for m in plan.machines:
        h = m.health
        if h is None:
            continue
        content = render_template(
            "health-check.sh.j2", m=m, h=h,
            interval=seconds(h.interval_s), timeout=seconds(h.timeout_s),
            start_period=seconds(h.start_period_s), start_interval=seconds(h.start_interval_s))
        files.append(OutputFile(f"health/{m.name}.sh", content, 0o644))
    return files
