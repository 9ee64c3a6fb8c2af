"""Emitters: pure functions from the IR (`ir.Plan`) to output files, one module per artifact kind.

Each module exposes `render(plan) -> list[OutputFile]`; formats live in `templates/`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFile:
    path: str          # relative to the output directory, "/"-separated, never absolute or with ".."
    content: str
    mode: int = 0o644  # scripts 0o755; anything holding secret material 0o600
