"""dekube's services -> the compose document dekube writes, in memory.

The transform sees only `compose_services`, at a moment where dekube has not yet finished them:
dekube escapes `$` in environment values after the transforms ran, and writes the top-level
`volumes:` itself (from dekube.yaml and `ctx.compose_extras`). Docker Compose reads the finished
compose.yml; this module rebuilds that document so our loader reads the same thing.
"""
from __future__ import annotations

import copy

from dekube_nspawn.dekube.overrides import apply_overrides
from dekube_nspawn.loader.canonical import parse_volume


def compose_document(compose_services, config, compose_extras=None, secrets=None) -> dict:
    """A new compose document; `compose_services` is deep-copied and never modified.
    `secrets` (dekube's `ctx.secrets`) resolves `$secret:` references in dekube.yaml overrides."""
    services = copy.deepcopy(dict(compose_services or {}))
    for svc in services.values():
        _escape_environment(svc)
    # After the escaping, as dekube does: values users wrote in dekube.yaml are compose text.
    apply_overrides(services, config, secrets)
    doc: dict = {}
    if config.get("name"):
        doc["name"] = config["name"]
    doc["services"] = services
    extras = copy.deepcopy(dict(compose_extras or {}))
    volumes = declared_volumes(config, extras.pop("volumes", None))
    for claim in referenced_named_volumes(services):
        # dekube writes `<claim>:/p` even for a PVC dekube.yaml does not map (with a warning of
        # its own); compose needs every named volume declared, an empty declaration is enough.
        volumes.setdefault(claim, {})
    if volumes:
        doc["volumes"] = volumes
    for key, value in extras.items():
        doc.setdefault(key, value)
    return doc


def _escape_environment(svc) -> None:
    """dekube's `_escape_env_dollars`: every `$` of an environment value becomes `$$`, so that
    interpolation gives the literal value back (entrypoint and command are escaped already)."""
    if not isinstance(svc, dict):
        return
    env = svc.get("environment")
    if isinstance(env, dict):
        for key, value in env.items():
            if isinstance(value, str) and "$" in value:
                env[key] = value.replace("$", "$$")


def declared_volumes(config, extra_volumes=None) -> dict:
    """Top-level named volumes as dekube's compose.yml declares them: transform extras first,
    then dekube.yaml `volumes:` entries without `host_path` (those are bind mounts)."""
    volumes = dict(extra_volumes or {})
    for name, cfg in (config.get("volumes") or {}).items():
        if isinstance(cfg, dict) and "host_path" not in cfg:
            volumes[name] = cfg
    return volumes


def referenced_named_volumes(services) -> list[str]:
    """Names of the named volumes the services mount, in first-use order. Unparsable entries
    are left to the loader, which reports them with their key path."""
    names: dict[str, None] = {}
    for svc in services.values():
        if not isinstance(svc, dict) or not isinstance(svc.get("volumes"), list):
            continue
        for entry in svc["volumes"]:
            if isinstance(entry, str):
                try:
                    entry = parse_volume(entry)
                except ValueError:
                    continue
            if isinstance(entry, dict) and entry.get("type") == "volume" and entry.get("source"):
                names[str(entry["source"])] = None
    return list(names)
