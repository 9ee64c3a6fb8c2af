"""Planner: images and the process (entrypoint, command, environment, user, hostname...)."""
from __future__ import annotations

from dekube_nspawn import ir
from dekube_nspawn.plan import PlanOptions
from planhelp import machine, plan, warned


def test_distinct_images_once_with_stable_keys_and_pull_policy():
    p, _ = plan({"a": {"image": "busybox:1.36"}, "b": {"image": "busybox:1.36",
                                                        "pull_policy": "always"},
                 "c": {"image": "redis"}})
    assert [i.reference for i in p.images] == ["busybox:1.36", "redis"]
    busybox = p.images[0]
    assert busybox.pull_policy == "always"          # the most eager policy wins
    assert busybox.transport == "docker://"
    assert machine(p, "a").image is busybox and machine(p, "b").image is busybox
    assert busybox.key == plan({"z": {"image": "busybox:1.36"}}, name="other")[0].images[0].key
    assert busybox.key != p.images[1].key


def test_image_transport_option():
    p, _ = plan({"a": {"image": "app"}}, options=PlanOptions(image_transport="oci:/img"))
    assert p.images[0].transport == "oci:/img"


def test_build_without_image_is_planned_without_image_and_warned():
    p, diag = plan({"a": {"build": {"context": "/src"}}})
    assert machine(p, "a").image is None and p.images == ()
    assert warned(diag, "build the image elsewhere", "services.a.build")


def test_build_with_image_uses_the_image_and_warns():
    p, diag = plan({"a": {"build": {"context": "/src"}, "image": "me/app:1"}})
    assert machine(p, "a").image.reference == "me/app:1"
    assert warned(diag, "must already exist", "services.a.build")


def test_process_fields_and_dollar_unescaping():
    p, _ = plan({"web": {
        "image": "busybox", "entrypoint": ["/bin/sh", "-c"], "command": ["echo $$HOME $$$$"],
        "environment": {"A": "x$$y", "UNSET": None, "EMPTY": ""}, "working_dir": "/srv",
        "user": "1000:1000", "init": True, "hostname": "h1", "domainname": "example.org"}})
    proc = machine(p, "web").process
    assert proc.entrypoint == ("/bin/sh", "-c")
    assert proc.command == ("echo $HOME $$",)
    assert proc.environment == (("A", "x$y"), ("EMPTY", ""))   # null: not set, like compose
    assert (proc.working_dir, proc.user, proc.init) == ("/srv", "1000:1000", True)
    assert (proc.hostname, proc.domainname) == ("h1", "example.org")


def test_image_defaults_stay_none():
    proc = machine(plan({"web": {"image": "busybox", "command": None, "entrypoint": None}})[0],
                   "web").process
    assert proc.entrypoint is None and proc.command is None
    assert proc.working_dir is None and proc.user is None and proc.init is False


def test_default_hostname_is_the_service_name():
    p, _ = plan({"web": {"image": "busybox", "scale": 2}})
    assert [m.process.hostname for m in p.machines] == ["web", "web"]


def test_tty_and_stdin_open_are_kept_and_warned():
    p, diag = plan({"web": {"image": "busybox", "tty": True, "stdin_open": True}})
    proc = machine(p, "web").process
    assert proc.tty and proc.stdin_open
    assert warned(diag, "not a terminal", "services.web.tty")
    assert warned(diag, "not a terminal", "services.web.stdin_open")


def test_effective_process_only_with_resolved_image():
    cfg = ir.ImageConfig(entrypoint=("/init",), cmd=("serve",), env=(("PATH", "/bin"),),
                         working_dir="/app", user=None, digest="sha256:" + "1" * 64)
    p, _ = plan({"web": {"image": "app", "entrypoint": ["/other"]}},
                options=PlanOptions(image_configs={"app": cfg}))
    eff = machine(p, "web").effective
    assert eff == ir.EffectiveProcess(argv=("/other",), environment=(("PATH", "/bin"),),
                                      working_dir="/app", user=None)
    assert machine(plan({"web": {"image": "app"}})[0], "web").effective is None


def test_resolved_image_with_a_named_user_is_completed_by_bootstrap():
    # The primary gid of a named user is in the image's /etc/passwd, which only bootstrap.sh sees.
    from dekube_nspawn.emit.bootstrap import unresolved_machines
    cfg = ir.ImageConfig(entrypoint=("/init",), cmd=None, env=(), working_dir=None, user="app",
                         digest="sha256:" + "3" * 64)
    opts = PlanOptions(image_configs={"app": cfg})
    p, _ = plan({"named": {"image": "app"}, "numeric": {"image": "app", "user": "1000:1000"},
                 "group": {"image": "app", "user": "1000:staff"}}, options=opts)
    assert machine(p, "named").effective is None and machine(p, "group").effective is None
    assert machine(p, "numeric").effective.user == "1000:1000"
    assert {m.service for m in unresolved_machines(p)} == {"named", "group"}


def test_labels_are_kept():
    p, _ = plan({"web": {"image": "busybox", "labels": {"b": "2$$x", "a": "1"}}})
    assert machine(p, "web").labels == (("a", "1"), ("b", "2$x"))


def test_resolved_image_with_nothing_to_run_is_a_clear_error():
    import pytest
    from dekube_nspawn.errors import ConversionError
    cfg = ir.ImageConfig(entrypoint=None, cmd=None, env=(), working_dir=None, user=None,
                         digest="sha256:" + "2" * 64)
    with pytest.raises(ConversionError, match="no command") as err:
        plan({"web": {"image": "app"}}, options=PlanOptions(image_configs={"app": cfg}))
    assert err.value.key_path == ("services", "web")


def test_plan_holds_no_path_of_the_converting_machine(tmp_path, monkeypatch):
    import os
    monkeypatch.chdir(tmp_path)
    p, _ = plan({"web": {"image": "x", "volumes": [{"type": "volume", "target": "/d"}],
                         "healthcheck": {"test": ["CMD", "true"]}}})
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, (tuple, list)):
            for v in value:
                yield from strings(v)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                yield from strings(getattr(value, name))
    found = list(strings(p))
    assert any(s.startswith("/var/lib/dekube-nspawn/") for s in found)   # the walk works
    home = os.path.expanduser("~")
    assert not [s for s in found if s.startswith((str(tmp_path), home + "/", os.getcwd()))]
    assert p == plan({"web": {"image": "x", "volumes": [{"type": "volume", "target": "/d"}],
                              "healthcheck": {"test": ["CMD", "true"]}}})[0]
