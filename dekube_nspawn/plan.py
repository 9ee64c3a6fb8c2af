"""Planner: normalized compose project -> IR (`ir.Plan`). Every name, address and path is decided here.

The steps live in `planning/` (one concern each); this module runs them in order and assembles
the machines. Nothing here reads the converting machine: the plan depends only on the project
and the options.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import HostLayout, Plan
from dekube_nspawn.planning import (health, images, lifecycle, limits, names, network, ports,
                                    process, storage, values)
from dekube_nspawn.planning.context import Context, service_path
from dekube_nspawn.planning.keys import SERVICE_KEYS, TOP_LEVEL_KEYS
from dekube_nspawn.runtime import process as runtime_process


@dataclass(frozen=True)
class PlanOptions:
    bridge: str | None = None                 # bridge name of the default network
    subnets: tuple[str, ...] = ()             # "CIDR" (default network) or "NETWORK=CIDR"
    image_transport: str = "docker://"        # or "oci:DIR", "oci-archive:", "docker-archive:", mirror prefix
    image_configs: dict | None = None         # reference -> ir.ImageConfig, from --resolve-images
    layout: HostLayout = HostLayout()


def _warn_unmapped_keys(ctx: Context, services: dict) -> None:
    for key in ctx.data:
        if key.startswith("x-"):
            ctx.warn((key,), "extension field: not used by dekube-nspawn")
        elif key not in TOP_LEVEL_KEYS:
            ctx.warn((key,), "unknown top-level key: ignored")
        elif TOP_LEVEL_KEYS[key]:
            ctx.warn((key,), TOP_LEVEL_KEYS[key])
    for service, svc in services.items():
        for key, value in svc.items():
            path = service_path(service, key)
            if key.startswith("x-"):
                ctx.warn(path, "extension field: not used by dekube-nspawn")
            elif key not in SERVICE_KEYS:
                ctx.warn(path, "unknown service key: ignored")
            elif SERVICE_KEYS[key] and value not in (None, False, [], {}, ""):
                ctx.warn(path, SERVICE_KEYS[key])


def _context(project, options: PlanOptions, diagnostics) -> Context:
    pid = names.project_id(project.name)
    layout = options.layout
    return Context(project=project.name, project_id=pid, data=project.data, options=options,
                   diagnostics=diagnostics, layout=layout,
                   config_dir=posixpath.join(layout.config_dir, pid),
                   state_dir=posixpath.join(layout.state_dir, pid),
                   runtime_dir=posixpath.join(layout.runtime_dir, pid))


def effective_process(image: ir.Image | None, proc: ir.Process, key_path=()) -> ir.EffectiveProcess | None:
    """The complete process when conversion can know it (image resolved, no account name to look
    up in the image); None when bootstrap.sh completes it on the host."""
    if image is None or image.resolved is None:
        return None
    cfg = image.resolved
    defaults = {"entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
                "cmd": list(cfg.cmd) if cfg.cmd is not None else None,
                "env": list(cfg.env), "working_dir": cfg.working_dir, "user": cfg.user}
    compose = {"entrypoint": proc.entrypoint, "command": proc.command,
               "environment": list(proc.environment), "working_dir": proc.working_dir,
               "user": proc.user}
    try:
        eff = runtime_process.effective_process(defaults, compose)
    except runtime_process.ProcessError as exc:
        raise ConversionError(f"image {image.reference}: {exc}", key_path=key_path) from None
    if _names_an_account(eff["user"]):
        # A user or group by name resolves in the image's own /etc/passwd and /etc/group (Docker:
        # `USER app` runs with app's primary gid); only bootstrap.sh has the unpacked image, so
        # it completes this machine's process as it does for an unresolved image.
        return None
    return ir.EffectiveProcess(argv=tuple(eff["argv"]),
                               environment=tuple((k, v) for k, v in eff["environment"]),
                               working_dir=eff["working_dir"], user=eff["user"])


def _names_an_account(user: str | None) -> bool:
    return bool(user) and not all(part.isdigit() for part in user.split(":") if part)


def _namespace(att, machine: str, interfaces, machine_names, attachments, addresses):
    """(netns name, joined machine, address a port proxy connects to) of one machine."""
    if att.mode is ir.NetworkMode.HOST:
        return "", None, None
    if att.mode is ir.NetworkMode.JOIN:
        joined = machine_names[(att.join_service, 1)]
        nets = attachments[att.join_service].networks
        return joined, joined, addresses[(joined, nets[0])] if nets else None
    return machine, None, interfaces[0].address if interfaces else None


def build_plan(project, options: PlanOptions, diagnostics) -> Plan:
    ctx = _context(project, options, diagnostics)
    services = {name: dict(svc or {}) for name, svc in sorted(project.services.items())}
    _warn_unmapped_keys(ctx, services)

    replicas = {s: lifecycle.replica_count(ctx, s, svc) for s, svc in services.items()}
    machine_names = names.machine_names(ctx.project, replicas)
    service_ids = names.service_ids(ctx.project, list(services))
    planned = sorted(machine_names)          # (service, replica)
    units_of = {s: [names.unit_name(machine_names[(s, r)]) for r in range(1, replicas[s] + 1)]
                for s in services}

    refs = {}
    for s, svc in services.items():
        ref = images.image_reference(ctx, s, svc)
        if ref is not None and replicas[s]:
            refs[s] = (ref, images.pull_policy(ctx, s, svc))
    image_by_ref = images.plan_images(ctx, refs)

    attachments = network.plan_attachments(ctx, services)
    for s, att in attachments.items():
        if att.mode is ir.NetworkMode.JOIN and not replicas[att.join_service]:
            ctx.warn(service_path(s, "network_mode"), f"{att.join_service!r} has no machine: "
                     "own network namespace with loopback only")
            attachments[s] = network.Attachment(ir.NetworkMode.NONE)
        elif att.mode is ir.NetworkMode.JOIN and replicas[att.join_service] > 1:
            ctx.warn(service_path(s, "network_mode"), f"joins replica 1 of {att.join_service!r}")
    used_networks = [n for s, att in attachments.items() if replicas[s] for n in att.networks]
    networks = network.plan_networks(ctx, used_networks)
    machine_list = [(s, r, machine_names[(s, r)]) for s, r in planned]
    addresses = network.assign_addresses(ctx, networks, services, attachments, machine_list)

    volumes = storage.plan_volumes(ctx)
    layer_dirs = {m: posixpath.join(ctx.state_dir, "machines", m) for _, _, m in machine_list}
    own_mounts = {}
    per_replica_mounts = {}
    for s, r, m in machine_list:
        mounts = storage.plan_own_mounts(ctx if r == 1 else _quiet(ctx), s, services[s],
                                         volumes, layer_dirs[m])
        per_replica_mounts[(s, r)] = mounts
        if r == 1:
            own_mounts[s] = mounts
    with_from = storage.add_volumes_from(ctx, services, own_mounts)

    oneshots = lifecycle.completed_dependencies(services)
    health_of = {}
    for s, r, m in machine_list:
        health_of[(s, r)] = health.plan_health(ctx if r == 1 else _quiet(ctx), s, services[s], m)
    has_health = {s: health_of.get((s, 1)) is not None for s in services}
    container_names = {s: str(svc["container_name"]) for s, svc in services.items()
                       if svc.get("container_name")}
    for s, count in replicas.items():
        if count > 1 and s in container_names:
            ctx.warn(service_path(s, "container_name"), "a container name with several "
                     "replicas: every replica answers to it in /etc/hosts")

    for s, count in replicas.items():
        ports.warn_scaled(ctx, s, services[s], count)
    taken_ports: set = set()
    machines = []
    for s, r, m in machine_list:
        svc = services[s]
        c = ctx if r == 1 else _quiet(ctx)   # one warning per key path, not one per replica
        att = attachments[s]
        interfaces = network.plan_interfaces(c, s, svc, r, m, att, networks, addresses)
        netns, join_machine, address = _namespace(att, m, interfaces, machine_names,
                                                  attachments, addresses)
        proc = process.plan_process(c, s, svc, m)
        image = image_by_ref.get(refs[s][0]) if s in refs else None
        files = storage.plan_secret_files(c, s, svc, m)
        mounts = (list(with_from[s]) if r == 1 else
                  per_replica_mounts[(s, r)] + with_from[s][len(own_mounts[s]):])
        privileges = limits.plan_privileges(c, s, svc)
        if privileges.sysctls and att.mode is ir.NetworkMode.HOST:
            c.warn(service_path(s, "sysctls"), "ignored: with network_mode host they would "
                   "change the host")
            privileges = replace(privileges, sysctls=())
        machines.append(ir.Machine(
            service=s, replica=r, name=m, unit=names.unit_name(m), image=image,
            rootfs=posixpath.join(layer_dirs[m], "root"), layer_dir=layer_dirs[m],
            process=proc, mounts=tuple(mounts), secrets=files,
            network_mode=att.mode, netns=netns, join_machine=join_machine,
            interfaces=interfaces,
            ports=ports.plan_ports(c, s, svc, r, service_ids[s], address, taken_ports),
            dns=tuple(values.unescape(str(d)) for d in svc.get("dns") or ()),
            dns_search=tuple(values.unescape(str(d)) for d in svc.get("dns_search") or ()),
            health=health_of[(s, r)],
            dependencies=lifecycle.plan_dependencies(c, s, svc, services, units_of, has_health),
            lifecycle=lifecycle.plan_lifecycle(c, s, svc, s in oneshots),
            limits=limits.plan_limits(c, s, svc),
            privileges=privileges,
            labels=tuple((str(k), values.unescape(str(v)))
                         for k, v in sorted((svc.get("labels") or {}).items())),
            effective=effective_process(image, proc, service_path(s)),
            extra_hosts=network.parse_extra_hosts(c, s, svc),
            service_id=service_ids[s]))

    _warn_shared_extra_hosts(ctx, machines)
    used_volumes = {m.source for mach in machines for m in mach.mounts
                    if m.kind is ir.MountKind.VOLUME}
    return Plan(
        project=ctx.project, target=names.target_name(ctx.project),
        project_dir=project.project_dir, layout=ctx.layout, machines=tuple(machines),
        networks=tuple(networks[n] for n in sorted(networks)),
        volumes=tuple(v for _, v in sorted(volumes.items()) if v.host_path in used_volumes),
        images=tuple(image_by_ref[r] for r in sorted(image_by_ref)),
        hosts=network.plan_hosts(machines, container_names),
        config_dir=ctx.config_dir, state_dir=ctx.state_dir, runtime_dir=ctx.runtime_dir)


def _warn_shared_extra_hosts(ctx: Context, machines: list[ir.Machine]) -> None:
    """All machines share one /etc/hosts, so one service's extra_hosts reach the others too."""
    per_service = {m.service: m.extra_hosts for m in machines}
    if len(set(per_service.values())) > 1:
        for service, extra in sorted(per_service.items()):
            if extra:
                ctx.warn(service_path(service, "extra_hosts"), "every machine of the project "
                         "sees these entries (one shared /etc/hosts)")


class _QuietDiagnostics:
    """Replicas 2..N repeat replica 1's warnings; errors still surface."""

    strict = False

    def warn(self, key_path, message):
        pass


def _quiet(ctx: Context) -> Context:
    return replace(ctx, diagnostics=_QuietDiagnostics())
