"""`ps`: one row per machine (service), from systemd's unit state, the health state file, the
machine's network namespace and the published-port units."""
from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass

from dekube_nspawn.ops import health, systemd


@dataclass
class Row:
    service: str
    machine: str
    unit: str
    state: str          # ActiveState (SubState): "active (running)", "failed (failed)", ...
    health: str         # healthy|unhealthy|starting, "" without a healthcheck or when not running
    addresses: list[str]
    ports: list[str]
    uptime_s: int | None   # seconds since the unit became active; None when not active
    restarts: int


def live_addresses(machine: str, run=subprocess.run) -> list[str] | None:
    """IPv4 addresses configured in the machine's netns right now (None: no such netns)."""
    proc = run(["ip", "-n", machine, "-o", "-4", "addr", "show", "scope", "global"],
               capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return [line.split()[3] for line in proc.stdout.splitlines() if len(line.split()) > 3]


def collect(project, services=(), show=systemd.show, addresses=live_addresses,
            now_us=systemd.monotonic_now_us) -> list[Row]:
    machines = project.machines_of(services)
    props = show([m.unit for m in machines])
    now = now_us()
    rows = []
    for m in machines:
        p = props.get(m.unit, {})
        active = p.get("ActiveState", "inactive")
        running = active in ("active", "reloading", "deactivating")
        since = int(p.get("ActiveEnterTimestampMonotonic") or 0)
        live = addresses(m.name) if running else None
        rows.append(Row(
            service=m.service, machine=m.name, unit=m.unit,
            state=f"{active} ({p.get('SubState', 'dead')})",
            health=health.health_state(project.runtime_dir, m.name, health.has_healthcheck(project, m)) if running else "",
            addresses=live or [],
            ports=[str(port) for port in m.ports],
            uptime_s=max(0, (now - since) // 1_000_000) if running and since else None,
            restarts=int(p.get("NRestarts") or 0)))
    return rows


def human_duration(seconds: int | None) -> str:
    """Two units at most, like `docker compose ps`: 45s, 3m12s, 2h5m, 1d4h."""
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


HEADERS = ("SERVICE", "MACHINE", "STATE", "HEALTH", "ADDRESSES", "PORTS", "UPTIME")


def format_table(rows: list[Row]) -> str:
    table = [HEADERS] + [(r.service, r.machine, r.state, r.health or "-", ",".join(r.addresses) or "-",
                          ",".join(r.ports) or "-", human_duration(r.uptime_s)) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    return "".join("   ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n" for line in table)


def format_json(rows: list[Row]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2) + "\n"
