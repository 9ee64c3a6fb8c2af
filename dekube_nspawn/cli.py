"""Command line in Docker Compose's vocabulary.

    dekube-nspawn [-f FILE]... [-p NAME] [--project-directory DIR] [--env-file F]... [--profile P]... VERB ...
    dekube-nspawn compose.yml --output-dir out/        (shorthand for the `convert` verb)

Exit codes: 0 ok, 1 invalid input or failed operation (one paragraph on stderr), 2 usage error.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys

from dekube_nspawn.errors import DekubeError, Diagnostics, UsageError
from dekube_nspawn.ops import DAY2_VERBS

VERBS = ("config", "convert") + DAY2_VERBS


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Global options are accepted before and after the verb, like `docker compose` users type them."""
    d = argparse.SUPPRESS if suppress else None
    parser.add_argument("-f", "--file", dest="files", action="append", default=d if suppress else [],
                        metavar="FILE", help="compose file (repeatable, in order; '-' reads stdin)")
    parser.add_argument("-p", "--project-name", dest="project_name", default=d, metavar="NAME")
    parser.add_argument("--project-directory", dest="project_directory", default=d, metavar="DIR")
    parser.add_argument("--env-file", dest="env_files", action="append", default=d if suppress else [],
                        metavar="FILE", help="alternate environment file (repeatable)")
    parser.add_argument("--profile", dest="profiles", action="append", default=d if suppress else [],
                        metavar="PROFILE", help="enable a profile (repeatable)")


