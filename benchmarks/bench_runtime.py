#!/usr/bin/env python3
"""Runtime cost of converted output on a real booted systemd (the e2e test host), as root.

    python3 benchmarks/bench_runtime.py [--services 10] [--json]

Measures, for a project of N busybox services on one image (each with a healthcheck), and for
the same project with 1 service:
  - test host boot (cold: tarball built by debootstrap; warm: cached), registry ready
  - bootstrap.sh: first run (pull + unpack), re-run (no-op), disk used under /var/lib/dekube-nspawn
  - `systemctl start dekube-<p>.target` until every machine is active and its check healthy
  - `systemctl stop` until every unit is inactive
Uses the harness of tests/e2e (same fixtures, same images, same registry).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import shutil
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import hostimage  # noqa: E402
import images  # noqa: E402
from hosts import booted_host  # noqa: E402
from deploy import deploy, write_project  # noqa: E402


def compose_text(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            f"    image: {images.BUSYBOX_IMAGE.reference}",
            # Stops at once on SIGTERM: the figures are ours, not a payload's 10 s stop timeout.
            """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"]""",
            "    healthcheck:",
            '      test: ["CMD", "test", "-x", "/bin/sh"]',
            "      interval: 1s",
            "      timeout: 1s",
            "      retries: 3",
        ]
    return "\n".join(lines) + "\n"


def timed(fn):
    t0 = time.monotonic()
    fn()
    return round(time.monotonic() - t0, 3)


def wait_healthy(dep, services, timeout=300.0) -> None:
    units = [dep.unit(s) for s in services]
    health_dir = f"/run/dekube-nspawn/{dep.project}/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = dep.host.run(["systemctl", "show", "-p", "ActiveState", "--value", *units]).stdout.split()
        health = dep.host.run(f"cat {health_dir}/* 2>/dev/null || true").stdout.split()
        if states.count("active") == len(units) and health.count("healthy") == len(units):
            return
        time.sleep(0.1)
    raise RuntimeError(f"not all active and healthy within {timeout}s: {states} {health}")


def measure_project(host, workdir: pathlib.Path, n: int) -> dict:
    services = [f"svc{i}" for i in range(n)]
    name = f"bench{n}"
    dep = deploy(host, write_project(workdir / name, compose_text(n)), name)
    result = {"services": n, "install_s": timed(dep.install)}
    result["bootstrap_first_s"] = timed(dep.bootstrap)
    result["bootstrap_rerun_s"] = timed(dep.bootstrap)
    result["images_disk_kib"] = int(host.run("du -skx /var/lib/dekube-nspawn/images").stdout.split()[0])

    def start():
        host.run(["systemctl", "start", dep.target], timeout=300)
        wait_healthy(dep, services)
    result["start_to_healthy_s"] = timed(start)
    # -x: not through the mounted machine roots (overlays), which would count the image again.
    result["state_disk_kib"] = int(host.run("du -skx /var/lib/dekube-nspawn").stdout.split()[0])
    result["stop_s"] = timed(lambda: dep.stop(timeout=300))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    figures: dict = {}
    cold = not hostimage.tarball_path().is_file()
    figures["host_tarball_build_s" if cold else "host_tarball_cached"] = timed(hostimage.ensure_host_tarball) if cold else True
    layout = images.ensure_image_layout()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="dekube-bench-", dir="/var/tmp"))
    try:
        cached = hostimage.tarball_path().with_suffix("").is_dir()
        figures["host_rootfs_cached" if cached else "host_unpack_s"] = True if cached else timed(hostimage.ensure_host_rootfs)
        rootfs = hostimage.ensure_host_rootfs()
        for n in (args.services, 1):
            with contextlib.ExitStack() as stack:
                t0 = time.monotonic()
                host = stack.enter_context(booted_host(rootfs, layout, scratch))
                figures.setdefault("host_boot_s", round(host.boot_seconds, 3))
                figures.setdefault("host_boot_and_registry_s", round(time.monotonic() - t0, 3))
                figures[f"project_{n}"] = measure_project(host, scratch / "projects", n)
    finally:
        shutil.rmtree(scratch, ignore_errors=False)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
