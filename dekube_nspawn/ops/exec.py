"""`exec`: run a command in a running machine. The machine may have no systemd and no shell
(app images), so no `machinectl shell`: nsenter joins the namespaces of the machine's leader (the
child of the unit's systemd-nspawn whose NSpid ends in 1, field notes) with the image's PATH,
environment and working directory read back from the installed `.nspawn` (or the unit's env
file), as the payload's user (its uid/gid, as lib/health.sh runs checks) unless `-u` says
otherwise. nsenter does the PATH lookup inside the machine and its exit code is the command's."""
from __future__ import annotations

import os
import shutil
import subprocess

from dekube_nspawn.errors import DekubeError
from dekube_nspawn.ops import nspawn_settings, systemd

DEFAULT_SHELL = "/bin/sh"
HELPERS = "/run/dekube"


class MachineNotRunning(DekubeError):
    pass


def _children(pid: int) -> list[int]:
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    return out


def _status_fields(pid: int) -> dict[str, list[str]]:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {k: v.split() for k, _, v in (line.partition(":") for line in fh)}
    except OSError:
        return {}


def leader_of(nspawn_pid: int) -> int | None:
    for child in _children(nspawn_pid):
        nspid = _status_fields(child).get("NSpid", [])
        if len(nspid) > 1 and nspid[-1] == "1":
            return child
    return None


def running_leader(machine) -> int:
    props = systemd.show([machine.unit], ("ActiveState", "SubState", "MainPID")).get(machine.unit, {})
    main = int(props.get("MainPID") or 0)
    leader = leader_of(main) if main else None
    if leader is None:
        state = props.get("ActiveState", "unknown")
        raise MachineNotRunning(
            f"service {machine.service} is not running (unit {machine.unit} is {state}"
            f"{' (' + props['SubState'] + ')' if props.get('SubState') else ''}); start it with "
            f"`dekube-nspawn start {machine.service}` or see `dekube-nspawn logs {machine.service}`")
    return leader


def machine_process(project, machine, read=lambda p: open(p, encoding="utf-8").read()) -> dict:
    """Environment and working directory the payload was started with."""
    try:
        text = read(project.installed_nspawn(machine))
        settings = nspawn_settings.exec_settings(text)
    except OSError as e:
        raise DekubeError(f"cannot read the settings of machine {machine.name}: {e}")
    env = settings["environment"]
    if machine.env_file:   # then nspawn passes the unit's EnvironmentFile= and ignores Environment=
        try:
            env = nspawn_settings.env_file(read(machine.env_file))
        except OSError as e:
            raise DekubeError(f"cannot read the environment of machine {machine.name}: {e}")
    env.setdefault("PATH", nspawn_settings.DEFAULT_PATH)
    return {"environment": env, "working_directory": settings["working_directory"] or "/",
            "init": settings["process_two"],
            # the user-switch helpers (docs/runtime.md "User") are bound only for machines with a user
            "helpers": any(line.strip().endswith(":" + HELPERS) for line in text.splitlines()
                           if line.strip().startswith("BindReadOnly="))}


def payload_ids(leader: int, init: bool = False) -> tuple[str, str]:
    """uid and gid of the payload (with init: the stub init's child)."""
    pid = leader
    if init:
        pid = next(iter(_children(leader)), leader)
    fields = _status_fields(pid)
    return fields.get("Uid", ["0"])[0], fields.get("Gid", ["0"])[0]


def resolve_user(user: str, rootfs: str) -> tuple[str, str]:
    """`-u USER[:GROUP]` as numeric ids from the machine's own /etc/passwd and /etc/group, the
    way bootstrap resolves the payload's user (runtime/exec_block.py)."""
    from dekube_nspawn.runtime.exec_block import resolved_user
    resolved = resolved_user(user, rootfs)
    if resolved is None:
        raise DekubeError(f"user {user!r} is not known in the machine's /etc/passwd or /etc/group; "
                          "give numeric ids (-u UID[:GID])")
    uid, gid, _has_passwd_entry = resolved
    return uid, gid


def nsenter_path() -> str:
    """Found with our own PATH: the command runs with the machine's, which has no nsenter."""
    path = shutil.which("nsenter")
    if path is None:
        raise DekubeError("nsenter (util-linux) is not installed on this host; exec needs it")
    return path


def build_command(leader: int, argv: list[str], uid: str, gid: str, workdir: str,
                  nsenter: str = "nsenter") -> list[str]:
    """-r: the machine's root; -S/-G: setgid, setgroups(0), setuid. nsenter opens a --wd=DIR
    before it enters the namespaces, so DIR is named through the leader's root."""
    wd = f"/proc/{leader}/root/{workdir.lstrip('/')}"
    return [nsenter, "-t", str(leader), "-m", "-u", "-i", "-n", "-p", "-r", f"--wd={wd}",
            "-S", uid, "-G", gid, "--", *(argv or [DEFAULT_SHELL])]


def build_environment(base: dict[str, str], overrides: list[str]) -> dict[str, str]:
    """-e KEY=VALUE sets, -e KEY takes the value from our own environment (docker compose's rule)."""
    env = dict(base)
    for item in overrides:
        name, sep, value = item.partition("=")
        if sep:
            env[name] = value
        elif name in os.environ:
            env[name] = os.environ[name]
    return env


def run(project, machine, argv, user=None, workdir=None, env_overrides=()) -> int:
    leader = running_leader(machine)
    process = machine_process(project, machine)
    argv = list(argv)
    if user:
        try:
            uid, gid = resolve_user(user, os.path.join(project.state_dir, "machines", machine.name, "root"))
        except DekubeError:
            if not process["helpers"]:
                raise
            # A name the image's files do not know: setpriv resolves it inside, as the unit does.
            from dekube_nspawn.runtime.exec_block import setpriv_prefix
            uid, gid, argv = "0", "0", setpriv_prefix(user) + (argv or [DEFAULT_SHELL])
    else:
        uid, gid = payload_ids(leader, process["init"])
    cmd = build_command(leader, argv, uid, gid, workdir or process["working_directory"], nsenter_path())
    return subprocess.run(cmd, env=build_environment(process["environment"], list(env_overrides))).returncode
