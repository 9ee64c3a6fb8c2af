"""The day-2 verbs' command line (parsers and handlers), kept apart from cli.py so that cli.py
only lists them. Each verb takes the global -f/-p/--project-directory options and works on what
install.sh recorded (ops.locate)."""
from __future__ import annotations

import argparse
import os
import sys

from dekube_nspawn.errors import DekubeError, Diagnostics, UsageError
from dekube_nspawn.ops import locate


def add_parsers(sub, global_options) -> None:
    def verb(name, help_text, **kwargs):
        p = sub.add_parser(name, help=help_text, **kwargs)
        global_options(p, suppress=True)
        return p

    p = verb("up", "convert, install, pull the images and start the project (always detached)")
    p.add_argument("-d", "--detach", action="store_true", help="accepted; systemd keeps the project running")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="where to convert to (default: .dekube-nspawn/ in the project directory)")
    p.add_argument("--pull", action="store_true", help="ask for newer images (bootstrap.sh --pull)")
    p.add_argument("--from", dest="source", metavar="SOURCE", help="image source (bootstrap.sh --from)")
    p.add_argument("--resolve-images", action="store_true", help="as for convert")

    p = verb("down", "stop the project and uninstall it")
    p.add_argument("-v", "--volumes", action="store_true", help="also delete named and anonymous volume data")
    p.add_argument("--rmi", nargs="?", const="all", choices=("all", "local"),
                   help="also remove the project's unpacked images")

    p = verb("ps", "list the project's machines")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    # `logs -f` is --follow as in docker compose; after the verb the compose file is --file only.
    p = verb("logs", "show the machines' output from the journal", conflict_handler="resolve")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", metavar="N", help="number of lines at the end (all by default)")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("exec", "run a command in a running machine (a shell without a command)")
    p.add_argument("-u", "--user", metavar="USER[:GROUP]")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]")
    p.add_argument("-T", "--no-TTY", action="store_true", help="accepted (the terminal is passed as is)")
    p.add_argument("--index", type=int, default=1, help="replica of a scaled service")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")

    for name, text in (("start", "start services (all without names)"),
                       ("stop", "stop services (all without names)"),
                       ("restart", "restart services (all without names)")):
        p = verb(name, text)
        p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("pull", "pull newer images of the installed project (bootstrap.sh --pull)")
    p.add_argument("--from", dest="source", metavar="SOURCE",
                   help="oci-archive:DIR, docker-archive:DIR, oci:DIR, dir:DIR or docker://MIRROR")

    p = verb("images", "list the unpacked images on this host")
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = verb("prune", "remove the unpacked images no installed project uses")


def parse_tail(value) -> int | None:
    if value in (None, "all"):
        return None
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--tail wants a number or 'all', not {value!r}")
    if n < 0:
        raise UsageError("--tail wants a number >= 0")
    return n


def cmd_up(args, environ) -> int:
    from dekube_nspawn.cli import load_options_from_args
    from dekube_nspawn.convert import ConvertOptions, convert_to_directory
    from dekube_nspawn.loader import load_project
    from dekube_nspawn.ops import lifecycle
    from dekube_nspawn.planning.names import project_id
    diagnostics = Diagnostics()
    try:
        project = load_project(load_options_from_args(args, environ), diagnostics)
    except DekubeError as e:
        # `up -p NAME` away from the compose files: an installed project is started as installed.
        if not args.project_name or args.files or args.output_dir or "no configuration file" not in str(e):
            raise
        installed = locate.load_installed(locate.project_name_from_args(args, environ))
        lifecycle.up_installed(installed, bootstrap_args(args))
        return 0
    output_dir = os.path.abspath(args.output_dir or lifecycle.default_output_dir(project.project_dir))
    options = ConvertOptions(output_dir=output_dir, resolve_images=args.resolve_images, parallel=True)
    code = convert_to_directory(project, options, diagnostics)
    for w in diagnostics.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    if code:
        return code
    name = project_id(project.name)
    output_files = os.listdir(output_dir)
    machine_units = sorted(f for f in output_files if f.startswith("nspawn-") and f.endswith(".service"))
    try:
        installed_units = locate.load_installed(name).units()
    except locate.ProjectNotInstalled:
        installed_units = []
    lifecycle.up(output_dir, f"dekube-{name}.target", machine_units, bootstrap_args(args),
                 orphan_units=lifecycle.orphans(installed_units, output_files),
                 state_dir=os.path.join(locate.STATE_ROOT, name))
    return 0


def bootstrap_args(args) -> list[str]:
    return (["--pull"] if args.pull else []) + (["--from", args.source] if args.source else [])


def cmd_down(args, environ) -> int:
    from dekube_nspawn.ops import lifecycle
    project = locate.locate(args, environ)
    lifecycle.down(project, volumes=args.volumes, images=bool(args.rmi))
    return 0


def cmd_ps(args, environ) -> int:
    from dekube_nspawn.ops import status
    project = locate.locate(args, environ)
    rows = status.collect(project, args.services)
    sys.stdout.write(status.format_json(rows) if args.format == "json" else status.format_table(rows))
    return 0


def cmd_logs(args, environ) -> int:
    from dekube_nspawn.ops import logs
    tail = parse_tail(args.tail)
    project = locate.locate(args, environ)
    return logs.stream(project.machines_of(args.services), args.follow, tail)


def pick_replica(machines, index: int, service: str):
    for m in machines:
        if m.replica == index:
            return m
    raise UsageError(f"service {service} has no replica {index} (it has {len(machines)})")


def cmd_exec(args, environ) -> int:
    from dekube_nspawn.ops import exec as machine_exec
    project = locate.locate(args, environ)
    machine = pick_replica(project.machines_of([args.service]), args.index, args.service)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    return machine_exec.run(project, machine, command, user=args.user, workdir=args.workdir,
                            env_overrides=args.env)


def cmd_control(args, environ) -> int:
    from dekube_nspawn.ops import lifecycle
    project = locate.locate(args, environ)
    machines = project.machines_of(args.services) if args.services else []
    code = lifecycle.control(args.verb, project, machines)
    if code:
        raise DekubeError(f"systemctl {args.verb} failed (exit {code}); `dekube-nspawn -p {project.name} "
                          "logs` shows why")
    return 0


def cmd_pull(args, environ) -> int:
    from dekube_nspawn.ops import lifecycle
    lifecycle.pull(locate.locate(args, environ), args.source)
    return 0


def cmd_images(args, environ) -> int:
    from dekube_nspawn.ops import images
    entries = images.list_images()
    sys.stdout.write(images.format_json(entries) if args.format == "json" else images.format_table(entries))
    return 0


def cmd_prune(args, environ) -> int:
    from dekube_nspawn.ops import images
    removed = images.prune(images.list_images())
    for entry in removed:
        print(f"removed {entry.key} ({images.human_size(entry.size_bytes)})")
    print(f"total reclaimed space: {images.human_size(sum(e.size_bytes for e in removed))}")
    return 0


HANDLERS = {"up": cmd_up, "down": cmd_down, "ps": cmd_ps, "logs": cmd_logs, "exec": cmd_exec,
            "start": cmd_control, "stop": cmd_control, "restart": cmd_control, "pull": cmd_pull,
            "images": cmd_images, "prune": cmd_prune}
