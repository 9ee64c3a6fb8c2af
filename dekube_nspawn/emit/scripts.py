"""Helper scripts under `lib/` (netns.sh, rootfs.sh, prepare.sh, health.sh), rendered from the IR.

The units run these as ExecStartPre/ExecStartPost/ExecStopPost (docs/runtime.md). Each script
carries the project's paths and a per-machine table generated from the plan, so the only input a
unit passes is the machine name (plus the interface arguments of `netns.sh up`, per the contract)
and a script never acts on a machine the project does not have.

Also home of the Jinja environment shared by the host-script emitters (bootstrap, install, health).
"""
from __future__ import annotations

import functools
import hashlib
import pathlib
import re
from typing import NamedTuple

import jinja2

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.templating import AttributeEnvironment, bytecode_cache, joined, render_named
from dekube_nspawn.escape import shell_quote
from dekube_nspawn.ir import Machine, MountKind, NetworkMode, Plan, SecretFile

_TEMPLATE_DIRS = (
    pathlib.Path(__file__).resolve().parent.parent.parent / "templates",   # source tree
    pathlib.Path(__file__).resolve().parent.parent / "templates",          # installed wheel
)

LIB_SCRIPTS = ("netns.sh", "rootfs.sh", "prepare.sh", "health.sh")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = AttributeEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in _TEMPLATE_DIRS if d.is_dir()]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        # bash's `${#array[@]}` must not open a Jinja comment.
        comment_start_string="{##",
        comment_end_string="##}",
    )
    # Every value that reaches a shell script goes through this filter, never through hand quoting.
    env.filters["sh"] = _sh
    env.filters["sh_words"] = joined(_sh)
    env.filters["octal"] = lambda value: format(value, "04o")
    env.bytecode_cache = bytecode_cache(env, "scripts")
    return env


def _sh(value, key_path=()) -> str:
    return shell_quote(value if value.__class__ is str else str(value), key_path)


def render_template(name: str, **context) -> str:
    return render_named(environment(), name, context)


_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def safe_file_name(name: str) -> str:
    """A file name for an arbitrary compose key: the key itself when harmless, else a hash."""
    if _SAFE_COMPONENT.fullmatch(name) and ".." not in name:
        return name
    return "h-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def env_secret_path(plan: Plan, secret_name: str) -> str:
    """Where install.sh writes a secret read from its environment (0600 in a 0700 dir)."""
    return f"{plan.config_dir}/secrets/{safe_file_name(secret_name)}"


def images_dir(plan: Plan) -> str:
    return f"{plan.layout.state_dir}/images"


def helpers_dir(plan: Plan) -> str:
    """The setpriv + loader + libraries directory bound read-only at /run/dekube/ (docs/runtime.md)."""
    return f"{plan.layout.state_dir}/runtime"


def image_defaults_path(plan: Plan, machine: Machine) -> str:
    """The [Exec] block bootstrap.sh derives from the unpacked image (unresolved images only)."""
    return f"{plan.state_dir}/image-defaults/{machine.name}.nspawn"


def _uid_gid(value: str | None) -> str:
    return "0" if value is None or value == "" else value


def _prepare_entries(machine: Machine):
    """What prepare.sh does for one machine, in the order docker would: mounts, then files."""
    steps = []
    for m in machine.mounts:
        if m.kind is MountKind.BIND:
            steps.append(("bind", m.source, m.target, m.create_host_path))
        elif m.kind in (MountKind.VOLUME, MountKind.ANONYMOUS):
            steps.append(("volume", m.source, m.target, m.copy_image_content))
    return steps


# Where nspawn itself mounts API file systems; it cannot create these in a read-only root.
_NSPAWN_MOUNT_POINTS = ("/dev", "/proc", "/run", "/sys", "/tmp")


class MountPoints(NamedTuple):
    dirs: list
    files: list
    like: list          # (bind source, target): the target is made the same type as the source


class SecretStep(NamedTuple):
    s: SecretFile
    uid: str
    gid: str
    env_file: str | None     # where install.sh wrote an environment-sourced secret


class MachineScripts(NamedTuple):
    """What the lib/ scripts' per-machine tables say of one machine."""
    m: Machine
    mount_steps: list
    read_only_mount_points: MountPoints
    secrets: list
    host_veths: list
    macs: list
    sysctls: list
    has_netns: bool
    needs_helpers: bool


def _read_only_mount_points(machine: Machine) -> MountPoints:
    """Mount points rootfs.sh creates before a `read_only: true` machine starts: nspawn fails to
    create them itself once the root is read-only. A bind target takes the type of its source."""
    if not machine.privileges.read_only_root:
        return MountPoints([], [], [])
    dirs = list(_NSPAWN_MOUNT_POINTS)
    like = []
    for m in machine.mounts:
        if m.kind is MountKind.BIND:
            like.append((m.source, m.target))
        else:
            dirs.append(m.target)
    working_dir = (machine.effective.working_dir if machine.effective else None) or machine.process.working_dir
    if working_dir:
        dirs.append(working_dir)
    files = [s.target for s in machine.secrets]
    return MountPoints(dirs, files, like)


def _context(plan: Plan) -> dict:
    machines = []
    for m in plan.machines:
        machines.append(MachineScripts(
            m=m,
            mount_steps=_prepare_entries(m),
            read_only_mount_points=_read_only_mount_points(m),
            secrets=[SecretStep(s=s, uid=_uid_gid(s.uid), gid=_uid_gid(s.gid),
                                env_file=env_secret_path(plan, s.name) if s.environment else None)
                     for s in m.secrets],
            host_veths=[i.host_name for i in m.interfaces],
            macs=[f"{i.name}={i.mac_address}" for i in m.interfaces if i.mac_address],
            sysctls=[f"{k}={v}" for k, v in m.privileges.sysctls],
            has_netns=m.network_mode in (NetworkMode.BRIDGED, NetworkMode.NONE),
            needs_helpers=m.process.user is not None,
        ))
    return {
        "plan": plan,
        "machines": machines,
        "images_dir": images_dir(plan),
        "helpers_dir": helpers_dir(plan),
    }


def render(plan: Plan) -> list[OutputFile]:
    ctx = _context(plan)
    return [OutputFile(f"lib/{name}", render_template(f"lib/{name}.j2", **ctx), 0o755)
            for name in LIB_SCRIPTS]