def build_parser(day2: bool = True) -> argparse.ArgumentParser:
    """`day2=False`: without the day-2 verbs' parsers (and their code), for a command line that
    names `config` or `convert`."""
    parser = argparse.ArgumentParser(prog="dekube-nspawn", description=__doc__.split("\n\n")[0])
    _global_options(parser, suppress=False)
    from dekube_nspawn import __version__
    parser.add_argument("--version", action="version", version=f"dekube-nspawn {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("config", help="print the normalized project, like `docker compose config`")
    _global_options(p, suppress=True)
    p.add_argument("--format", choices=("json", "yaml"), default="yaml")
    p.add_argument("-q", "--quiet", action="store_true", help="only validate")
    p.add_argument("--services", action="store_true", help="print the service names")
    p.add_argument("--no-interpolate", dest="interpolate", action="store_false")
    p.add_argument("--no-path-resolution", dest="resolve_paths", action="store_false")
    p.add_argument("--no-consistency", dest="consistency", action="store_false")
    p.add_argument("-o", "--output", metavar="PATH", help="write to a file instead of stdout")

    p = sub.add_parser("convert", help="write the systemd-nspawn files for the project")
    _global_options(p, suppress=True)
    p.add_argument("positional_files", nargs="*", metavar="COMPOSE_FILE",
                   help="compose files (same as -f)")
    add_convert_options(p)

    if day2:
        from dekube_nspawn.ops.verbs import add_parsers
        add_parsers(sub, _global_options)
    return parser


def add_convert_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output-dir", required=True, metavar="DIR")
    p.add_argument("--strict", action="store_true", help="turn every warning into an error")
    p.add_argument("--check", action="store_true",
                   help="compare with the existing output directory; print a diff; exit 1 when it differs")
    p.add_argument("--bridge", metavar="NAME", help="bridge interface name of the default network")
    p.add_argument("--subnet", action="append", default=[], metavar="[NETWORK=]CIDR",
                   help="subnet of the default network, or of NETWORK (repeatable)")
    p.add_argument("--resolve-images", action="store_true",
                   help="ask skopeo for each image's digest and config at conversion time")


_TAKES_VALUE = {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile"}


def _first_word(argv: list[str]) -> int | None:
    """Index of the first positional word, past global options and their values; len(argv)
    when there is none; None when -h/--help/--version comes first."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _TAKES_VALUE:
            i += 2
        elif a.startswith("-"):
            if a in ("-h", "--help", "--version"):
                return None
            i += 1
        else:
            return i
    return len(argv)


def _verb_of(argv: list[str]) -> str | None:
    """The verb of a normalized command line; None with -h/--help/--version before it."""
    i = _first_word(argv)
    return argv[i] if i is not None and i < len(argv) else None


def _normalize_argv(argv: list[str]) -> list[str]:
    """`dekube-nspawn compose.yml -o out` means `convert`: insert the verb where the first
    positional (non-option) word is not a verb."""
    i = _first_word(argv)
    if i is None:
        return argv
    if i < len(argv):
        return argv if argv[i] in VERBS else argv[:i] + ["convert"] + argv[i:]
    if any(a in ("-o", "--output-dir") or a.startswith("--output-dir=") for a in argv):
        return argv + ["convert"]
    return argv


def load_options_from_args(args, environ) -> "LoadOptions":
    from dekube_nspawn.loader import LoadOptions
    files = list(getattr(args, "files", None) or []) + list(getattr(args, "positional_files", None) or [])
    stdin_text = sys.stdin.read() if "-" in files else None
    return LoadOptions(
        files=tuple(files),
        project_name=getattr(args, "project_name", None),
        project_directory=getattr(args, "project_directory", None),
        env_files=tuple(getattr(args, "env_files", None) or ()),
        profiles=tuple(getattr(args, "profiles", None) or ()),
        environ=dict(environ),
        cwd=os.getcwd(),
        stdin_text=stdin_text,
        resolve_paths=getattr(args, "resolve_paths", True),
        interpolate=getattr(args, "interpolate", True),
        consistency=getattr(args, "consistency", True),
    )


def _print_warnings(diagnostics: Diagnostics) -> None:
    for w in diagnostics.warnings:
        print(f"WARNING: {w}", file=sys.stderr)


@contextlib.contextmanager
def _no_cycle_collection():
    """config and convert build large, acyclic structures that live until they return: the cyclic
    garbage collector would walk the growing heap again and again and find nothing to free (~15%
    of a 1000-service conversion's CPU time, more the larger the project)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting and not _process_ends_after_main:
            gc.enable()


# Set by run(): the process ends when main() returns, so the collector stays off. Switched back
# on, its first pass walks every object the command made (~60 ms after 1000 services) to free
# nothing.
_process_ends_after_main = False


@_no_cycle_collection()
def cmd_config(args, environ) -> int:
    from dekube_nspawn.loader import load_project
    from dekube_nspawn.render_config import render_config
    diagnostics = Diagnostics()
    project = load_project(load_options_from_args(args, environ), diagnostics)
    _print_warnings(diagnostics)
    if args.quiet:
        return 0
    if args.services:
        text = "".join(f"{name}\n" for name in project.services)
    else:
        text = render_config(project, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


@_no_cycle_collection()
def cmd_convert(args, environ) -> int:
    from dekube_nspawn.loader import load_project
    from dekube_nspawn.convert import ConvertOptions, convert_to_directory
    diagnostics = Diagnostics(strict=args.strict)
    project = load_project(load_options_from_args(args, environ), diagnostics)
    options = ConvertOptions.from_args(args, parallel=True)
    result = convert_to_directory(project, options, diagnostics)
    _print_warnings(diagnostics)
    return result


def run() -> None:
    """The process entry point (console script and `python -m dekube_nspawn`): main(), then exit
    without tearing the heap down. A conversion ends with millions of live objects that the
    interpreter would otherwise free one by one (~0.1 s of a 1000-service run) just before the
    kernel drops the whole address space anyway. Nothing of ours runs at exit: temporary
    directories are context managers, output is written and closed before main() returns."""
    global _process_ends_after_main
    _process_ends_after_main = True
    code = main()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:     # started with the descriptor closed
            continue
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed or broken pipe: what CPython's own exit reports
            code = code or 120
    os._exit(code)


def main(argv: list[str] | None = None, environ=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    argv = _normalize_argv(argv)
    parser = build_parser(day2=_verb_of(argv) not in ("config", "convert"))
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_usage(sys.stderr)
        print(f"dekube-nspawn: error: name a verb ({', '.join(VERBS)}) or a compose file", file=sys.stderr)
        return 2
    try:
        handler = {"config": cmd_config, "convert": cmd_convert}.get(args.verb)
        if handler is None:     # the day-2 verbs: not imported by a conversion
            from dekube_nspawn.ops.verbs import HANDLERS
            handler = HANDLERS[args.verb]
        return handler(args, environ)
    except UsageError as e:
        print(f"dekube-nspawn: error: {e}", file=sys.stderr)
        return 2
    except DekubeError as e:
        print(f"dekube-nspawn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        print("dekube-nspawn: error: the input nests too deeply to be read", file=sys.stderr)
        return 1
    except Exception as e:  # the last net: a bug must still not show a user a traceback
        if environ.get("DEKUBE_NSPAWN_DEBUG"):
            raise
        print(f"dekube-nspawn: internal error ({type(e).__name__}: {e}); this is a bug in dekube-nspawn,"
              " set DEKUBE_NSPAWN_DEBUG=1 to see where", file=sys.stderr)
        return 1
