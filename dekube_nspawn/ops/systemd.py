"""Unit state and control through systemctl (the only thing that knows the truth)."""
from __future__ import annotations

import subprocess
import time

from dekube_nspawn.errors import DekubeError

STATE_PROPERTIES = ("Id", "ActiveState", "SubState", "MainPID", "ActiveEnterTimestamp",
                    "ActiveEnterTimestampMonotonic", "NRestarts", "Result")


def parse_show(text: str) -> list[dict[str, str]]:
    """`systemctl show -p A -p B u1 u2` prints one KEY=VALUE block per unit, blank-line separated."""
    blocks, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    return blocks


def show(units: list[str], properties=STATE_PROPERTIES, run=subprocess.run) -> dict[str, dict[str, str]]:
    """unit -> its properties (units systemd does not know read as inactive)."""
    if not units:
        return {}
    cmd = ["systemctl", "show", "--no-pager"] + [f"-p{p}" for p in properties] + list(units)
    proc = run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DekubeError(f"systemctl show failed: {proc.stderr.strip()}")
    blocks = parse_show(proc.stdout)
    return {unit: block for unit, block in zip(units, blocks)}


def monotonic_now_us() -> int:
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1_000_000)


def systemctl(*args: str) -> int:
    """systemctl with its own output going to the user (errors included)."""
    return subprocess.run(["systemctl", *args]).returncode

