"""`nspawn-<machine>.service` (runs systemd-nspawn for one machine) and the health monitor unit
`dekube-<machine>-health.service` of machines with a healthcheck."""
from __future__ import annotations

import re
from typing import NamedTuple

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.nspawn_settings import environment_via_unit
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import DependencyCondition, Machine, NetworkMode, Plan, RestartPolicy

NSPAWN = "/usr/bin/systemd-nspawn"
# Slack on top of the health gate's worst case (runtime.md): process start-up, script overhead.
HEALTH_GATE_MARGIN_S = 30
DEFAULT_START_TIMEOUT_S = 90


def lib_script(plan: Plan, name: str) -> str:
    return f"{plan.config_dir}/lib/{name}"


def environment_file(machine: Machine) -> str:
    """Relative to the output (and config) directory; root-only, as it may hold passwords."""
    return f"env/{machine.name}.env"


def health_unit(machine: Machine) -> str:
    return machine.health.unit or f"dekube-{machine.name}-health.service"


def gated_units(plan: Plan) -> set[str]:
    """Units some other machine waits on with `condition: service_healthy`."""
    return {d.unit for m in plan.machines for d in m.dependencies
            if d.condition is DependencyCondition.HEALTHY}


def health_gate_timeout(machine: Machine) -> float:
    h = machine.health
    worst = h.start_period_s + (h.retries + 1) * (h.interval_s + h.timeout_s) + HEALTH_GATE_MARGIN_S
    return max(DEFAULT_START_TIMEOUT_S, float(int(worst + 0.999)))


def _netns_up_args(machine: Machine) -> list[str]:
    args = ["up", machine.name]
    for iface in machine.interfaces:
        args += [iface.name, iface.bridge, iface.host_name,
                 f"{iface.address}/{iface.prefix_length}", iface.gateway]
    return args


class RestartSettings(NamedTuple):
    policy: str
    burst: int | None          # StartLimitBurst=, when the restarts are counted
    interval: str | None       # StartLimitIntervalSec=
    delay: float


def _restart(machine: Machine) -> RestartSettings:
    """Docker restarts forever (with back-off) for always/unless-stopped/on-failure, and at most N
    times for on-failure:N; systemd's start rate limit is set to match."""
    lc = machine.lifecycle
    policy = {RestartPolicy.NO: "no", RestartPolicy.ALWAYS: "always",
              RestartPolicy.UNLESS_STOPPED: "always",
              RestartPolicy.ON_FAILURE: "on-failure"}[lc.restart]
    if lc.oneshot and policy == "always":
        policy = "on-failure"      # systemd refuses Restart=always for Type=oneshot
    delay = lc.restart_delay_s if lc.restart_delay_s is not None else 1
    if policy == "no":
        return RestartSettings("no", None, None, delay)
    if lc.restart is RestartPolicy.ON_FAILURE and lc.max_restarts is not None:
        return RestartSettings(policy, lc.max_restarts + 1, "infinity", delay)
    return RestartSettings(policy, None, "0", delay)


_DEVICE_PERMS = re.compile(r"[rwm]{1,3}\Z")


def _device_allow(machine: Machine) -> list[tuple[str, str]]:
    out = []
    for host_path, _machine_path, perms in machine.privileges.devices:
        perms = perms or "rwm"
        if not _DEVICE_PERMS.match(perms):
            raise ConversionError(f"device permissions {perms!r} are not a combination of r, w, m",
                                  key_path=("services", machine.service, "devices"))
        out.append((host_path, perms))
    return out


def _cpu_quota(percent: float | None) -> str | None:
    """systemd reads at most two decimals of a percentage."""
    if percent is None:
        return None
    text = f"{percent:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


_UNSET = object()


def render_service_unit(plan: Plan, machine: Machine, gated: bool, by_name=None,
                        environment=_UNSET) -> OutputFile:
    """`environment`: environment_via_unit(machine), when the caller has it already."""
    if by_name is None:
        by_name = {m.name: m for m in plan.machines}
    joined_unit = None
    if machine.network_mode is NetworkMode.JOIN and machine.join_machine:
        joined = by_name.get(machine.join_machine)
        if joined is None:
            raise ConversionError(f"network_mode names machine {machine.join_machine!r}, which is "
                                  "not part of the project",
                                  key_path=("services", machine.service, "network_mode"))
        joined_unit = joined.unit
    own_netns = machine.network_mode in (NetworkMode.BRIDGED, NetworkMode.NONE)
    nspawn_argv = [NSPAWN, "--quiet", "--keep-unit", "--register=yes", "--console=pipe",
                   f"--machine={machine.name}", f"--directory={machine.rootfs}"]
    if machine.network_mode is not NetworkMode.HOST and machine.netns:
        nspawn_argv.append(f"--network-namespace-path=/run/netns/{machine.netns}")
    if environment is _UNSET:
        environment = environment_via_unit(machine)
    environment = environment or ()
    nspawn_argv += [f"--setenv={name}" for name, _ in environment]
    content = render_template(
        "machine.service.j2",
        header=HEADER,
        plan=plan,
        machine=machine,
        key=("services", machine.service),
        conditions=DependencyCondition,
        joined_unit=joined_unit,
        own_netns=own_netns,
        rootfs_up=[lib_script(plan, "rootfs.sh"), "up", machine.name]
        + ([machine.image.key] if machine.image else []),
        netns_up=[lib_script(plan, "netns.sh")] + _netns_up_args(machine),
        prepare=[lib_script(plan, "prepare.sh"), machine.name],
        nspawn=nspawn_argv,
        gate=[lib_script(plan, "health.sh"), "gate", machine.name] if gated and machine.health else None,
        netns_down=[lib_script(plan, "netns.sh"), "down", machine.name],
        rootfs_down=[lib_script(plan, "rootfs.sh"), "down", machine.name],
        health_unit=health_unit(machine) if machine.health else None,
        start_timeout=health_gate_timeout(machine) if gated and machine.health else None,
        restart=_restart(machine),
        device_allow=_device_allow(machine),
        cpu_quota=_cpu_quota(machine.limits.cpu_quota_percent),
        environment_file=f"{plan.config_dir}/{environment_file(machine)}" if environment else None,
    )
    return OutputFile(machine.unit, content)


def render_environment_file(plan: Plan, machine: Machine, environment) -> OutputFile:
    content = render_template("machine.env.j2", header=HEADER, machine=machine,
                              environment=environment, key=("services", machine.service, "environment"))
    return OutputFile(environment_file(machine), content, 0o600)


def render_health_unit(plan: Plan, machine: Machine) -> OutputFile:
    content = render_template(
        "health.service.j2",
        header=HEADER,
        plan=plan,
        machine=machine,
        key=("services", machine.service, "healthcheck"),
        monitor=[lib_script(plan, "health.sh"), "monitor", machine.name],
    )
    return OutputFile(health_unit(machine), content)


def render(plan: Plan) -> list[OutputFile]:
    gated = gated_units(plan)
    by_name = {m.name: m for m in plan.machines}
    files = []
    for machine in plan.machines:
        environment = environment_via_unit(machine)
        files.append(render_service_unit(plan, machine, machine.unit in gated, by_name, environment))
        if environment:
            files.append(render_environment_file(plan, machine, environment))
        if machine.health:
            files.append(render_health_unit(plan, machine))
    return files
