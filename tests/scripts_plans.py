"""Hand-built `ir.Plan`s for the host-script tests (until the planner lands, and for odd values
the planner would rarely produce). `layout_root` puts every host path under a temp directory so
functional tests run the generated scripts for real without touching the host's /etc or /var."""
from __future__ import annotations

import hashlib

from dekube_nspawn import ir
from dekube_nspawn.plan import effective_process


def layout(root: str | None) -> ir.HostLayout:
    if root is None:
        return ir.HostLayout()
    return ir.HostLayout(nspawn_dir=f"{root}/etc/systemd/nspawn", unit_dir=f"{root}/etc/systemd/system",
                         network_dir=f"{root}/etc/systemd/network", config_dir=f"{root}/etc/dekube-nspawn",
                         state_dir=f"{root}/var/lib/dekube-nspawn", runtime_dir=f"{root}/run/dekube-nspawn")


def image(reference: str, transport: str = "docker://", resolved: ir.ImageConfig | None = None,
          pull_policy: str = "missing") -> ir.Image:
    key = reference.replace("/", "_").replace(":", "_").replace("@", "_")
    return ir.Image(reference=reference, key=key, transport=transport, pull_policy=pull_policy,
                    resolved=resolved)


def process(**kw) -> ir.Process:
    base = dict(entrypoint=None, command=None, environment=(), working_dir=None, user=None,
                init=False, hostname="h", domainname=None, tty=False, stdin_open=False)
    base.update(kw)
    return ir.Process(**base)


def veth(machine: str, network: str) -> str:
    return "vd" + hashlib.sha256(f"{machine}\0{network}".encode()).hexdigest()[:13]


def machine(plan_project: str, lay: ir.HostLayout, service: str, img: ir.Image | None, *,
            networks=(), mode=ir.NetworkMode.BRIDGED, join=None, mounts=(), secrets=(),
            health=None, user=None, init=False, sysctls=(), mac=None, environment=()) -> ir.Machine:
    name = f"{plan_project}-{service}"
    state = f"{lay.state_dir}/{plan_project}"
    interfaces = tuple(
        ir.Interface(network=n.name, bridge=n.bridge, host_name=veth(name, n.name), name=f"eth{i}",
                     address=addr, prefix_length=int(n.subnet.split("/")[1]), gateway=n.gateway,
                     mac_address=mac if i == 0 else None)
        for i, (n, addr) in enumerate(networks))
    proc = process(user=user, init=init, hostname=service, environment=environment)
    return ir.Machine(
        service=service, replica=1, name=name, unit=f"nspawn-{name}.service", image=img,
        effective=effective_process(img, proc),
        rootfs=f"{state}/machines/{name}/root", layer_dir=f"{state}/machines/{name}",
        process=proc,
        mounts=tuple(mounts), secrets=tuple(secrets),
        network_mode=mode, netns="" if mode in (ir.NetworkMode.HOST, ir.NetworkMode.JOIN) else name,
        join_machine=join, interfaces=interfaces, ports=(), dns=(), dns_search=(), health=health,
        dependencies=(),
        lifecycle=ir.Lifecycle(restart=ir.RestartPolicy.NO, max_restarts=None, stop_signal="SIGTERM",
                               stop_grace_s=10, oneshot=False),
        limits=ir.Limits(), privileges=ir.Privileges(sysctls=tuple(sysctls)))


def health(project: str, lay: ir.HostLayout, name: str, test, **kw) -> ir.HealthCheck:
    base = dict(interval_s=30.0, timeout_s=30.0, retries=3, start_period_s=0.0, start_interval_s=5.0)
    base.update(kw)
    return ir.HealthCheck(test=tuple(test), script_path=f"{lay.config_dir}/{project}/health/{name}.sh",
                          state_path=f"{lay.runtime_dir}/{project}/health/{name}", **base)


def plan(project: str, lay: ir.HostLayout, machines, networks=(), volumes=(), images=None,
         project_dir: str = "/srv/project") -> ir.Plan:
    if images is None:
        seen = {}
        for m in machines:
            if m.image is not None:
                seen.setdefault(m.image.key, m.image)
        images = tuple(seen.values())
    return ir.Plan(project=project, target=f"dekube-{project}.target", project_dir=project_dir,
                   layout=lay, machines=tuple(machines), networks=tuple(networks),
                   volumes=tuple(volumes), images=tuple(images), hosts=(),
                   config_dir=f"{lay.config_dir}/{project}", state_dir=f"{lay.state_dir}/{project}",
                   runtime_dir=f"{lay.runtime_dir}/{project}")


