"""Planner: networks, subnets, addresses, interfaces, network modes, hosts, ports."""
from __future__ import annotations

import ipaddress

import pytest

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.plan import PlanOptions
from planhelp import machine, plan, warned

TWO_NETS = {"front": {"name": "demo_front", "ipam": {}}, "back": {"name": "demo_back", "ipam": {}}}


def test_default_network_subnet_gateway_and_addresses_in_service_order():
    p, _ = plan({"web": {"image": "a"}, "db": {"image": "b"}, "cache": {"image": "c", "scale": 2}})
    (net,) = p.networks
    subnet = ipaddress.ip_network(net.subnet)
    assert subnet.subnet_of(ipaddress.ip_network("10.200.0.0/13")) and subnet.prefixlen == 24
    assert net.gateway == str(subnet.network_address + 1)
    order = [(m.service, m.replica, m.interfaces[0].address) for m in p.machines]
    hosts = [str(subnet.network_address + i) for i in (2, 3, 4, 5)]
    assert order == [("cache", 1, hosts[0]), ("cache", 2, hosts[1]), ("db", 1, hosts[2]),
                     ("web", 1, hosts[3])]
    iface = machine(p, "web").interfaces[0]
    assert (iface.name, iface.bridge, iface.gateway, iface.prefix_length) == \
        ("eth0", net.bridge, net.gateway, 24)


def test_subnet_is_deterministic_per_project_and_network():
    a = plan({"web": {"image": "a"}}, name="one")[0].networks[0].subnet
    assert a == plan({"x": {"image": "b"}}, name="one")[0].networks[0].subnet
    assert a != plan({"web": {"image": "a"}}, name="two")[0].networks[0].subnet


def test_two_networks_get_distinct_subnets_and_interface_order_by_priority_then_name():
    p, _ = plan({"web": {"image": "a", "networks": {"front": None, "back": {"priority": 10}}},
                 "api": {"image": "a", "networks": {"front": None, "back": None}}},
                networks=TWO_NETS)
    assert len({n.subnet for n in p.networks}) == 2
    assert [(i.name, i.network) for i in machine(p, "web").interfaces] == \
        [("eth0", "back"), ("eth1", "front")]
    assert [i.network for i in machine(p, "api").interfaces] == ["back", "front"]


def test_subnet_options_and_ipam_config():
    nets = {"default": {"ipam": {"config": [{"subnet": "172.30.0.0/16", "gateway": "172.30.5.254",
                                             "ip_range": "172.30.5.0/24"},
                                            {"subnet": "fd00::/64"}]}},
            "other": {"ipam": {}}}
    p, diag = plan({"w": {"image": "a", "networks": {"default": None, "other": None}}},
                   networks=nets, options=PlanOptions(subnets=("other=192.168.77.0/24",)))
    by = {n.name: n for n in p.networks}
    assert (by["default"].subnet, by["default"].gateway) == ("172.30.0.0/16", "172.30.5.254")
    assert (by["other"].subnet, by["other"].gateway) == ("192.168.77.0/24", "192.168.77.1")
    assert warned(diag, "IPv6 pool ignored", "networks.default.ipam.config[1]")
    assert warned(diag, "whole subnet", "networks.default.ipam.config[0].ip_range")
    p2, _ = plan({"w": {"image": "a"}}, options=PlanOptions(subnets=("10.9.0.0/24",)))
    assert p2.networks[0].subnet == "10.9.0.0/24"
    with pytest.raises(ConversionError, match="not a subnet"):
        plan({"w": {"image": "a"}}, options=PlanOptions(subnets=("nonsense",)))


def test_ipv4_address_honoured_first_and_validated():
    nets = {"default": {"ipam": {"config": [{"subnet": "10.5.0.0/24"}]}}}
    p, _ = plan({"a": {"image": "x"},
                 "b": {"image": "x", "networks": {"default": {"ipv4_address": "10.5.0.2"}}}},
                networks=nets)
    assert machine(p, "b").interfaces[0].address == "10.5.0.2"
    assert machine(p, "a").interfaces[0].address == "10.5.0.3"
    with pytest.raises(ConversionError, match="outside subnet"):
        plan({"b": {"image": "x", "networks": {"default": {"ipv4_address": "10.6.0.2"}}}},
             networks=nets)


