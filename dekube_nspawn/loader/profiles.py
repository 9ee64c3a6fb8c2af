"""Profiles: which services are enabled (compose-go types/project.go WithProfiles).

Runs on the normalized project (long syntax everywhere). A service is enabled when it has no
`profiles`, or one of them is active, or `*` is active. An enabled service that *requires* a
disabled one is an error (Docker Compose: "depends on undefined service"); a `required: false`
dependency on it stays as written. (Dropping the resources no enabled service uses is
normalize.drop_unused_resources, run right after.)
"""
from __future__ import annotations

from dekube_nspawn.errors import ComposeFileError


def is_enabled(service: dict, active) -> bool:
    declared = service.get("profiles") or []
    if not declared:
        return True
    return "*" in active or any(p in declared for p in active)


def apply(data: dict, active, locate=None) -> dict:
    """Only the enabled services; `locate(key_path) -> (file, line, column)` for errors."""
    services = data.get("services") or {}
    active = list(active)
    enabled = {n: s for n, s in services.items() if is_enabled(s, active)}
    disabled = set(services) - set(enabled)
    for name, svc in enabled.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            required = not isinstance(cond, dict) or cond.get("required", True) is not False
            if dep in disabled and required:
                key_path = ("services", name, "depends_on", dep)
                file, line, column = locate(key_path) if locate else (None, None, None)
                raise ComposeFileError(
                    f'service "{name}" depends on undefined service "{dep}": invalid compose project '
                    f'(it is disabled: enable one of its profiles {services[dep].get("profiles")})',
                    file=file, line=line, column=column, key_path=key_path)
    if disabled:
        data = dict(data, services=enabled)
    return data


def for_consistency(data: dict, all_services) -> dict:
    """`data` without the optional dependencies on disabled services: Docker Compose tolerates
    them (the consistency check would call them undefined), and the output keeps them."""
    disabled = set(all_services) - set(data.get("services") or {})
    if not disabled:
        return data
    services = {}
    for name, svc in (data.get("services") or {}).items():
        deps = svc.get("depends_on") or {}
        if any(d in disabled for d in deps):
            svc = dict(svc, depends_on={d: c for d, c in deps.items() if d not in disabled})
        services[name] = svc
    return dict(data, services=services)