def rich_plan(root: str | None = None, project: str = "demo", transport: str = "docker://") -> ir.Plan:
    """Every feature the scripts handle, with values that need quoting."""
    lay = layout(root)
    state = f"{lay.state_dir}/{project}"
    front = ir.Network(name="front", bridge="dk-demo-front", subnet="10.200.1.0/24", gateway="10.200.1.1")
    back = ir.Network(name="back net", bridge="dk-demo-back", subnet="10.200.2.0/24",
                      gateway="10.200.2.1", internal=True)
    bb = image("busybox:1.36", transport)
    pinned = image("registry.example:5000/team/app:v1", transport, resolved=ir.ImageConfig(
        entrypoint=("/app",), cmd=None, env=(("PATH", "/bin"),), working_dir="/", user=None,
        digest="sha256:" + "a" * 64))
    web_name = f"{project}-web"
    web = machine(project, lay, "web", bb, networks=((front, "10.200.1.2"), (back, "10.200.2.2")),
                  user="1000:1000", sysctls=(("net.ipv4.ip_forward", "1"),), mac="02:42:ac:11:00:02",
                  mounts=(
                      ir.Mount(ir.MountKind.BIND, f"{root or ''}/srv/it's here/data", "/data",
                               create_host_path=True),
                      ir.Mount(ir.MountKind.VOLUME, f"{state}/volumes/db data", "/var/lib/db"),
                      ir.Mount(ir.MountKind.ANONYMOUS, f"{state}/anonymous/{web_name}/0", "/cache"),
                      ir.Mount(ir.MountKind.TMPFS, "", "/tmp", tmpfs_size=1 << 20),
                  ),
                  secrets=(
                      ir.SecretFile(kind="secret", name="api token", target="/run/secrets/api token",
                                    runtime_path=f"{lay.runtime_dir}/{project}/secrets/{web_name}/api token",
                                    mode=0o400, uid="1000", gid="1000", environment="API_TOKEN"),
                      ir.SecretFile(kind="config", name="motd", target="/etc/motd",
                                    runtime_path=f"{lay.runtime_dir}/{project}/configs/{web_name}/motd",
                                    mode=0o444, uid=None, gid=None, content="it's $HOME `x`\n"),
                  ),
                  health=health(project, lay, web_name, ["sh", "-c", "wget -q -O- http://localhost/ | grep 'ok'"],
                                interval_s=0.5, timeout_s=2.5, retries=2, start_period_s=1.0,
                                start_interval_s=0.2))
    db = machine(project, lay, "db", pinned, networks=((back, "10.200.2.3"),), init=True,
                 health=health(project, lay, f"{project}-db", ["true"]))
    lonely = machine(project, lay, "lonely", bb, mode=ir.NetworkMode.NONE)
    side = machine(project, lay, "side", bb, mode=ir.NetworkMode.JOIN, join=web_name)
    return plan(project, lay, [web, db, lonely, side], networks=(front, back),
                volumes=(ir.Volume(name="db data", host_path=f"{state}/volumes/db data"),))


def write_output(files, out_dir) -> None:
    """Write rendered OutputFiles like the converter does (modes included)."""
    import os
    for f in files:
        path = os.path.join(str(out_dir), f.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(f.content)
        os.chmod(path, f.mode)


def busybox_layout(layout_dir, tag: str, env: str = "PATH=/bin", user: str | None = None) -> str:
    """A one-layer OCI image holding the static busybox, built offline with umoci; returns its
    manifest digest."""
    import os
    import subprocess
    layout_dir = str(layout_dir)
    if not os.path.exists(os.path.join(layout_dir, "index.json")):
        subprocess.run(["umoci", "init", "--layout", layout_dir], check=True)
    ref = f"{layout_dir}:{tag}"
    subprocess.run(["umoci", "new", "--image", ref], check=True)
    subprocess.run(["umoci", "insert", "--image", ref, "/bin/busybox", "/bin/busybox"], check=True,
                   capture_output=True)
    args = ["umoci", "config", "--image", ref, "--config.entrypoint", "/bin/busybox",
            "--config.cmd", "sh", "--config.env", env, "--config.workingdir", "/tmp"]
    if user:
        args += ["--config.user", user]
    subprocess.run(args, check=True)
    out = subprocess.run(["skopeo", "--insecure-policy", "inspect", "--format", "{{.Digest}}",
                          f"oci:{ref}"], check=True, capture_output=True, text=True)
    return out.stdout.strip()
