"""Cross-references of a normalized project (compose-go loader/validate.go checkConsistency).

Runs on `Project.data` (canonical form, names resolved, unused resources already dropped), so a
reference is either to a declared top-level resource or to nothing. Messages use Docker
Compose's wording so users can search for them; the key path says where to look.
`--no-consistency` skips this stage.
"""
from __future__ import annotations

from typing import Callable

from dekube_nspawn.errors import ComposeFileError

Locate = Callable[[tuple], tuple]  # key path -> (file, line, column), any of them None


def check(data: dict, locate: Locate | None = None) -> None:
    services = data.get("services") or {}
    container_names: dict[str, str] = {}
    for name in sorted(services):
        _check_service(data, name, services[name] or {}, locate)
        container = (services[name] or {}).get("container_name")
        if container:
            if container in container_names:
                raise _fail(f'container name "{container}" is already in use by service "{container_names[container]}"',
                            ("services", name, "container_name"), locate)
            container_names[container] = name
    _check_file_objects(data, locate)
    _check_cycles(services, locate)


def _fail(message: str, path: tuple, locate) -> ComposeFileError:
    file = line = column = None
    if locate is not None:
        try:
            file, line, column = locate(path)
        except Exception:  # a position is a courtesy; the key path already says where
            file = line = column = None
    return ComposeFileError(message, file=file, line=line, column=column, key_path=path)


def _check_service(data: dict, name: str, svc: dict, locate) -> None:
    path = ("services", name)
    services = data.get("services") or {}
    if not svc.get("image") and not svc.get("build") and not svc.get("provider"):
        raise _fail(f'service "{name}" has neither an image nor a build context specified', path, locate)
    mode = svc.get("network_mode")
    networks = svc.get("networks") or {}
    if mode and networks:
        raise _fail(f"service {name} declares mutually exclusive `network_mode` and `networks`",
                    path + ("network_mode",), locate)
    if mode and mode.startswith("service:") and mode[8:] not in services:
        raise _fail(f'service "{mode[8:]}" not found for network_mode \'{mode}\'', path + ("network_mode",), locate)
    declared = data.get("networks") or {}
    for net in networks:
        if net not in declared:
            raise _fail(f'service "{name}" refers to undefined network {net}', path + ("networks", net), locate)
    volumes = data.get("volumes") or {}
    for i, vol in enumerate(svc.get("volumes") or ()):
        if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in volumes:
            raise _fail(f'service "{name}" refers to undefined volume {vol["source"]}', path + ("volumes", i), locate)
    for kind, singular in (("secrets", "secret"), ("configs", "config")):
        declared = data.get(kind) or {}
        for i, ref in enumerate(svc.get(kind) or ()):
            if ref.get("source") not in declared:
                raise _fail(f'service "{name}" refers to undefined {singular} {ref.get("source")}',
                            path + (kind, i), locate)
    for key, context in ((svc.get("build") or {}).get("additional_contexts") or {}).items():
        if isinstance(context, str) and context.startswith("service:"):
            target = context[len("service:"):]
            if not (services.get(target) or {}).get("build"):
                raise _fail(f'service "{name}" declares non-buildable service "{target}" as additional contexts {key}',
                            path + ("build", "additional_contexts", key), locate)
    for i, ref in enumerate((svc.get("build") or {}).get("secrets") or ()):
        if ref.get("source") not in (data.get("secrets") or {}):
            raise _fail(f'service "{name}" refers to undefined build secret {ref.get("source")}',
                        path + ("build", "secrets", i), locate)
    models = data.get("models") or {}
    for model in svc.get("models") or {}:
        if model not in models:
            raise _fail(f'service "{name}" refers to undefined model {model}', path + ("models", model), locate)
    for dep in svc.get("depends_on") or {}:
        # `required: false` only tolerates a dependency that fails to start, not one never declared
        if dep not in services:
            raise _fail(f'service "{name}" depends on undefined service "{dep}"', path + ("depends_on", dep), locate)
    for i, ref in enumerate(svc.get("volumes_from") or ()):
        if not ref.startswith("container:") and ref.split(":", 1)[0] not in services:
            raise _fail(f'service "{name}" depends on undefined service "{ref.split(":", 1)[0]}" (volumes_from)',
                        path + ("volumes_from", i), locate)
    replicas = (svc.get("deploy") or {}).get("replicas")
    if replicas is not None and svc.get("scale") is not None and replicas != svc["scale"]:
        raise _fail("can't set distinct values on 'scale' and 'deploy.replicas'",
                    path + ("scale",), locate)


def _check_file_objects(data: dict, locate) -> None:
    for kind, singular in (("secrets", "secret"), ("configs", "config")):
        for name, obj in sorted((data.get(kind) or {}).items()):
            obj = obj or {}
            if obj.get("external"):
                continue
            sources = ("file", "environment") if kind == "secrets" else ("file", "environment", "content")
            if not any(obj.get(s) for s in sources):
                wanted = "either `file` or `environment`" if kind == "secrets" \
                    else "either `file`, `environment` or `content`"
                raise _fail(f'{singular} "{name}" must declare {wanted}', (kind, name), locate)


def _check_cycles(services: dict, locate) -> None:
    """Depth-first over depends_on in name order; the first cycle found is reported whole."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted((services.get(name) or {}).get("depends_on") or {}):
            if dep not in services:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise _fail("dependency cycle detected: " + " -> ".join(cycle),
                            ("services", name, "depends_on", dep), locate)
            if state.get(dep) is None:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(services):
        if state.get(name) is None:
            visit(name)
