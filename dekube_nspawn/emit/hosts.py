"""`hosts` (bound read-only at /etc/hosts in every machine: service discovery without a DNS
server) and `resolv/<machine>.conf` for machines with `dns`/`dns_search`."""
from __future__ import annotations

import ipaddress

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.nspawn_settings import resolv_conf_path
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import Machine, Plan


def _address(value: str, key_path) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConversionError(f"{value!r} is not an IP address", key_path=key_path) from None


def render_hosts(plan: Plan) -> OutputFile:
    entries = [(_address(e.address, ("services",)), e.names) for e in plan.hosts if e.names]
    loopback = [] if any(address == "127.0.0.1" for address, _ in entries) else \
        [("127.0.0.1", ("localhost",)), ("::1", ("localhost",))]
    return OutputFile("hosts", render_template("hosts.j2", header=HEADER, plan=plan,
                                               entries=loopback + entries))


def render_resolv_conf(plan: Plan, machine: Machine) -> OutputFile:
    key = ("services", machine.service, "dns")
    content = render_template("resolv.conf.j2", header=HEADER, plan=plan, machine=machine,
                              nameservers=[_address(a, key) for a in machine.dns],
                              search=machine.dns_search, key=key)
    return OutputFile(resolv_conf_path(machine), content)


def render(plan: Plan) -> list[OutputFile]:
    files = [render_hosts(plan)]
    files += [render_resolv_conf(plan, m) for m in plan.machines if m.dns or m.dns_search]
    return files
