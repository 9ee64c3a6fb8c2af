"""What every planning step reads: the project, the options, where warnings go, the host dirs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.ir import HostLayout


@dataclass(frozen=True)
class Context:
    project: str                 # compose project name
    project_id: str              # the same as it appears in host names (planning.names.project_id)
    data: Mapping[str, Any]      # canonical compose form
    options: Any                 # plan.PlanOptions
    diagnostics: Diagnostics
    layout: HostLayout
    config_dir: str
    state_dir: str
    runtime_dir: str

    def warn(self, key_path, message: str) -> None:
        self.diagnostics.warn(key_path, message)

    def resource(self, kind: str) -> Mapping[str, Any]:
        return self.data.get(kind) or {}


def service_path(service: str, *rest) -> tuple:
    return ("services", service) + tuple(rest)
