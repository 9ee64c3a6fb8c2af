"""Service `env_file`s folded into `environment` (compose-go WithServicesEnvironmentResolved).

Runs after profiles, so the env files of disabled services are never read (as in Compose).
Files apply in order, later ones winning; inside a file `${VAR}` reads the variables the
earlier files gave, then the project environment. `environment` entries override them all, a
bare unset `FOO` (null) included. A missing file is an error unless `required: false`.
The `env_file` key is dropped afterwards, like `docker compose config` prints it.
"""
from __future__ import annotations

import os

from dekube_nspawn.loader import dotenv


def entries(value) -> list[dict]:
    """`env_file` in any spelling -> [{path, required, format?}]."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, str):
            out.append({"path": v, "required": True})
        elif isinstance(v, dict):
            out.append({"required": True, **v})
    return out


def resolve(data: dict, environ, project_dir: str, locate=None) -> dict:
    """`locate(key_path) -> (file, line, column)` points errors at the compose file."""
    services = data.get("services") or {}
    if not any(isinstance(s, dict) and "env_file" in s for s in services.values()):
        return data
    out_services = {}
    for name, svc in services.items():
        if not isinstance(svc, dict) or "env_file" not in svc:
            out_services[name] = svc
            continue
        svc = dict(svc)
        env: dict = {}

        def lookup(k, _env=env):
            v = _env.get(k)
            return v if v is not None else environ.get(k)

        for i, ef in enumerate(entries(svc.pop("env_file"))):
            path = os.path.join(project_dir, os.path.expanduser(str(ef["path"])))
            if not os.path.exists(path):
                if ef.get("required", True) in (False, "false"):
                    continue
                key_path = ("services", name, "env_file", i)
                file, line, column = locate(key_path) if locate else (None, None, None)
                raise dotenv.DotEnvError(f"env file {path} not found", file=file, line=line,
                                         column=column, key_path=key_path)
            env.update(dotenv.read_file(path, lookup, fmt=ef.get("format"),
                                        key_path=("services", name, "env_file", i)))
        declared = svc.get("environment") or {}
        if isinstance(declared, list):  # tolerated: normalize should have made it a mapping
            declared = dict((e.split("=", 1) + [None])[:2] for e in declared)
        env.update(declared)
        svc["environment"] = env
        out_services[name] = svc
    return dict(data, services=out_services)
