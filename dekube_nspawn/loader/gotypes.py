"""The shape Docker Compose gives a project when it prints it: compose-go's Go types.

`docker compose config --format json` is Go's encoding/json applied to compose-go's structs, so the
output's key order is the struct field order, `omitempty` drops zero values, pointer fields keep
explicit zeros, non-pointer struct fields are always printed (`ipam: {}`), maps come out with
sorted keys, and some types print themselves (durations, byte sizes, float32, octal file modes).
This module is that table, and `marshal` applies it to an already normalized mapping.
It knows nothing about defaults or paths: normalize.py decides the values, this decides the form.

A field is `(key, type, presence)`. presence: "omit" (omitempty: dropped when None or zero),
"ptr" (pointer: dropped only when None), "always" (no omitempty: None prints as null).
"""
from __future__ import annotations

from dekube_nspawn.loader import units

OMIT, PTR, ALWAYS = "omit", "ptr", "always"

# Scalar type names; composite types are tuples ("list", T), ("map", T), ("struct", NAME).
STR, BOOL, INT, F32, F64, BYTES, DURATION, RAW = "str", "bool", "int", "f32", "f64", "bytes", "duration", "raw"
MAPPING = ("map", STR)                 # Mapping / Labels / Options: values are strings
MAPPING_EQ = ("map", "str?")           # MappingWithEquals: a value may be null
STRINGS = ("list", STR)

