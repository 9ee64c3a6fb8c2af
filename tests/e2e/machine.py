"""A booted systemd host in a systemd-nspawn container, driven from outside with nsenter.

PID 1 of the machine running the tests is not systemd, so generated units can only run under a
systemd we boot ourselves. nspawn stays a child of the test process (orphans are not reaped
here) and is only ever stopped with SIGTERM: a SIGKILLed nspawn leaves its container running.
"""
from __future__ import annotations

import io
import os
import pathlib
import shlex
import signal
import subprocess
import tarfile
import time

HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class HostCommandError(AssertionError):
    """A command inside the host failed; carries its output so the test report shows why."""


def _children(pid: int) -> list[int]:
    try:
        text = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _ns_pid_is_one(pid: int) -> bool:
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            parts = line.split()
            return len(parts) > 2 and parts[-1] == "1"
    return False


def _cgroup_mounts() -> list[tuple[set[str], str, str]]:
    """(controllers or {""} for cgroup2, mount root, mount point) of each cgroup hierarchy."""
    mounts = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fields, (fstype, _source, options) = pre.split(), post.split()[:3]
        if fstype == "cgroup2":
            mounts.append(({""}, fields[3], fields[4]))
        elif fstype == "cgroup":
            mounts.append((set(options.split(",")), fields[3], fields[4]))
    return mounts


def own_cgroups(name: str) -> list[pathlib.Path]:
    """A new cgroup named `name` under this process's own, in every hierarchy.

    With --keep-unit and no systemd outside, nspawn runs the container in the cgroup of its
    caller: two hosts booted from the same cgroup (two tests, or two test sessions on one
    machine) would share `payload/system.slice/...`, and one host's systemd would manage, and on
    shutdown kill, the other's units. Each host gets a subtree of its own instead."""
    mounts = _cgroup_mounts()
    dirs = []
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        wanted = {""} if hid == "0" else set(controllers.split(","))
        for options, root, mountpoint in mounts:
            if wanted <= options:
                rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
                d = pathlib.Path(mountpoint, rel, name).resolve()
                d.mkdir()
                dirs.append(d)
                for knob in ("cpuset.cpus", "cpuset.mems"):  # v1 cpuset: empty until copied
                    if (d / knob).exists() and not (d / knob).read_text().strip():
                        (d / knob).write_text((d.parent / knob).read_text())
                break
    return dirs


def remove_cgroups(dirs: list[pathlib.Path]) -> None:
    """rmdir each cgroup tree bottom-up (cgroup files vanish with their directory)."""
    for top in dirs:
        if top.is_dir():
            for dirpath, _subdirs, _files in os.walk(top, topdown=False):
                os.rmdir(dirpath)