def test_aliases_mac_and_internal():
    nets = {"default": {"internal": True, "ipam": {}}}
    p, _ = plan({"a": {"image": "x", "mac_address": "02:00:00:00:00:01",
                       "networks": {"default": {"aliases": ["db", "primary"]}}}},
                networks=nets)
    iface = machine(p, "a").interfaces[0]
    assert iface.aliases == ("db", "primary") and iface.mac_address == "02:00:00:00:00:01"
    assert p.networks[0].internal is True


def test_external_network_is_a_pre_existing_bridge():
    nets = {"default": {"ipam": {}}, "shared": {"name": "br-shared", "external": True}}
    p, diag = plan({"a": {"image": "x", "networks": {"shared": None}}}, networks=nets)
    (net,) = p.networks
    assert net.external and net.bridge == "br-shared"
    assert warned(diag, "existing bridge", "networks.shared.external")


def test_network_modes():
    p, diag = plan({"web": {"image": "x"},
                    "sidecar": {"image": "x", "network_mode": "service:web"},
                    "side2": {"image": "x", "network_mode": "container:webbox"},
                    "hostnet": {"image": "x", "network_mode": "host",
                                "sysctls": {"net.core.somaxconn": "1"}},
                    "isolated": {"image": "x", "network_mode": "none"},
                    "ghost": {"image": "x", "network_mode": "container:elsewhere"}},
                   )
    p2, _ = plan({"web": {"image": "x", "container_name": "webbox"},
                  "side2": {"image": "x", "network_mode": "container:webbox"}})
    web = machine(p, "web")
    side = machine(p, "sidecar")
    assert (side.network_mode, side.join_machine, side.netns, side.interfaces) == \
        (ir.NetworkMode.JOIN, web.name, web.name, ())
    assert machine(p2, "side2").join_machine == machine(p2, "web").name
    host = machine(p, "hostnet")
    assert (host.network_mode, host.netns, host.interfaces) == (ir.NetworkMode.HOST, "", ())
    assert host.privileges.sysctls == () and warned(diag, "change the host",
                                                    "services.hostnet.sysctls")
    iso = machine(p, "isolated")
    assert (iso.network_mode, iso.netns, iso.interfaces) == (ir.NetworkMode.NONE, iso.name, ())
    assert machine(p, "ghost").network_mode is ir.NetworkMode.NONE
    assert warned(diag, "not part of this project", "services.ghost.network_mode")


def test_join_chains_resolve_and_cycles_fail():
    p, _ = plan({"a": {"image": "x"}, "b": {"image": "x", "network_mode": "service:a"},
                 "c": {"image": "x", "network_mode": "service:b"}})
    assert machine(p, "c").join_machine == machine(p, "a").name
    with pytest.raises(ConversionError, match="cycle"):
        plan({"b": {"image": "x", "network_mode": "service:c"},
              "c": {"image": "x", "network_mode": "service:b"}})


def test_hosts_entries_and_extra_hosts():
    p, diag = plan({"web": {"image": "x", "container_name": "webbox", "hostname": "www",
                         "networks": {"default": {"aliases": ["site"]}},
                         "extra_hosts": ["ext=1.2.3.4", "v6=::1", "bad=nope"]},
                 "db": {"image": "x"}})
    web = machine(p, "web")
    entries = {e.address: e.names for e in p.hosts}
    assert entries["127.0.0.1"] == ("localhost",)
    assert entries[web.interfaces[0].address] == ("web", "demo-web", "webbox", "www", "site")
    assert entries[machine(p, "db").interfaces[0].address] == ("db", "demo-db")
    assert ir.HostEntry("1.2.3.4", ("ext",)) in p.hosts
    assert web.extra_hosts == (ir.HostEntry("1.2.3.4", ("ext",)), ir.HostEntry("::1", ("v6",)))
    assert warned(diag, "not an address", "services.web.extra_hosts[2]")
    assert warned(diag, "one shared /etc/hosts", "services.web.extra_hosts")
    _, same = plan({"a": {"image": "x", "extra_hosts": ["e=1.1.1.1"]},
                    "b": {"image": "x", "extra_hosts": ["e=1.1.1.1"]}})
    assert not warned(same, "shared /etc/hosts")


