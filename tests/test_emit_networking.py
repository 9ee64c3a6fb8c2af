"""Bridges (networkd), hosts/resolv.conf and published ports, from hand-built IR."""
from __future__ import annotations

import pytest

import irsamples as s
from dekube_nspawn import ir
from dekube_nspawn.emit import hosts, networkd, sockets
from dekube_nspawn.errors import ConversionError
from unitfile import parse


def test_one_bridge_per_network_internal_without_masquerade():
    nets = (ir.Network("default", "dk-a", "10.200.0.0/24", "10.200.0.1"),
            ir.Network("back", "dk-b", "172.30.5.0/24", "172.30.5.1", internal=True),
            ir.Network("ext", "br-ext", "10.9.0.0/16", "10.9.0.1", external=True))
    files = {f.path: parse(f.content) for f in networkd.render(s.plan(networks=nets))}
    assert sorted(files) == ["dk-a.netdev", "dk-a.network", "dk-b.netdev", "dk-b.network"]
    assert files["dk-a.netdev"][("NetDev", "Kind")] == ["bridge"]
    a, b = files["dk-a.network"], files["dk-b.network"]
    assert a[("Match", "Name")] == ["dk-a"] and a[("Network", "Address")] == ["10.200.0.1/24"]
    assert a[("Network", "ConfigureWithoutCarrier")] == ["yes"]
    assert a[("Network", "IPMasquerade")] == ["ipv4"]
    assert ("Network", "IPMasquerade") not in b and b[("Network", "IPForward")] == ["no"]


@pytest.mark.parametrize("bridge,subnet,gateway", [
    ("this-name-is-too-long", "10.0.0.0/24", "10.0.0.1"),
    ("dk a", "10.0.0.0/24", "10.0.0.1"),
    ("dk-a", "10.0.0.0/24", "10.0.1.1"),
    ("dk-a", "nonsense", "10.0.0.1"),
])
def test_bad_bridges_are_refused(bridge, subnet, gateway):
    with pytest.raises(ConversionError):
        networkd.render(s.plan(networks=(ir.Network("n", bridge, subnet, gateway),)))


def test_hosts_and_resolv_conf():
    m = s.machine(dns=("1.1.1.1", "2606:4700::1111"), dns_search=("example.org",))
    plan = s.plan(m, hosts=(ir.HostEntry("10.200.0.2", ("web", "demo-web", "www")),
                            ir.HostEntry("10.0.0.1", ("gateway.local",))))
    files = {f.path: f.content for f in hosts.render(plan)}
    lines = [l for l in files["hosts"].splitlines() if not l.startswith("#")]
    assert lines == ["127.0.0.1\tlocalhost", "::1\tlocalhost", "10.200.0.2\tweb demo-web www",
                     "10.0.0.1\tgateway.local"]
    resolv = [l for l in files["resolv/demo-web.conf"].splitlines() if not l.startswith("#")]
    assert resolv == ["nameserver 1.1.1.1", "nameserver 2606:4700::1111", "search example.org"]
    with pytest.raises(ConversionError):
        hosts.render(s.plan(m, hosts=(ir.HostEntry("10.0.0.1", ("evil\n10.0.0.2 bank",)),)))
    with pytest.raises(ConversionError):
        hosts.render(s.plan(m, hosts=(ir.HostEntry("not-an-ip", ("x",)),)))


def test_published_ports_listen_on_the_host_and_proxy_to_the_machine():
    m = s.machine(ports=(
        ir.PublishedPort("127.0.0.1", 8080, "10.200.0.2", 80, "tcp", "dekube-demo-web-tcp-8080"),
        ir.PublishedPort("::", 9000, "10.200.0.2", 9000, "tcp", "dekube-demo-web-tcp-9000"),
        ir.PublishedPort("::1", 9001, "10.200.0.2", 9001, "tcp", "dekube-demo-web-tcp-9001")))
    files = {f.path: parse(f.content) for f in sockets.render(s.plan(m))}
    sock = files["dekube-demo-web-tcp-8080.socket"]
    assert sock[("Socket", "ListenStream")] == ["127.0.0.1:8080"]
    assert ("Socket", "BindIPv6Only") not in sock
    assert sock[("Install", "WantedBy")] == ["dekube-demo.target"]
    svc = files["dekube-demo-web-tcp-8080.service"]
    assert svc[("Service", "ExecStart")] == ["/lib/systemd/systemd-socket-proxyd 10.200.0.2:80"]
    assert svc[("Unit", "Requires")] == ["nspawn-demo-web.service dekube-demo-web-tcp-8080.socket"]
    assert svc[("Unit", "PartOf")] == ["dekube-demo.target"]
    any6 = files["dekube-demo-web-tcp-9000.socket"]
    assert any6[("Socket", "ListenStream")] == ["[::]:9000"]
    assert any6[("Socket", "BindIPv6Only")] == ["both"]
    assert files["dekube-demo-web-tcp-9001.socket"][("Socket", "ListenStream")] == ["[::1]:9001"]
