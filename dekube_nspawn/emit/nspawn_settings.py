"""`<machine>.nspawn`: what runs inside the machine and what it sees (installed to
/etc/systemd/nspawn/, a trusted location, so Bind=/Capability=/Limit* are honoured)."""
from __future__ import annotations

import re

from dekube_nspawn import escape
from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import Machine, MountKind, Plan

# Where install/bootstrap put the host's setpriv, ld.so and libraries (docs/runtime.md "User").
RUNTIME_HELPERS_HOST = "runtime"          # under layout.state_dir
RUNTIME_HELPERS_MACHINE = "/run/dekube"


def setpriv_prefix(user: str) -> tuple[str, ...]:
    """Run the payload as `user` with the host's setpriv (works without getent/passwd in the image).
    `uid:gid` sets both; a bare user keeps gid 0 for numbers (Docker's behaviour without a passwd
    entry) and takes the groups of the passwd entry for names."""
    helper = RUNTIME_HELPERS_MACHINE
    prefix = (f"{helper}/ld.so", "--library-path", f"{helper}/lib", f"{helper}/setpriv")
    uid, _, gid = user.partition(":")
    if gid:
        ids = (f"--reuid={uid}", f"--regid={gid}", "--clear-groups")
    elif uid.isdigit():
        ids = (f"--reuid={uid}", "--regid=0", "--clear-groups")
    else:
        ids = (f"--reuid={uid}", "--init-groups")
    return prefix + ids + ("--",)


def _capability(name: str) -> str:
    name = name.strip().upper()
    if name == "ALL":
        return "all"
    return name if name.startswith("CAP_") else "CAP_" + name


def _binds(plan: Plan, machine: Machine):
    """(source, target, read_only) of every bind, in a stable order: compose volumes as written,
    then secrets/configs, then the files the tool provides."""
    binds = []
    for mount in machine.mounts:
        if mount.kind in (MountKind.BIND, MountKind.VOLUME, MountKind.ANONYMOUS,
                          MountKind.SECRET, MountKind.CONFIG):
            source = mount.source
            if mount.subpath:
                source = source.rstrip("/") + "/" + mount.subpath
            binds.append((source, mount.target, mount.read_only))
    for secret in machine.secrets:
        binds.append((secret.runtime_path, secret.target, True))
    for host_path, machine_path, _perms in machine.privileges.devices:
        binds.append((host_path, machine_path, False))
    binds.append((f"{plan.config_dir}/hosts", "/etc/hosts", True))
    if machine.dns or machine.dns_search:
        binds.append((f"{plan.config_dir}/{resolv_conf_path(machine)}", "/etc/resolv.conf", True))
    if needs_runtime_helpers(machine):
        binds.append((f"{plan.layout.state_dir}/{RUNTIME_HELPERS_HOST}", RUNTIME_HELPERS_MACHINE, True))
    return binds


def _fits_nspawn(name: str, value: str) -> bool:
    return escape.fits_nspawn_word(f"{name}={value}")


def environment_via_unit(machine: Machine) -> tuple[tuple[str, str], ...] | None:
    """The whole environment, when the .nspawn cannot carry it: a value with a line break or
    both quote kinds. The unit then sets it (Environment= there has C escapes) and passes each
    variable with `--setenv=NAME`; nspawn ignores the file's Environment= once any --setenv is
    given, so it is all or nothing. Without --resolve-images the image's ENV would be lost that
    way, so that case is refused."""
    effective = machine.effective
    pairs = effective.environment if effective is not None else machine.process.environment
    if all(_fits_nspawn(n, v) for n, v in pairs):
        return None
    if effective is None:
        bad = next(n for n, v in pairs if not _fits_nspawn(n, v))
        raise ConversionError(
            "this value has a line break or both quote kinds: a .nspawn file cannot carry it, and "
            "passing it through the unit needs the image's own environment (convert with "
            "--resolve-images)", key_path=("services", machine.service, "environment", bad))
    return pairs


