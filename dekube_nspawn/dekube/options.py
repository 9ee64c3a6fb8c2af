"""Transform options: the top-level `nspawn:` section of dekube.yaml, then `extensions.nspawn`
(the section dekube hands the transform as `ctx.extension_config`), which wins key by key.

A bad value never stops dekube: it is reported as a warning naming its key path and ignored.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_OUTPUT_SUBDIR = "nspawn"


@dataclass(frozen=True)
class TransformOptions:
    output_dir: str                  # absolute
    bridge: str | None = None
    subnets: tuple[str, ...] = ()
    strict: bool = False
    resolve_images: bool = False


def _string(value):
    return value if isinstance(value, str) and value else None


def _boolean(value):
    return value if isinstance(value, bool) else None


def _subnets(value):
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


# key -> (reader returning None for an invalid value, what a valid value looks like)
_KEYS = {
    "output_dir": (_string, "a directory path (relative to dekube's output directory)"),
    "bridge": (_string, "a bridge interface name"),
    "subnet": (_subnets, "a CIDR or NETWORK=CIDR, or a list of them"),
    "strict": (_boolean, "true or false"),
    "resolve_images": (_boolean, "true or false"),
}
_DEKUBE_KEYS = {"enabled"}   # read by dekube itself in extensions.<name>


def read_options(config, extension_config, dekube_output_dir: str, warn) -> TransformOptions:
    """`warn(text)` receives one message per ignored key or value."""
    values: dict = {}
    for where, section in (("nspawn", (config or {}).get("nspawn")),
                           ("extensions.nspawn", extension_config)):
        if section is None:
            continue
        if not isinstance(section, dict):
            warn(f"{where}: expected a mapping of options, got {type(section).__name__}; ignored")
            continue
        for key, value in section.items():
            if key in _DEKUBE_KEYS:
                continue
            if key not in _KEYS:
                warn(f"{where}.{key}: unknown option (known: {', '.join(sorted(_KEYS))}); ignored")
                continue
            reader, expected = _KEYS[key]
            parsed = reader(value)
            if parsed is None:
                warn(f"{where}.{key}: expected {expected}, got {value!r}; ignored")
                continue
            values[key] = (where, parsed)
    base = os.path.abspath(dekube_output_dir or ".")
    output_dir = os.path.join(base, DEFAULT_OUTPUT_SUBDIR)
    if "output_dir" in values:
        where, wanted = values["output_dir"]
        candidate = os.path.normpath(os.path.join(base, wanted))
        if _contains(candidate, base):
            warn(f"{where}.output_dir: {wanted!r} would write over dekube's own output directory; "
                 f"using {output_dir}")
        else:
            output_dir = candidate
    get = lambda key, default: values[key][1] if key in values else default  # noqa: E731
    return TransformOptions(output_dir=output_dir, bridge=get("bridge", None),
                            subnets=get("subnet", ()), strict=get("strict", False),
                            resolve_images=get("resolve_images", False))


def _contains(directory: str, path: str) -> bool:
    """`directory` is `path` or one of its parents (converting there would mix our files into
    dekube's, and a re-run would treat dekube's files as ours)."""
    return os.path.commonpath([directory, path]) == directory
