"""`install.sh` and `uninstall.sh`: put the generated files where systemd reads them (docs/runtime.md
table), record them, and take exactly those away again.

Both scripts decide a file's destination from its name (see the header of install.sh), so they
install whatever the other emitters wrote without a list kept in step here; what is specific to
the plan (environment-sourced secrets, bridges, machines' layers and volumes) is rendered in.
"""
from __future__ import annotations

import posixpath
import re

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.bootstrap import unresolved_machines
from dekube_nspawn.emit.scripts import env_secret_path, images_dir, render_template
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import MountKind, Plan

_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def env_secrets(plan: Plan) -> list[tuple[str, str]]:
    """(variable, root-only file) of every secret compose reads from the environment, once each."""
    seen: dict[str, str] = {}
    for m in plan.machines:
        for s in m.secrets:
            if not s.environment:
                continue
            if not _SHELL_NAME.match(s.environment):
                raise ConversionError(f"secret {s.name!r}: {s.environment!r} is not an environment "
                                      "variable name install.sh can read",
                                      key_path=("secrets", s.name, "environment"))
            seen.setdefault(env_secret_path(plan, s.name), s.environment)
    return sorted((var, path) for path, var in seen.items())


def volume_dirs(plan: Plan) -> list[str]:
    """Data `uninstall.sh --volumes` removes: named volumes we created and anonymous volumes."""
    dirs = {v.host_path for v in plan.volumes if not v.external}
    for m in plan.machines:
        dirs.update(mount.source for mount in m.mounts if mount.kind is MountKind.ANONYMOUS)
    return sorted(d for d in dirs if d.startswith(plan.state_dir + "/"))


def state_subdirs(plan: Plan) -> list[str]:
    """Directories between the project's state dir and its machines/volumes, deepest first, then
    the state dir itself: uninstall removes each once it is empty."""
    parents = set()
    paths = volume_dirs(plan) + [m.layer_dir for m in plan.machines] + [m.rootfs for m in plan.machines]
    for path in paths:
        d = posixpath.dirname(path)
        while d.startswith(plan.state_dir + "/"):
            parents.add(d)
            d = posixpath.dirname(d)
    return sorted(parents, key=lambda d: (-d.count("/"), d)) + [plan.state_dir]


def render(plan: Plan) -> list[OutputFile]:
    secrets = env_secrets(plan)
    install = render_template("install.sh.j2", plan=plan, env_secrets=secrets,
                              unresolved=unresolved_machines(plan),
                              secrets_dir=f"{plan.config_dir}/secrets")
    uninstall = render_template("uninstall.sh.j2", plan=plan, images_dir=images_dir(plan),
                                volume_dirs=volume_dirs(plan), state_subdirs=state_subdirs(plan))
    return [OutputFile("install.sh", install, 0o755), OutputFile("uninstall.sh", uninstall, 0o755)]