STRUCTS: dict[str, list[tuple]] = {
    "service": [
        ("profiles", STRINGS, OMIT), ("annotations", MAPPING, OMIT), ("attach", BOOL, PTR),
        ("build", ("struct", "build"), PTR), ("develop", ("struct", "develop"), PTR),
        ("blkio_config", ("struct", "blkio"), PTR), ("cap_add", STRINGS, OMIT), ("cap_drop", STRINGS, OMIT),
        ("cgroup_parent", STR, OMIT), ("cgroup", STR, OMIT), ("cpu_count", INT, OMIT),
        ("cpu_percent", F32, OMIT), ("cpu_period", INT, OMIT), ("cpu_quota", INT, OMIT),
        ("cpu_rt_period", INT, OMIT), ("cpu_rt_runtime", INT, OMIT), ("cpus", F32, OMIT),
        ("cpuset", STR, OMIT), ("cpu_shares", INT, OMIT), ("command", STRINGS, ALWAYS),
        ("configs", ("list", ("struct", "file_ref")), OMIT), ("container_name", STR, OMIT),
        ("credential_spec", ("struct", "credential_spec"), PTR),
        ("depends_on", ("map", ("struct", "dependency")), OMIT), ("deploy", ("struct", "deploy"), PTR),
        ("device_cgroup_rules", STRINGS, OMIT), ("devices", ("list", ("struct", "device")), OMIT),
        ("dns", STRINGS, OMIT), ("dns_opt", STRINGS, OMIT), ("dns_search", STRINGS, OMIT),
        ("dockerfile", STR, OMIT), ("domainname", STR, OMIT), ("entrypoint", STRINGS, ALWAYS),
        ("provider", ("struct", "provider"), PTR), ("environment", MAPPING_EQ, OMIT),
        ("env_file", ("list", ("struct", "env_file")), OMIT), ("expose", STRINGS, OMIT),
        ("extends", ("struct", "extends"), PTR), ("external_links", STRINGS, OMIT),
        ("extra_hosts", STRINGS, OMIT), ("group_add", STRINGS, OMIT),
        ("gpus", ("list", ("struct", "device_request")), OMIT), ("hostname", STR, OMIT),
        ("healthcheck", ("struct", "healthcheck"), PTR), ("image", STR, OMIT), ("init", BOOL, PTR),
        ("ipc", STR, OMIT), ("isolation", STR, OMIT), ("labels", MAPPING, OMIT), ("label_file", STRINGS, OMIT),
        ("links", STRINGS, OMIT), ("logging", ("struct", "logging"), PTR), ("log_driver", STR, OMIT),
        ("log_opt", MAPPING, OMIT), ("mem_limit", BYTES, OMIT), ("mem_reservation", BYTES, OMIT),
        ("memswap_limit", BYTES, OMIT), ("mem_swappiness", BYTES, OMIT), ("mac_address", STR, OMIT),
        ("models", ("map", ("struct", "service_model")), OMIT), ("net", STR, OMIT),
        ("network_mode", STR, OMIT), ("networks", ("map", ("struct", "service_network")), OMIT),
        ("oom_kill_disable", BOOL, OMIT), ("oom_score_adj", INT, OMIT), ("pid", STR, OMIT),
        ("pids_limit", INT, OMIT), ("platform", STR, OMIT), ("ports", ("list", ("struct", "port")), OMIT),
        ("privileged", BOOL, OMIT), ("pull_policy", STR, OMIT), ("read_only", BOOL, OMIT),
        ("restart", STR, OMIT), ("runtime", STR, OMIT), ("scale", INT, PTR),
        ("secrets", ("list", ("struct", "file_ref")), OMIT), ("security_opt", STRINGS, OMIT),
        ("shm_size", BYTES, OMIT), ("stdin_open", BOOL, OMIT), ("stop_grace_period", DURATION, PTR),
        ("stop_signal", STR, OMIT), ("storage_opt", MAPPING, OMIT), ("sysctls", MAPPING, OMIT),
        ("tmpfs", STRINGS, OMIT), ("tty", BOOL, OMIT), ("ulimits", ("map", "ulimit"), OMIT),
        ("use_api_socket", BOOL, OMIT), ("user", STR, OMIT), ("userns_mode", STR, OMIT), ("uts", STR, OMIT),
        ("volume_driver", STR, OMIT), ("volumes", ("list", ("struct", "service_volume")), OMIT),
        ("volumes_from", STRINGS, OMIT), ("working_dir", STR, OMIT),
        ("post_start", ("list", ("struct", "hook")), OMIT), ("pre_stop", ("list", ("struct", "hook")), OMIT),
    ],
    "provider": [("type", STR, OMIT), ("options", ("map", STRINGS), OMIT)],
    "build": [
        ("context", STR, OMIT), ("dockerfile", STR, OMIT), ("dockerfile_inline", STR, OMIT),
        ("entitlements", STRINGS, OMIT), ("args", MAPPING_EQ, OMIT), ("provenance", STR, OMIT),
        ("sbom", STR, OMIT), ("ssh", STRINGS, OMIT), ("labels", MAPPING, OMIT), ("cache_from", STRINGS, OMIT),
        ("cache_to", STRINGS, OMIT), ("no_cache", BOOL, OMIT), ("no_cache_filter", STRINGS, OMIT),
        ("additional_contexts", MAPPING, OMIT), ("pull", BOOL, OMIT), ("extra_hosts", STRINGS, OMIT),
        ("isolation", STR, OMIT), ("network", STR, OMIT), ("target", STR, OMIT),
        ("secrets", ("list", ("struct", "file_ref")), OMIT), ("shm_size", BYTES, OMIT),
        ("tags", STRINGS, OMIT), ("ulimits", ("map", "ulimit"), OMIT), ("platforms", STRINGS, OMIT),
        ("privileged", BOOL, OMIT),
    ],
    "develop": [("watch", ("list", ("struct", "trigger")), OMIT)],
    "trigger": [
        ("path", STR, ALWAYS), ("action", STR, ALWAYS), ("target", STR, OMIT),
        ("exec", ("struct", "hook"), ALWAYS), ("ignore", STRINGS, OMIT), ("include", STRINGS, OMIT),
        ("initial_sync", BOOL, OMIT),
    ],
    "hook": [
        ("command", STRINGS, ALWAYS), ("user", STR, OMIT), ("privileged", BOOL, OMIT),
        ("working_dir", STR, OMIT), ("environment", MAPPING_EQ, OMIT),
    ],
    "blkio": [
        ("weight", INT, OMIT), ("weight_device", ("list", ("struct", "weight_device")), OMIT),
        ("device_read_bps", ("list", ("struct", "throttle")), OMIT),
        ("device_read_iops", ("list", ("struct", "throttle")), OMIT),
        ("device_write_bps", ("list", ("struct", "throttle")), OMIT),
        ("device_write_iops", ("list", ("struct", "throttle")), OMIT),
    ],
    # Go prints these two with their field names: the structs carry no json tags.
    "weight_device": [("Path", STR, ALWAYS, "path"), ("Weight", INT, ALWAYS, "weight")],
    "throttle": [("Path", STR, ALWAYS, "path"), ("Rate", BYTES, ALWAYS, "rate")],
    "device": [("source", STR, OMIT), ("target", STR, OMIT), ("permissions", STR, OMIT)],
    "logging": [("driver", STR, OMIT), ("options", MAPPING, OMIT)],
    "deploy": [
        ("mode", STR, OMIT), ("replicas", INT, PTR), ("labels", MAPPING, OMIT),
        ("update_config", ("struct", "update"), PTR), ("rollback_config", ("struct", "update"), PTR),
        ("resources", ("struct", "resources"), ALWAYS), ("restart_policy", ("struct", "restart_policy"), PTR),
        ("placement", ("struct", "placement"), ALWAYS), ("endpoint_mode", STR, OMIT),
    ],
    "update": [
        ("parallelism", INT, PTR), ("delay", DURATION, OMIT), ("failure_action", STR, OMIT),
        ("monitor", DURATION, OMIT), ("max_failure_ratio", F32, OMIT), ("order", STR, OMIT),
    ],
    "resources": [("limits", ("struct", "resource"), PTR), ("reservations", ("struct", "resource"), PTR)],
    "resource": [
        ("cpus", F32, OMIT), ("memory", BYTES, OMIT), ("pids", INT, OMIT),
        ("devices", ("list", ("struct", "device_request")), OMIT),
        ("generic_resources", ("list", ("struct", "generic_resource")), OMIT),
    ],
    "generic_resource": [("discrete_resource_spec", ("struct", "discrete_resource"), PTR)],
    "discrete_resource": [("kind", STR, ALWAYS), ("value", INT, ALWAYS)],
    "device_request": [
        ("capabilities", STRINGS, OMIT), ("driver", STR, OMIT), ("count", "device_count", OMIT),
        ("device_ids", STRINGS, OMIT), ("options", MAPPING, OMIT),
    ],
    "restart_policy": [
        ("condition", STR, OMIT), ("delay", DURATION, PTR), ("max_attempts", INT, PTR),
        ("window", DURATION, PTR),
    ],
    "placement": [
        ("constraints", STRINGS, OMIT), ("preferences", ("list", ("struct", "preference")), OMIT),
        ("max_replicas_per_node", INT, OMIT),
    ],
    "preference": [("spread", STR, OMIT)],
    "service_network": [
        ("aliases", STRINGS, OMIT), ("driver_opts", MAPPING, OMIT), ("gw_priority", INT, OMIT),
        ("interface_name", STR, OMIT), ("ipv4_address", STR, OMIT), ("ipv6_address", STR, OMIT),
        ("link_local_ips", STRINGS, OMIT), ("mac_address", STR, OMIT), ("priority", INT, OMIT),
    ],
    "port": [
        ("name", STR, OMIT), ("mode", STR, OMIT), ("host_ip", STR, OMIT), ("target", INT, OMIT),
        ("published", STR, OMIT), ("protocol", STR, OMIT), ("app_protocol", STR, OMIT),
    ],
    "service_volume": [
        ("type", STR, OMIT), ("source", STR, OMIT), ("target", STR, OMIT), ("read_only", BOOL, OMIT),
        ("consistency", STR, OMIT), ("bind", ("struct", "bind"), PTR), ("volume", ("struct", "volume_opts"), PTR),
        ("tmpfs", ("struct", "tmpfs"), PTR), ("image", ("struct", "image_opts"), PTR),
    ],
    "bind": [
        ("selinux", STR, OMIT), ("propagation", STR, OMIT), ("create_host_path", BOOL, OMIT),
        ("recursive", STR, OMIT),
    ],
    "volume_opts": [("labels", MAPPING, OMIT), ("nocopy", BOOL, OMIT), ("subpath", STR, OMIT)],
    "tmpfs": [("size", BYTES, OMIT), ("mode", INT, OMIT)],
    "image_opts": [("subpath", STR, OMIT)],
    "file_ref": [
        ("source", STR, OMIT), ("target", STR, OMIT), ("uid", STR, OMIT), ("gid", STR, OMIT),
        ("mode", "file_mode", PTR),
    ],
    "dependency": [("condition", STR, OMIT), ("restart", BOOL, OMIT), ("required", BOOL, ALWAYS)],
    "extends": [("file", STR, OMIT), ("service", STR, OMIT)],
    "env_file": [("path", STR, OMIT), ("required", BOOL, ALWAYS), ("format", STR, OMIT)],
    "healthcheck": [
        ("test", STRINGS, OMIT), ("timeout", DURATION, PTR), ("interval", DURATION, PTR),
        ("retries", INT, PTR), ("start_period", DURATION, PTR), ("start_interval", DURATION, PTR),
        ("disable", BOOL, OMIT),
    ],
    "credential_spec": [("config", STR, OMIT), ("file", STR, OMIT), ("registry", STR, OMIT)],
    "service_model": [("endpoint_var", STR, OMIT), ("model_var", STR, OMIT)],
    "network": [
        ("name", STR, OMIT), ("driver", STR, OMIT), ("driver_opts", MAPPING, OMIT),
        ("ipam", ("struct", "ipam"), ALWAYS), ("external", BOOL, OMIT), ("internal", BOOL, OMIT),
        ("attachable", BOOL, OMIT), ("labels", MAPPING, OMIT), ("enable_ipv4", BOOL, PTR),
        ("enable_ipv6", BOOL, PTR),
    ],
    "ipam": [("driver", STR, OMIT), ("config", ("list", ("struct", "ipam_pool")), OMIT)],
    "ipam_pool": [
        ("subnet", STR, OMIT), ("gateway", STR, OMIT), ("ip_range", STR, OMIT),
        ("aux_addresses", MAPPING, OMIT),
    ],
    "volume": [
        ("name", STR, OMIT), ("driver", STR, OMIT), ("driver_opts", MAPPING, OMIT),
        ("external", BOOL, OMIT), ("labels", MAPPING, OMIT),
    ],
    "file_object": [
        ("name", STR, OMIT), ("file", STR, OMIT), ("environment", STR, OMIT), ("content", STR, OMIT),
        ("external", BOOL, OMIT), ("labels", MAPPING, OMIT), ("driver", STR, OMIT),
        ("driver_opts", MAPPING, OMIT), ("template_driver", STR, OMIT),
    ],
    "model": [
        ("name", STR, OMIT), ("model", STR, OMIT), ("context_size", INT, OMIT),
        ("runtime_flags", STRINGS, OMIT),
    ],
}

