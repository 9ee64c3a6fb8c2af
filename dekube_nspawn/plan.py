"""Planner: normalized compose project -> IR (`ir.Plan`). Every name, address and path is decided here."""
from __future__ import annotations

from dataclasses import dataclass

from dekube_nspawn.ir import HostLayout, Plan


@dataclass(frozen=True)
class PlanOptions:
    bridge: str | None = None                 # bridge name of the default network
    subnets: tuple[str, ...] = ()             # "CIDR" (default network) or "NETWORK=CIDR"
    image_transport: str = "docker://"        # or "oci:DIR", "oci-archive:", "docker-archive:", mirror prefix
    image_configs: dict | None = None         # reference -> ir.ImageConfig, from --resolve-images
    layout: HostLayout = HostLayout()


def build_plan(project, options: PlanOptions, diagnostics) -> Plan:
    raise NotImplementedError("planner not written yet")
