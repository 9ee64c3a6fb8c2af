"""The loader pipeline: one call per stage, in Docker Compose's order (compose-go loader.go).

    locate (files, directory, environment, profiles)            discovery.py
    per file, per YAML document:                                 load_model()
        parse -> interpolate -> strip !reset/!override -> extends -> reset earlier files
        -> include -> merge onto the files before -> unicity -> validate -> canonical -> unicity
    normalize -> profiles -> env_file into environment -> unused resources -> consistency
    -> finalize (Docker Compose's printed form)

Ownership: the front stages (yaml, interpolate, include, extends, merge, reset, profiles,
env_file, discovery) turn files into one merged raw mapping; the model stages (canonical,
validate, normalize, consistency) turn that mapping into the canonical form `Project.data` holds.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType

from dekube_nspawn.errors import ComposeFileError, Diagnostics
from dekube_nspawn.loader import LoadOptions
from dekube_nspawn.loader import canonical, consistency, normalize, validate
from dekube_nspawn.loader import discovery, env_file, extends, include, merge, profiles, reset
from dekube_nspawn.loader import interpolate as interpolate_stage
from dekube_nspawn.loader import yaml as yaml_stage
from dekube_nspawn.model import Project


@dataclass
class Context:
    """What every per-file step needs to know about the project being loaded."""

    environ: dict
    working_dir: str
    interpolate: bool = True
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    include_chain: tuple = ()       # files being included, outermost first (cycle detection)


def load(options: LoadOptions, diagnostics: Diagnostics | None = None) -> Project:
    try:
        return _load(options, diagnostics if diagnostics is not None else Diagnostics())
    except RecursionError:  # a document nested deeper than any stage can walk
        raise ComposeFileError("the project nests too deeply to be processed") from None


def _load(options: LoadOptions, diagnostics: Diagnostics) -> Project:
    located = discovery.locate(options)
    for message in located.warnings:
        diagnostics.warn((), message)
    sources = [(f, read_source(f, options.stdin_text)) for f in located.files]
    name = project_name(located, sources, options.interpolate)
    environ = dict(located.environment, COMPOSE_PROJECT_NAME=name)
    ctx = Context(environ=environ, working_dir=located.project_dir,
                  interpolate=options.interpolate, diagnostics=diagnostics)

    doc = load_model(sources, ctx)
    if not doc:
        raise ComposeFileError("empty compose file", file=located.files[0])

    locate = locator(located.files)
    model = normalize.normalize(doc, name=name, project_dir=located.project_dir, environ=environ,
                                resolve_paths=options.resolve_paths, diagnostics=diagnostics,
                                locate=locate)
    all_services = list(model.get("services") or {})
    model = profiles.apply(model, located.profiles, locate)
    model = env_file.resolve(model, environ, located.project_dir, locate)
    model = normalize.drop_unused_resources(model)
    if options.consistency:
        consistency.check(profiles.for_consistency(model, all_services), locate)
    data = normalize.finalize(model, locate)
    return Project(name=name, project_dir=located.project_dir, data=data,
                   files=tuple(located.files), environment=MappingProxyType(environ))


def locator(files):
    """Key path -> (file, line, column) in the file that spells out most of the path (the last
    one on a tie: later files override earlier ones)."""
    def locate(key_path):
        best = (-1, files[0] if files else None, None, None)
        for f in files:
            depth, line, column = yaml_stage.locate(f, key_path)
            if line is not None and depth >= best[0]:
                best = (depth, f, line, column)
        return best[1:]
    return locate


def read_source(path: str, stdin_text: str | None) -> list:
    """The YAML documents of one compose file (`-` is the text read from stdin)."""
    if path == "-":
        return yaml_stage.parse_documents(stdin_text or "", "-")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ComposeFileError(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise ComposeFileError(f"{path} is a directory, not a compose file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ComposeFileError(f"cannot read {path}: {e}") from None
    return yaml_stage.parse_documents(text, path)


def project_name(located, sources, do_interpolate: bool) -> str:
    """`-p` > COMPOSE_PROJECT_NAME > last `name:` in the files (interpolated, normalized) >
    basename of the project directory (normalized)."""
    if located.name_from_cli:
        return located.name_from_cli
    from_files = ""
    for filename, docs in sources:
        for doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get("name"), str) and doc["name"]:
                from_files = doc["name"]
                if do_interpolate:
                    from_files = interpolate_stage.interpolate(
                        {"name": from_files}, located.environment, filename=filename)["name"]
    name = discovery.normalize_project_name(from_files)
    if not name:
        name = discovery.normalize_project_name(os.path.basename(located.project_dir))
    if not name:
        raise ComposeFileError("project name must not be empty")
    return name


def load_model(sources, ctx: Context) -> dict:
    """compose-go loadYamlModel: every document of every file merged, in order."""
    merged: dict = {}
    for filename, docs in sources:
        for raw in docs:
            merged = load_document(raw, filename, merged, ctx)
    return merged


def load_document(raw, filename: str, merged: dict, ctx: Context) -> dict:
    if not isinstance(raw, dict):
        raise ComposeFileError("top-level object must be a mapping", file=filename)
    plain = yaml_stage.is_plain(raw)
    if not plain:  # otherwise the YAML fast path has already checked
        check_string_keys(raw, filename)
    unset: list[str] = []
    cfg = (interpolate_stage.interpolate(raw, ctx.environ, filename=filename, warnings=unset)
           if ctx.interpolate else raw)
    for var in unset:
        ctx.diagnostics.warn((), f'The "{var}" variable is not set. Defaulting to a blank string.')
    if plain and ctx.interpolate:
        # No markers to strip, and interpolation already made an unshared copy (what `strip`
        # would otherwise provide: later steps modify `cfg` in place, aliases must not leak)
        reset_paths: list = []
    else:
        cfg, reset_paths = reset.strip(cfg)

    keys_checked = plain and not merged and not _pulls_in_files(cfg)

    # Docker Compose v2.40.3 resolves `extends` before `include`: a service cannot extend one
    # that only an included file defines (later compose-go versions swapped the two)
    extends.apply(cfg, filename, ctx, reset_paths)
    reset.apply(merged, reset_paths)
    include.apply(cfg, filename, ctx)

    merged = merge.merge(merged, cfg)
    merge.enforce_unicity(merged)
    validate.validate_file(merged, filename, keys_checked=keys_checked)
    if "version" in merged:
        ctx.diagnostics.warn(("version",), f"{filename}: the attribute `version` is obsolete, it will "
                             "be ignored, please remove it to avoid potential confusion")
        del merged["version"]
    merged = canonical.canonicalize(merged, filename, ctx.diagnostics)
    return merge.enforce_unicity(merged)


def _pulls_in_files(cfg: dict) -> bool:
    """Whether `include` or a service's `extends` brings other files' content into this one.
    Without them, the first document's merged result holds only keys the YAML fast path checked
    were strings, and validation need not walk them again."""
    services = cfg.get("services") or {}
    return "include" in cfg or not isinstance(services, dict) or any(
        isinstance(svc, dict) and "extends" in svc for svc in services.values())


def check_string_keys(doc, filename: str, path: tuple = ()) -> None:
    """Compose accepts only string keys (`1: x` or `null: x` is an error there too)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if not isinstance(k, str):
                line, col = yaml_stage.line_of(filename, path)
                raise ComposeFileError(f"non-string key {k!r}", file=filename, line=line,
                                       column=col, key_path=path)
            check_string_keys(v, filename, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            check_string_keys(v, filename, path + (i,))
