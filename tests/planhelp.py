"""Build `Project`s for planner tests: canonical compose form, as the loader produces it."""
from __future__ import annotations

from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.model import Project
from dekube_nspawn.plan import PlanOptions, build_plan


def project(services, name="demo", **top) -> Project:
    data = {"name": name, "services": {}}
    for s, svc in services.items():
        svc = dict(svc)
        if "network_mode" not in svc:
            svc.setdefault("networks", {"default": None})
        data["services"][s] = svc
    nets = top.pop("networks", None)
    data["networks"] = nets if nets is not None else {"default": {"name": f"{name}_default", "ipam": {}}}
    data.update(top)
    return Project(name=name, project_dir="/srv/" + name, data=data)


def plan(services, options=None, strict=False, **top):
    diag = Diagnostics(strict=strict)
    p = build_plan(project(services, **top), options or PlanOptions(), diag)
    return p, diag


def machine(p, name_or_service):
    for m in p.machines:
        if m.name == name_or_service or (m.service == name_or_service and m.replica == 1):
            return m
    raise KeyError(name_or_service)


def warned(diag, fragment, path=None):
    """True when a warning contains `fragment` (and is at `path`, `services.x.y` form)."""
    return any(fragment in w.message and (path is None or str(w).startswith(path + ":"))
               for w in diag.warnings)
