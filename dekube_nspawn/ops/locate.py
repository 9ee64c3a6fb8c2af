"""Find an installed project from what install.sh recorded, without the compose file.

install.sh writes `<config_root>/<project>/installed-files` (one absolute path a line). The
machine units it lists (`nspawn-<machine>.service`) carry, in their Description=, the compose
service of each machine, and in their ExecStartPre= lines the image key and the addresses; the
published-port sockets and their proxies name the machine unit they forward to. That is all the
day-2 verbs need, so they work from any directory with `-p NAME`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from dekube_nspawn.errors import DekubeError

CONFIG_ROOT = "/etc/dekube-nspawn"
STATE_ROOT = "/var/lib/dekube-nspawn"
RUNTIME_ROOT = "/run/dekube-nspawn"
INSTALLED_FILES = "installed-files"

_DESCRIPTION = re.compile(r"^Description=.*: service (\S+)(?: replica (\d+))? \(machine ([^)]+)\)\s*$", re.M)
_ROOTFS_UP = re.compile(r"^ExecStartPre=\S*/rootfs\.sh up (\S+) (\S+)\s*$", re.M)
_NETNS_UP = re.compile(r"^ExecStartPre=\S*/netns\.sh up (\S+)((?: \S+)*)\s*$", re.M)
_PROXY_TARGET = re.compile(r"^ExecStart=\S*systemd-socket-proxyd (\S+)\s*$", re.M)
_REQUIRES = re.compile(r"^(?:Requires|BindsTo)=(.*)$", re.M)
_LISTEN = re.compile(r"^Listen(Stream|Datagram)=(\S+)\s*$", re.M)
_ENV_FILE = re.compile(r"^EnvironmentFile=-?(\S+)\s*$", re.M)


class ProjectNotInstalled(DekubeError):
    pass


class UnknownService(DekubeError):
    pass


@dataclass(frozen=True)
class PublishedPort:
    listen: str         # 127.0.0.1:8080, 0.0.0.0:8080, [::]:8080
    target: str         # <machine address>:<container port>
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.listen}->{self.target.rpartition(':')[2]}/{self.protocol}"


@dataclass
class InstalledMachine:
    service: str
    replica: int
    name: str
    unit: str
    image_key: str = ""
    addresses: list[str] = field(default_factory=list)   # ADDR/PREFIX as netns.sh configures them
    ports: list[PublishedPort] = field(default_factory=list)
    env_file: str | None = None


@dataclass
class InstalledProject:
    name: str
    config_dir: str
    files: list[str]
    machines: list[InstalledMachine]

    @property
    def target(self) -> str:
        return f"dekube-{self.name}.target"

    @property
    def state_dir(self) -> str:
        return os.path.join(STATE_ROOT, self.name)

    @property
    def runtime_dir(self) -> str:
        return os.path.join(RUNTIME_ROOT, self.name)

    def services(self) -> list[str]:
        return sorted({m.service for m in self.machines})

    def units(self) -> list[str]:
        """Every unit install.sh put in place (the target included)."""
        return [os.path.basename(f) for f in self.files
                if f.endswith((".service", ".socket", ".target")) and "/systemd/" in f]

    def machines_of(self, services) -> list[InstalledMachine]:
        """The machines of `services` (all when empty), in the order asked; an unknown name is
        an error that lists the known ones."""
        if not services:
            return list(self.machines)
        known = self.services()
        unknown = [s for s in services if s not in known]
        if unknown:
            raise UnknownService(
                f"no such service: {', '.join(unknown)} (project {self.name} has {', '.join(known) or 'no services'}; "
                "`dekube-nspawn -p " + self.name + " ps` lists them)")
        return [m for s in services for m in self.machines if m.service == s]

    def installed_nspawn(self, machine: InstalledMachine) -> str:
        """The .nspawn file systemd-nspawn reads (with bootstrap's image-derived [Exec] block)."""
        for f in self.files:
            if f.endswith(f"/nspawn/{machine.name}.nspawn"):
                return f
        return f"/etc/systemd/nspawn/{machine.name}.nspawn"


def installed_projects(config_root: str | None = None) -> list[str]:
    config_root = config_root or CONFIG_ROOT
    try:
        names = os.listdir(config_root)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isfile(os.path.join(config_root, n, INSTALLED_FILES)))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def parse_machine_unit(unit_text: str, unit: str) -> InstalledMachine | None:
    """An InstalledMachine from a `nspawn-<machine>.service` unit; None for other units."""
    m = _DESCRIPTION.search(unit_text)
    if not m:
        return None
    machine = InstalledMachine(service=m.group(1), replica=int(m.group(2) or 1), name=m.group(3), unit=unit)
    rootfs = _ROOTFS_UP.search(unit_text)
    if rootfs:
        machine.image_key = rootfs.group(2)
    netns = _NETNS_UP.search(unit_text)
    if netns:
        words = netns.group(2).split()
        # groups of 5: IFNAME BRIDGE HOSTVETH ADDR/PREFIX GW (docs/runtime.md, netns.sh)
        machine.addresses = [words[i + 3] for i in range(0, len(words) - 4, 5)]
    env_file = _ENV_FILE.search(unit_text)
    if env_file:
        machine.env_file = env_file.group(1)
    return machine


