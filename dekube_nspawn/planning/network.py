"""Networks: bridges, subnets, addresses, each machine's interfaces, network modes, /etc/hosts."""
from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import names, values
from dekube_nspawn.planning.context import Context, service_path

POOL = ipaddress.ip_network("10.200.0.0/13")
POOL_PREFIX = 24

_ATTACHMENT_IGNORED = {
    "ipv6_address": "ignored: machines get IPv4 only",
    "link_local_ips": "ignored: no link-local addresses are added",
    "driver_opts": "ignored: the veth has no driver options",
    "interface_name": "ignored: interfaces are named eth0, eth1, ... in priority order",
    "gw_priority": "ignored: the default route goes via the first network in priority order",
}
_NETWORK_IGNORED = {
    "driver_opts": "ignored: the bridge is a plain Linux bridge",
    "enable_ipv6": "ignored: networks are IPv4 only",
    "attachable": "ignored: only this project's machines are attached",
    "labels": "ignored: networks have no labels",
}


@dataclass(frozen=True)
class Attachment:
    """How one service is networked, before machines get addresses."""

    mode: ir.NetworkMode
    networks: tuple[str, ...] = ()          # BRIDGED: compose network keys, interface order
    join_service: str | None = None         # JOIN: the service whose netns is shared


def _priority_order(svc_networks) -> tuple[str, ...]:
    """compose-go NetworksByPriority: higher `priority` first, then by name."""
    def prio(name):
        cfg = svc_networks.get(name) or {}
        return -int(cfg.get("priority") or 0), name
    return tuple(sorted(svc_networks, key=prio))


def plan_attachments(ctx: Context, services: dict) -> dict[str, Attachment]:
    """service -> Attachment, with `service:`/`container:` chains resolved to the final owner."""
    by_container = {svc.get("container_name"): s for s, svc in services.items()
                    if svc.get("container_name")}
    direct: dict[str, Attachment] = {}
    for service, svc in services.items():
        path = service_path(service, "network_mode")
        mode = svc.get("network_mode")
        svc_networks = svc.get("networks") or {}
        if not mode:
            direct[service] = Attachment(ir.NetworkMode.BRIDGED,
                                         _priority_order(svc_networks) or ("default",))
        elif mode == "host":
            direct[service] = Attachment(ir.NetworkMode.HOST)
        elif mode == "none":
            direct[service] = Attachment(ir.NetworkMode.NONE)
        elif mode == "bridge":
            ctx.warn(path, "Docker's shared `bridge` network does not exist here: attached to "
                     "the project's default network instead")
            direct[service] = Attachment(ir.NetworkMode.BRIDGED, ("default",))
        elif mode.startswith("service:"):
            other = mode.split(":", 1)[1]
            if other not in services:
                raise ConversionError(f"network_mode names unknown service {other!r}",
                                      key_path=path)
            direct[service] = Attachment(ir.NetworkMode.JOIN, join_service=other)
        elif mode.startswith("container:"):
            other = by_container.get(mode.split(":", 1)[1])
            if other is None:
                ctx.warn(path, "the container is not part of this project: the machine gets "
                         "its own network namespace with loopback only")
                direct[service] = Attachment(ir.NetworkMode.NONE)
            else:
                direct[service] = Attachment(ir.NetworkMode.JOIN, join_service=other)
        else:
            ctx.warn(path, f"unknown network mode {mode!r}: the machine gets its own network "
                     "namespace with loopback only")
            direct[service] = Attachment(ir.NetworkMode.NONE)
    resolved = {}
    for service, att in direct.items():
        seen = [service]
        while att.mode is ir.NetworkMode.JOIN and direct[att.join_service].mode is ir.NetworkMode.JOIN:
            if att.join_service in seen:
                raise ConversionError("network_mode service:/container: references form a cycle: "
                                      + " -> ".join(seen + [att.join_service]),
                                      key_path=service_path(service, "network_mode"))
            seen.append(att.join_service)
            att = direct[att.join_service]
        if att.mode is ir.NetworkMode.JOIN and direct[att.join_service].mode is ir.NetworkMode.HOST:
            att = Attachment(ir.NetworkMode.HOST)
        resolved[service] = att
    return resolved


