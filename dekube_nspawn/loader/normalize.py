"""Merged long-syntax mapping -> the canonical project Docker Compose prints (compose-go normalize.go,
paths/*.go, and the `config` command's own environment resolution and resource pruning).

Order of work, as Docker Compose does it: defaults and implicit dependencies per service, the
`default` network, resource names, relative paths, env/label files folded into the service,
unused resources dropped, then the Go type layout (gotypes.py) and `$` escaping. Values that
cannot be decoded (a size like `12q`, a duration without unit) are reported with their key path.
"""
from __future__ import annotations

import os
import re

from dekube_nspawn.errors import ComposeFileError, Diagnostics
from dekube_nspawn.loader import gotypes, units

RESOURCE_KINDS = ("networks", "volumes", "secrets", "configs")

# Build contexts Docker resolves remotely: never joined with the project directory.
_REMOTE_CONTEXT = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/|[a-z][a-z0-9+.-]*-image://|service:)")


def normalize(doc: dict, *, name: str, project_dir: str, environ, resolve_paths: bool = True,
              diagnostics: Diagnostics | None = None, env_file_reader=None) -> dict:
    """`env_file_reader(path) -> dict` reads one env file (the front stage's dotenv parser);
    without it, `env_file` entries are left in the service for the caller."""
    diagnostics = diagnostics or Diagnostics()
    ctx = _Context(name, project_dir, environ or {}, resolve_paths, diagnostics, env_file_reader)
    services = {}
    for sname, svc in (doc.get("services") or {}).items():
        services[sname] = ctx.service(sname, dict(svc or {}))
    resources = {kind: dict(doc.get(kind) or {}) for kind in RESOURCE_KINDS}
    if any("default" in (s.get("networks") or {}) for s in services.values()) \
            and "default" not in resources["networks"]:
        resources["networks"]["default"] = {}
    resources = {kind: _prune(kind, section, services) for kind, section in resources.items()}
    project = {k: v for k, v in doc.items() if k.startswith("x-")}
    project["name"] = name
    project["services"] = services
    for kind, section in resources.items():
        project[kind] = {key: ctx.resource(kind, key, res) for key, res in section.items()}
    if doc.get("models"):
        project["models"] = doc["models"]
    try:
        data = gotypes.marshal_project(project)
    except (ValueError, TypeError) as e:
        raise ComposeFileError(f"cannot decode a value: {e}") from None
    return escape_dollars(data)