def parse_port_units(socket_text: str, proxy_text: str) -> tuple[list[str], PublishedPort | None]:
    """(machine units the proxy requires, the published port) of a port socket + its service."""
    listen = _LISTEN.search(socket_text)
    target = _PROXY_TARGET.search(proxy_text)
    if not listen or not target:
        return [], None
    required = [u for line in _REQUIRES.findall(proxy_text) for u in line.split()]
    protocol = "tcp" if listen.group(1) == "Stream" else "udp"
    return required, PublishedPort(listen.group(2), target.group(1), protocol)


def load_installed(name: str, config_root: str | None = None, read=_read) -> InstalledProject:
    config_root = config_root or CONFIG_ROOT
    config_dir = os.path.join(config_root, name)
    manifest = os.path.join(config_dir, INSTALLED_FILES)
    text = read(manifest)
    if not text:
        others = installed_projects(config_root)
        hint = f" Installed projects: {', '.join(others)}." if others else " No project is installed."
        raise ProjectNotInstalled(
            f"project {name!r} is not installed on this host ({manifest} not found). Run "
            f"`dekube-nspawn up` in its directory, or name an installed project with -p NAME.{hint}")
    files = [line for line in text.splitlines() if line.startswith("/")]
    machines: dict[str, InstalledMachine] = {}
    for f in files:
        base = os.path.basename(f)
        if base.startswith("nspawn-") and base.endswith(".service"):
            machine = parse_machine_unit(read(f), base)
            if machine:
                machines[base] = machine
    for f in files:
        if f.endswith(".socket"):
            required, port = parse_port_units(read(f), read(f[: -len(".socket")] + ".service"))
            for unit in required:
                if port and unit in machines:
                    machines[unit].ports.append(port)
    ordered = sorted(machines.values(), key=lambda m: (m.service, m.replica))
    return InstalledProject(name=name, config_dir=config_dir, files=files, machines=ordered)


def project_name_from_args(args, environ) -> str:
    """-p NAME as given (mapped like the planner maps it); else the compose project's name,
    loaded the same way `config` and `convert` do."""
    from dekube_nspawn.planning.names import project_id
    if getattr(args, "project_name", None):
        return project_id(args.project_name)
    from dekube_nspawn.cli import load_options_from_args
    from dekube_nspawn.errors import Diagnostics
    from dekube_nspawn.loader import load_project
    try:
        project = load_project(load_options_from_args(args, environ), Diagnostics())
    except DekubeError as e:
        raise DekubeError(f"cannot tell which project is meant: {e}. Name an installed project with "
                          "-p NAME (or run in the project's directory).") from None
    return project_id(project.name)


def locate(args, environ) -> InstalledProject:
    return load_installed(project_name_from_args(args, environ))