def _parse_subnet(text: str, key_path) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConversionError(f"not a subnet: {text!r}", key_path=key_path) from None
    if net.version != 4 or net.prefixlen > 30:
        raise ConversionError(f"subnet {text!r} must be IPv4 with room for machines (/30 or "
                              "larger)", key_path=key_path)
    return net


def _subnet_overrides(ctx: Context) -> dict[str, str]:
    out = {}
    for item in ctx.options.subnets:
        name, sep, cidr = item.rpartition("=")
        out[name if sep else "default"] = cidr
    return out


def plan_networks(ctx: Context, used: list[str]) -> dict[str, ir.Network]:
    """One ir.Network per compose network some machine is attached to."""
    defined = ctx.resource("networks")
    used = sorted(set(used))
    bridges = names.bridge_names(ctx.project, used)
    overrides = _subnet_overrides(ctx)
    for name in overrides:
        if name not in used:
            ctx.warn(("networks", name), "--subnet names a network no machine is attached to: "
                     "ignored")
    if ctx.options.bridge:
        target = "default" if "default" in used else (used[0] if len(used) == 1 else None)
        if target is None:
            ctx.warn(("networks",), "--bridge applies to the network `default`, which no machine "
                     "uses: ignored")
        else:
            if not names.valid_ifname(ctx.options.bridge):
                raise ConversionError(f"--bridge {ctx.options.bridge!r} is not a valid interface "
                                      "name (at most 15 bytes, no '/', ':' or spaces)")
            bridges[target] = ctx.options.bridge

    subnets: dict[str, ipaddress.IPv4Network] = {}
    gateways: dict[str, ipaddress.IPv4Address] = {}
    for name in used:
        path = ("networks", name)
        cfg = defined.get(name) or {}
        if name in overrides:
            subnets[name] = _parse_subnet(overrides[name], ("--subnet",))
            continue
        ipam = cfg.get("ipam") or {}
        if ipam.get("driver") not in (None, "default"):
            ctx.warn(path + ("ipam", "driver"), "ignored: addresses are assigned by the planner")
        for i, pool in enumerate(ipam.get("config") or []):
            ppath = path + ("ipam", "config", i)
            if not pool.get("subnet"):
                continue
            net = ipaddress.ip_network(pool["subnet"], strict=False)
            if net.version != 4:
                ctx.warn(ppath, "IPv6 pool ignored: networks are IPv4 only")
                continue
            if name in subnets:
                ctx.warn(ppath, "only the first IPv4 pool of a network is used")
                continue
            subnets[name] = _parse_subnet(pool["subnet"], ppath + ("subnet",))
            if pool.get("gateway"):
                gw = ipaddress.ip_address(pool["gateway"])
                if gw not in subnets[name]:
                    raise ConversionError("gateway is outside the subnet",
                                          key_path=ppath + ("gateway",))
                gateways[name] = gw
            for key in ("ip_range", "aux_addresses"):
                if pool.get(key):
                    ctx.warn(ppath + (key,), "ignored: machines get addresses from the whole "
                             "subnet, in service order")
    chosen = sorted(subnets.items())
    for i, (a, net_a) in enumerate(chosen):
        for b, net_b in chosen[i + 1:]:
            if net_a.overlaps(net_b):
                raise ConversionError(f"networks {a!r} and {b!r} have overlapping subnets "
                                      f"{net_a} and {net_b}", key_path=("networks", b))
    taken = set(subnets.values())
    for name in used:
        if name in subnets:
            continue
        count = 1 << (POOL_PREFIX - POOL.prefixlen)
        start = int(names.short_hash(f"{ctx.project}\0{name}", 8), 16) % count
        for step in range(count):
            candidate = ipaddress.ip_network(
                (int(POOL.network_address) + ((start + step) % count) * 256, POOL_PREFIX))
            if not any(candidate.overlaps(t) for t in taken):
                break
        else:  # pragma: no cover - 2048 networks in one project
            raise ConversionError("no free subnet left in 10.200.0.0/13", key_path=("networks",))
        subnets[name] = candidate
        taken.add(candidate)

    result = {}
    for name in used:
        path = ("networks", name)
        cfg = defined.get(name) or {}
        if name not in defined and name != "default":
            raise ConversionError(f"network {name!r} is not defined", key_path=path)
        driver = cfg.get("driver")
        if driver not in (None, "bridge", "default"):
            ctx.warn(path + ("driver",), f"driver {driver!r} is not available: planned as a "
                     "local bridge")
        for key, why in _NETWORK_IGNORED.items():
            if cfg.get(key):
                ctx.warn(path + (key,), why)
        bridge = bridges[name]
        external = bool(cfg.get("external"))
        if external:
            ext_name = str(cfg.get("name") or name)
            if names.valid_ifname(ext_name) and not (ctx.options.bridge and bridge == ctx.options.bridge):
                bridge = ext_name
            ctx.warn(path + ("external",), f"external network: expected as an existing bridge "
                     f"{bridge!r} on the host with subnet {subnets[name]}; not created")
        gateway = gateways.get(name) or next(subnets[name].hosts())
        result[name] = ir.Network(name=name, bridge=bridge, subnet=str(subnets[name]),
                                  gateway=str(gateway), internal=bool(cfg.get("internal")),
                                  external=external)
    seen_bridges: dict[str, str] = {}
    for net in result.values():
        if net.bridge in seen_bridges:
            raise ConversionError(f"networks {seen_bridges[net.bridge]!r} and {net.name!r} would "
                                  f"share bridge {net.bridge!r}", key_path=("networks", net.name))
        seen_bridges[net.bridge] = net.name
    return result


