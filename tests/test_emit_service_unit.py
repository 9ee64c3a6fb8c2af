"""`nspawn-<machine>.service`, the health monitor unit and the target, from hand-built IR."""
from __future__ import annotations

from dataclasses import replace

import pytest

import irsamples as s
from dekube_nspawn import ir
from dekube_nspawn.emit import service_unit, target
from dekube_nspawn.errors import ConversionError
from unitfile import parse

C = ir.DependencyCondition


def units_of(*machines):
    plan = s.plan(*machines)
    return {f.path: parse(f.content) for f in service_unit.render(plan)}, plan


def test_exec_lines_follow_the_contract():
    units, _ = units_of(s.machine())
    u = units["nspawn-demo-web.service"]
    assert u[("Service", "Type")] == ["notify"]
    assert u[("Service", "ExecStartPre")] == [
        "/etc/dekube-nspawn/demo/lib/rootfs.sh up demo-web busybox-1.36",
        "/etc/dekube-nspawn/demo/lib/netns.sh up demo-web eth0 dk-demo-def vd0123456789abc 10.200.0.2/24 10.200.0.1",
        "/etc/dekube-nspawn/demo/lib/prepare.sh demo-web"]
    assert u[("Service", "ExecStart")] == [
        "/usr/bin/systemd-nspawn --quiet --keep-unit --register=yes --console=pipe --machine=demo-web "
        "--directory=/var/lib/dekube-nspawn/demo/machines/demo-web/root "
        "--network-namespace-path=/run/netns/demo-web"]
    assert u[("Service", "ExecStopPost")] == ["/etc/dekube-nspawn/demo/lib/netns.sh down demo-web",
                                              "/etc/dekube-nspawn/demo/lib/rootfs.sh down demo-web"]
    assert u[("Service", "KillMode")] == ["mixed"]
    assert u[("Service", "TimeoutStopSec")] == ["10"]
    assert u[("Unit", "PartOf")] == ["dekube-demo.target"]
    assert u[("Install", "WantedBy")] == ["dekube-demo.target"]


def test_depends_on_conditions_and_the_health_gate():
    db = s.machine(service="db", interfaces=(), health=s.health("demo-db", start_period_s=60.0,
                                                                  retries=5, interval_s=10.0, timeout_s=5.0))
    job = s.machine(service="job", interfaces=(), lifecycle=replace(
        s.machine().lifecycle, oneshot=True, restart=ir.RestartPolicy.ALWAYS))
    cache = s.machine(service="cache", interfaces=())
    web = s.machine(dependencies=(
        ir.Dependency("nspawn-demo-db.service", C.HEALTHY),
        ir.Dependency("nspawn-demo-job.service", C.COMPLETED),
        ir.Dependency("nspawn-demo-cache.service", C.STARTED, required=False, restart=True)))
    units, _ = units_of(web, db, job, cache)
    u = units["nspawn-demo-web.service"]
    assert u[("Unit", "Requires")] == ["nspawn-demo-db.service", "nspawn-demo-job.service"]
    assert u[("Unit", "Wants")] == ["nspawn-demo-cache.service"]
    assert u[("Unit", "PartOf")] == ["dekube-demo.target", "nspawn-demo-cache.service"]
    assert set(u[("Unit", "After")]) >= {"nspawn-demo-db.service", "nspawn-demo-job.service",
                                         "nspawn-demo-cache.service"}
    d = units["nspawn-demo-db.service"]
    assert d[("Service", "ExecStartPost")] == ["/etc/dekube-nspawn/demo/lib/health.sh gate demo-db"]
    # start_period + (retries + 1) * (interval + timeout) + margin = 60 + 6 * 15 + 30
    assert d[("Service", "TimeoutStartSec")] == ["180"]
    assert d[("Unit", "Wants")] == ["dekube-demo-db-health.service"]
    h = units["dekube-demo-db-health.service"]
    assert h[("Unit", "BindsTo")] == ["nspawn-demo-db.service"]
    assert h[("Service", "ExecStart")] == ["/etc/dekube-nspawn/demo/lib/health.sh monitor demo-db"]
    j = units["nspawn-demo-job.service"]
    assert j[("Service", "Type")] == ["oneshot"] and j[("Service", "RemainAfterExit")] == ["yes"]
    assert j[("Service", "Restart")] == ["on-failure"]   # systemd refuses always for oneshot
    assert ("Service", "ExecStartPost") not in units["nspawn-demo-cache.service"]


