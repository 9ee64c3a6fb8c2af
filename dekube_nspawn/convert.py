"""Conversion entry point: Project -> IR (plan) -> rendered files -> output directory."""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.errors import DekubeError

# Every emitter module, in output order. The host-script emitters are written separately; until
# one exists the conversion goes on without its files (import of exactly that module fails).
EMITTERS = (
    "nspawn_settings", "service_unit", "target", "networkd", "hosts", "sockets",
    "bootstrap", "install", "scripts", "health_scripts",
)


@dataclass(frozen=True)
class ConvertOptions:
    output_dir: str
    check: bool = False
    bridge: str | None = None
    subnets: tuple[str, ...] = ()
    resolve_images: bool = False
    # May render and write with a second (forked) process: for the command line, which owns its
    # process; a library caller (the dekube transform) keeps the default.
    parallel: bool = False

    @classmethod
    def from_args(cls, args, parallel: bool = False) -> "ConvertOptions":
        return cls(output_dir=args.output_dir, check=args.check, bridge=args.bridge,
                   subnets=tuple(args.subnet), resolve_images=args.resolve_images,
                   parallel=parallel)


def named_emitters() -> list:
    """(name, module) of every emitter, in output order."""
    modules = []
    for name in EMITTERS:
        qualified = f"dekube_nspawn.emit.{name}"
        try:
            modules.append((name, importlib.import_module(qualified)))
        except ModuleNotFoundError as e:
            if e.name != qualified:
                raise
    return modules


class _InMemory:
    """What render_plan renders into instead of a staging directory: the files themselves are
    what was "written"."""

    @staticmethod
    def write(files: list[OutputFile]) -> list[OutputFile]:
        return files


def render_plan(plan) -> list[OutputFile]:
    """Every file of the output directory except the manifest, sorted by path (the same checks
    and error as when writing: parallel.render_and_write, serially)."""
    from dekube_nspawn import parallel
    files = parallel.render_and_write(plan, _InMemory(), named_emitters(), parallel=False)
    return sorted(files, key=lambda f: f.path)


def plan_options(options: ConvertOptions, project, image_configs=None):
    """`image_configs` (reference -> ir.ImageConfig) stands in for asking skopeo, for tests."""
    from dekube_nspawn.plan import PlanOptions
    if options.resolve_images and image_configs is None:
        try:
            from dekube_nspawn import images
        except ModuleNotFoundError as e:
            if e.name != "dekube_nspawn.images":
                raise
            raise DekubeError("--resolve-images is not available in this build (no image resolver)")
        image_configs = images.resolve_images(project)
    return PlanOptions(bridge=options.bridge, subnets=options.subnets, image_configs=image_configs)


def render_project(project, options: ConvertOptions, diagnostics,
                   image_configs=None) -> list[OutputFile]:
    """Plan and render; the returned list ends with manifest.json."""
    from dekube_nspawn.output import render_manifest
    from dekube_nspawn.plan import build_plan
    plan = build_plan(project, plan_options(options, project, image_configs), diagnostics)
    files = render_plan(plan)
    return files + [render_manifest(plan.project, files)]


def convert_to_directory(project, options: ConvertOptions, diagnostics, image_configs=None) -> int:
    from dekube_nspawn.output import Staging, diff_output
    if options.check:
        diff = diff_output(options.output_dir,
                           render_project(project, options, diagnostics, image_configs))
        if diff:
            sys.stdout.write(diff)
            return 1
        return 0
    from dekube_nspawn import parallel
    from dekube_nspawn.plan import build_plan
    plan = build_plan(project, plan_options(options, project, image_configs), diagnostics)
    with Staging(options.output_dir) as staging:
        written = parallel.render_and_write(
            plan, staging, named_emitters(),
            parallel=options.parallel and parallel.worth_forking(plan))
        staging.commit(plan.project, written)
    return 0
