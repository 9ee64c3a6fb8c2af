"""Planner: binds, named/anonymous volumes, tmpfs, read_only, volumes_from, secrets, configs."""
from __future__ import annotations

import pytest

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from planhelp import machine, plan, warned

K = ir.MountKind


def test_bind_named_anonymous_and_tmpfs_mounts():
    p, diag = plan({"web": {"image": "x", "read_only": True, "tmpfs": ["/run", "/c:size=64M,mode=1777,uid=5"],
                            "volumes": [
        {"type": "bind", "source": "/srv/data", "target": "/data", "read_only": True,
         "bind": {"create_host_path": True, "propagation": "rshared"}},
        {"type": "volume", "source": "db", "target": "/var/lib/db", "volume": {"subpath": "sub"}},
        {"type": "volume", "target": "/cache", "volume": {}},
        {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "10000", "mode": 1023}},
        {"type": "npipe", "source": "x", "target": "/p"}]}},
        volumes={"db": {"name": "demo_db"}})
    m = machine(p, "web")
    assert m.mounts[0] == ir.Mount(K.BIND, "/srv/data", "/data", True, create_host_path=True)
    assert m.mounts[1] == ir.Mount(K.VOLUME, p.state_dir + "/volumes/demo_db", "/var/lib/db",
                                   subpath="sub")
    anon = m.mounts[2]
    assert anon.kind is K.ANONYMOUS and anon.source.startswith(m.layer_dir + "/volumes/")
    assert m.mounts[3] == ir.Mount(K.TMPFS, "", "/tmp", tmpfs_size=10000, tmpfs_mode=1023)
    assert m.mounts[4] == ir.Mount(K.TMPFS, "", "/run")
    assert m.mounts[5] == ir.Mount(K.TMPFS, "", "/c", tmpfs_size=64 * 1024 ** 2, tmpfs_mode=0o1777)
    assert len(m.mounts) == 6
    assert m.privileges.read_only_root
    assert p.volumes == (ir.Volume("db", p.state_dir + "/volumes/demo_db"),)
    assert warned(diag, "propagation", "services.web.volumes[0].bind.propagation")
    assert warned(diag, "not supported", "services.web.volumes[4]")
    assert warned(diag, "uid=5", "services.web.tmpfs[1]")


def test_anonymous_volumes_are_per_replica_and_stable():
    spec = {"web": {"image": "x", "scale": 2, "volumes": [{"type": "volume", "target": "/c"}]}}
    p, _ = plan(spec)
    a, b = (m.mounts[0].source for m in p.machines)
    assert a != b and a.startswith(p.machines[0].layer_dir) and b.startswith(p.machines[1].layer_dir)
    assert plan(spec)[0] == p


def test_external_volume_uses_its_name_in_the_shared_state_dir():
    p, diag = plan({"w": {"image": "x", "volumes": [{"type": "volume", "source": "v",
                                                      "target": "/v"}]}},
                   volumes={"v": {"name": "corp-data", "external": True}})
    assert p.volumes == (ir.Volume("v", "/var/lib/dekube-nspawn/volumes/corp-data", True),)
    assert warned(diag, "neither created nor removed", "volumes.v.external")


def test_local_driver_bind_idiom_becomes_that_directory():
    p, _ = plan({"w": {"image": "x", "volumes": [{"type": "volume", "source": "v", "target": "/v"}]}},
                volumes={"v": {"driver_opts": {"type": "none", "o": "bind", "device": "/mnt/d"}}})
    assert machine(p, "w").mounts[0].source == "/mnt/d"


def test_windows_and_relative_targets_are_warned_not_fatal():
    p, diag = plan({"w": {"image": "x", "volumes": [
        {"type": "bind", "source": "C:\\x", "target": "/x"},
        {"type": "volume", "source": "v", "target": "data"}]}}, volumes={"v": {}})
    assert machine(p, "w").mounts == ()
    assert warned(diag, "not an absolute Linux path", "services.w.volumes[0].source")
    assert warned(diag, "not an absolute Linux path", "services.w.volumes[1].target")


