"""Merged long-syntax mapping -> the canonical project Docker Compose prints (compose-go normalize.go,
paths/*.go, and the `config` command's own environment resolution and resource pruning).

Order of work, as Docker Compose does it: defaults and implicit dependencies per service, the
`default` network, resource names, relative paths, env/label files folded into the service,
unused resources dropped, then the Go type layout (gotypes.py) and `$` escaping. Values that
cannot be decoded (a size like `12q`, a duration without unit) are reported with their key path.
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Callable

from dekube_nspawn.errors import ComposeFileError, Diagnostics
from dekube_nspawn.loader import dotenv, gotypes, units

RESOURCE_KINDS = ("networks", "volumes", "secrets", "configs")
Locate = Callable[[tuple], tuple]  # key path -> (file, line, column), any of them None

# Build contexts Docker resolves remotely: never joined with the project directory.
_REMOTE_CONTEXT = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/|[a-z][a-z0-9+.-]*-image://|service:)")


def normalize(doc: dict, *, name: str, project_dir: str, environ, resolve_paths: bool = True,
              diagnostics: Diagnostics | None = None, locate: Locate | None = None) -> dict:
    """The project model: every service and resource with its defaults, names and paths, still in
    plain Python values (`finalize` gives it Docker Compose's printed form). `env_file` entries
    stay for the env_file stage, with their paths resolved."""
    diagnostics = diagnostics or Diagnostics()
    ctx = _Context(name, project_dir, environ or {}, resolve_paths, diagnostics)
    services = {}
    with _located(locate):
        for sname, svc in (doc.get("services") or {}).items():
            services[sname] = ctx.service(sname, dict(svc or {}))
    model = {k: v for k, v in doc.items() if k.startswith("x-")}
    model["name"] = name
    model["services"] = services
    for kind in RESOURCE_KINDS:
        section = doc.get(kind) or {}
        model[kind] = {key: ctx.resource(kind, key, res) for key, res in section.items()}
    # Docker Compose creates the `default` network only when a service is attached to it.
    if any("default" in (s.get("networks") or {}) for s in services.values()) \
            and "default" not in model["networks"]:
        model["networks"]["default"] = ctx.resource("networks", "default", {})
    if doc.get("models"):
        model["models"] = dict(doc["models"])
    return model


def finalize(model: dict, locate: Locate | None = None) -> dict:
    """The model in the form `docker compose config --format json` prints: Go's key order and
    omitted zero values (gotypes.py), and every literal `$` written as `$$`."""
    with _located(locate):
        try:
            data = gotypes.marshal_project(model)
        except gotypes.DecodeError as e:
            raise ComposeFileError(e.message, key_path=tuple(e.path)) from None
    return data  # `$` already escaped by marshal_project


@contextlib.contextmanager
def _located(locate: Locate | None):
    """Give an error raised with only a key path the file and line that key came from."""
    try:
        yield
    except ComposeFileError as e:
        if locate is None or e.file or not e.key_path:
            raise
        try:
            e.file, e.line, e.column = locate(e.key_path)
        except Exception:  # a position is a courtesy; the key path already says where
            pass
        raise


def drop_unused_resources(model: dict) -> dict:
    """Keep only the resources an active service uses (compose-go WithoutUnnecessaryResources)."""
    services = model.get("services") or {}
    out = dict(model)
    for kind in RESOURCE_KINDS:
        section = model.get(kind) or {}
        out[kind] = {key: section[key] for key in _used(kind, services) if key in section}
    return out


def _used(kind: str, services: dict) -> list[str]:
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
    return list(dict.fromkeys(used))


class _Context:
    def __init__(self, name, project_dir, environ, resolve_paths, diagnostics):
        self.name = name
        self.project_dir = project_dir
        self.environ = environ
        self.resolve_paths = resolve_paths
        self.diagnostics = diagnostics

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
        svc.pop("extends", None)  # resolved by the extends stage; Compose does not print it
        if "build" in svc and svc["build"] is not None:
            svc["build"] = self.build(dict(svc["build"]))
        if svc.get("environment") is not None:
            svc["environment"] = {k: self.env_value(k, v) for k, v in svc["environment"].items()}
        if svc.get("env_file"):
            svc["env_file"] = [dict(e, path=self.abspath(e["path"])) for e in svc["env_file"]]
        if svc.get("label_file"):
            svc["labels"] = self.label_files(svc.pop("label_file"), path) | (svc.get("labels") or {})
        if svc.get("labels") is not None:
            svc["labels"] = {k: "" if v is None else v for k, v in svc["labels"].items()}
        if not svc.get("networks") and not svc.get("network_mode") and not svc.get("provider"):
            svc["networks"] = {"default": None}
        self.implicit_dependencies(svc)
        if svc.get("pull_policy") == "if_not_present":
            svc["pull_policy"] = "missing"  # the legacy spelling of the same policy
        if isinstance(svc.get("models"), list):
            svc["models"] = {m: None for m in svc["models"]}
        self.device_requests(svc, path)
        if svc.get("volumes"):
            svc["volumes"] = [self.volume(dict(v), path + ("volumes", i)) for i, v in enumerate(svc["volumes"])]
        if svc.get("secrets"):
            svc["secrets"] = [dict(s, target=s.get("target") or f"/run/secrets/{s['source']}")
                              for s in svc["secrets"]]
        if svc.get("develop") and svc["develop"].get("watch"):
            svc["develop"] = dict(svc["develop"], watch=[dict(w, path=self.abspath(w["path"]))
                                                         for w in svc["develop"]["watch"]])
        return svc

    def device_requests(self, svc: dict, path: tuple) -> None:
        if svc.get("gpus") == "all":
            svc["gpus"] = [{"count": "all"}]
        elif svc.get("gpus"):
            svc["gpus"] = [_all_devices_by_default(g, path + ("gpus", i)) for i, g in enumerate(svc["gpus"])]
        devices = (((svc.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices")
        if devices:
            at = path + ("deploy", "resources", "reservations", "devices")
            # copies all the way down: the input mapping belongs to the caller
            deploy = dict(svc["deploy"])
            resources = deploy["resources"] = dict(deploy["resources"])
            reservations = resources["reservations"] = dict(resources["reservations"])
            reservations["devices"] = [_all_devices_by_default(d, at + (i,)) for i, d in enumerate(devices)]
            svc["deploy"] = deploy

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
        if build.get("ssh"):
            build["ssh"] = [self.ssh_key(k) for k in build["ssh"]]
        if build.get("args") is not None:
            # An argument without value and not set in the environment is left to the Dockerfile.
            args = {k: self.env_value(k, v) for k, v in build["args"].items()}
            build["args"] = {k: v for k, v in args.items() if v is not None}
        return build

    def ssh_key(self, key: str) -> str:
        """`id=path`: the path is a local key file or agent socket, resolved like any path."""
        ident, sep, path = key.partition("=")
        return f"{ident}={self.abspath(path)}" if sep and path else key

    def label_files(self, files, path) -> dict:
        """label_file entries, in order (later ones win), as plain `KEY=value` files."""
        labels: dict = {}
        for i, f in enumerate(files):
            file = os.path.join(self.project_dir, self.expand_home(f))
            labels.update(dotenv.read_file(file, key_path=path + ("label_file", i)))
        return labels

    def env_value(self, key: str, value):
        """A bare `FOO` takes its value from the environment, or stays null when unset; other
        values become strings the way Go prints them (`true`, `1.5`)."""
        if value is None:
            return self.environ.get(key)
        return units.go_string(value)

    def implicit_dependencies(self, svc: dict) -> None:
        deps = dict(svc.get("depends_on") or {})
        added = False
        for key in ("network_mode", "ipc", "pid"):
            mode = svc.get(key) or ""
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

    def volume(self, vol: dict, path: tuple) -> dict:
        if vol.get("type") == "bind" and self.resolve_paths:
            if not vol.get("source"):
                raise ComposeFileError('invalid mount config for type "bind": field Source must not be empty',
                                       key_path=path)
            vol["source"] = self.abspath(vol["source"])
        return vol

    # --- top-level resources ---------------------------------------------------------------------

    def resource(self, kind: str, key: str, res) -> dict:
        res = dict(res or {})
        if not res.get("name"):
            res["name"] = key if res.get("external") else f"{self.name}_{key}"
        opts = res.get("driver_opts")
        if kind == "volumes" and opts and opts.get("device") and res.get("driver") == "local" \
                and "bind" in str(opts.get("o", "")).split(","):
            # a local volume bound to a host directory: the device is a path like a bind source
            res["driver_opts"] = dict(opts, device=self.abspath(str(opts["device"])))
        if kind in ("secrets", "configs") and res.get("file"):
            res["file"] = self.abspath(res["file"])
        if kind == "secrets":
            res.pop("content", None)  # Compose never prints a secret's content
        return res


def _all_devices_by_default(request: dict, path: tuple) -> dict:
    """A device request naming neither a count nor device ids asks for all of them (count -1)."""
    if request.get("count") is not None and request.get("device_ids"):
        raise ComposeFileError('"count" and "device_ids" attributes are exclusive', key_path=path)
    if request.get("count") is None and not request.get("device_ids"):
        return dict(request, count="all")
    return request


def _is_windows_path(path: str) -> bool:
    return len(path) > 2 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/" or path.startswith("\\\\")
