"""Compose loader: a pipeline of small stages, one job each, in Docker Compose's order.

files -> yaml (raw mapping + positions) -> interpolate -> include -> merge -> extends
      -> profiles -> env_file -> validate (schema) -> normalize -> consistency -> Project
"""
from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class LoadOptions:
    """What the command line (or the dekube transform) says about where the project is."""

    files: tuple[str, ...] = ()          # -f, in order; "-" is stdin; empty: look for defaults
    project_name: str | None = None      # -p
    project_directory: str | None = None  # --project-directory
    env_files: tuple[str, ...] = ()      # --env-file, in order
    profiles: tuple[str, ...] = ()       # --profile
    environ: Mapping[str, str] = field(default_factory=dict)  # the process environment
    cwd: str = "."
    stdin_text: str | None = None        # content for "-"
    resolve_paths: bool = True           # --no-path-resolution turns it off
    interpolate: bool = True
    consistency: bool = True


def load_project(options: LoadOptions, diagnostics=None):
    from dekube_nspawn.loader.pipeline import load
    with _gc_paused():
        return load(options, diagnostics)


@contextlib.contextmanager
def _gc_paused():
    """Loading builds a large tree of small objects and drops nothing cyclic; Python's cyclic GC
    rescans that growing heap again and again, which made 10 000 services ~3x slower than
    linear. Paused for the load only, and restored as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_project_from_mapping(mapping, *, project_dir: str, name: str | None = None,
                              environ: Mapping[str, str] | None = None, diagnostics=None,
                              source: str = "<mapping>"):
    """`load_project` for a compose document held in memory (the dekube transform): the very
    same pipeline, fed the document as JSON text through the stdin slot (`-f -`), with the
    project directory set as `--project-directory` would. JSON quotes every string, so no value
    changes type on the way. Errors name `source` instead of stdin (their line numbers would
    point into text nobody wrote)."""
    from dekube_nspawn.errors import DekubeError
    options = LoadOptions(files=("-",), stdin_text=_mapping_as_text(mapping), project_name=name,
                          project_directory=project_dir, cwd=project_dir,
                          environ=dict(environ or {}))
    try:
        return load_project(options, diagnostics)
    except DekubeError as e:
        if e.file != "-":
            raise
        try:
            renamed = type(e)(e.message, file=source, key_path=e.key_path)
        except TypeError:
            raise e from None
        raise renamed from None


def _mapping_as_text(mapping) -> str:
    """JSON (a subset of YAML) with the characters YAML may not carry raw (or would read as
    line breaks) written as `\\u` escapes; characters outside the BMP stay raw (a YAML reader
    would not pair JSON's surrogate escapes back)."""
    import json
    import re
    text = json.dumps(mapping, ensure_ascii=False, default=str)
    return re.sub("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]",
                  lambda m: f"\\u{ord(m.group(0)):04x}", text)
