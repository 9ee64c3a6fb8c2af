"""lib/netns.sh with real namespaces, veths and a bridge, all inside a throwaway network and mount
namespace (`unshare -n -m`) so the host's network is never touched: two machines ping each other
over the bridge, sysctls and MACs land inside the netns, `up` waits for a late bridge, a failed
`up` and every `down` leave no netns or veth behind."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import require_tools
from dekube_nspawn import ir
from dekube_nspawn.emit import scripts
from scripts_plans import image, layout, machine, plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns)")

NET = ir.Network(name="front", bridge="dk-test-front", subnet="10.233.7.0/24", gateway="10.233.7.1")


@pytest.fixture
def out(tmp_path):
    require_tools("ip", "unshare", "busybox", "nsenter")
    lay = layout(str(tmp_path / "root"))
    img = image("busybox:1.36")
    a = machine("nt", lay, "a", img, networks=((NET, "10.233.7.2"),), mac="02:42:0a:e9:07:02",
                sysctls=(("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.disable_ipv6", "1")))
    b = machine("nt", lay, "b", img, networks=((NET, "10.233.7.3"),))
    c = machine("nt", lay, "c", img, mode=ir.NetworkMode.NONE)
    p = plan("nt", lay, [a, b, c], networks=(NET,))
    write_output(scripts.render(p), tmp_path / "out")
    return tmp_path / "out", p


def in_private_net(script: str, out_dir) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "bash", "-euxc",
                           script, "test", str(out_dir / "lib/netns.sh")],
                          capture_output=True, text=True, timeout=60)


def args(m: ir.Machine):
    i = m.interfaces[0]
    return f"{m.name} {i.name} {i.bridge} {i.host_name} {i.address}/{i.prefix_length} {i.gateway}"


def test_two_machines_talk_over_the_bridge_and_down_cleans_up(out):
    out_dir, p = out
    a, b, c = p.machines
    script = f"""
    NETNS=$1
    mount -t tmpfs tmpfs /run                      # a private /run/netns
    ip link set lo up
    # The bridge appears late: `up` waits for it.
    ( sleep 0.5; ip link add {NET.bridge} type bridge; ip addr add 10.233.7.1/24 dev {NET.bridge}; ip link set {NET.bridge} up ) &
    "$NETNS" up {args(a)}
    wait
    "$NETNS" up {args(b)}
    "$NETNS" up {c.name}
    "$NETNS" up {args(a)}                          # again: replaces the leftovers
    ip netns exec {a.name} busybox ping -c 1 -W 3 10.233.7.3
    ip netns exec {b.name} busybox ping -c 1 -W 3 10.233.7.2
    ip netns exec {b.name} busybox ping -c 1 -W 3 10.233.7.1
    echo "A_FORWARD=$(ip netns exec {a.name} cat /proc/sys/net/ipv4/ip_forward)"
    echo "HOST_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)"
    echo "A_MAC=$(ip netns exec {a.name} cat /sys/class/net/eth0/address)"
    echo "A_ROUTE=$(ip -n {a.name} route show default)"
    echo "C_LINKS=$(ip -n {c.name} -o link show | awk -F': ' '{{print $2}}' | tr '\\n' ' ')"
    echo "MASTER=$(ip -o link show dev {a.interfaces[0].host_name} | grep -o 'master [^ ]*')"
    "$NETNS" down {a.name}
    "$NETNS" down {a.name}
    "$NETNS" down {b.name}
    "$NETNS" down {c.name}
    echo "NETNS_LEFT=[$(ip netns list)]"
    echo "VETH_LEFT=[$(ip -o link show type veth)]"
    """
    r = in_private_net(script, out_dir)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert lines["A_FORWARD"] == "1" and lines["HOST_FORWARD"] == "0"
    assert lines["A_MAC"] == "02:42:0a:e9:07:02"
    assert lines["A_ROUTE"].startswith("default via 10.233.7.1 dev eth0")
    assert lines["C_LINKS"].split() == ["lo"]
    assert lines["MASTER"] == "master " + NET.bridge
    assert lines["NETNS_LEFT"] == "[]"
    assert lines["VETH_LEFT"] == "[]"


def test_missing_bridge_fails_without_leftovers(out):
    out_dir, p = out
    a = p.machines[0]
    script = f"""
    NETNS=$1
    mount -t tmpfs tmpfs /run
    if DEKUBE_BRIDGE_TIMEOUT=1 "$NETNS" up {args(a)}; then exit 3; fi
    echo "NETNS_LEFT=[$(ip netns list)]"
    echo "VETH_LEFT=[$(ip -o link show type veth)]"
    """
    r = in_private_net(script, out_dir)
    assert r.returncode == 0, r.stderr
    assert "bridge dk-test-front does not exist" in r.stderr
    assert "NETNS_LEFT=[]" in r.stdout and "VETH_LEFT=[]" in r.stdout


def test_refuses_machines_without_their_own_netns(out):
    out_dir, _ = out
    r = subprocess.run([str(out_dir / "lib/netns.sh"), "up", "nt-unknown"], capture_output=True, text=True)
    assert r.returncode == 1 and "no network namespace of its own" in r.stderr
    r = subprocess.run([str(out_dir / "lib/netns.sh"), "up", "nt-a", "eth0", "br"], capture_output=True, text=True)
    assert r.returncode == 1 and "groups of 5" in r.stderr
