"""`up`, `down`, `start`, `stop`, `restart`, `pull`: the generated scripts and systemctl do the
work (install.sh, bootstrap.sh, uninstall.sh are the one implementation of each step)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from dekube_nspawn.errors import DekubeError
from dekube_nspawn.ops import systemd


def default_output_dir(project_directory: str) -> str:
    """Where `up` converts to when no --output-dir is given: beside the compose file, like a
    build directory (install.sh refuses to run from the installed config dir itself)."""
    return os.path.join(project_directory, ".dekube-nspawn")


def run_script(path: str, *args: str) -> None:
    """Run a generated script from its own directory; its output goes to the user."""
    proc = subprocess.run([path, *args], cwd=os.path.dirname(path))
    if proc.returncode != 0:
        raise DekubeError(f"{os.path.basename(path)} failed (exit {proc.returncode}); its messages are above")


def failed_units(units: list[str]) -> dict[str, str]:
    """Units that failed; one that ran and exited cleanly (a one-off job) is no failure, as a
    container that exited 0 is none for `docker compose up -d`."""
    states = systemd.show(units, ("ActiveState", "SubState"))
    return {u: p.get("ActiveState", "") for u, p in states.items() if p.get("ActiveState") == "failed"}


def up(output_dir: str, target: str, machine_units: list[str], bootstrap_args=()) -> None:
    """install.sh, bootstrap.sh, then start the target: `systemctl start` of a target waits for
    the start jobs of the units it wants (health gates included)."""
    run_script(os.path.join(output_dir, "install.sh"))
    run_script(os.path.join(output_dir, "bootstrap.sh"), *bootstrap_args)
    start_target(target, machine_units)


def up_installed(project, bootstrap_args=()) -> None:
    """`up -p NAME` without the compose files: the installed bootstrap.sh, then the target."""
    run_script(os.path.join(project.config_dir, "bootstrap.sh"), *bootstrap_args)
    start_target(project.target, [m.unit for m in project.machines])


def start_target(target: str, machine_units: list[str]) -> None:
    code = systemd.systemctl("start", target)
    bad = failed_units(machine_units)
    if code != 0 or bad:
        listing = ", ".join(f"{u} is {s}" for u, s in sorted(bad.items())) or f"systemctl start {target} failed"
        raise DekubeError(f"the project did not come up: {listing}. `dekube-nspawn logs` shows why.")


def down(project, volumes: bool = False, images: bool = False) -> None:
    """The installed uninstall.sh, run from a copy: it removes its own file on the way."""
    script = os.path.join(project.config_dir, "uninstall.sh")
    if not os.path.isfile(script):
        raise DekubeError(f"{script} is missing: the installation of {project.name} is incomplete; "
                          "convert and install it again, then run down")
    args = (["--volumes"] if volumes else []) + (["--images"] if images else [])
    with tempfile.TemporaryDirectory(prefix="dekube-down-") as tmp:
        copy = os.path.join(tmp, "uninstall.sh")
        shutil.copy2(script, copy)
        proc = subprocess.run([copy, *args], cwd=tmp)
    if proc.returncode != 0:
        raise DekubeError(f"uninstall.sh failed (exit {proc.returncode}); its messages are above")


def pull(project, source: str | None = None) -> None:
    """bootstrap.sh --pull: the image part (machines pick new images up at their next start)."""
    script = os.path.join(project.config_dir, "bootstrap.sh")
    run_script(script, "--pull", *(["--from", source] if source else []))


def control(verb: str, project, machines) -> int:
    """start/stop/restart units: the named services', or the whole project (the target, and for
    stop every unit, since stopping a target returns before its units are down)."""
    if machines:
        return systemd.systemctl(verb, *[m.unit for m in machines])
    if verb == "stop":
        units = [u for u in project.units()]
        code = systemd.systemctl("stop", *units)
        return code
    if verb == "restart":
        code = systemd.systemctl("restart", *[m.unit for m in project.machines])
        return code or systemd.systemctl("start", project.target)
    return systemd.systemctl("start", project.target)


