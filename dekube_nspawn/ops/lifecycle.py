"""`up`, `down`, `start`, `stop`, `restart`, `pull`: the generated scripts and systemctl do the
work (install.sh, bootstrap.sh, uninstall.sh are the one implementation of each step)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from dekube_nspawn.errors import DekubeError
from dekube_nspawn.ops import locate, systemd

UNIT_DIR = "/etc/systemd/system"
NSPAWN_DIR = "/etc/systemd/nspawn"
IMAGES_DIR = os.path.join(locate.STATE_ROOT, "images")


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


def machine_fingerprint(unit: str, read=None) -> str | None:
    """What a running machine was started from: its unit, its installed .nspawn and env file, and
    the image bundle its key points to. None when the unit is not installed."""
    read = read or _read_bytes
    unit_text = read(os.path.join(UNIT_DIR, unit))
    if unit_text is None:
        return None
    machine = unit[len("nspawn-"):-len(".service")]
    digest = hashlib.sha256(unit_text)
    parsed = locate.parse_machine_unit(unit_text.decode("utf-8", "replace"), unit)
    for path in (os.path.join(NSPAWN_DIR, machine + ".nspawn"), parsed and parsed.env_file):
        digest.update(b"\0" + (read(path) or b"") if path else b"\0")
    if parsed and parsed.image_key:
        try:
            digest.update(os.readlink(os.path.join(IMAGES_DIR, parsed.image_key, "current")).encode())
        except OSError:
            pass
    return digest.hexdigest()


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def changed_machines(before: dict, after: dict, states: dict) -> list[str]:
    """Running machines whose definition or image changed: recreated like compose recreates
    containers (new ones are started by the target; stopped ones start with the new files)."""
    return sorted(u for u, old in before.items()
                  if old is not None and after.get(u) != old
                  and states.get(u, {}).get("ActiveState") in ("active", "activating", "reloading"))


def remove_machine_layers(state_dir: str, machines: list[str]) -> None:
    """The container layer (and anonymous volumes) of machines no longer in the project: the new
    uninstall.sh does not know them, so nothing else would ever remove them. A root still mounted
    (the machine did not stop) is kept."""
    for machine in machines:
        layer = os.path.join(state_dir, "machines", machine)
        if os.path.ismount(os.path.join(layer, "root")):
            print(f"warning: {layer}/root is still mounted; kept", file=sys.stderr)
            continue
        shutil.rmtree(layer, ignore_errors=True)


def orphans(installed_units: list[str], output_files: list[str]) -> list[str]:
    """Units of the installed project that the new conversion no longer has (compose's orphans)."""
    new = set(output_files)
    return sorted(u for u in installed_units if u not in new and u.endswith((".service", ".socket")))


def up(output_dir: str, target: str, machine_units: list[str], bootstrap_args=(),
       fingerprint=machine_fingerprint, orphan_units=(), state_dir: str | None = None) -> None:
    """install.sh, bootstrap.sh, restart the running machines whose files or image changed, then
    start the target: `systemctl start` of a target waits for the start jobs of the units it
    wants (health gates included)."""
    before = {u: fingerprint(u) for u in machine_units}
    if orphan_units:
        # install.sh removes their files; a unit whose file is gone would keep running unmanaged.
        print(f"stopping {', '.join(orphan_units)} (no longer in the project)", file=sys.stderr)
        systemd.systemctl("stop", *orphan_units)
        if state_dir:
            remove_machine_layers(state_dir, [u[len("nspawn-"):-len(".service")] for u in orphan_units
                                              if u.startswith("nspawn-") and u.endswith(".service")])
    run_script(os.path.join(output_dir, "install.sh"))
    run_script(os.path.join(output_dir, "bootstrap.sh"), *bootstrap_args)
    after = {u: fingerprint(u) for u in machine_units}
    changed = changed_machines(before, after, systemd.show(machine_units, ("ActiveState",)))
    if changed:
        print(f"recreating {', '.join(changed)} (definition or image changed)", file=sys.stderr)
        if systemd.systemctl("restart", *changed) != 0:
            raise DekubeError(f"restarting {', '.join(changed)} failed; `dekube-nspawn logs` shows why")
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
        return systemd.systemctl("stop", *project.units())
    if verb == "restart":
        return (systemd.systemctl("restart", *[m.unit for m in project.machines])
                or systemd.systemctl("start", project.target))
    return systemd.systemctl("start", project.target)