def test_network_modes():
    front = s.machine(service="front")
    side = s.machine(service="side", network_mode=ir.NetworkMode.JOIN, netns="demo-front",
                     join_machine="demo-front", interfaces=())
    hostnet = s.machine(service="hostnet", network_mode=ir.NetworkMode.HOST, netns="", interfaces=())
    units, _ = units_of(front, side, hostnet)
    u = units["nspawn-demo-side.service"]
    assert u[("Unit", "BindsTo")] == ["nspawn-demo-front.service"]
    assert "--network-namespace-path=/run/netns/demo-front" in u[("Service", "ExecStart")][0]
    assert not any("netns.sh" in line for line in u[("Service", "ExecStartPre")] + u[("Service", "ExecStopPost")])
    h = units["nspawn-demo-hostnet.service"]
    assert "--network-namespace-path" not in h[("Service", "ExecStart")][0]
    bad = replace(side, join_machine="demo-missing")
    with pytest.raises(ConversionError):
        service_unit.render(s.plan(front, bad))


@pytest.mark.parametrize("policy,max_restarts,expected", [
    (ir.RestartPolicy.NO, None, {("Service", "Restart"): ["no"]}),
    (ir.RestartPolicy.ALWAYS, None, {("Service", "Restart"): ["always"], ("Unit", "StartLimitIntervalSec"): ["0"]}),
    (ir.RestartPolicy.UNLESS_STOPPED, None, {("Service", "Restart"): ["always"]}),
    (ir.RestartPolicy.ON_FAILURE, 3, {("Service", "Restart"): ["on-failure"],
                                      ("Unit", "StartLimitBurst"): ["4"],
                                      ("Unit", "StartLimitIntervalSec"): ["infinity"]}),
])
def test_restart_policies(policy, max_restarts, expected):
    m = s.machine(lifecycle=replace(s.machine().lifecycle, restart=policy, max_restarts=max_restarts,
                                    restart_delay_s=2.5))
    u = units_of(m)[0]["nspawn-demo-web.service"]
    for key, value in expected.items():
        assert u[key] == value
    if policy is not ir.RestartPolicy.NO:
        assert u[("Service", "RestartSec")] == ["2.5s"]


def test_limits_and_devices():
    m = s.machine(limits=ir.Limits(memory_max=512, memory_swap_max=0, memory_low=64,
                                   cpu_quota_percent=33.333, cpu_weight=50, tasks_max=100),
                  privileges=ir.Privileges(devices=(("/dev/fuse", "/dev/fuse", "rw"),)))
    u = units_of(m)[0]["nspawn-demo-web.service"]
    assert u[("Service", "MemoryMax")] == ["512"] and u[("Service", "MemorySwapMax")] == ["0"]
    assert u[("Service", "MemoryLow")] == ["64"] and u[("Service", "CPUQuota")] == ["33.33%"]
    assert u[("Service", "CPUWeight")] == ["50"] and u[("Service", "TasksMax")] == ["100"]
    assert u[("Service", "DeviceAllow")] == ["char-pts rw", "/dev/fuse rw"]
    bad = s.machine(privileges=ir.Privileges(devices=(("/dev/x y", "/dev/x", "rwm"),)))
    with pytest.raises(ConversionError):
        service_unit.render(s.plan(bad))


def test_target_wants_every_machine_and_socket():
    web = s.machine(ports=(ir.PublishedPort("127.0.0.1", 8080, "10.200.0.2", 80, "tcp", "dekube-demo-web-tcp-8080"),))
    db = s.machine(service="db")
    (f,) = target.render(s.plan(web, db))
    t = parse(f.content)
    assert f.path == "dekube-demo.target"
    assert t[("Unit", "Wants")] == ["nspawn-demo-web.service", "nspawn-demo-db.service",
                                    "dekube-demo-web-tcp-8080.socket"]
    assert t[("Install", "WantedBy")] == ["multi-user.target"]


def test_environment_the_nspawn_file_cannot_carry_goes_to_a_root_only_file():
    m = s.machine()
    process = replace(m.process, environment=(("MULTI", "a\nb"), ("Q", "it's")))
    m = replace(m, process=process, effective=ir.EffectiveProcess(
        argv=("/bin/app",), environment=(("PATH", "/bin"),) + process.environment,
        working_dir="/", user=None))
    files = {f.path: f for f in service_unit.render(s.plan(m))}
    env = files["env/demo-web.env"]
    assert env.mode == 0o600
    lines = [l for l in env.content.split("\n") if l and not l.startswith("#")]
    assert lines == ["PATH='/bin'", "MULTI='a", "b'", "Q=\"it's\""]
    u = parse(files["nspawn-demo-web.service"].content)
    assert u[("Service", "EnvironmentFile")] == ["/etc/dekube-nspawn/demo/env/demo-web.env"]
    assert ("Service", "Environment") not in u      # values never in the world-readable unit
    assert u[("Service", "ExecStart")][0].endswith("--setenv=PATH --setenv=MULTI --setenv=Q")
