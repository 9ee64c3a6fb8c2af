"""The normalized compose project: what every later stage reads.

`Project.data` is the canonical long form Docker Compose prints with `config --format json`
(every short syntax expanded, `$` written as `$$`, the keys Compose always adds). Keeping the
exact shape Docker Compose uses makes the loader testable byte-for-byte against the real binary,
and gives the planner one documented shape to read instead of a dozen input spellings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class Project:
    name: str
    project_dir: str            # absolute; relative paths in the compose files resolve here
    data: Mapping[str, Any]     # canonical form, as `docker compose config --format json`
    files: tuple[str, ...] = ()  # the compose files read, in order ("-" for stdin)
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def services(self) -> Mapping[str, Any]:
        return self.data.get("services") or {}

    def resource(self, kind: str) -> Mapping[str, Any]:
        """Top-level `networks`, `volumes`, `secrets` or `configs`."""
        return self.data.get(kind) or {}
