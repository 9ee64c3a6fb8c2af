"""`<bridge>.netdev` + `<bridge>.network`: one bridge per compose network, built by
systemd-networkd; the bridge address is the machines' gateway."""
from __future__ import annotations

import ipaddress

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import Network, Plan

MAX_IFNAME = 15


def _checked(network: Network) -> tuple[str, str]:
    """The bridge name and `gateway/prefix`, validated: both land unescaped in networkd files."""
    key = ("networks", network.name)
    name = network.bridge
    if not (0 < len(name.encode()) <= MAX_IFNAME) or not all(c.isalnum() or c in "-_." for c in name) \
            or not name.isascii():
        raise ConversionError(f"bridge name {name!r} is not a valid interface name", key_path=key)
    try:
        subnet = ipaddress.ip_network(network.subnet, strict=False)
        gateway = ipaddress.ip_address(network.gateway)
    except ValueError as e:
        raise ConversionError(f"invalid subnet or gateway: {e}", key_path=key) from None
    if gateway not in subnet:
        raise ConversionError(f"gateway {gateway} is outside subnet {subnet}", key_path=key)
    return name, f"{gateway}/{subnet.prefixlen}"


def render_bridge(plan: Plan, network: Network) -> list[OutputFile]:
    bridge, address = _checked(network)
    context = dict(header=HEADER, plan=plan, network=network, bridge=bridge, address=address)
    return [OutputFile(f"{bridge}.netdev", render_template("bridge.netdev.j2", **context)),
            OutputFile(f"{bridge}.network", render_template("bridge.network.j2", **context))]


def render(plan: Plan) -> list[OutputFile]:
    files = []
    for network in plan.networks:
        if not network.external:     # an external network's bridge is the admin's
            files += render_bridge(plan, network)
    return files
