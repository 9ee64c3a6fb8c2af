"""lib/health.sh against a real machine: `systemd-nspawn --keep-unit --register=no` of a busybox
root, found through its leader (DEKUBE_NSPAWN_PID stands in for the unit's MainPID). The test
runs inside the machine (its files, its namespaces) with the payload's environment; the monitor
and the gate follow compose's healthcheck state machine."""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import require_tools
from dekube_nspawn import ir
from dekube_nspawn.emit import health_scripts, scripts
from scripts_plans import health, image, layout, machine, plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (systemd-nspawn)")

# Healthy when /ready exists in the machine and the payload's own variable is visible.
TEST = ["sh", "-c", 'test "$HEALTH_MARK" = "from the payload" && test -f /ready']


def busybox_root(path: pathlib.Path) -> pathlib.Path:
    for d in ("bin", "usr", "etc", "tmp", "proc", "sys", "dev"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", path / "bin/busybox")
    for applet in ("sh", "sleep", "test", "cat"):
        (path / "bin" / applet).symlink_to("busybox")
    return path


@pytest.fixture
def running(tmp_path):
    require_tools("systemd-nspawn", "nsenter", "busybox")
    lay = layout(str(tmp_path / "r"))
    name = "hc-web"
    timing = dict(interval_s=0.2, timeout_s=1.0, retries=2, start_period_s=0.0, start_interval_s=0.1)
    checks = {
        "web": health("hc", lay, name, TEST, **timing),
        "slow": health("hc", lay, "hc-slow", ["sleep", "30"], **dict(timing, timeout_s=0.5)),
        "late": health("hc", lay, "hc-late", TEST, **dict(timing, start_period_s=3.0, retries=1)),
    }
    machines = [machine("hc", lay, s, image("busybox"), mode=ir.NetworkMode.NONE, health=h)
                for s, h in checks.items()]
    p = plan("hc", lay, machines)
    out = tmp_path / "out"
    write_output(scripts.render(p) + health_scripts.render(p), out)
    root = busybox_root(tmp_path / "machine")
    proc = subprocess.Popen(
        ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--console=pipe",
         "-M", "hc-test-machine", "-D", str(root), "--setenv=PATH=/bin",
         "--setenv=HEALTH_MARK=from the payload", "/bin/sh", "-c", "exec sleep 1000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:        # wait for the payload to be exec'd
            kids = pathlib.Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            if kids and "sleep" in pathlib.Path(f"/proc/{kids[0]}/cmdline").read_bytes().decode():
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        yield p, out, root, proc
    finally:
        proc.send_signal(signal.SIGTERM)          # never SIGKILL nspawn
        proc.wait(timeout=20)


def health_sh(out, action, name, proc, timeout=30, **popen):
    env = dict(os.environ, DEKUBE_NSPAWN_PID=str(proc.pid))
    return subprocess.run([str(out / "lib/health.sh"), action, name], capture_output=True,
                          text=True, env=env, timeout=timeout, **popen)


def test_check_runs_inside_the_machine_with_its_environment(running):
    p, out, root, proc = running
    assert health_sh(out, "check", "hc-web", proc).returncode == 1
    (root / "ready").write_text("")
    r = health_sh(out, "check", "hc-web", proc)
    assert r.returncode == 0, r.stderr


def test_check_honours_the_timeout(running):
    p, out, root, proc = running
    started = time.monotonic()
    r = health_sh(out, "check", "hc-slow", proc)
    assert r.returncode == 124
    assert time.monotonic() - started < 5


def test_gate_and_monitor_follow_the_state_machine(running):
    p, out, root, proc = running
    state = pathlib.Path(p.machines[0].health.state_path)
    # Unhealthy: `retries` consecutive failures -> gate exits 1.
    r = health_sh(out, "gate", "hc-web", proc)
    assert r.returncode == 1 and state.read_text() == "unhealthy\n"
    state.unlink()
    (root / "ready").write_text("")
    r = health_sh(out, "gate", "hc-web", proc)
    assert r.returncode == 0 and state.read_text() == "healthy\n"

    env = dict(os.environ, DEKUBE_NSPAWN_PID=str(proc.pid))
    monitor = subprocess.Popen([str(out / "lib/health.sh"), "monitor", "hc-web"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen = []

        def wait_for(value, timeout=10):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                text = state.read_text().strip() if state.exists() else ""
                if not seen or seen[-1] != text:
                    seen.append(text)
                if text == value:
                    return
                time.sleep(0.05)
            raise AssertionError(f"state never became {value}: {seen}")

        wait_for("healthy")
        (root / "ready").unlink()
        wait_for("unhealthy")
        (root / "ready").write_text("")
        wait_for("healthy")
        assert seen == ["healthy", "unhealthy", "healthy"]
    finally:
        monitor.terminate()
        monitor.wait(timeout=10)


def test_not_running_machine_is_unhealthy(running, tmp_path):
    p, out, root, proc = running
    env = dict(os.environ, DEKUBE_NSPAWN_PID="999999999")
    r = subprocess.run([str(out / "lib/health.sh"), "check", "hc-web"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 1 and "not running" in r.stderr


def test_check_with_init_uses_the_payload_under_the_stub_init(tmp_path):
    """init: true runs the payload as PID 2 under nspawn's stub init; its environment is the one
    the check gets."""
    require_tools("systemd-nspawn", "nsenter", "busybox")
    lay = layout(str(tmp_path / "r"))
    h = health("hi", lay, "hi-web", TEST, interval_s=0.2, timeout_s=2.0, retries=1)
    m = machine("hi", lay, "web", image("busybox"), mode=ir.NetworkMode.NONE, health=h, init=True)
    p = plan("hi", lay, [m])
    out = tmp_path / "out"
    write_output(scripts.render(p) + health_scripts.render(p), out)
    root = busybox_root(tmp_path / "machine")
    (root / "ready").write_text("")
    proc = subprocess.Popen(
        ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--console=pipe", "--as-pid2",
         "-M", "hi-test-machine", "-D", str(root), "--setenv=PATH=/bin",
         "--setenv=HEALTH_MARK=from the payload", "/bin/sleep", "1000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        result = None
        while time.monotonic() < deadline:
            result = health_sh(out, "check", "hi-web", proc)
            if result.returncode == 0:
                break
            time.sleep(0.1)
        assert result is not None and result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_start_period_counts_from_the_machine_start(running):
    """Failures inside start_period do not count, and the period began when the machine did."""
    p, out, root, proc = running
    started = time.monotonic()
    r = health_sh(out, "gate", "hc-late", proc)
    first = time.monotonic() - started
    assert r.returncode == 1
    # The machine has just started: the gate waits out (most of) the 3 s start period.
    assert first > 2.0
    time.sleep(0.5)
    pathlib.Path(p.machines[2].health.state_path).unlink()
    started = time.monotonic()
    r = health_sh(out, "gate", "hc-late", proc)
    assert r.returncode == 1
    # Now the period is over: the first failure counts.
    assert time.monotonic() - started < 1.5


def test_check_runs_as_the_payloads_user(tmp_path):
    """The payload switched to uid 1234 through the setpriv helpers; the check runs as 1234 too."""
    require_tools("systemd-nspawn", "nsenter", "busybox", "setpriv")
    lay = layout(str(tmp_path / "r"))
    h = health("hu", lay, "hu-web", ["sh", "-c", 'test "$(id -u):$(id -g)" = 1234:1234'],
               interval_s=0.2, timeout_s=2.0, retries=1)
    m = machine("hu", lay, "web", image("busybox"), mode=ir.NetworkMode.NONE, health=h, user="1234:1234")
    p = plan("hu", lay, [m])
    out = tmp_path / "out"
    write_output(scripts.render(p) + health_scripts.render(p), out)
    subprocess.run([str(out / "lib/prepare.sh"), "--helpers"], check=True)
    helpers = pathlib.Path(lay.state_dir) / "runtime"
    root = busybox_root(tmp_path / "machine")
    (root / "bin/id").symlink_to("busybox")
    proc = subprocess.Popen(
        ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--console=pipe",
         "-M", "hu-test-machine", "-D", str(root), "--setenv=PATH=/bin", f"--bind-ro={helpers}:/run/dekube",
         "/run/dekube/ld.so", "--library-path", "/run/dekube/lib", "/run/dekube/setpriv",
         "--reuid=1234", "--regid=1234", "--clear-groups", "--", "/bin/sleep", "1000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        result = None
        while time.monotonic() < deadline:
            result = health_sh(out, "check", "hu-web", proc)
            if result.returncode == 0:
                break
            time.sleep(0.1)
        assert result is not None and result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
