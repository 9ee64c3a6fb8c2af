"""The loader pipeline: one call per stage, in Docker Compose's order (compose-go loader.go).

Ownership: the front stages (yaml, interpolate, include, extends, merge, profiles, environment,
discovery) turn files into one merged raw mapping; the model stages (canonical, validate,
normalize, consistency) turn that mapping into the canonical form `Project.data` holds.
"""
from __future__ import annotations

from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.loader import LoadOptions
from dekube_nspawn.loader import canonical, consistency, normalize, validate
from dekube_nspawn.loader import yaml as yaml_stage
from dekube_nspawn.model import Project


def load(options: LoadOptions, diagnostics: Diagnostics | None = None) -> Project:
    """Stub pipeline (single file, no interpolation): replaced by the front-stage owner."""
    diagnostics = diagnostics or Diagnostics()
    import os
    path = options.files[0] if options.files else "compose.yaml"
    path = os.path.join(options.cwd, path)
    with open(path, encoding="utf-8") as fh:
        doc = yaml_stage.parse(fh.read(), path)
    validate.validate_file(doc, path)
    doc = canonical.canonicalize(doc)
    project_dir = os.path.dirname(os.path.abspath(path))
    name = options.project_name or doc.get("name") or os.path.basename(project_dir)
    data = normalize.normalize(doc, name=name, project_dir=project_dir, environ=options.environ,
                               resolve_paths=options.resolve_paths, diagnostics=diagnostics)
    if options.consistency:
        consistency.check(data)
    return Project(name=name, project_dir=project_dir, data=data, files=tuple(options.files))
