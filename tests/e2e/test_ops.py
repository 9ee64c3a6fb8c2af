"""Issue #7: the day-2 verbs (`up`, `ps`, `logs`, `exec`, `down`, `images`, `prune`) run inside a
booted systemd host, by the host's python3 on the bound repository, the way a user types them."""
from __future__ import annotations

import json
import pathlib
import subprocess
import time

import pytest

import images
import registry
from deploy import REPO, SITE_PACKAGES, write_project

pytestmark = pytest.mark.e2e

BUSYBOX = images.BUSYBOX_IMAGE.reference
HTTPD = images.HTTPD_IMAGE.reference
SLEEP = '["sh", "-c", "trap \'exit 0\' TERM; sleep 2147483647 & wait"]'
STATE = "/var/lib/dekube-nspawn"

# An image with no shell: one static busybox under /app (PATH=/app), no /bin, no /etc/passwd.
# Its payload is busybox's `sleep`, stopped with SIGKILL (as PID 1 it ignores SIGTERM).
NOSHELL = "dekube-test/noshell:1"


def publish_noshell_image(host, work: pathlib.Path) -> None:
    tree, layout = work / "noshell-tree", work / "noshell-layout"
    (tree / "app").mkdir(parents=True)
    (tree / "usr").mkdir()            # nspawn wants a /usr
    (tree / "work").mkdir()
    (tree / "app/busybox").write_bytes(images.BUSYBOX.read_bytes())
    (tree / "app/busybox").chmod(0o755)
    ref = f"{layout}:noshell"
    subprocess.run(["umoci", "init", "--layout", str(layout)], check=True)
    subprocess.run(["umoci", "new", "--image", ref], check=True)
    subprocess.run(["umoci", "insert", "--image", ref, str(tree), "/"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["umoci", "config", "--image", ref, "--os=linux", "--architecture=amd64",
                    "--config.env=PATH=/app", "--config.cmd=busybox", "--config.cmd=sleep",
                    "--config.cmd=2147483647", "--config.workingdir=/work"], check=True)
    in_host = f"/var/lib/dekube-test/{layout.name}"
    host.copy_in(layout, in_host)
    host.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{in_host}:noshell",
              f"docker://{registry.ADDRESS}/{NOSHELL}"], timeout=60)


def dk(host, cwd: str, *args: str, check: bool = True, timeout: float = 240):
    """`python3 -m dekube_nspawn ARGS` in the test host, from `cwd`, by the host's python3. Only
    `up`, and a verb that finds its project by reading the compose file, need the converter's
    libraries (yaml...); every other verb runs on the standard library alone, so it gets the
    repository and nothing else."""
    needs_loader = "up" in args or "-p" not in args[:2]
    path = f"{REPO}:{SITE_PACKAGES}" if needs_loader else str(REPO)
    return host.run(["sh", "-c", 'cd "$1" && shift && exec "$@"', "dk", cwd, "python3", "-m", "dekube_nspawn", *args],
                    env={"PYTHONPATH": path}, check=check, timeout=timeout)


def ps(host, project: str) -> dict[str, dict]:
    return {row["service"]: row for row in json.loads(dk(host, "/", "-p", project, "ps", "--format", "json").stdout)}


