"""Loading and converting the golden fixtures the same way for every test that uses them."""
from __future__ import annotations

import json
import pathlib

from dekube_nspawn import ir
from dekube_nspawn.convert import ConvertOptions, render_project
from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
# Relative paths of a fixture resolve here, not in the checkout, so the goldens hold no path of
# the machine that generated them.
PROJECT_ROOT = "/srv/fixtures"


def cases() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "compose.yaml").is_file())


def image_configs(case: str):
    path = FIXTURES / case / "images.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return {ref: ir.ImageConfig(
        entrypoint=tuple(c["entrypoint"]) if c["entrypoint"] is not None else None,
        cmd=tuple(c["cmd"]) if c["cmd"] is not None else None,
        env=tuple(tuple(e) for e in c["env"]), working_dir=c["working_dir"], user=c["user"],
        digest=c["digest"]) for ref, c in raw.items()}


def load_fixture(case: str, diagnostics: Diagnostics):
    compose = FIXTURES / case / "compose.yaml"
    options = LoadOptions(files=(str(compose),), project_name=case,
                          project_directory=f"{PROJECT_ROOT}/{case}",
                          environ={"HOME": "/home/compose"}, cwd=str(compose.parent))
    return load_project(options, diagnostics)


def convert_fixture(case: str, output_dir: str = "unused"):
    """(files, diagnostics) of one fixture, manifest.json last."""
    diagnostics = Diagnostics()
    project = load_fixture(case, diagnostics)
    configs = image_configs(case)
    options = ConvertOptions(output_dir=output_dir, resolve_images=configs is not None)
    return render_project(project, options, diagnostics, image_configs=configs), diagnostics


def warnings_text(diagnostics: Diagnostics) -> str:
    return "".join(f"WARNING: {w}\n" for w in diagnostics.warnings)


def bootstrap_compose_process(bootstrap_sh: str, machine: str) -> dict:
    """The compose process bootstrap.sh hands to the image completion for `machine` (the JSON
    argument of its `complete_machine` line)."""
    import shlex
    line = next(line for line in bootstrap_sh.splitlines()
                if line.lstrip().startswith(f"complete_machine '{machine}' "))
    return json.loads(shlex.split(line)[4])