def test_subpath_cannot_leave_the_volume():
    with pytest.raises(ConversionError, match="leaves the volume"):
        plan({"w": {"image": "x", "volumes": [{"type": "volume", "source": "v", "target": "/v",
                                               "volume": {"subpath": "../../etc"}}]}},
             volumes={"v": {}})


def test_volumes_from_copies_mounts_transitively_with_ro():
    p, diag = plan({
        "data": {"image": "x", "volumes": [{"type": "volume", "target": "/shared"},
                                           {"type": "bind", "source": "/h", "target": "/h"}],
                 "tmpfs": ["/t"]},
        "mid": {"image": "x", "volumes_from": ["data"]},
        "app": {"image": "x", "volumes_from": ["mid:ro"],
                "volumes": [{"type": "bind", "source": "/mine", "target": "/h"}]},
        "x": {"image": "x", "volumes_from": ["container:elsewhere"]}})
    data, app = machine(p, "data"), machine(p, "app")
    assert machine(p, "mid").mounts == data.mounts[:2]
    assert [(m.source, m.target, m.read_only) for m in app.mounts] == [
        ("/mine", "/h", False), (data.mounts[0].source, "/shared", True)]
    assert warned(diag, "not part of this project", "services.x.volumes_from[0]")


def test_volumes_from_cycle_is_an_error():
    with pytest.raises(ConversionError, match="cycle"):
        plan({"a": {"image": "x", "volumes_from": ["b"]},
              "b": {"image": "x", "volumes_from": ["a"]}})


def test_secrets_and_configs():
    p, diag = plan({"web": {"image": "x",
                            "secrets": [{"source": "pw"},
                                        {"source": "key", "target": "k.pem", "uid": "1",
                                         "gid": "2", "mode": "0400"},
                                        {"source": "ext"}],
                            "configs": [{"source": "conf"}, {"source": "inline",
                                                             "target": "/etc/app.ini"}]}},
                   secrets={"pw": {"name": "demo_pw", "file": "/srv/pw.txt"},
                            "key": {"name": "demo_key", "environment": "KEY"},
                            "ext": {"name": "ext", "external": True}},
                   configs={"conf": {"name": "demo_conf", "file": "/srv/c.yml"},
                            "inline": {"name": "demo_inline", "content": "a=$$1\n"}})
    s = {f.name: f for f in machine(p, "web").secrets}
    assert sorted(s) == ["conf", "inline", "key", "pw"]
    assert (s["pw"].kind, s["pw"].target, s["pw"].mode, s["pw"].source_file) == \
        ("secret", "/run/secrets/pw", 0o444, "/srv/pw.txt")
    assert (s["key"].target, s["key"].mode, s["key"].uid, s["key"].gid, s["key"].environment) == \
        ("/run/secrets/k.pem", 0o400, "1", "2", "KEY")
    assert (s["conf"].kind, s["conf"].target) == ("config", "/conf")
    assert (s["inline"].target, s["inline"].content) == ("/etc/app.ini", "a=$1\n")
    paths = {f.runtime_path for f in s.values()}
    assert len(paths) == 4 and all(x.startswith(p.runtime_dir + "/secrets/demo-web/") for x in paths)
    assert warned(diag, "cannot be read here", "services.web.secrets[2]")
    assert all(m.kind not in (ir.MountKind.SECRET, ir.MountKind.CONFIG)
               for m in machine(p, "web").mounts)


def test_nocopy_keeps_the_new_volume_empty():
    p, diag = plan({"a": {"image": "x", "volumes": [
        {"type": "volume", "source": "v", "target": "/copy"},
        {"type": "volume", "source": "v", "target": "/plain", "volume": {"nocopy": True}},
        {"type": "volume", "target": "/anon", "volume": {"nocopy": True}}]}},
        volumes={"v": {"name": "demo_v"}})
    copy, plain, anon = machine(p, "a").mounts
    assert copy.copy_image_content is True
    assert plain.copy_image_content is False and anon.copy_image_content is False
    assert not warned(diag, "nocopy")
