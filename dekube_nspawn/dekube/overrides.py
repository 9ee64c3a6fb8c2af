"""dekube.yaml `overrides:` and custom `services:`, applied the way dekube applies them.

dekube merges these into its services after the transforms ran, so the transform never sees
them; without this step the nspawn output would differ from dekube's own compose.yml whenever a
user overrides an image, a volume or an environment variable. Semantics follow dekube-engine's
`_apply_overrides`: `$secret:<name>:<key>` and `$volume_root` placeholders are resolved, mappings
merge recursively, a null value deletes the key, a custom service replaces a generated one.
Unresolvable placeholders are left as written: dekube warns about them itself.
"""
from __future__ import annotations

import base64
import binascii
import copy
import re

# dekube-engine core/constants.py _SECRET_REF_RE
_SECRET_REF = re.compile(r"\$secret:([^:]+):([^:}\s]+)")


def apply_overrides(services: dict, config, secrets=None) -> None:
    """Mutates `services` (the transform's own deep copy)."""
    volume_root = config.get("volume_root") or "./data"
    secrets = secrets or {}

    def resolve(value):
        return _volume_root(_secret_refs(copy.deepcopy(value), secrets), volume_root)

    for name, overrides in (config.get("overrides") or {}).items():
        if not overrides or name not in services or not isinstance(overrides, dict):
            continue
        if isinstance(services[name], dict):
            _deep_merge(services[name], resolve(overrides))
    for name, definition in (config.get("services") or {}).items():
        if definition is not None:
            services[name] = resolve(definition)


def _deep_merge(base: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _volume_root(value, volume_root: str):
    if isinstance(value, str):
        return value.replace("$volume_root", volume_root)
    if isinstance(value, list):
        return [_volume_root(v, volume_root) for v in value]
    if isinstance(value, dict):
        return {k: _volume_root(v, volume_root) for k, v in value.items()}
    return value


def _secret_refs(value, secrets: dict):
    """Resolved values land in compose text: `$` is doubled so compose does not interpolate them."""
    if isinstance(value, str):
        def replace(m):
            resolved = secret_value(secrets.get(m.group(1)), m.group(2))
            return m.group(0) if resolved is None else resolved.replace("$", "$$")
        return _SECRET_REF.sub(replace, value)
    if isinstance(value, list):
        return [_secret_refs(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _secret_refs(v, secrets) for k, v in value.items()}
    return value


def secret_value(secret, key: str) -> str | None:
    """A Kubernetes Secret's value as text (`stringData` wins over base64 `data`), or None."""
    if not isinstance(secret, dict):
        return None
    string_data = secret.get("stringData") or {}
    if key in string_data and string_data[key] is not None:
        return str(string_data[key])
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(str(raw), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