def assign_addresses(ctx: Context, networks: dict[str, ir.Network], services: dict,
                     attachments: dict[str, Attachment],
                     machines: list[tuple[str, int, str]]) -> dict[tuple[str, str], str]:
    """(machine, network) -> address. `ipv4_address` first (replica 1 only), then every other
    machine in (service, replica) order from `.2` up."""
    result: dict[tuple[str, str], str] = {}
    used: dict[str, set] = {n: {ipaddress.ip_address(net.gateway)} for n, net in networks.items()}
    order = sorted(machines, key=lambda m: (m[0], m[1]))
    for service, replica, machine in order:
        att = attachments[service]
        for net in att.networks:
            cfg = (services[service].get("networks") or {}).get(net) or {}
            wanted = cfg.get("ipv4_address")
            if not wanted:
                continue
            path = service_path(service, "networks", net, "ipv4_address")
            if replica > 1:
                ctx.warn(path, f"replica {replica} gets the next free address instead (one "
                         "address cannot be shared)")
                continue
            addr = ipaddress.ip_address(wanted)
            if addr not in ipaddress.ip_network(networks[net].subnet) or addr in used[net]:
                raise ConversionError(f"address {wanted} is outside subnet "
                                      f"{networks[net].subnet} or already taken", key_path=path)
            used[net].add(addr)
            result[(machine, net)] = str(addr)
    # Addresses are handed out in increasing order and `used` only grows, so every address below
    # the last one handed out is taken: one cursor per network resumes the scan there instead of
    # rescanning the subnet from the start for every machine (quadratic at 1000 machines).
    free = {n: _free_addresses(net.subnet, used[n]) for n, net in networks.items()}
    for service, replica, machine in order:
        for net in attachments[service].networks:
            if (machine, net) in result:
                continue
            addr = next(free[net], None)
            if addr is None:
                raise ConversionError(f"subnet {networks[net].subnet} has no free address left",
                                      key_path=("networks", net))
            used[net].add(addr)
            result[(machine, net)] = str(addr)
    return result


