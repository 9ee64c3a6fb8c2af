"""Merging compose files (and extended services) with Docker Compose's per-key rules.

compose-go override/merge.go and override/uncity.go: mappings merge key by key, sequences
append, scalars are replaced, except for the paths below. After a merge, `enforce_unicity`
keeps one entry per key in the sequences where compose does (ports, volumes by target, ...),
the later entry taking the earlier one's place.
"""
from __future__ import annotations

from typing import Any, Callable

from dekube_nspawn.errors import ComposeFileError, format_key_path

Path = tuple


def _go_str(v) -> str:
    """fmt's `%v` for the scalars YAML gives us."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "<nil>"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return str(v)


def to_sequence(value) -> list:
    """Mapping syntax -> `KEY=VALUE` list (sorted, as compose does before appending)."""
    if isinstance(value, dict):
        seq = []
        for k, v in value.items():
            if v is None:
                seq.append(k)
            elif isinstance(v, list):
                seq.extend(f"{k}={_go_str(x)}" for x in v)
            else:
                seq.append(f"{k}={_go_str(v)}")
        return sorted(seq)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    return []


def to_mapping(value, default: dict | None) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(s): (dict(default) if default is not None else None) for s in value}
    return {}


def _override(_base, other, _path):
    return other


def _to_seq(base, other, _path):
    return to_sequence(base) + to_sequence(other)


def _logging(base, other, path):
    if not isinstance(base, dict) or not isinstance(other, dict):
        return other
    if other.get("driver") == base.get("driver") or "driver" not in other or "driver" not in base:
        return merge_mappings(base, other, path)
    return other


def _build(base, other, path):
    def as_map(v):
        return {"context": v} if isinstance(v, str) else v if isinstance(v, dict) else {}
    return merge_mappings(dict(as_map(base)), as_map(other), path)


_DEPENDS_DEFAULT = {"condition": "service_started", "required": True}


def _depends_on(base, other, path):
    return merge_mappings(dict(to_mapping(base, _DEPENDS_DEFAULT)),
                          to_mapping(other, _DEPENDS_DEFAULT), path)


def _as_mappings(base, other, path):
    return merge_mappings(dict(to_mapping(base, None)), to_mapping(other, None), path)


def _ulimit(base, other, path):
    # compose-go merges `other` into itself here: an override replaces the whole ulimit
    return other


def _ipam_config(base, other, path):
    if not isinstance(base, list) or not isinstance(other, list):
        raise ComposeFileError(f"unexpected type for {format_key_path(path)}", key_path=path)
    out: list = []
    for original in base:
        right = to_mapping(original, None)
        for over in other:
            left = to_mapping(over, None)
            if left.get("subnet") != right.get("subnet"):
                if not any(c.get("subnet") == left.get("subnet") for c in out):
                    out.append(left)
                    continue
            merged = merge_mappings(dict(right), left, path)
            for idx, c in enumerate(out):
                if c.get("subnet") == merged.get("subnet"):
                    out[idx] = merged
                    break
            else:
                out.append(merged)
    return out


SPECIAL: dict[Path, Callable[[Any, Any, Path], Any]] = {
    ("networks", "*", "ipam", "config"): _ipam_config,
    ("networks", "*", "labels"): _to_seq,
    ("volumes", "*", "labels"): _to_seq,
    ("services", "*", "annotations"): _to_seq,
    ("services", "*", "build"): _build,
    ("services", "*", "build", "args"): _to_seq,
    ("services", "*", "build", "additional_contexts"): _to_seq,
    ("services", "*", "build", "extra_hosts"): _to_seq,
    ("services", "*", "build", "labels"): _to_seq,
    ("services", "*", "command"): _override,
    ("services", "*", "depends_on"): _depends_on,
    ("services", "*", "deploy", "labels"): _to_seq,
    ("services", "*", "dns"): _to_seq,
    ("services", "*", "dns_opt"): _to_seq,
    ("services", "*", "dns_search"): _to_seq,
    ("services", "*", "entrypoint"): _override,
    ("services", "*", "env_file"): _to_seq,
    ("services", "*", "label_file"): _to_seq,
    ("services", "*", "environment"): _to_seq,
    # compose-go later deduplicates these (mergeExtraHosts); Docker Compose v2.40.3 still appends
    ("services", "*", "extra_hosts"): _to_seq,
    ("services", "*", "healthcheck", "test"): _override,
    ("services", "*", "labels"): _to_seq,
    ("services", "*", "volumes", "*", "volume", "labels"): _to_seq,
    ("services", "*", "logging"): _logging,
    ("services", "*", "models"): _as_mappings,
    ("services", "*", "networks"): _as_mappings,
    ("services", "*", "sysctls"): _to_seq,
    ("services", "*", "tmpfs"): _to_seq,
    ("services", "*", "ulimits", "*"): _ulimit,
}


def _matches(path: Path, pattern: Path) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == q for p, q in zip(pattern, path))


def _special_for(path: Path):
    for pattern, fn in _SPECIAL_INDEX.get((len(path), path[-1]), ()):
        if _matches(path, pattern):
            return fn
    return None


def merge(base, other, path: Path = ()):
    """`other` (the later file) merged onto `base`; both are consumed (no copies are made)."""
    if path and path[0] in ("services", "networks", "volumes") and len(path) >= 3:
        fn = _special_for(path)
        if fn is not None:
            return fn(base, other, path)
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise ComposeFileError(f"cannot override {format_key_path(path)}", key_path=path)
        return merge_mappings(base, other, path)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise ComposeFileError(f"cannot override {format_key_path(path)}", key_path=path)
        return base + other
    return other


def merge_mappings(base: dict, other: dict, path: Path = ()) -> dict:
    for k, v in other.items():
        if k not in base:
            base[k] = v
            continue
        base[k] = merge(base[k], v, path + (k,))
    return base


# --- unicity ------------------------------------------------------------------------------------

def _key_value(entry, path):
    if isinstance(entry, str):
        return entry.split("=", 1)[0]
    raise ComposeFileError(f"unexpected type {type(entry).__name__}", key_path=path)


def _volume_target(entry, path):
    if isinstance(entry, dict):
        target = entry.get("target")
        if not isinstance(target, str):
            raise ComposeFileError("service volume is missing a mount target", key_path=path)
        return target
    if isinstance(entry, str):
        return short_volume_target(entry)
    return ""


def short_volume_target(spec: str) -> str:
    """Target of `SOURCE:TARGET[:MODE]` or of a bare `TARGET` (compose-go format.ParseVolume:
    a one-letter part followed by `/` or `\\` is a Windows drive, not a separator)."""
    parts: list[str] = []
    pieces = spec.split(":")
    current = pieces[0]
    for piece in pieces[1:]:
        if len(current) == 1 and current.isalpha() and piece[:1] in ("/", "\\"):
            current += ":" + piece          # `C:/...`: a drive, not a separator
        else:
            parts.append(current)
            current = piece
    parts.append(current)
    return parts[0] if len(parts) == 1 else parts[1]


def _device_target(entry, path):
    if isinstance(entry, dict):
        target = entry.get("target")
        if not isinstance(target, str):
            raise ComposeFileError("service device is missing a mount target", key_path=path)
        return target
    if isinstance(entry, str):
        parts = entry.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def _expose(entry, path):
    if isinstance(entry, bool) or not isinstance(entry, (str, int)):
        raise ComposeFileError(f"unsupported expose value {entry}", key_path=path)
    return str(entry)


def _mount(default_dir):
    def index(entry, path):
        if isinstance(entry, str):
            return f"{default_dir}/{entry}"
        if isinstance(entry, dict):
            if "target" in entry:
                return str(entry["target"])
            return f"{default_dir}/{_go_str(entry.get('source'))}"
        raise ComposeFileError(f"unsupported value {entry}", key_path=path)
    return index


def _gofmt_s(v) -> str:
    """Go's `%s` verb, which compose-go applies to any type here."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return f"%!s(bool={_go_str(v)})"
    if isinstance(v, int):
        return f"%!s(int={v})"
    return _go_str(v)


