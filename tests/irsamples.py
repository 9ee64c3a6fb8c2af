"""Hand-built IR plans for emitter tests (independent of the planner)."""
from __future__ import annotations

from dataclasses import replace

from dekube_nspawn import ir

LAYOUT = ir.HostLayout()


def image(ref="busybox:1.36", key="busybox-1.36", resolved=None) -> ir.Image:
    return ir.Image(reference=ref, key=key, transport="docker://", pull_policy="missing",
                    resolved=resolved)


def machine(project="demo", service="web", replica=1, **changes) -> ir.Machine:
    name = f"{project}-{service}" if replica == 1 else f"{project}-{service}-{replica}"
    state = f"{LAYOUT.state_dir}/{project}"
    m = ir.Machine(
        service=service, replica=replica, name=name, unit=f"nspawn-{name}.service",
        image=image(), rootfs=f"{state}/machines/{name}/root", layer_dir=f"{state}/machines/{name}",
        process=ir.Process(entrypoint=None, command=None, environment=(), working_dir=None,
                           user=None, init=False, hostname=service, domainname=None,
                           tty=False, stdin_open=False),
        mounts=(), secrets=(), network_mode=ir.NetworkMode.BRIDGED, netns=name, join_machine=None,
        interfaces=(ir.Interface(network="default", bridge="dk-demo-def", host_name="vd0123456789abc",
                                 name="eth0", address="10.200.0.2", prefix_length=24,
                                 gateway="10.200.0.1"),),
        ports=(), dns=(), dns_search=(), health=None, dependencies=(),
        lifecycle=ir.Lifecycle(restart=ir.RestartPolicy.NO, max_restarts=None, stop_signal="SIGTERM",
                               stop_grace_s=10.0, oneshot=False),
        limits=ir.Limits(), privileges=ir.Privileges(), service_id=f"{project}-{service}",
    )
    return replace(m, **changes)


def health(machine_name="demo-web", **changes) -> ir.HealthCheck:
    h = ir.HealthCheck(test=("CMD", "true"), interval_s=5.0, timeout_s=2.0, retries=3,
                       start_period_s=10.0, start_interval_s=5.0,
                       script_path=f"/etc/dekube-nspawn/demo/health/{machine_name}.sh",
                       state_path=f"/run/dekube-nspawn/demo/health/{machine_name}",
                       unit=f"dekube-{machine_name}-health.service")
    return replace(h, **changes)


def plan(*machines, project="demo", networks=None, hosts=None) -> ir.Plan:
    machines = machines or (machine(project=project),)
    if networks is None:
        networks = (ir.Network(name="default", bridge="dk-demo-def", subnet="10.200.0.0/24",
                               gateway="10.200.0.1"),)
    if hosts is None:
        hosts = tuple(ir.HostEntry(i.address, (m.service, m.name)) for m in machines
                      for i in m.interfaces[:1])
    images = tuple({m.image.key: m.image for m in machines if m.image}.values())
    return ir.Plan(project=project, target=f"dekube-{project}.target", project_dir="/srv/demo",
                   layout=LAYOUT, machines=tuple(machines), networks=networks, volumes=(),
                   images=images, hosts=hosts, config_dir=f"{LAYOUT.config_dir}/{project}",
                   state_dir=f"{LAYOUT.state_dir}/{project}",
                   runtime_dir=f"{LAYOUT.runtime_dir}/{project}")
