"""The IR: what each machine *is*, decided once, before anything is rendered.

The planner (`plan.py`) reads the normalized compose project and fills these types; the emitters
(`emit/`) are pure functions of them. Every name, path, address and interface name a file
mentions is decided here, so two artifacts can never disagree about it, and every value is the
real value (unescaped): escaping for a target syntax is the emitter's job.

Host layout (all absolute paths on the host that runs the project; see `HostLayout`):
  /etc/systemd/nspawn/<machine>.nspawn           settings of each machine (trusted location)
  /etc/systemd/system/nspawn-<machine>.service   the unit running systemd-nspawn
  /etc/systemd/system/dekube-<project>.target    the project
  /etc/systemd/network/<bridge>.netdev|.network  one bridge per compose network
  /etc/dekube-nspawn/<project>/                  hosts, resolv.conf, scripts, health checks
  /var/lib/dekube-nspawn/images/<image>/         pulled + unpacked images, shared by projects
  /var/lib/dekube-nspawn/<project>/              machine layers, named and anonymous volumes
  /run/dekube-nspawn/<project>/                  runtime state (health, secrets copied with mode)
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum


def record(cls):
    """`@dataclass(frozen=True)`, with one shared __eq__, __hash__ and __repr__ for all IR types
    instead of three generated (and compiled) per type: the IR module loads in half the time
    (compiling ~120 generated functions was ~20 ms of every run). Same behaviour: equal when the
    same type with equal fields, the hash of the field values, `Type(field=value, ...)`."""
    cls.__eq__ = _record_eq
    cls.__hash__ = _record_hash
    cls.__repr__ = _record_repr
    return dataclass(frozen=True)(cls)


_FIELD_NAMES: dict = {}


def _names(cls) -> tuple:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _record_eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = _names(self.__class__)
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _record_hash(self):
    return hash(tuple(getattr(self, n) for n in _names(self.__class__)))


def _record_repr(self):
    return f"{self.__class__.__qualname__}(" + ", ".join(
        f"{n}={getattr(self, n)!r}" for n in _names(self.__class__)) + ")"


# ---------------------------------------------------------------------------------------------
# Images


@record
class ImageConfig:
    """An image's own process defaults (OCI image config), known only with --resolve-images."""

    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    working_dir: str | None
    user: str | None
    digest: str                      # sha256:... of the manifest, pinned in bootstrap.sh


@record
class Image:
    reference: str                   # as written in compose, e.g. "busybox:1.36"
    key: str                         # filesystem-safe, unique, stable name of the unpacked image
    transport: str                   # "docker://" by default; "oci:", "oci-archive:", ... by option
    pull_policy: str                 # compose pull_policy: always, missing, never, build, ...
    resolved: ImageConfig | None = None


# ---------------------------------------------------------------------------------------------
# Process


@record
class Process:
    """What compose says about the payload; `None` means "the image's default applies"."""

    entrypoint: tuple[str, ...] | None    # `$$` already unescaped to `$`
    command: tuple[str, ...] | None
    environment: tuple[tuple[str, str], ...]   # compose environment + env_file, in order
    working_dir: str | None
    user: str | None                 # "name", "uid", "uid:gid", "name:group", as compose wrote it
    init: bool                       # compose `init: true` -> nspawn ProcessTwo=yes
    hostname: str
    domainname: str | None
    tty: bool
    stdin_open: bool


@record
class EffectiveProcess:
    """The complete process after compose's rules over the image defaults (runtime/process.py);
    known at conversion time only with --resolve-images, else bootstrap.sh computes it."""

    argv: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]  # image ENV, then compose environment over it
    working_dir: str
    user: str | None


# ---------------------------------------------------------------------------------------------
# Storage


class MountKind(Enum):
    BIND = "bind"                # host path, as compose named it (absolute)
    VOLUME = "volume"            # named volume: a persistent directory under the state dir
    ANONYMOUS = "anonymous"      # anonymous volume: per-machine persistent directory
    TMPFS = "tmpfs"
    SECRET = "secret"            # a file prepared at start with its mode/uid/gid, then bound read-only
    CONFIG = "config"


@record
class Mount:
    kind: MountKind
    source: str                  # absolute host path (for TMPFS: empty)
    target: str                  # absolute path inside the machine
    read_only: bool = False
    create_host_path: bool = False   # binds: create the source directory when missing
    tmpfs_size: int | None = None    # bytes
    tmpfs_mode: int | None = None    # e.g. 0o1777
    subpath: str | None = None
    copy_image_content: bool = True  # volumes: a new, empty volume takes the image's content (nocopy: False)


@record
class Volume:
    """A named volume: data that outlives machines; removed only when asked (down --volumes)."""

    name: str                    # compose name (key in top-level volumes)
    host_path: str
    external: bool = False


@record
class SecretFile:
    """A secret or config the machine sees as a file with a given mode and owner.

    `source_file` is a host file named by the compose file; `environment` names a variable whose
    value is read when install.sh runs, so the value never lands in the output directory;
    `content` (configs only: configs are not secret) is inline content from the compose file.
    The file is copied at start to `runtime_path` (root-only directory) with mode/uid/gid and bound
    read-only at `target`.
    """

    kind: str                    # "secret" or "config"
    name: str
    target: str                  # absolute path inside the machine
    runtime_path: str            # host path the file is prepared at
    mode: int
    uid: str | None
    gid: str | None
    source_file: str | None = None
    environment: str | None = None
    content: str | None = None


# ---------------------------------------------------------------------------------------------
# Network


@record
class Network:
    name: str                    # compose network key
    bridge: str                  # interface name, at most 15 bytes
    subnet: str                  # e.g. "10.89.3.0/24"
    gateway: str                 # the bridge's own address, the machines' default route
    internal: bool = False       # no masquerading/forwarding to the outside
    external: bool = False       # not created by us; the bridge must exist


