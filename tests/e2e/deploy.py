"""Drive converted output the way a user would, then observe it from outside.

`python3 -m dekube_nspawn compose.yml --output-dir OUT` runs on the machine running the tests;
the project directory and OUT are copied into the test host at the *same absolute paths*
(relative bind mounts were resolved against the project directory at conversion time), then
`install.sh`, `bootstrap.sh` and `systemctl start dekube-<project>.target` run there, unmodified.
Names follow docs/runtime.md: machine `<project>-<service>`, unit `nspawn-<machine>.service`.
"""
from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys
import sysconfig
import time

from machine import BootedHost

REPO = pathlib.Path(__file__).resolve().parents[2]
# Bound read-only into every test host at the same paths, so the converter can also run there
# (with --resolve-images it asks skopeo, and only the host reaches the test registry).
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
CONVERTER_PATHS = (str(REPO), SITE_PACKAGES)

# Runs a command inside a machine the way health checks do (field notes): the leader is the
# child of the unit's MainPID (systemd-nspawn) whose innermost PID is 1.
_MACHINE_EXEC = r"""
unit=$1; shift
main=$(systemctl show -p MainPID --value "$unit")
leader=
for c in $(cat /proc/"$main"/task/"$main"/children 2>/dev/null); do
    if grep -Eq '^NSpid:.*[[:space:]]1$' /proc/"$c"/status; then leader=$c; fi
done
[ -n "$leader" ] || { echo "no running machine for $unit (MainPID=$main)" >&2; exit 125; }
exec nsenter -t "$leader" -m -u -i -n -p -- "$@"
"""


def convert(compose_file: pathlib.Path, output_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dekube_nspawn", str(compose_file), "--output-dir", str(output_dir),
                           *args], cwd=compose_file.parent, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
                               "DEKUBE_NSPAWN_DEBUG": "1"})
    if proc.returncode != 0:
        raise AssertionError(f"conversion failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@dataclasses.dataclass
class Deployment:
    host: BootedHost
    project: str
    project_dir: pathlib.Path
    output_dir: pathlib.Path
    convert_stderr: str = ""

    # -- names (docs/runtime.md) ---------------------------------------------------------------
    @property
    def target(self) -> str:
        return f"dekube-{self.project}.target"

    def machine(self, service: str) -> str:
        return f"{self.project}-{service}"

    def unit(self, service: str) -> str:
        return f"nspawn-{self.machine(service)}.service"

    def units(self, *services: str) -> list[str]:
        return [self.unit(s) for s in services]

    # -- what a user runs ----------------------------------------------------------------------
    def script(self, name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.host.run(["sh", "-c", 'cd "$1" && shift && exec "$@"', "script", str(self.output_dir),
                              f"./{name}", *args], timeout=timeout)

    def install(self):
        return self.script("install.sh")

    def bootstrap(self):
        return self.script("bootstrap.sh")

    def uninstall(self, *args: str):
        return self.script("uninstall.sh", *args)

    def start(self, timeout: float = 120) -> None:
        """`systemctl start` of the target returns when its dependencies are up or failed."""
        self.host.run(["systemctl", "start", self.target], timeout=timeout)

    def stop(self, timeout: float = 60) -> None:
        """`systemctl stop` of a target returns at once (field notes): wait for every unit."""
        self.host.run(["systemctl", "stop", self.target], timeout=timeout)
        units = self.project_units()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {u: self.host.unit_state(u) for u in units}
            if all(s in ("inactive", "failed") for s in states.values()):
                return
            time.sleep(0.2)
        raise AssertionError(f"project did not stop within {timeout}s: {states}")

    def up(self) -> None:
        """install + bootstrap + start, what the README tells a user to do."""
        self.install()
        self.bootstrap()
        self.start()

    # -- observation ---------------------------------------------------------------------------
    def project_units(self) -> list[str]:
        out = self.host.run(["systemctl", "list-units", "--all", "--plain", "--no-legend",
                             f"nspawn-{self.project}-*", f"dekube-{self.project}-*"]).stdout
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def exec(self, service: str, cmd, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run `cmd` inside the service's running machine (no PATH is carried: give full paths or
        rely on the image's /bin)."""
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        return self.host.run(["sh", "-c", _MACHINE_EXEC, "machine-exec", self.unit(service), *cmd],
                             check=check, timeout=timeout)

    def journal(self, service: str) -> str:
        return self.host.journal(self.unit(service))


def convert_in_host(host: BootedHost, compose_file: pathlib.Path, output_dir: pathlib.Path, *args: str):
    """The converter run by the host's own python3 (same minor version) on the bound sources."""
    return host.run(["sh", "-c", 'cd "$1" && shift && exec "$@"', "convert", str(compose_file.parent),
                     "python3", "-m", "dekube_nspawn", str(compose_file), "--output-dir", str(output_dir), *args],
                    env={"PYTHONPATH": f"{REPO}:{SITE_PACKAGES}", "DEKUBE_NSPAWN_DEBUG": "1"}, timeout=120)


def deploy(host: BootedHost, project_dir: pathlib.Path, project: str, *convert_args: str,
           compose_name: str = "compose.yml", in_host: bool = False) -> Deployment:
    """Convert `project_dir/compose_name` into `project_dir/out` and copy both into the host
    (`in_host`: copy the project in and convert there)."""
    output_dir = project_dir / "out"
    if in_host:
        host.copy_in(project_dir, str(project_dir))
        proc = convert_in_host(host, project_dir / compose_name, output_dir, *convert_args)
    else:
        proc = convert(project_dir / compose_name, output_dir, *convert_args)
        host.copy_in(project_dir, str(project_dir))
    return Deployment(host, project, project_dir, output_dir, proc.stderr)


def write_project(directory: pathlib.Path, compose_text: str, files: dict[str, str] | None = None,
                  compose_name: str = "compose.yml") -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / compose_name).write_text(compose_text)
    for rel, content in (files or {}).items():
        f = directory / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(content)
    return directory
