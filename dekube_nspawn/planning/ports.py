"""Published ports: a socket on the host proxied to the machine's address (TCP only)."""
from __future__ import annotations

import ipaddress

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import names
from dekube_nspawn.planning.context import Context, service_path

_PORT_IGNORED = {"app_protocol": "ignored: the proxy forwards bytes",
                 "name": "ignored: ports have no names here"}


def plan_ports(ctx: Context, service: str, svc, replica: int, service_id: str,
               address: str | None, taken: set) -> tuple[ir.PublishedPort, ...]:
    """`address`: where the proxy connects (None: the machine has no address of its own to
    reach). `taken`: (host_ip, port, proto) already published in this project."""
    out = []
    ports = svc.get("ports") or ()
    if not ports:
        return ()
    base = service_path(service, "ports")
    if replica > 1:      # warned once per service by warn_scaled
        return ()
    if address is None:
        ctx.warn(base, "not published: the machine has no address of its own (network_mode "
                 "host shares the host's ports; none has no network)")
        return ()
    for i, port in enumerate(ports):
        path = base + (i,)
        for key, why in _PORT_IGNORED.items():
            if port.get(key):
                ctx.warn(path + (key,), why)
        protocol = str(port.get("protocol") or "tcp").lower()
        if protocol != "tcp":
            ctx.warn(path, f"{protocol.upper()} port not published: the socket proxy carries TCP "
                     "only")
            continue
        published = port.get("published")
        if published in (None, ""):
            ctx.warn(path, f"port {port.get('target')} not published: Docker would pick a "
                     "random host port; set one explicitly")
            continue
        published = str(published)
        if "-" in published:
            first = published.split("-", 1)[0]
            ctx.warn(path, f"host port range {published}: only {first} is used")
            published = first
        try:
            host_port = int(published)
            target = int(port["target"])
        except (KeyError, ValueError):
            raise ConversionError(f"not a port: {published!r}", key_path=path) from None
        host_ip = str(port.get("host_ip") or "0.0.0.0")
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ConversionError(f"host_ip {host_ip!r} is not an address",
                                  key_path=path + ("host_ip",)) from None
        key = (host_ip, host_port, protocol)
        if key in taken:
            ctx.warn(path, f"{host_ip}:{host_port}/{protocol} is already published by another "
                     "port of the project: skipped")
            continue
        taken.add(key)
        out.append(ir.PublishedPort(
            host_ip=host_ip, host_port=host_port, machine_address=address, target_port=target,
            protocol=protocol,
            socket_unit=names.port_unit_stem(service_id, protocol, host_port, host_ip)))
    return tuple(out)


def warn_scaled(ctx: Context, service: str, svc, count: int) -> None:
    if count > 1 and svc.get("ports"):
        ctx.warn(service_path(service, "ports"), f"replicas 2..{count} publish no ports: a host "
                 "port can be bound once (replica 1 has them)")