@record
class Interface:
    """One veth: `host_name` joins the bridge; `name` (eth0, eth1, ...) lives in the machine."""

    network: str                 # compose network key
    bridge: str
    host_name: str               # at most 15 bytes
    name: str
    address: str                 # e.g. "10.89.3.2"
    prefix_length: int
    gateway: str
    aliases: tuple[str, ...] = ()   # names this machine answers to on this network
    mac_address: str | None = None


class NetworkMode(Enum):
    BRIDGED = "bridged"          # own netns with one interface per compose network
    HOST = "host"
    NONE = "none"                # own netns with loopback only
    JOIN = "join"                # another machine's netns (compose `service:X` / `container:X`)


@record
class PublishedPort:
    host_ip: str                 # "0.0.0.0", "127.0.0.1", "::", ...
    host_port: int
    machine_address: str         # where the proxy connects
    target_port: int
    protocol: str                # "tcp" (udp is warned about by the planner and not published)
    socket_unit: str             # unit name stem, e.g. "dekube-hello-web-tcp-8080"


@record
class HostEntry:
    address: str
    names: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Health, ordering, lifecycle, limits


@record
class HealthCheck:
    test: tuple[str, ...]        # argv to run inside the machine ("CMD-SHELL" already turned into sh -c)
    interval_s: float
    timeout_s: float
    retries: int
    start_period_s: float
    start_interval_s: float
    script_path: str             # host path of the check script
    state_path: str              # host path of the file holding "starting|healthy|unhealthy"
    unit: str = ""               # "dekube-<project>-<service>[-N]-health.service" (monitor unit)


class DependencyCondition(Enum):
    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


@record
class Dependency:
    unit: str                    # the unit depended on, e.g. "nspawn-hello-db.service"
    condition: DependencyCondition
    required: bool = True        # False: Wants= instead of Requires=
    restart: bool = False        # compose `restart: true`: restart with the dependency


class RestartPolicy(Enum):
    NO = "no"
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    UNLESS_STOPPED = "unless-stopped"


@record
class Lifecycle:
    restart: RestartPolicy
    max_restarts: int | None     # on-failure:N
    stop_signal: str             # e.g. "SIGTERM"
    stop_grace_s: float
    oneshot: bool                # something waits for it with service_completed_successfully
    restart_delay_s: float | None = None   # deploy.restart_policy.delay -> RestartSec=


@record
class Limits:
    memory_max: int | None = None        # bytes
    memory_swap_max: int | None = None
    memory_low: int | None = None
    cpu_quota_percent: float | None = None   # cpus: 1.5 -> 150.0
    cpu_weight: int | None = None
    tasks_max: int | None = None
    ulimits: tuple[tuple[str, int | None, int | None], ...] = ()   # (nspawn Limit name, soft, hard)


@record
class Privileges:
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    devices: tuple[tuple[str, str, str], ...] = ()   # (host path, machine path, permissions)
    sysctls: tuple[tuple[str, str], ...] = ()        # net.* only: applied in the netns
    read_only_root: bool = False
    no_new_privileges: bool = False


# ---------------------------------------------------------------------------------------------
# The machine and the project


@record
class Machine:
    service: str                 # compose service name
    replica: int                 # 1-based
    name: str                    # machine name: valid hostname, at most 64 bytes, unique on the host
    unit: str                    # "nspawn-<machine>.service"
    image: Image | None          # None: `build:` without `image:` (warned)
    rootfs: str                  # host path of the machine's root (overlay over the image)
    layer_dir: str               # host path holding the overlay's upper and work dirs
    process: Process
    mounts: tuple[Mount, ...]
    secrets: tuple[SecretFile, ...]
    network_mode: NetworkMode
    netns: str                   # netns name under /run/netns ("" for HOST)
    join_machine: str | None     # NetworkMode.JOIN: the machine whose netns is joined
    interfaces: tuple[Interface, ...]
    ports: tuple[PublishedPort, ...]
    dns: tuple[str, ...]
    dns_search: tuple[str, ...]
    health: HealthCheck | None
    dependencies: tuple[Dependency, ...]
    lifecycle: Lifecycle
    limits: Limits
    privileges: Privileges
    labels: tuple[tuple[str, str], ...] = ()
    effective: EffectiveProcess | None = None   # with --resolve-images (image.resolved known)
    extra_hosts: tuple[HostEntry, ...] = ()     # this service's extra_hosts (also in Plan.hosts)
    service_id: str = ""         # "<project>-<service>" as a label: stem of port/health unit names


@record
class HostLayout:
    """Where things live on the host; decided once so that install and uninstall agree."""

    nspawn_dir: str = "/etc/systemd/nspawn"
    unit_dir: str = "/etc/systemd/system"
    network_dir: str = "/etc/systemd/network"
    config_dir: str = "/etc/dekube-nspawn"       # + /<project>
    state_dir: str = "/var/lib/dekube-nspawn"    # images/ shared; /<project> per project
    runtime_dir: str = "/run/dekube-nspawn"      # + /<project>


@record
class Plan:
    project: str
    target: str                  # "dekube-<project>.target"
    project_dir: str             # absolute; where relative compose paths pointed
    layout: HostLayout
    machines: tuple[Machine, ...]
    networks: tuple[Network, ...]
    volumes: tuple[Volume, ...]
    images: tuple[Image, ...]    # distinct images, each pulled and unpacked once
    hosts: tuple[HostEntry, ...]
    config_dir: str              # layout.config_dir/<project>
    state_dir: str               # layout.state_dir/<project>
    runtime_dir: str             # layout.runtime_dir/<project>
    labels: tuple[tuple[str, str], ...] = field(default_factory=tuple)