# Top-level sections: Docker Compose prints the project as a map, so these come out sorted with
# the top-level x-* extensions among them.
SECTIONS = {
    "services": ("map", ("struct", "service")),
    "networks": ("map", ("struct", "network")),
    "volumes": ("map", ("struct", "volume")),
    "secrets": ("map", ("struct", "file_object")),
    "configs": ("map", ("struct", "file_object")),
    "models": ("map", ("struct", "model")),
}

class DecodeError(ValueError):
    """A value that does not fit its Go type; `path` is filled in on the way up."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list = []


_ZERO = (None, "", 0, False, [], {})
# Types that print their zero value as a non-empty string, which omitempty still drops (the Go
# value is 0)
_PRINTED_ZERO = {BYTES: "0", DURATION: "0s"}
# What a null map element prints as: a string map (Mapping, Labels) holds "", the rest null.
_NULL_ELEMENT = {STR: ""}


def marshal_project(doc: dict) -> dict:
    """`doc` as Docker Compose prints it: Go's field order, omitted zero values, and every literal
    `$` written as `$$` (so that the output reads back without interpolating twice). The escaping
    is done as each key and leaf is produced, instead of in another walk of the printed tree."""
    out = {}
    for key in sorted(doc):
        value = doc[key]
        if key == "name":
            if value:
                out[key] = escape_dollars(value)
        elif key == "models":
            continue  # Docker Compose does not print the top-level models
        elif key in SECTIONS:
            if key == "services" or value:
                try:
                    out[key] = marshal(value or {}, SECTIONS[key])
                except DecodeError as e:
                    e.path.insert(0, key)
                    raise
        elif key.startswith("x-"):
            out[escape_dollars(key)] = escape_dollars(_raw(value))
    return out


def escape_dollars(value):
    """Every literal `$` as `$$`, in strings, keys and nested values."""
    if isinstance(value, str):
        return value.replace("$", "$$") if "$" in value else value
    if isinstance(value, dict):
        return {escape_dollars(k): escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    return value


# The try/except around each child below (rather than a helper wrapping every call) adds the
# child's key to a DecodeError's path at no cost on the happy path; this runs once per node.

def marshal(value, typ):
    cls = value.__class__
    if cls is str and (typ == STR or typ == "str?"):  # the most common leaf: go_string is a no-op
        return value.replace("$", "$$") if "$" in value else value
    if cls is bool and typ == BOOL:
        return value
    if isinstance(typ, tuple):
        kind, inner = typ
        if kind == "list":
            if value is None:
                return None
            if inner == STR and all(v.__class__ is str for v in value):
                return [v.replace("$", "$$") if "$" in v else v for v in value]
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(marshal(v, inner))
                except DecodeError as e:
                    e.path.insert(0, i)
                    raise
            return out
        if kind == "map":
            if value is None:
                return None
            null = _NULL_ELEMENT.get(inner)
            out = {}
            for k in sorted(value):
                v = value[k]
                if v is None:
                    m = null
                else:
                    try:
                        m = marshal(v, inner)
                    except DecodeError as e:
                        e.path.insert(0, k)
                        raise
                out[k.replace("$", "$$") if isinstance(k, str) and "$" in k else k] = m
            return out
        if not isinstance(value, dict) and value is not None:
            raise DecodeError(f"must be a mapping, not {type(value).__name__}")
        return _struct(value, inner)
    try:
        m = _SCALARS[typ](value)
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError) as e:
        raise DecodeError(str(e)) from None
    if isinstance(m, str):
        return m.replace("$", "$$") if "$" in m else m
    if isinstance(m, (dict, list)):
        return escape_dollars(m)
    return m


class _Layout:
    """A struct's fields indexed by input key, so marshalling visits only the keys a value has
    (a service sets a dozen of its hundred-odd fields) plus the always-printed ones."""

    def __init__(self, fields):
        self.by_input = {}
        self.always = []
        for order, (key, typ, presence, *source) in enumerate(fields):
            entry = (order, key, typ, presence, _PRINTED_ZERO.get(typ) if isinstance(typ, str) else None,
                     isinstance(typ, tuple) and typ[0] == "struct")
            self.by_input[source[0] if source else key] = entry
            if presence == ALWAYS:
                self.always.append((source[0] if source else key, entry))


_LAYOUTS: dict[str, _Layout] = {}


def _struct(value, name: str) -> dict:
    layout = _LAYOUTS.get(name)
    if layout is None:
        layout = _LAYOUTS[name] = _Layout(STRUCTS[name])
    value = value or {}
    by_input = layout.by_input
    present = [by_input[k] + (k,) for k in value if k in by_input]
    present += [entry + (k,) for k, entry in layout.always if k not in value]
    present.sort()
    out = {}
    for _order, key, typ, presence, printed_zero, is_struct, source in present:
        v = value.get(source)
        if v is None:
            if presence == ALWAYS:
                # A non-pointer struct prints as {} (or its own always-present fields); anything else as null.
                out[key] = marshal({}, typ) if is_struct else None
            continue
        try:
            m = marshal(v, typ)
        except DecodeError as e:
            e.path.insert(0, source)
            raise
        if presence == OMIT and ((not m and m in _ZERO) or
                                 (printed_zero is not None and m == printed_zero)):
            continue
        out[key] = m  # Go field names: no `$` to escape
    return out


def _raw(value):
    """Extension values are map[string]any: maps print sorted, the rest as is, except that an
    integral float prints as digits in Go (`2.0` -> `2`), which reads back as an int."""
    if isinstance(value, dict):
        return {str(k): _raw(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_raw(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(units.go_json_float(value))  # Go's shortest digits, not the exact binary value
    return value


def _str_or_null(value):
    return None if value is None else units.go_string(value)


def _ulimit(value):
    if isinstance(value, dict) or not value:
        value = value or {}
        return {k: int(value[k]) for k in ("soft", "hard") if value.get(k)}
    return int(value)


def _file_mode(value) -> str:
    if isinstance(value, str):
        value = int(value, 8)
    return "0%o" % value


def _device_count(value):
    if isinstance(value, str):
        if value.lower() == "all":
            return -1
        if not value.lstrip("-").isdigit():
            raise DecodeError(f"invalid value {value!r}, the only value allowed is 'all' or a number")
        return int(value)
    return value


_SCALARS = {
    STR: units.go_string,
    "str?": _str_or_null,
    BOOL: bool,
    INT: int,
    F32: units.float32,
    F64: float,
    BYTES: lambda v: str(units.parse_bytes(v)),
    DURATION: lambda v: units.format_duration(units.parse_duration(v)),
    RAW: _raw,
    "ulimit": _ulimit,
    "file_mode": _file_mode,
    "device_count": _device_count,
}
