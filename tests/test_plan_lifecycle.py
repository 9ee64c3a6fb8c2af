"""Planner: health checks, depends_on, restart/stop, limits and privileges."""
from __future__ import annotations

import pytest

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import values
from planhelp import machine, plan, warned

DC = ir.DependencyCondition


@pytest.mark.parametrize("text,seconds", [("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0),
                                          ("1.5s", 1.5), ("0s", 0.0), ("2m0s", 120.0),
                                          ("10us", 1e-5), (7, 7.0)])
def test_go_durations(text, seconds):
    assert values.duration_seconds(text, ()) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "1", "abc", "1x", "s"])
def test_bad_durations(bad):
    with pytest.raises(ConversionError):
        values.duration_seconds(bad, ("k",))


def test_healthcheck_cmd_shell_and_docker_defaults():
    p, _ = plan({"db": {"image": "x", "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U $$U"]}}})
    h = machine(p, "db").health
    assert h.test == ("/bin/sh", "-c", "pg_isready -U $U")
    assert (h.interval_s, h.timeout_s, h.retries, h.start_period_s, h.start_interval_s) == \
        (30.0, 30.0, 3, 0.0, 5.0)
    assert h.script_path == p.config_dir + "/health/demo-db.sh"
    assert h.state_path == p.runtime_dir + "/health/demo-db"
    assert h.unit == "dekube-demo-db-health.service"


def test_healthcheck_cmd_timings_none_and_disable():
    p, _ = plan({
        "a": {"image": "x", "healthcheck": {"test": ["CMD", "curl", "-f", "http://x"],
                                            "interval": "1m30s", "timeout": "5s", "retries": 5,
                                            "start_period": "10s", "start_interval": "1s"}},
        "b": {"image": "x", "healthcheck": {"test": ["NONE"]}},
        "c": {"image": "x", "healthcheck": {"test": ["CMD", "true"], "disable": True}}})
    a = machine(p, "a").health
    assert a.test == ("curl", "-f", "http://x")
    assert (a.interval_s, a.timeout_s, a.retries, a.start_period_s, a.start_interval_s) == \
        (90.0, 5.0, 5, 10.0, 1.0)
    assert machine(p, "b").health is None and machine(p, "c").health is None


def test_depends_on_conditions_required_restart_and_oneshot():
    p, diag = plan({
        "db": {"image": "x", "healthcheck": {"test": ["CMD", "true"]}},
        "migrate": {"image": "x", "restart": "always"},
        "cache": {"image": "x", "scale": 2},
        "nohealth": {"image": "x"},
        "web": {"image": "x", "depends_on": {
            "db": {"condition": "service_healthy", "required": True, "restart": True},
            "migrate": {"condition": "service_completed_successfully", "required": True},
            "cache": {"condition": "service_started", "required": False},
            "nohealth": {"condition": "service_healthy", "required": True}}}})
    deps = {d.unit: d for d in machine(p, "web").dependencies}
    assert deps["nspawn-demo-db.service"] == ir.Dependency("nspawn-demo-db.service", DC.HEALTHY,
                                                           True, True)
    assert deps["nspawn-demo-migrate.service"].condition is DC.COMPLETED
    assert {u for u, d in deps.items() if not d.required} == {"nspawn-demo-cache-1.service",
                                                              "nspawn-demo-cache-2.service"}
    assert deps["nspawn-demo-nohealth.service"].condition is DC.STARTED
    assert warned(diag, "no health check", "services.web.depends_on.nohealth.condition")
    mig = machine(p, "migrate").lifecycle
    assert mig.oneshot and mig.restart is ir.RestartPolicy.ON_FAILURE
    assert not machine(p, "db").lifecycle.oneshot
    assert warned(diag, "runs once", "services.migrate.restart")


def test_unknown_required_dependency_is_an_error_optional_is_warned():
    with pytest.raises(ConversionError, match="unknown service"):
        plan({"web": {"image": "x", "depends_on": {"nope": {"condition": "service_started"}}}})
    _, diag = plan({"web": {"image": "x", "depends_on": {
        "nope": {"condition": "service_started", "required": False}}}})
    assert warned(diag, "not planned", "services.web.depends_on.nope")


