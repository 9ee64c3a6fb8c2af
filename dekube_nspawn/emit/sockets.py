"""Published ports: a `.socket` listening on the host and a `.service` running
systemd-socket-proxyd to the machine (works for 127.0.0.1 too, unlike nspawn's Port=)."""
from __future__ import annotations

import ipaddress

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import Machine, Plan, PublishedPort

SOCKET_PROXYD = "/lib/systemd/systemd-socket-proxyd"


def _endpoint(address: str, port: int, key_path) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ConversionError(f"{address!r} is not an IP address", key_path=key_path) from None
    if not 0 < port < 65536:
        raise ConversionError(f"port {port} is out of range", key_path=key_path)
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def render_port(plan: Plan, machine: Machine, port: PublishedPort) -> list[OutputFile]:
    key = ("services", machine.service, "ports")
    context = dict(
        header=HEADER, plan=plan, machine=machine, port=port, key=key,
        listen=_endpoint(port.host_ip, port.host_port, key),
        dual_stack=port.host_ip == "::",
        proxy=[SOCKET_PROXYD, _endpoint(port.machine_address, port.target_port, key)],
        socket_unit=f"{port.socket_unit}.socket",
    )
    return [OutputFile(f"{port.socket_unit}.socket", render_template("port.socket.j2", **context)),
            OutputFile(f"{port.socket_unit}.service", render_template("port.service.j2", **context))]


def render(plan: Plan) -> list[OutputFile]:
    return [f for m in plan.machines for p in m.ports for f in render_port(plan, m, p)]