def _port(entry, path):
    if isinstance(entry, bool):
        return ""
    if isinstance(entry, int):
        return str(entry)
    if isinstance(entry, dict):
        if "target" not in entry:
            raise ComposeFileError("service ports is missing a target port", key_path=path)
        target = entry["target"]
        target = str(target) if isinstance(target, int) else f"%!d(string={target})"
        return (f"{_gofmt_s(entry.get('host_ip', '0.0.0.0'))}:"
                f"{_gofmt_s(entry.get('published', '%!s(<nil>)'))}:{target}/"
                f"{_gofmt_s(entry.get('protocol', 'tcp'))}")
    if isinstance(entry, str):
        return entry
    return ""


def _env_file(entry, path):
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        if "path" not in entry:
            raise ComposeFileError("environment path attribute is missing", key_path=path)
        return str(entry["path"])
    return ""


UNIQUE: dict[Path, Callable[[Any, Path], str]] = {
    ("networks", "*", "labels"): _key_value,
    ("networks", "*", "ipam", "options"): _key_value,
    ("services", "*", "annotations"): _key_value,
    ("services", "*", "build", "args"): _key_value,
    ("services", "*", "build", "additional_contexts"): _key_value,
    ("services", "*", "build", "platform"): _key_value,
    ("services", "*", "build", "tags"): _key_value,
    ("services", "*", "build", "labels"): _key_value,
    ("services", "*", "cap_add"): _key_value,
    ("services", "*", "cap_drop"): _key_value,
    ("services", "*", "configs"): _mount(""),
    ("services", "*", "deploy", "labels"): _key_value,
    ("services", "*", "dns"): _key_value,
    ("services", "*", "dns_opt"): _key_value,
    ("services", "*", "dns_search"): _key_value,
    ("services", "*", "environment"): _key_value,
    ("services", "*", "env_file"): _env_file,
    ("services", "*", "expose"): _expose,
    ("services", "*", "labels"): _key_value,
    ("services", "*", "links"): _key_value,
    ("services", "*", "networks", "*", "aliases"): _key_value,
    ("services", "*", "networks", "*", "link_local_ips"): _key_value,
    ("services", "*", "ports"): _port,
    ("services", "*", "profiles"): _key_value,
    ("services", "*", "secrets"): _mount("/run/secrets"),
    ("services", "*", "sysctls"): _key_value,
    ("services", "*", "tmpfs"): _key_value,
    ("services", "*", "volumes"): _volume_target,
    ("services", "*", "devices"): _device_target,
}