def needs_runtime_helpers(machine: Machine) -> bool:
    return machine.process.user is not None or bool(machine.effective and machine.effective.user)


def resolv_conf_path(machine: Machine) -> str:
    """Relative to the output (and config) directory; one per machine, as `dns` is per service."""
    return f"resolv/{machine.name}.conf"


def _tmpfs_options(mount) -> str:
    options = []
    if mount.tmpfs_size is not None:
        options.append(f"size={mount.tmpfs_size}")
    if mount.tmpfs_mode is not None:
        options.append(f"mode={mount.tmpfs_mode:04o}")
    return ",".join(options)


_LIMIT_NAME = re.compile(r"Limit[A-Z]+\Z")
_SIGNAL = re.compile(r"SIG[A-Z0-9]+(\+[0-9]+)?\Z")


def checked_signal(signal: str, key_path) -> str:
    if not _SIGNAL.match(signal):
        raise ConversionError(f"stop signal {signal!r} is not a signal name", key_path=key_path)
    return signal


def _limit_value(value) -> str:
    return "infinity" if value is None or value < 0 else str(value)


def _is_run(path: str) -> bool:
    """nspawn always mounts its own tmpfs on /run and puts /run/host in it: a second tmpfs there
    hides /run/host and the machine does not start."""
    return path.rstrip("/") == "/run"


def render_nspawn_settings(plan: Plan, machine: Machine) -> OutputFile:
    # Parameters= accumulate over the [Exec] block bootstrap.sh puts in front of this file, so the
    # process is written by exactly one side: here when the image is resolved, else bootstrap.sh.
    effective = machine.effective
    argv = environment = working_dir = None
    if effective is not None:
        argv = effective.argv
        if effective.user:
            argv = setpriv_prefix(effective.user) + argv
        environment, working_dir = effective.environment, effective.working_dir
    else:
        environment = machine.process.environment
    passed_by_unit = environment_via_unit(machine) is not None
    if passed_by_unit:
        environment = ()
    if machine.process.init:
        kill_signal = "SIGRTMIN+3"     # what nspawn's stub init (ProcessTwo=yes) stops on
    else:
        kill_signal = checked_signal(machine.lifecycle.stop_signal,
                                     ("services", machine.service, "stop_signal"))
    for name, _soft, _hard in machine.limits.ulimits:
        if not _LIMIT_NAME.match(name):
            raise ConversionError(f"{name!r} is not a resource limit setting",
                                  key_path=("services", machine.service, "ulimits"))
    ulimits = [(name, _limit_value(soft) if soft == hard else f"{_limit_value(soft)}:{_limit_value(hard)}")
               for name, soft, hard in machine.limits.ulimits]
    content = render_template(
        "machine.nspawn.j2",
        header=HEADER,
        plan=plan,
        machine=machine,
        key=("services", machine.service),
        argv=argv,
        environment=environment,
        passed_by_unit=passed_by_unit,
        working_dir=working_dir,
        kill_signal=kill_signal,
        capabilities=["all"] if machine.privileges.privileged
        else sorted({_capability(c) for c in machine.privileges.cap_add}),
        drop_capabilities=[] if machine.privileges.privileged
        else sorted({_capability(c) for c in machine.privileges.cap_drop}),
        ulimits=ulimits,
        binds=_binds(plan, machine),
        tmpfs=[(m.target, _tmpfs_options(m)) for m in machine.mounts
               if m.kind is MountKind.TMPFS and not _is_run(m.target)],
        run_tmpfs=any(m.kind is MountKind.TMPFS and _is_run(m.target) for m in machine.mounts),
    )
    # Root-only: compose environments routinely carry passwords.
    return OutputFile(f"{machine.name}.nspawn", content, 0o600)


def render(plan: Plan) -> list[OutputFile]:
    return [render_nspawn_settings(plan, m) for m in plan.machines]
