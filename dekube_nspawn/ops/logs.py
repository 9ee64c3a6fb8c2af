"""`logs`: journald is where each machine's console goes (`--console=pipe`); `journalctl -u`
reads it, `-o json` tells which unit a line came from, and we prefix it with the service like
`docker compose logs` does."""
from __future__ import annotations

import json
import subprocess
import sys


FIELDS = "MESSAGE,_SYSTEMD_UNIT,UNIT"   # json output always adds __CURSOR and __REALTIME_TIMESTAMP


def journalctl_command(units: list[str], follow: bool = False, tail: int | None = None,
                       after_cursor: str | None = None) -> list[str]:
    cmd = ["journalctl", "--no-pager", "-o", "json", f"--output-fields={FIELDS}"]
    for unit in units:
        cmd += ["-u", unit]
    if after_cursor:
        cmd.append(f"--after-cursor={after_cursor}")
    elif tail is not None:
        cmd += ["-n", str(tail)]
    if follow:
        cmd.append("-f")
    return cmd


def parse_entries(text: str) -> list[dict]:
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def merge_tails(per_unit: list[list[dict]]) -> list[dict]:
    """The last N lines of each unit (docker compose's --tail is per container), in time order."""
    merged = [e for entries in per_unit for e in entries]
    return sorted(merged, key=lambda e: int(e.get("__REALTIME_TIMESTAMP") or 0))


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


def stream(machines, follow: bool, tail: int | None, out=sys.stdout, popen=subprocess.Popen,
           run=subprocess.run) -> int:
    labels = service_labels(machines)
    width = max((len(v) for v in labels.values()), default=0)

    def emit(entry) -> None:
        text = format_entry(entry, labels, width)
        if text is not None:
            out.write(text + "\n")
            out.flush()

    after_cursor = None
    if tail is not None:
        # One bounded query per unit, merged by time; following resumes after the last line shown.
        per_unit = [parse_entries(run(journalctl_command([u], tail=tail), capture_output=True, text=True,
                                      encoding="utf-8", errors="replace").stdout) for u in labels]
        backlog = merge_tails(per_unit)
        for entry in backlog:
            emit(entry)
        if not follow:
            return 0
        after_cursor = max(backlog, key=lambda e: int(e.get("__REALTIME_TIMESTAMP") or 0),
                           default={}).get("__CURSOR")
        if after_cursor is None:
            tail = 0
    proc = popen(journalctl_command(list(labels), follow, tail, after_cursor), stdout=subprocess.PIPE, text=True,
                 encoding="utf-8", errors="replace")
    try:
        for line in proc.stdout:
            for entry in parse_entries(line):
                emit(entry)
    except KeyboardInterrupt:
        proc.terminate()
    return proc.wait()