def wait_for(predicate, what: str, timeout: float = 60, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def leftovers(host, project: str) -> list[str]:
    """Everything install/start put on the host for `project`, still there."""
    script = f"""
    ls -d /etc/dekube-nspawn/{project} /run/dekube-nspawn/{project} 2>/dev/null
    ls /etc/systemd/system | grep -E '^(nspawn-{project}-|dekube-{project}[.-])' || true
    ls /etc/systemd/nspawn 2>/dev/null | grep -E '^{project}-' || true
    ls /etc/systemd/network | grep -E '^dk-{project}' || true
    ip netns list | grep -E '^{project}-' || true
    grep -F ' {STATE}/{project}/' /proc/self/mountinfo || true
    systemctl list-units --all --plain --no-legend 'nspawn-{project}-*' 'dekube-{project}*' | grep -v 'not-found' || true
    ls -d {STATE}/{project}/machines 2>/dev/null || true
    """
    return [line for line in host.run(script).stdout.splitlines() if line.strip()]


OPS_COMPOSE = f"""
name: ops
services:
  web:
    image: {HTTPD}
    ports: ["8080:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
  worker:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo hello-from-worker; echo kept > /data/file; trap 'exit 0' TERM; sleep 2147483647 & wait"]
    volumes: ["data:/data"]
  tool:
    image: {NOSHELL}
    user: "1234:2345"
    environment:
      GREETING: hello world
    stop_signal: SIGKILL
volumes:
  data: {{}}
"""


def test_up_ps_logs_exec_down(fresh_host, tmp_path):
    host = fresh_host
    publish_noshell_image(host, tmp_path)
    project_dir = write_project(tmp_path / "ops", OPS_COMPOSE)
    host.copy_in(project_dir, str(project_dir))

    # up: convert, install, bootstrap, start; returns once the target's start jobs are done.
    dk(host, str(project_dir), "up", "-d")
    rows = wait_for(lambda: (r := ps(host, "ops")) and r["web"]["health"] == "healthy" and r, "web healthy")
    assert set(rows) == {"web", "worker", "tool"}
    for service, row in rows.items():
        assert row["state"] == "active (running)", row
        assert row["machine"] == f"ops-{service}"
        assert len(row["addresses"]) == 1 and row["addresses"][0].startswith("10."), row
        assert row["uptime_s"] is not None
    assert rows["worker"]["health"] == ""            # no healthcheck
    assert rows["web"]["ports"] == ["0.0.0.0:8080->80/tcp"]
    # The address ps reports is the machine's own: the host reaches web's server on it.
    web_ip = rows["web"]["addresses"][0].split("/")[0]
    assert "served by" in host.run(["busybox", "wget", "-q", "-O", "-", f"http://{web_ip}/"]).stdout
    table = dk(host, "/", "-p", "ops", "ps").stdout
    assert table.splitlines()[0].split()[:4] == ["SERVICE", "MACHINE", "STATE", "HEALTH"]
    assert any(line.startswith("web ") and "healthy" in line for line in table.splitlines())

    # logs: a line the payload printed, prefixed with its service; from another directory.
    logs = wait_for(lambda: (out := dk(host, "/tmp", "-p", "ops", "logs", "worker").stdout)
                    and "hello-from-worker" in out and out, "worker's line in the journal")
    assert any(line.startswith("worker") and line.split("|", 1)[1].strip() == "hello-from-worker"
               for line in logs.splitlines() if "|" in line), logs
    assert "web" not in {line.split("|")[0].strip() for line in logs.splitlines() if "|" in line}
    # --tail counts per service, like docker compose's per container.
    tail = dk(host, "/", "-p", "ops", "logs", "--tail", "1").stdout.splitlines()
    assert sorted(line.split("|")[0].strip() for line in tail) == ["tool", "web", "worker"], tail

    # exec into an image with no shell: the image's PATH finds busybox, the exit code comes back.
    r = dk(host, "/", "-p", "ops", "exec", "tool", "busybox", "sh", "-c", "exit 7", check=False)
    assert r.returncode == 7, r
    assert dk(host, "/", "-p", "ops", "exec", "tool", "sh", "-c", "true", check=False).returncode != 0
    env = dk(host, "/", "-p", "ops", "exec", "-e", "EXTRA=1", "tool", "busybox", "env").stdout.splitlines()
    assert "PATH=/app" in env and "GREETING=hello world" in env and "EXTRA=1" in env, env
    assert dk(host, "/", "-p", "ops", "exec", "tool", "busybox", "pwd").stdout.strip() == "/work"
    assert dk(host, "/", "-p", "ops", "exec", "-w", "/app", "tool", "busybox", "pwd").stdout.strip() == "/app"
    assert dk(host, "/", "-p", "ops", "exec", "tool", "busybox", "id", "-u").stdout.strip() == "1234"
    assert dk(host, "/", "-p", "ops", "exec", "tool", "busybox", "id", "-g").stdout.strip() == "2345"
    assert dk(host, "/", "-p", "ops", "exec", "-u", "0", "tool", "busybox", "id", "-u").stdout.strip() == "0"
    # It is the running machine: the payload is there, and the volume the payload wrote.
    assert "sleep" in dk(host, "/", "-p", "ops", "exec", "tool", "busybox", "ps").stdout
    assert dk(host, "/", "-p", "ops", "exec", "worker", "cat", "/data/file").stdout.strip() == "kept"

    # Kill one payload from outside: ps tells the truth, exec refuses with a reason.
    host.run("kill -KILL $(cat /proc/$(systemctl show -p MainPID --value nspawn-ops-worker.service)/task/*/children)")
    rows = wait_for(lambda: (r := ps(host, "ops")) and not r["worker"]["state"].startswith("active") and r,
                    "worker no longer active")
    assert rows["worker"]["uptime_s"] is None and rows["worker"]["addresses"] == []
    assert rows["web"]["state"] == "active (running)"
    r = dk(host, "/", "-p", "ops", "exec", "worker", "true", check=False)
    assert r.returncode == 1 and "worker is not running" in r.stderr and "\n" not in r.stderr.strip(), r.stderr
    r = dk(host, "/", "-p", "ops", "exec", "nosuch", "true", check=False)
    assert r.returncode == 1 and "no such service: nosuch" in r.stderr, r.stderr
    # start brings the one service back; stop stops it alone.
    dk(host, "/", "-p", "ops", "start", "worker")
    assert ps(host, "ops")["worker"]["state"] == "active (running)"
    # logs -f follows until interrupted (^C), the backlog first.
    followed = host.run(["timeout", "-s", "INT", "3", "python3", "-m", "dekube_nspawn", "-p", "ops", "logs", "-f",
                         "--tail", "5", "worker"], env={"PYTHONPATH": str(REPO)}, check=False)
    assert followed.returncode in (124, 130), followed
    assert [line for line in followed.stdout.splitlines() if line.endswith("| hello-from-worker")], followed.stdout
    dk(host, "/", "-p", "ops", "stop", "worker")
    rows = ps(host, "ops")
    assert rows["worker"]["state"] == "inactive (dead)" and rows["tool"]["state"] == "active (running)"
    # up -p NAME away from the compose file starts the installed project as installed.
    dk(host, "/tmp", "-p", "ops", "up")
    assert ps(host, "ops")["worker"]["state"] == "active (running)"

    # down from another directory: nothing left but the named volume's data (no --volumes).
    dk(host, "/tmp", "-p", "ops", "down")
    assert leftovers(host, "ops") == []
    assert host.run(["cat", f"{STATE}/ops/volumes/ops_data/file"]).stdout.strip() == "kept"
    r = dk(host, "/", "-p", "ops", "ps", check=False)
    assert r.returncode == 1 and "not installed" in r.stderr, r.stderr

    # up again; up after a change recreates only the changed machine; down --volumes deletes the data.
    dk(host, str(project_dir), "up")
    web_since = host.unit_timestamp("nspawn-ops-web.service")
    worker_since = host.unit_timestamp("nspawn-ops-worker.service")
    changed = OPS_COMPOSE.replace("echo hello-from-worker", "echo hello-again")
    host.write_file(f"{project_dir}/compose.yml", changed)
    r = dk(host, str(project_dir), "up")
    assert "recreating nspawn-ops-worker.service (" in r.stderr, r.stderr
    assert host.unit_timestamp("nspawn-ops-worker.service") > worker_since
    assert host.unit_timestamp("nspawn-ops-web.service") == web_since
    wait_for(lambda: "hello-again" in dk(host, "/", "-p", "ops", "logs", "worker").stdout, "the new command's line")
    # A service removed from the file: its machine is stopped and gone (compose's orphans).
    tool_block = changed[changed.index("  tool:"):changed.index("volumes:\n  data")]
    host.write_file(f"{project_dir}/compose.yml", changed.replace(tool_block, ""))
    r = dk(host, str(project_dir), "up")
    assert "stopping nspawn-ops-tool.service" in r.stderr, r.stderr
    assert set(ps(host, "ops")) == {"web", "worker"}
    assert host.unit_state("nspawn-ops-tool.service") in ("inactive", "failed")
    assert host.run(["test", "-e", "/run/netns/ops-tool"], check=False).returncode != 0
    dk(host, str(project_dir), "down", "--volumes")
    assert leftovers(host, "ops") == []
    assert host.run(["test", "-e", f"{STATE}/ops/volumes/ops_data"], check=False).returncode != 0


def image_dirs(host) -> dict[str, int]:
    out = host.run(f"cd {STATE}/images 2>/dev/null && du -s -B1 -- * || true").stdout
    return {line.split("\t")[1]: int(line.split("\t")[0]) for line in out.splitlines() if "\t" in line}


def free_blocks(host) -> int:
    """Free blocks of the filesystem holding the images (what prune gives back)."""
    return int(host.run(["stat", "-f", "-c", "%a", STATE]).stdout.strip())


def test_prune_frees_unused_images_and_keeps_used_ones(fresh_host, tmp_path):
    host = fresh_host
    keeper = write_project(tmp_path / "keeper", f"""
name: keeper
services:
  app:
    image: {BUSYBOX}
    command: {SLEEP}
""")
    gone = write_project(tmp_path / "gone", f"""
name: gone
services:
  web:
    image: {HTTPD}
""")
    for directory in (keeper, gone):
        host.copy_in(directory, str(directory))
        dk(host, str(directory), "up")
    # pull: bootstrap.sh --pull of the installed project, from any directory.
    pulled = dk(host, "/", "-p", "keeper", "pull")
    assert BUSYBOX in pulled.stdout + pulled.stderr
    before = image_dirs(host)
    assert len(before) == 2, before
    listed = {row["key"]: row for row in json.loads(dk(host, "/", "images", "--format", "json").stdout)}
    assert set(listed) == set(before)
    busybox_key = next(k for k in listed if k.startswith("busybox"))
    httpd_key = next(k for k in listed if k != busybox_key)
    assert listed[busybox_key]["used_by"] == ["keeper"] and listed[httpd_key]["used_by"] == ["gone"]
    assert listed[httpd_key]["size_bytes"] > 0

    # While `gone` is installed, prune removes nothing.
    dk(host, "/", "prune")
    assert image_dirs(host) == before

    dk(host, "/", "-p", "gone", "down")
    free_before = free_blocks(host)
    out = dk(host, "/", "prune").stdout
    assert f"removed {httpd_key}" in out, out
    after = image_dirs(host)
    assert set(after) == {busybox_key}, after
    assert after[busybox_key] == before[busybox_key]
    free_after = free_blocks(host)
    assert free_after > free_before, (free_before, free_after)
    # The kept image still runs its project.
    assert ps(host, "keeper")["app"]["state"] == "active (running)"
    dk(host, "/", "-p", "keeper", "restart", "app")
    assert ps(host, "keeper")["app"]["state"] == "active (running)"

    dk(host, "/", "-p", "keeper", "down", "--volumes", "--rmi")
    assert leftovers(host, "keeper") == [] and image_dirs(host) == {}
