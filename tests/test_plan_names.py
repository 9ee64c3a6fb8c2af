"""Names: machine/bridge/veth/unit names within limits, mapped deterministically, no collisions,
and no name can steer a path outside its directory."""
from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings, strategies as st

from dekube_nspawn.errors import ConversionError
from dekube_nspawn.plan import PlanOptions
from dekube_nspawn.planning import names
from planhelp import machine, plan


def test_plain_names_are_kept():
    p, _ = plan({"web": {"image": "busybox"}, "db": {"image": "postgres"}}, name="hello")
    assert [m.name for m in p.machines] == ["hello-db", "hello-web"]
    assert machine(p, "web").unit == "nspawn-hello-web.service"
    assert p.target == "dekube-hello.target"
    assert p.networks[0].bridge == "dk-" + names.label("hello-default", 12)
    assert p.config_dir == "/etc/dekube-nspawn/hello"
    assert p.state_dir == "/var/lib/dekube-nspawn/hello"
    assert p.runtime_dir == "/run/dekube-nspawn/hello"


def test_invalid_characters_are_mapped_with_a_hash():
    p, _ = plan({"Web_Server.1": {"image": "busybox"}}, name="my_app")
    m = p.machines[0]
    assert m.name.startswith("my-app-web-server-1-") and len(m.name) == len("my-app-web-server-1-") + 8
    assert m.process.hostname == m.name   # the service name is no valid host name


def test_names_colliding_after_mapping_get_distinct_hashes():
    p, _ = plan({"web_1": {"image": "busybox"}, "web-1": {"image": "busybox"},
                 "WEB-1": {"image": "busybox"}})
    assert len({m.name for m in p.machines}) == 3
    assert all(len(m.name) <= 64 for m in p.machines)


def test_long_names_collide_after_truncation_and_stay_unique():
    long = "x" * 70
    services = {long + "a": {"image": "busybox"}, long + "b": {"image": "busybox"}}
    p, _ = plan(services)
    got = [m.name for m in p.machines]
    assert len(set(got)) == 2 and all(len(n) <= 64 for n in got)
    assert p == plan(services)[0]


def test_replica_names_do_not_collide_with_service_names():
    p, _ = plan({"web": {"image": "busybox", "scale": 2}, "web-1": {"image": "busybox"}})
    got = sorted(m.name for m in p.machines)
    assert len(set(got)) == 3
    assert "demo-web-2" in got


def test_long_network_names_get_distinct_bridges():
    nets = {f"{'n' * 30}{i}": {"name": f"n{i}", "ipam": {}} for i in range(3)}
    p, _ = plan({"web": {"image": "busybox", "networks": {n: None for n in nets}}},
                networks=nets, name="averylongprojectname")
    bridges = [n.bridge for n in p.networks]
    assert len(set(bridges)) == 3
    assert all(b.startswith("dk-") and len(b) <= 15 for b in bridges)


def test_bridge_option_renames_the_default_network_and_is_validated():
    p, _ = plan({"web": {"image": "busybox"}}, options=PlanOptions(bridge="br-mine"))
    assert p.networks[0].bridge == "br-mine"
    assert machine(p, "web").interfaces[0].bridge == "br-mine"
    with pytest.raises(ConversionError, match="interface name"):
        plan({"web": {"image": "busybox"}}, options=PlanOptions(bridge="x" * 16))


def test_veth_names_are_short_stable_and_distinct():
    a, b = names.veth_name("demo-web", "default"), names.veth_name("demo-web", "back")
    assert a != b and len(a) == 15 and a.startswith("vd")
    assert a == names.veth_name("demo-web", "default")


@pytest.mark.parametrize("evil", ["..", ".", "../../etc", "a/b", "/abs", "..\x00x", ""])
def test_path_components_never_escape(evil):
    comp = names.path_component(evil)
    assert "/" not in comp and comp not in (".", "..", "") and "\x00" not in comp
    assert os.path.normpath(os.path.join("/base", comp)).startswith("/base/")


def test_volume_and_secret_names_cannot_leave_their_directories(tmp_path):
    p, _ = plan({"web": {"image": "busybox",
                         "volumes": [{"type": "volume", "source": "v", "target": "/data"}],
                         "secrets": [{"source": "../../etc/shadow"}]}},
                volumes={"v": {"name": "../../../etc"}},
                secrets={"../../etc/shadow": {"name": "x", "file": "/srv/s"}})
    m = p.machines[0]
    assert m.mounts[0].source.startswith(p.state_dir + "/volumes/")
    assert os.path.normpath(m.mounts[0].source) == m.mounts[0].source
    assert ".." not in m.mounts[0].source.split("/")
    rp = m.secrets[0].runtime_path
    assert rp.startswith(p.runtime_dir + "/secrets/demo-web/") and ".." not in rp.split("/")
    # the target is a path inside the machine: normalized like Docker does
    assert m.secrets[0].target == "/etc/shadow"


def test_project_name_that_is_not_a_path_component_is_mapped():
    p, _ = plan({"web": {"image": "busybox"}}, name="../x")
    assert p.state_dir.startswith("/var/lib/dekube-nspawn/") and ".." not in p.state_dir
    assert "/" not in p.target


def test_image_keys_are_distinct_for_lookalike_references():
    assert names.image_key("docker://", "a/b:c") != names.image_key("docker://", "a-b:c")
    assert names.image_key("docker://", "a") != names.image_key("oci:/x", "a")
    key = names.image_key("docker://", "registry.example.com:5000/team/app@sha256:" + "0" * 64)
    assert "/" not in key and ":" not in key and len(key) <= 49


_name = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(st.lists(_name, min_size=1, max_size=6, unique=True))
@example(["0\n"])   # `$` in a Python regex also matches before a final newline
def test_machine_names_always_valid_and_unique(services):
    mapping = names.machine_names("proj", {s: 1 for s in services})
    got = list(mapping.values())
    assert len(set(got)) == len(got)
    for n in got:
        assert 0 < len(n.encode()) <= 64
        assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in n)
        assert not n.startswith("-") and not n.endswith("-")


@settings(max_examples=150, deadline=None)
@given(st.lists(_name, min_size=1, max_size=6, unique=True))
def test_bridge_names_always_valid_and_unique(networks):
    mapping = names.bridge_names("proj", networks)
    got = list(mapping.values())
    assert len(set(got)) == len(got)
    assert all(names.valid_ifname(b) for b in got)
