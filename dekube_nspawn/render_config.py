"""Render a Project the way `docker compose config` prints it.

JSON is byte-identical to Docker Compose's `--format json`: Go's encoding/json with two-space
indent, `<`, `>`, `&`, U+2028 and U+2029 escaped, no trailing newline. `Project.data` already has
Go's key order (gotypes.py), so rendering is only a matter of spelling.
"""
from __future__ import annotations

import json

from dekube_nspawn.loader.units import go_json_float

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def render_config(project, fmt: str = "json") -> str:
    if fmt == "json":
        return render_json(project.data)
    if fmt == "yaml":
        return render_yaml(project.data)
    raise ValueError(f"unknown format {fmt!r}")


def render_json(data) -> str:
    floats: dict[str, str] = {}
    extensions = {k: _go_floats(v, floats) for k, v in data.items() if k.startswith("x-")}
    text = json.dumps(dict(data, **extensions) if floats else data, indent=2, ensure_ascii=False)
    for token, spelled in floats.items():
        text = text.replace(f'"{token}"', spelled)
    if any(c in text for c in _GO_ESCAPES):
        # These characters can only occur inside JSON strings, so a plain replace is exact.
        for raw, escaped in _GO_ESCAPES.items():
            text = text.replace(raw, escaped)
    return text


def _go_floats(value, floats: dict):
    """Extension values may hold any float; where Go spells one differently from Python
    (`1e-7` vs `1e-07`, `0.00001` vs `1e-05`) put a token in its place to swap after dumping."""
    if isinstance(value, dict):
        return {k: _go_floats(v, floats) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_floats(v, floats) for v in value]
    if isinstance(value, float):
        spelled = go_json_float(value)
        if spelled != repr(value):
            token = f"\ufdd0dekube-float-{len(floats)}\ufdd0"
            floats[token] = spelled
            return token
    return value


def render_yaml(data) -> str:
    """YAML in Docker Compose's layout (go-yaml v3, indent 2): the same document as the JSON minus
    what its yaml tags omit (null command/entrypoint, empty ipam/resources/placement/exec), the
    project keys in struct order, strings that would read back as another type double-quoted.
    Service-level x-* extensions are not printed: Project.data does not keep them."""
    return yaml_dump(_yaml_project(data))


_YAML_TOP = ("name", "services", "networks", "volumes", "secrets", "configs")


def _yaml_project(data: dict) -> dict:
    out = {k: data[k] for k in _YAML_TOP if k in data}
    out["services"] = {name: _yaml_service(svc) for name, svc in (data.get("services") or {}).items()}
    if "networks" in out:
        out["networks"] = {name: _drop_empty(net, "ipam") for name, net in out["networks"].items()}
    out.update((k, v) for k, v in data.items() if k not in out and k.startswith("x-"))
    return out


def _yaml_service(svc: dict) -> dict:
    svc = {k: v for k, v in svc.items() if not (k in ("command", "entrypoint") and v is None)}
    if "deploy" in svc:
        svc["deploy"] = _drop_empty(svc["deploy"], "resources", "placement")
    if "develop" in svc and svc["develop"].get("watch"):
        svc["develop"] = dict(svc["develop"], watch=[_yaml_trigger(t) for t in svc["develop"]["watch"]])
    if (svc.get("build") or {}).get("ssh"):
        # types.SSHKey.MarshalYAML spells `id=path` as `id: path`
        svc["build"] = dict(svc["build"], ssh=[k.replace("=", ": ", 1) for k in svc["build"]["ssh"]])
    if "ulimits" in svc:
        # go-yaml prints a soft/hard pair whole, zeros included
        svc["ulimits"] = {k: {"soft": v.get("soft", 0), "hard": v.get("hard", 0)} if isinstance(v, dict) else v
                          for k, v in svc["ulimits"].items()}
    if "blkio_config" in svc:
        svc["blkio_config"] = {k: [{name.lower(): x for name, x in d.items()} for d in v] if isinstance(v, list) else v
                               for k, v in svc["blkio_config"].items()}
    return svc


def _yaml_trigger(trigger: dict) -> dict:
    hook = trigger.get("exec")
    if isinstance(hook, dict) and not any(v is not None for v in hook.values()):
        trigger = {k: v for k, v in trigger.items() if k != "exec"}
    return trigger


def _drop_empty(mapping: dict, *keys: str) -> dict:
    return {k: v for k, v in mapping.items() if not (k in keys and v == {})}


def yaml_dump(document) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            # go-yaml indents a block sequence inside a mapping; PyYAML does not by default
            return super().increase_indent(flow, False)

        def ignore_aliases(self, data):
            return True

    resolver = yaml.resolver.Resolver()

    def _str(dumper, value):
        if "\n" in value:
            style = "|"
        elif value in _GO_OLD_BOOLS or resolver.resolve(yaml.ScalarNode, value, (True, False)) \
                != "tag:yaml.org,2002:str":
            style = '"'  # go-yaml double-quotes a string that would read back as another type
        else:
            style = None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, indent=2, width=float("inf"))


# YAML 1.1 booleans go-yaml still quotes for compatibility (isOldBool)
_GO_OLD_BOOLS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())