def _by_shape(patterns: dict) -> dict:
    """Patterns indexed by (length, last part): one dict lookup instead of a scan per path."""
    index: dict = {}
    for pattern, fn in patterns.items():
        index.setdefault((len(pattern), pattern[-1]), []).append((pattern, fn))
    return index


_UNIQUE_INDEX = _by_shape(UNIQUE)


def _unique_indexer(path: Path):
    for pattern, fn in _UNIQUE_INDEX.get((len(path), path[-1]), ()):
        if _matches(path, pattern):
            return fn
    return None


def enforce_unicity(doc: dict) -> dict:
    """One entry per key in the sequences listed in UNIQUE (in place; returns `doc`)."""
    for kind in ("services", "networks"):
        section = doc.get(kind)
        if not isinstance(section, dict):
            continue
        for name, item in section.items():
            if isinstance(item, dict):
                _unicity_walk(item, (kind, name))
    return doc


def _unicity_walk(node: dict, path: Path) -> None:
    depth = len(path) + 1
    for k, v in node.items():
        if isinstance(v, list):
            if (depth, k) not in _UNIQUE_INDEX:     # what _unique_indexer looks up first
                continue
            p = path + (k,)
            indexer = _unique_indexer(p)
            if indexer is not None:
                node[k] = _dedupe(v, indexer, p)
        elif isinstance(v, dict) and len(path) < 4:
            _unicity_walk(v, path + (k,))


def _dedupe(seq: list, indexer, path: Path) -> list:
    out: list = []
    where: dict[str, int] = {}
    for i, entry in enumerate(seq):
        key = indexer(entry, path + (i,))
        if key in where:
            out[where[key]] = entry
        else:
            where[key] = len(out)
            out.append(entry)
    return out


_SPECIAL_INDEX = _by_shape(SPECIAL)