def _free_addresses(subnet: str, used: set):
    """The subnet's host addresses not in `used`, checked lazily (`used` grows while iterating)."""
    return (addr for addr in ipaddress.ip_network(subnet).hosts() if addr not in used)


@functools.lru_cache(maxsize=None)
def _prefix_length(subnet: str) -> int:
    """Parsed once per network, not once per machine (ip_network is slow to construct)."""
    return ipaddress.ip_network(subnet).prefixlen


def plan_interfaces(ctx: Context, service: str, svc, replica: int, machine: str,
                    att: Attachment, networks: dict[str, ir.Network],
                    addresses: dict[tuple[str, str], str]) -> tuple[ir.Interface, ...]:
    out = []
    svc_mac = svc.get("mac_address")
    for index, net in enumerate(att.networks):
        cfg = (svc.get("networks") or {}).get(net) or {}
        path = service_path(service, "networks", net)
        if replica == 1:
            for key, why in _ATTACHMENT_IGNORED.items():
                if cfg.get(key):
                    ctx.warn(path + (key,), why)
        mac = cfg.get("mac_address") or (svc_mac if index == 0 else None)
        if mac and replica > 1:
            ctx.warn(path + ("mac_address",) if cfg.get("mac_address") else
                     service_path(service, "mac_address"),
                     f"replica {replica} gets a random MAC address (one cannot be shared)")
            mac = None
        network = networks[net]
        out.append(ir.Interface(
            network=net, bridge=network.bridge, host_name=names.veth_name(machine, net),
            name=f"eth{index}", address=addresses[(machine, net)],
            prefix_length=_prefix_length(network.subnet),
            gateway=network.gateway, aliases=tuple(values.unescape(str(a)) for a in cfg.get("aliases") or ()),
            mac_address=str(mac) if mac else None))
    if svc_mac and not att.networks:
        ctx.warn(service_path(service, "mac_address"), "ignored: the machine has no interface "
                 "of its own")
    return tuple(out)


def parse_extra_hosts(ctx: Context, service: str, svc) -> tuple[ir.HostEntry, ...]:
    out = []
    for i, item in enumerate(svc.get("extra_hosts") or ()):
        item = values.unescape(str(item))
        if "=" in item:
            host, _, addr = item.partition("=")
        else:
            host, _, addr = item.partition(":")
        addr = addr.strip("[]")
        if addr == "host-gateway":
            ctx.warn(service_path(service, "extra_hosts", i), "host-gateway: resolved to the "
                     "gateway of the machine's first network is not supported; entry skipped")
            continue
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            ctx.warn(service_path(service, "extra_hosts", i), f"not an address: {addr!r}; "
                     "entry skipped")
            continue
        out.append(ir.HostEntry(address=addr, names=(host,)))
    return tuple(out)


def plan_hosts(machines: list[ir.Machine], container_names: dict[str, str]) -> tuple[ir.HostEntry, ...]:
    """The project's /etc/hosts: every machine's addresses with the names compose makes
    resolvable (service, machine, container_name, hostname, aliases), then extra_hosts."""
    entries = [ir.HostEntry("127.0.0.1", ("localhost",)), ir.HostEntry("::1", ("localhost",))]
    for m in machines:
        for iface in m.interfaces:
            wanted = [m.service, m.name, container_names.get(m.service), m.process.hostname]
            if m.process.domainname:
                wanted.append(f"{m.process.hostname}.{m.process.domainname}")
            wanted += list(iface.aliases)
            ordered = tuple(dict.fromkeys(n for n in wanted if n))
            entries.append(ir.HostEntry(iface.address, ordered))
    extra = []
    for m in machines:
        for e in m.extra_hosts:
            if e not in extra:
                extra.append(e)
    return tuple(entries + extra)
