"""The dekube transform: dekube's services -> the same loader, planner and emitters as the CLI.

dekube's contract (dekube-engine core/extensions.py and core/convert.py): a transform is created
with no arguments, sorted by `priority`, and called as `transform(compose_services,
ingress_entries, ctx)` after every bundled transform; its return value is ignored, and dekube
catches nothing it raises. So nothing here raises into dekube: every problem becomes a line in
`ctx.warnings` (which dekube prints), and under `strict: true` a failure ends dekube the way dekube
ends on its own fatal errors (a message on stderr, exit status 1).
"""
from __future__ import annotations

import argparse
import os
import sys

from dekube_nspawn.errors import DekubeError, Diagnostics, UsageError

PREFIX = "nspawn: "


class NspawnTransform:
    """Writes `<dekube output dir>/nspawn/` (option `output_dir`) for the services dekube made."""

    name = "nspawn"           # dekube passes `extensions.nspawn` of dekube.yaml as extension_config
    priority = 9000           # after dekube's bundled transforms (1000-8000): sees their result

    def transform(self, compose_services, ingress_entries, ctx):
        messages: list[str] = []
        try:
            run(compose_services, ctx, lambda text: messages.append(PREFIX + text))
        except _Failed as failure:
            messages.append(PREFIX + failure.text)
            if failure.strict:
                _exit_like_dekube(messages)
        sink = getattr(ctx, "warnings", None)
        if isinstance(sink, list):
            sink.extend(messages)
        else:   # a context without a warnings list: still tell the user
            for line in messages:
                print(f"Warning: {line}", file=sys.stderr)


class _Failed(Exception):
    def __init__(self, text: str, strict: bool):
        super().__init__(text)
        self.text, self.strict = text, strict


def run(compose_services, ctx, warn) -> None:
    """Convert; `warn(text)` takes each warning. Raises only `_Failed`."""
    from dekube_nspawn.dekube.options import read_options
    config = getattr(ctx, "config", None)
    config = config if isinstance(config, dict) else {}
    options = read_options(config, getattr(ctx, "extension_config", None),
                           getattr(ctx, "output_dir", None) or ".", warn)
    diagnostics = Diagnostics(strict=options.strict)
    try:
        result = _convert(compose_services, ctx, config, options, diagnostics)
    except DekubeError as e:
        _route(diagnostics, warn)
        raise _Failed(f"error: {e}; no systemd-nspawn output was written to {options.output_dir}",
                      options.strict) from None
    except ModuleNotFoundError as e:   # dekube's Python lacks one of our dependencies
        raise _Failed(f"error: {e.name} (needed by dekube-nspawn) cannot be imported by "
                      f"{sys.executable}; install dekube-nspawn for this Python and run "
                      "install-extension again", options.strict) from None
    except OSError as e:
        raise _Failed(f"error: {e}; no systemd-nspawn output was written to {options.output_dir}",
                      options.strict) from None
    except RecursionError:
        raise _Failed("error: the services nest too deeply to be read", options.strict) from None
    except Exception as e:   # a bug must not show dekube users a traceback (like the CLI's net)
        if os.environ.get("DEKUBE_NSPAWN_DEBUG"):
            raise
        raise _Failed(f"internal error ({type(e).__name__}: {e}); this is a bug in dekube-nspawn,"
                      " set DEKUBE_NSPAWN_DEBUG=1 to see where", options.strict) from None
    _route(diagnostics, warn)
    if result != 0:
        raise _Failed(f"error: the conversion to {options.output_dir} failed (status {result})",
                      options.strict)


def _convert(compose_services, ctx, config, options, diagnostics) -> int:
    from dekube_nspawn.convert import ConvertOptions, convert_to_directory
    from dekube_nspawn.dekube.document import compose_document
    from dekube_nspawn.loader import load_project_from_mapping
    project_dir = os.path.abspath(getattr(ctx, "output_dir", None) or ".")
    document = compose_document(compose_services, config, getattr(ctx, "compose_extras", None),
                                getattr(ctx, "secrets", None))
    # The project name comes from the document's `name:` (dekube.yaml `name`), normalized as
    # compose normalizes dekube's compose.yml; the environment is read as `docker compose` run
    # in dekube's output directory reads it (process environment, then that directory's .env).
    project = load_project_from_mapping(
        document, project_dir=project_dir, environ=os.environ, diagnostics=diagnostics,
        source=f"the services dekube generated for {project_dir}")
    return convert_to_directory(project, ConvertOptions.from_args(_cli_arguments(options)),
                                diagnostics)


def _cli_arguments(options) -> argparse.Namespace:
    """The options as the CLI's own `convert` parser reads them, so the transform gets exactly
    the CLI's defaults and meanings."""
    from dekube_nspawn.cli import add_convert_options
    parser = _Parser(prog="dekube-nspawn (dekube transform)", add_help=False)
    add_convert_options(parser)
    argv = [f"--output-dir={options.output_dir}"]
    if options.bridge:
        argv.append(f"--bridge={options.bridge}")
    argv += [f"--subnet={subnet}" for subnet in options.subnets]
    if options.strict:
        argv.append("--strict")
    if options.resolve_images:
        argv.append("--resolve-images")
    return parser.parse_args(argv)


class _Parser(argparse.ArgumentParser):
    """argparse exits on a bad value; inside dekube that must be a reported error instead."""

    def error(self, message):
        raise UsageError(message)


def _route(diagnostics, warn) -> None:
    for w in diagnostics.warnings:
        warn(str(w))


def _exit_like_dekube(lines: list[str]) -> None:
    """dekube prints ctx.warnings only after every transform ran; exiting now, print ours."""
    for line in lines[:-1]:
        print(f"Warning: {line}", file=sys.stderr)
    print(f"Error: {lines[-1]}", file=sys.stderr)
    raise SystemExit(1)