class BootedHost:
    """`systemd-nspawn -b` of `root`, with helpers to run commands and inspect units inside."""

    def __init__(self, root: pathlib.Path, name: str, log_path: pathlib.Path, volatile: bool = True,
                 binds: dict[str, str] | None = None, read_only_binds=()):
        self.root = root
        self.binds = dict(binds or {})   # host path in the container -> directory outside
        self.read_only_binds = tuple(read_only_binds)   # same path inside and outside
        # A tmpfs overlay on a read-only root: every boot starts from the pristine tree, several
        # hosts can share it, and nothing a test writes survives the host.
        self.volatile = volatile
        self.name = name
        self.log_path = log_path
        self._proc: subprocess.Popen | None = None
        self.leader: int | None = None
        self.boot_seconds: float | None = None
        self.shutdown_seconds: float | None = None
        self.cgroups: list[pathlib.Path] = []

    # -- lifecycle -------------------------------------------------------------------------
    def boot(self, timeout: float = 60) -> None:
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-M", self.name,
               "-D", str(self.root), "-b", "--private-network", "--console=pipe",
               # Nested nspawn needs the full capability set and the host kernel's modules list.
               "--capability=all", "--system-call-filter=@known"]
        if self.volatile:
            cmd.append("--volatile=overlay")
        cmd += [f"--bind={outside}:{inside}" for inside, outside in self.binds.items()]
        cmd += [f"--bind-ro={path}" for path in self.read_only_binds]
        start = time.monotonic()
        self.cgroups = own_cgroups(self.name)

        def enter_own_cgroups():  # in the child, before exec
            for d in self.cgroups:
                (d / "cgroup.procs").write_text(str(os.getpid()))

        log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True, preexec_fn=enter_own_cgroups)
        log.close()
        self.leader = self._wait_leader(timeout)
        self._wait_running(start + timeout)
        self.boot_seconds = time.monotonic() - start

    def _wait_leader(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self._proc.returncode}:\n{self.console_log()}")
            for child in _children(self._proc.pid):
                if _ns_pid_is_one(child):
                    return child
            time.sleep(0.02)
        raise RuntimeError(f"no container leader after {timeout}s:\n{self.console_log()}")

    def _wait_running(self, deadline: float) -> None:
        state = ""
        while time.monotonic() < deadline:
            state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
            if state not in ("", "offline", "starting", "initializing"):
                if state != "running":
                    failed = self.run(["systemctl", "--failed", "--no-legend"], check=False).stdout
                    raise RuntimeError(f"test host is {state!r}; failed units:\n{failed}")
                return
            time.sleep(0.05)
        raise RuntimeError(f"test host still {state!r} at the deadline:\n{self.console_log()}")

    def shutdown(self, timeout: float = 90) -> None:
        """SIGTERM makes nspawn power the container off cleanly; we wait for it, never SIGKILL."""
        if self._proc is None:
            return
        if self._proc.poll() is not None:
            remove_cgroups(self.cgroups)
            return
        start = time.monotonic()
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=timeout)
            self.shutdown_seconds = time.monotonic() - start
            remove_cgroups(self.cgroups)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"systemd-nspawn (pid {self._proc.pid}) did not stop within {timeout}s; "
                               "left running on purpose (SIGKILL would orphan the container)")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def console_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- commands --------------------------------------------------------------------------
    def run(self, cmd, check: bool = True, timeout: float = 60, input: bytes | str | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `cmd` (a list, or a string for `sh -c`) inside the host as root, with a clean
        environment (nsenter would otherwise carry ours); text output."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        envv = [f"{k}={v}" for k, v in {"PATH": HOST_PATH, "HOME": "/root", "LANG": "C.UTF-8",
                                        **(env or {})}.items()]
        full = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--",
                "env", "-i", *envv, *cmd]
        if isinstance(input, str):
            input = input.encode()
        proc = subprocess.run(full, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)
        result = subprocess.CompletedProcess(cmd, proc.returncode, proc.stdout.decode(errors="replace"),
                                             proc.stderr.decode(errors="replace"))
        result.stdout_bytes = proc.stdout
        if check and proc.returncode != 0:
            raise HostCommandError(f"in test host: {shlex.join(cmd)} exited {proc.returncode}\n"
                                   f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
        return result

    def copy_in(self, local_path, path_in_host: str) -> None:
        """Copy a file or a directory tree to `path_in_host` (parents are created). It goes through
        the host's own view of its filesystem, so paths under its mounts (/run, /tmp) work too."""
        local_path = pathlib.Path(local_path)
        if not local_path.is_dir():
            self.write_file(path_in_host, local_path.read_bytes(), mode=local_path.stat().st_mode & 0o7777)
            return
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(local_path), arcname=".")
        self.run(["sh", "-c", 'mkdir -p "$1" && tar -C "$1" -xf -', "copy_in", path_in_host],
                 input=buf.getvalue())

    def write_file(self, path_in_host: str, content: bytes | str, mode: int = 0o644) -> None:
        if isinstance(content, str):
            content = content.encode()
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"',
                  "write_file", path_in_host, format(mode, "o")], input=content)

    def read_file(self, path_in_host: str) -> bytes:
        return self.run(["cat", path_in_host]).stdout_bytes

    # -- systemd ---------------------------------------------------------------------------
    def unit_property(self, unit: str, prop: str) -> str:
        return self.run(["systemctl", "show", "-p", prop, "--value", unit]).stdout.strip()

    def unit_state(self, unit: str) -> str:
        """ActiveState: active, inactive, failed, activating, deactivating, ..."""
        return self.unit_property(unit, "ActiveState")

    def unit_timestamp(self, unit: str, prop: str = "ActiveEnterTimestampMonotonic") -> int:
        """A monotonic timestamp property in microseconds (0: never happened)."""
        if not prop.endswith("Monotonic"):
            prop += "Monotonic"
        return int(self.unit_property(unit, prop) or 0)

    def wait_active(self, units, timeout: float = 60) -> None:
        self.wait_state(units, "active", timeout)

    def wait_state(self, units, state: str, timeout: float = 60) -> None:
        units = [units] if isinstance(units, str) else list(units)
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {u: self.unit_state(u) for u in units}
            if all(s == state for s in states.values()):
                return
            time.sleep(0.2)
        details = "\n".join(f"--- {u}: {s}\n{self.journal(u)[-1500:]}" for u, s in states.items() if s != state)
        raise AssertionError(f"not {state} within {timeout}s: {states}\n{details}")

    def journal(self, unit: str, output: str = "short-precise") -> str:
        return self.run(["journalctl", "--no-pager", "-o", output, "-u", unit], check=False).stdout