def test_dns_and_dns_search():
    m = machine(plan({"a": {"image": "x", "dns": ["9.9.9.9"], "dns_search": ["ex.org"]}})[0], "a")
    assert (m.dns, m.dns_search) == (("9.9.9.9",), ("ex.org",))


def port(target, published=None, host_ip=None, protocol="tcp"):
    d = {"mode": "ingress", "target": target, "protocol": protocol}
    if published is not None:
        d["published"] = published
    if host_ip:
        d["host_ip"] = host_ip
    return d


def test_ports_published_skipped_and_warned():
    p, diag = plan({"web": {"image": "x", "ports": [
        port(80, "8080"), port(81, "8081", "127.0.0.1"), port(82, host_ip="127.0.0.1"),
        port(53, "53", protocol="udp"), port(90, "9000-9001"), port(80, "8080")]}})
    web = machine(p, "web")
    addr = web.interfaces[0].address
    got = [(x.host_ip, x.host_port, x.target_port, x.machine_address) for x in web.ports]
    assert got == [("0.0.0.0", 8080, 80, addr), ("127.0.0.1", 8081, 81, addr),
                   ("0.0.0.0", 9000, 90, addr)]
    assert web.ports[0].socket_unit == "dekube-demo-web-tcp-8080"
    assert web.ports[1].socket_unit.startswith("dekube-demo-web-tcp-8081-")
    assert warned(diag, "random host port", "services.web.ports[2]")
    assert warned(diag, "UDP port not published", "services.web.ports[3]")
    assert warned(diag, "only 9000 is used", "services.web.ports[4]")
    assert warned(diag, "already published", "services.web.ports[5]")


def test_ports_of_joined_machine_go_to_the_joined_address_and_host_mode_warns():
    p, diag = plan({"web": {"image": "x"},
                    "side": {"image": "x", "network_mode": "service:web", "ports": [port(9, "9")]},
                    "h": {"image": "x", "network_mode": "host", "ports": [port(1, "1")]}})
    assert machine(p, "side").ports[0].machine_address == machine(p, "web").interfaces[0].address
    assert machine(p, "h").ports == () and warned(diag, "not published", "services.h.ports")


def test_replicas_get_own_addresses_and_only_the_first_publishes():
    p, diag = plan({"web": {"image": "x", "deploy": {"replicas": 3}, "ports": [port(80, "80")]}})
    assert [m.name for m in p.machines] == ["demo-web-1", "demo-web-2", "demo-web-3"]
    assert len({m.interfaces[0].address for m in p.machines}) == 3
    assert [len(m.ports) for m in p.machines] == [1, 0, 0]
    assert warned(diag, "replicas 2..3 publish no ports", "services.web.ports")


def test_zero_replicas_give_no_machine_and_dependencies_drop():
    p, diag = plan({"off": {"image": "x", "scale": 0},
                    "on": {"image": "x", "depends_on": {"off": {"condition": "service_started",
                                                                "required": True}}}})
    assert [m.service for m in p.machines] == ["on"]
    assert machine(p, "on").dependencies == ()
    assert warned(diag, "no machine", "services.off.scale")
    assert warned(diag, "dependency dropped", "services.on.depends_on.off")
    assert [i.reference for i in p.images] == ["x"]


def test_overlapping_subnets_are_an_error():
    with pytest.raises(ConversionError, match="overlapping"):
        plan({"w": {"image": "a", "networks": {"front": None, "back": None}}}, networks=TWO_NETS,
             options=PlanOptions(subnets=("front=10.1.0.0/16", "back=10.1.2.0/24")))
