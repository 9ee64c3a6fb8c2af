"""Rebase the relative paths of definitions read from another directory.

A service taken from another file by `extends`, or a project pulled in by `include`, names paths
relative to its own directory. Prefixing them with that directory, relative to the including
project (compose-go does the same with a relative working directory), keeps them right for the
final path resolution, which `normalize` does against the project directory.
Absolute paths, `~` paths, URLs and named volumes are left alone.
"""
from __future__ import annotations

import os
import re

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/)", re.I)


def is_remote(path: str) -> bool:
    """An OCI artifact or git URL (Docker Compose can fetch those; this tool reads files only)."""
    return bool(_REMOTE.match(path)) or path.startswith("oci://")


def _join(base: str, path):
    if not isinstance(path, str) or not path:
        return path
    if os.path.isabs(path) or path.startswith("~") or _REMOTE.match(path):
        return path
    return os.path.normpath(os.path.join(base or ".", path))  # Go's filepath.Join cleans too


def _is_local_source(src: str) -> bool:
    return src.startswith((".", "/", "~")) or src == ".."


def _short_volume(spec: str, base: str) -> str:
    source, sep, rest = spec.partition(":")
    if sep and source.startswith("."):
        rebased = _join(base, source)
        if not rebased.startswith((".", "/")):  # `common/data` would read as a volume name
            rebased = "./" + rebased
        return f"{rebased}:{rest}"
    return spec


def service(svc: dict, base: str) -> None:
    """In place: build context, env_file, label_file, bind mounts, extends.file."""
    build = svc.get("build")
    if isinstance(build, str):
        svc["build"] = _join(base, build)
    elif isinstance(build, dict) and "context" in build:
        build["context"] = _join(base, build["context"])
    elif isinstance(build, dict):
        build["context"] = _join(base, ".")
    for key in ("env_file", "label_file"):
        value = svc.get(key)
        if isinstance(value, str):
            svc[key] = _join(base, value)
        elif isinstance(value, list):
            svc[key] = [dict(v, path=_join(base, v.get("path"))) if isinstance(v, dict)
                        else _join(base, v) for v in value]
    volumes = svc.get("volumes")
    if isinstance(volumes, list):
        out = []
        for v in volumes:
            if isinstance(v, str):
                v = _short_volume(v, base)
            elif isinstance(v, dict) and v.get("type") == "bind" and isinstance(v.get("source"), str):
                v = dict(v, source=_join(base, v["source"]))
            out.append(v)
        svc["volumes"] = out
    ext = svc.get("extends")
    if isinstance(ext, dict) and isinstance(ext.get("file"), str):
        ext["file"] = _join(base, ext["file"])


def project(doc: dict, base: str) -> None:
    """In place: every service, plus file-backed secrets and configs."""
    for svc in (doc.get("services") or {}).values():
        if isinstance(svc, dict):
            service(svc, base)
    for kind in ("secrets", "configs"):
        for item in (doc.get(kind) or {}).values():
            if isinstance(item, dict) and isinstance(item.get("file"), str):
                item["file"] = _join(base, item["file"])
