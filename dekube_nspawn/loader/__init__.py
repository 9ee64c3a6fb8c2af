"""Compose loader: a pipeline of small stages, one job each, in Docker Compose's order.

files -> yaml (raw mapping + positions) -> interpolate -> include -> merge -> extends
      -> profiles -> env_file -> validate (schema) -> normalize -> consistency -> Project
"""
from __future__ import annotations

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
    return load(options, diagnostics)
