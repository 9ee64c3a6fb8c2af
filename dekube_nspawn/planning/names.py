"""Every host-visible name: machines, units, bridges, veths, image keys, path components.

Compose allows names (project, service, network, volume) that machine names, interface names and
file names do not. Each mapping here is deterministic, keeps names readable where it can, and
adds a hash of the original name where it had to change something, so two different originals
never end up with the same mapped name.
"""
from __future__ import annotations

import hashlib
import re

MACHINE_NAME_MAX = 64          # nspawn/machined: a valid hostname, at most 64 bytes
IFNAME_MAX = 15                # Linux IFNAMSIZ - 1
BRIDGE_PREFIX = "dk-"
VETH_PREFIX = "vd"

_LABEL_OK = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_PROJECT_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_COMPONENT_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_HOSTNAME_OK = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def _squash(text: str) -> str:
    """Lowercase `[a-z0-9-]`, other characters become `-`, no leading/trailing/double dashes."""
    text = re.sub(r"[^a-z0-9]+", "-", text.lower())
    return text.strip("-")


def label(original: str, max_len: int, hash_len: int = 8) -> str:
    """`original` if it already is a valid label of at most `max_len` bytes; otherwise its
    squashed form cut short, plus `-` and a hash of the original."""
    if len(original) <= max_len and _LABEL_OK.match(original):
        return original
    stem = _squash(original)[: max_len - hash_len - 1].rstrip("-")
    suffix = short_hash(original, hash_len)
    return f"{stem}-{suffix}" if stem else f"x{suffix}"[:max_len]


def unique_labels(raw: dict, max_len: int) -> dict:
    """key -> label of `raw[key]`, all distinct. Keys whose labels clash (also when two keys
    have the same raw name, e.g. replica 1 of `web` and service `web-1`) get hashed forms
    instead, from the raw name and the key itself; longer hashes until nothing clashes.
    Deterministic: depends only on the mapping."""
    result = {k: label(r, max_len) for k, r in raw.items()}
    hash_len = 8
    while True:
        by_label: dict[str, list] = {}
        for k in sorted(result, key=repr):
            by_label.setdefault(result[k], []).append(k)
        clashes = [ks for ks in by_label.values() if len(ks) > 1]
        if not clashes:
            return result
        for group in clashes:
            for k in group:
                stem = _squash(raw[k])[: max_len - hash_len - 1].rstrip("-")
                suffix = short_hash(f"collision:{raw[k]}\0{k!r}", hash_len)
                result[k] = f"{stem}-{suffix}" if stem else f"x{suffix}"[:max_len]
        hash_len += 4
        if hash_len > 40:  # pragma: no cover - would need a sha256 prefix collision
            raise RuntimeError("cannot make names unique")


def project_id(project: str) -> str:
    """The project as it appears in unit names and host directories. Compose project names
    (`[a-z0-9][a-z0-9_-]*`) are kept; anything else is squashed and hashed."""
    if _PROJECT_OK.match(project) and len(project) <= 48:
        return project
    return label(project, 48)


def machine_raw_name(project: str, service: str, replica: int, scaled: bool) -> str:
    return f"{project}-{service}-{replica}" if scaled else f"{project}-{service}"


def machine_names(project: str, replicas: dict[str, int]) -> dict[tuple[str, int], str]:
    """(service, replica) -> machine name, unique within the project."""
    raw = {}
    for service, count in replicas.items():
        for r in range(1, count + 1):
            raw[(service, r)] = machine_raw_name(project, service, r, count > 1)
    return unique_labels(raw, MACHINE_NAME_MAX)


def service_ids(project: str, services: list[str]) -> dict[str, str]:
    """service -> `<project>-<service>` label, unique within the project (port and health unit
    names are per service)."""
    return unique_labels({s: f"{project}-{s}" for s in services}, MACHINE_NAME_MAX)


def unit_name(machine: str) -> str:
    return f"nspawn-{machine}.service"


def target_name(project: str) -> str:
    return f"dekube-{project_id(project)}.target"


def bridge_names(project: str, networks: list[str]) -> dict[str, str]:
    """network -> `dk-` + 12 bytes from project and network, unique within the project."""
    room = IFNAME_MAX - len(BRIDGE_PREFIX)
    mapped = unique_labels({n: f"{project}-{n}" for n in networks}, room)
    return {n: BRIDGE_PREFIX + b for n, b in mapped.items()}


def valid_ifname(name: str) -> bool:
    return (0 < len(name.encode()) <= IFNAME_MAX and name not in (".", "..")
            and not any(c in name for c in "/:") and not any(c.isspace() for c in name))


def veth_name(machine: str, network: str) -> str:
    return VETH_PREFIX + short_hash(f"{machine}\0{network}", IFNAME_MAX - len(VETH_PREFIX))


def path_component(original: str) -> str:
    """A single file-name component that can never be `.`/`..` or contain `/`: kept as is when
    it is plainly safe, else squashed plus a hash of the original."""
    if _COMPONENT_OK.match(original) and len(original) <= 100:
        return original
    return label(original, 64)


def image_key(transport: str, reference: str) -> str:
    """Directory name of a pulled image, shared by projects on one host: readable stem plus a
    hash of where it comes from, so different sources never share a directory."""
    return f"{_squash(reference)[:40].rstrip('-') or 'image'}-{short_hash(transport + reference)}"


def valid_hostname(name: str) -> bool:
    return bool(_HOSTNAME_OK.match(name))


def port_unit_stem(service_id: str, protocol: str, host_port: int, host_ip: str) -> str:
    stem = f"dekube-{service_id}-{protocol}-{host_port}"
    if host_ip not in ("0.0.0.0", ""):
        stem += "-" + short_hash(host_ip)
    return stem