def escape_dollars(value):
    """Docker Compose writes every literal `$` of a loaded project back as `$$`, so that its output
    can be read again without interpolating twice."""
    if isinstance(value, str):
        return value.replace("$", "$$") if "$" in value else value
    if isinstance(value, dict):
        return {k: escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    return value


def _prune(kind: str, section: dict, services: dict) -> dict:
    """Keep only the resources an active service uses (compose-go WithoutUnnecessaryResources);
    a referenced resource nobody declared stays as an empty entry, as Docker Compose keeps it."""
    used: list[str] = []
    for svc in services.values():
        if kind == "networks":
            used += list(svc.get("networks") or {})
        elif kind == "volumes":
            used += [v["source"] for v in svc.get("volumes") or () if v.get("type") == "volume" and v.get("source")]
        elif kind == "secrets":
            used += [s["source"] for s in svc.get("secrets") or ()]
            used += [s["source"] for s in (svc.get("build") or {}).get("secrets") or ()]
        else:
            used += [c["source"] for c in svc.get("configs") or ()]
    return {key: section.get(key) for key in dict.fromkeys(used)}


class _Context:
    def __init__(self, name, project_dir, environ, resolve_paths, diagnostics, env_file_reader):
        self.name = name
        self.project_dir = project_dir
        self.environ = environ
        self.resolve_paths = resolve_paths
        self.diagnostics = diagnostics
        self.read_env_file = env_file_reader

    # --- paths -----------------------------------------------------------------------------------

    def expand_home(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            home = self.environ.get("HOME") or os.path.expanduser("~")
            return home + path[1:]
        return path

    def abspath(self, path: str) -> str:
        """Relative to the project directory; `~` is the user's home (compose-go paths.resolvePath)."""
        if not self.resolve_paths or not path:
            return path
        path = self.expand_home(path)
        if os.path.isabs(path) or _is_windows_path(path):
            return path
        return os.path.normpath(os.path.join(self.project_dir, path))

    # --- services --------------------------------------------------------------------------------

    def service(self, sname: str, svc: dict) -> dict:
        path = ("services", sname)
        svc.pop("extends", None)
        if "build" in svc and svc["build"] is not None:
            svc["build"] = self.build(dict(svc["build"]))
        if svc.get("environment") is not None or svc.get("env_file"):
            env = self.env_files(svc, path)
            env.update(svc.get("environment") or {})
            svc["environment"] = {k: self.env_value(k, v) for k, v in env.items()}
        if svc.get("label_file") and self.read_env_file is not None:
            labels = {}
            for f in svc.pop("label_file"):
                labels.update(self.read_env_file(self.abspath(f)))
            labels.update(svc.get("labels") or {})
            svc["labels"] = labels
        if svc.get("labels") is not None:
            svc["labels"] = {k: "" if v is None else v for k, v in svc["labels"].items()}
        if not svc.get("networks") and not svc.get("network_mode"):
            svc["networks"] = {"default": None}
        self.implicit_dependencies(svc)
        if svc.get("volumes"):
            svc["volumes"] = [self.volume(dict(v)) for v in svc["volumes"]]
        if svc.get("secrets"):
            svc["secrets"] = [dict(s, target=s.get("target") or f"/run/secrets/{s['source']}")
                              for s in svc["secrets"]]
        if svc.get("develop") and svc["develop"].get("watch"):
            svc["develop"] = dict(svc["develop"], watch=[dict(w, path=self.abspath(w["path"]))
                                                         for w in svc["develop"]["watch"]])
        if svc.get("deploy") and svc["deploy"].get("replicas") is not None and svc.get("scale") is None:
            pass  # compose-go prints `scale` only when the file set it
        return svc

    def build(self, build: dict) -> dict:
        context = build.get("context")
        if context is None:
            context = "."
        if not _REMOTE_CONTEXT.match(str(context)):
            context = self.abspath(str(context))
        build["context"] = context
        if not build.get("dockerfile") and not build.get("dockerfile_inline"):
            build["dockerfile"] = "Dockerfile"
        if build.get("additional_contexts"):
            build["additional_contexts"] = {
                k: v if _REMOTE_CONTEXT.match(str(v)) else self.abspath(str(v))
                for k, v in build["additional_contexts"].items()}
        if build.get("args") is not None:
            # An argument without value and not set in the environment is left to the Dockerfile.
            args = {k: self.env_value(k, v) for k, v in build["args"].items()}
            build["args"] = {k: v for k, v in args.items() if v is not None}
        return build

    def env_files(self, svc: dict, path: tuple) -> dict:
        files = svc.get("env_file") or []
        if not files or self.read_env_file is None:
            return {}
        svc.pop("env_file")
        env: dict = {}
        for entry in files:
            file = self.abspath(entry["path"]) if self.resolve_paths else \
                os.path.join(self.project_dir, entry["path"])
            if not os.path.exists(file):
                if entry.get("required", True):
                    raise ComposeFileError(f"env file {file} not found", key_path=path + ("env_file",))
                continue
            env.update(self.read_env_file(file))
        return env

    def env_value(self, key: str, value):
        """A bare `FOO` takes its value from the environment, or stays null when unset; other
        values become strings the way Go prints them (`true`, `1.5`)."""
        if value is None:
            return self.environ.get(key)
        return units.go_string(value)

    def implicit_dependencies(self, svc: dict) -> None:
        deps = dict(svc.get("depends_on") or {})
        added = False
        mode = svc.get("network_mode") or ""
        if mode.startswith("service:"):
            target = mode[len("service:"):]
            if target not in deps:
                deps[target] = {"condition": "service_started", "restart": True, "required": True}
                added = True
        for link in svc.get("links") or ():
            target = link.split(":", 1)[0]
            if target not in deps:
                deps[target] = {"condition": "service_started", "restart": True, "required": True}
                added = True
        for ref in svc.get("volumes_from") or ():
            if ref.startswith("container:"):
                continue
            target = ref.split(":", 1)[0]
            if target not in deps:
                deps[target] = {"condition": "service_started", "required": True}
                added = True
        if added:
            svc["depends_on"] = deps

    def volume(self, vol: dict) -> dict:
        if vol.get("type") == "bind" and vol.get("source"):
            vol["source"] = self.abspath(vol["source"])
        return vol

    # --- top-level resources ---------------------------------------------------------------------

    def resource(self, kind: str, key: str, res) -> dict:
        res = dict(res or {})
        if not res.get("name"):
            res["name"] = key if res.get("external") else f"{self.name}_{key}"
        if kind in ("secrets", "configs") and res.get("file"):
            res["file"] = self.abspath(res["file"])
        if kind == "secrets":
            res.pop("content", None)  # Compose never prints a secret's content
        return res


def _is_windows_path(path: str) -> bool:
    return len(path) > 2 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/" or path.startswith("\\\\")
