"""Render a Project the way `docker compose config` prints it.

JSON is byte-identical to Docker Compose's `--format json`: Go's encoding/json with two-space
indent, `<`, `>`, `&`, U+2028 and U+2029 escaped, no trailing newline. `Project.data` already has
Go's key order (gotypes.py), so rendering is only a matter of spelling.
"""
from __future__ import annotations

import json

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def render_config(project, fmt: str = "json") -> str:
    if fmt == "json":
        return render_json(project.data)
    if fmt == "yaml":
        return render_yaml(project.data)
    raise ValueError(f"unknown format {fmt!r}")


def render_json(data) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if any(c in text for c in _GO_ESCAPES):
        # These characters can only occur inside JSON strings, so a plain replace is exact.
        for raw, escaped in _GO_ESCAPES.items():
            text = text.replace(raw, escaped)
    return text


def render_yaml(data) -> str:
    """YAML in the same key order, 2-space block style, like Docker Compose's default format."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    _Dumper.ignore_aliases = lambda self, data: True
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, indent=2, width=float("inf"))
