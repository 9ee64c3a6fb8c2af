"""`logs`: journald is where each machine's console goes (`--console=pipe`); `journalctl -u`
reads it, `-o json` tells which unit a line came from, and we prefix it with the service like
`docker compose logs` does."""
from __future__ import annotations

import json
import subprocess
import sys


def journalctl_command(units: list[str], follow: bool, tail: int | None) -> list[str]:
    cmd = ["journalctl", "--no-pager", "-o", "json", "--output-fields=MESSAGE,_SYSTEMD_UNIT,UNIT,_PID,SYSLOG_IDENTIFIER"]
    for unit in units:
        cmd += ["-u", unit]
    if tail is not None:
        cmd += ["-n", str(tail)]
    if follow:
        cmd.append("-f")
    return cmd


def message_text(value) -> str:
    """MESSAGE is a string, or a list of byte values when it is not valid UTF-8."""
    if isinstance(value, list):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def format_entry(entry: dict, service_of_unit: dict[str, str], width: int) -> str | None:
    """`service  | message`; None for an entry of a unit not asked for."""
    unit = entry.get("_SYSTEMD_UNIT") or ""
    if unit not in service_of_unit:
        unit = entry.get("UNIT") or unit   # systemd's own lines about the unit (started, failed)
    service = service_of_unit.get(unit)
    if service is None:
        return None
    return f"{service.ljust(width)} | {message_text(entry.get('MESSAGE'))}"


def service_labels(machines) -> dict[str, str]:
    """unit -> label: the service, with `-N` for replicas of a scaled service (compose's `web-2`)."""
    scaled = {m.service for m in machines if m.replica > 1}
    return {m.unit: f"{m.service}-{m.replica}" if m.service in scaled else m.service for m in machines}


def stream(machines, follow: bool, tail: int | None, out=sys.stdout, popen=subprocess.Popen) -> int:
    labels = service_labels(machines)
    width = max((len(v) for v in labels.values()), default=0)
    proc = popen(journalctl_command(list(labels), follow, tail), stdout=subprocess.PIPE, text=True,
                 encoding="utf-8", errors="replace")
    try:
        for line in proc.stdout:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            text = format_entry(entry, labels, width)
            if text is not None:
                out.write(text + "\n")
                out.flush()
    except KeyboardInterrupt:
        proc.terminate()
    return proc.wait()