def test_restart_policies_and_stop():
    p, diag = plan({
        "a": {"image": "x", "restart": "on-failure:4", "stop_signal": "SIGINT",
              "stop_grace_period": "1m"},
        "b": {"image": "x", "restart": "unless-stopped"},
        "c": {"image": "x", "deploy": {"restart_policy": {"condition": "on-failure",
                                                           "max_attempts": 3, "delay": "5s",
                                                           "window": "2m0s"}}},
        "d": {"image": "x"}})
    a = machine(p, "a").lifecycle
    assert (a.restart, a.max_restarts, a.stop_signal, a.stop_grace_s) == \
        (ir.RestartPolicy.ON_FAILURE, 4, "SIGINT", 60.0)
    assert machine(p, "b").lifecycle.restart is ir.RestartPolicy.UNLESS_STOPPED
    c = machine(p, "c").lifecycle
    assert (c.restart, c.max_restarts, c.restart_delay_s) == (ir.RestartPolicy.ON_FAILURE, 3, 5.0)
    assert warned(diag, "max_attempts", "services.c.deploy.restart_policy.window")
    d = machine(p, "d").lifecycle
    assert (d.restart, d.stop_signal, d.stop_grace_s, d.oneshot) == \
        (ir.RestartPolicy.NO, "SIGTERM", 10.0, False)


def test_limits():
    p, diag = plan({
        "a": {"image": "x", "mem_limit": "536870912", "memswap_limit": "1073741824",
              "mem_reservation": "1048576", "cpus": 1.5, "cpu_shares": 512, "pids_limit": 100,
              "ulimits": {"nofile": {"soft": 1024, "hard": 4096}, "nproc": 512, "bogus": 1}},
        "b": {"image": "x", "deploy": {"resources": {
            "limits": {"cpus": 0.5, "memory": "52428800", "pids": 7},
            "reservations": {"memory": "1024", "cpus": 0.1}}}},
        "c": {"image": "x", "cpu_shares": 2, "memswap_limit": "-1", "pids_limit": -1},
        "d": {"image": "x", "cpu_shares": 10 ** 7}})
    a = machine(p, "a").limits
    assert (a.memory_max, a.memory_swap_max, a.memory_low, a.cpu_quota_percent, a.cpu_weight,
            a.tasks_max) == (512 * 2 ** 20, 512 * 2 ** 20, 2 ** 20, 150.0, 50, 100)
    assert a.ulimits == (("LimitNOFILE", 1024, 4096), ("LimitNPROC", 512, 512))
    assert warned(diag, "unknown ulimit", "services.a.ulimits.bogus")
    b = machine(p, "b").limits
    assert (b.memory_max, b.memory_low, b.cpu_quota_percent, b.tasks_max) == \
        (52428800, 1024, 50.0, 7)
    assert warned(diag, "no CPU is reserved", "services.b.deploy.resources.reservations.cpus")
    c = machine(p, "c").limits
    assert (c.cpu_weight, c.memory_swap_max, c.tasks_max) == (1, None, None)
    assert machine(p, "d").limits.cpu_weight == 10000


def test_privileges():
    p, diag = plan({"a": {"image": "x", "privileged": True,
                          "cap_add": ["NET_ADMIN", "CAP_SYS_TIME", "net_admin", "BOGUS"],
                          "cap_drop": ["ALL"],
                          "devices": [{"source": "/dev/fuse", "target": "/dev/fuse",
                                       "permissions": "rwm"}, {"source": "vendor.com/gpu=all"}],
                          "sysctls": {"net.core.somaxconn": "1024", "kernel.shmmax": "1"},
                          "security_opt": ["no-new-privileges:true", "seccomp=unconfined"]}})
    pr = machine(p, "a").privileges
    assert pr.privileged
    assert pr.cap_add == ("CAP_NET_ADMIN", "CAP_SYS_TIME") and pr.cap_drop == ("all",)
    assert pr.devices == (("/dev/fuse", "/dev/fuse", "rwm"),)
    assert pr.sysctls == (("net.core.somaxconn", "1024"),)
    assert pr.no_new_privileges
    assert warned(diag, "unknown capability", "services.a.cap_add[3]")
    assert warned(diag, "CDI", "services.a.devices[1]")
    assert warned(diag, "only net.*", "services.a.sysctls.kernel.shmmax")
    assert warned(diag, "seccomp", "services.a.security_opt[1]")


def test_deploy_keys_swarm_only_and_unknown_warn():
    _, diag = plan({"a": {"image": "x", "deploy": {"placement": {"constraints": ["n"]},
                                                   "frobnicate": 1, "replicas": 1}}})
    assert warned(diag, "every machine runs on this host", "services.a.deploy.placement")
    assert warned(diag, "unknown deploy key", "services.a.deploy.frobnicate")
    assert not warned(diag, "unknown deploy key", "services.a.deploy.replicas")
