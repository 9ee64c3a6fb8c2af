"""Short syntax -> long syntax, per file, before merging (compose-go transform/canonical.go).

Merging works on the long forms (ports merge by their fields, volumes by target, environment by
variable), so every spelling a user may write is rewritten here into the one form the merge and
the later stages read. The input is schema-valid (validate.py ran first); this stage adds no
defaults that depend on other files and resolves no paths: normalize.py does that after the merge.
`canonicalize` is idempotent: running it on its own output changes nothing.
"""
from __future__ import annotations

import ipaddress

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import units


def canonicalize(doc: dict, filename: str | None = None, diagnostics=None) -> dict:
    """Return `doc` with services and top-level resources in long syntax (the input is not modified).
    `diagnostics` receives what Compose accepts but ignores (unknown short-syntax volume options)."""
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    services = doc.get("services")
    if isinstance(services, dict):
        out["services"] = {name: _service(svc, ("services", name), filename, diagnostics)
                           if isinstance(svc, dict) else svc
                           for name, svc in services.items()}
    for kind in ("networks", "volumes", "secrets", "configs"):
        section = doc.get(kind)
        if isinstance(section, dict):
            out[kind] = {name: _resource(res, (kind, name), diagnostics) for name, res in section.items()}
    return out


def _resource(res, path: tuple, diagnostics):
    """`external: {name: x}` (legacy) means `name: x, external: true`."""
    if not isinstance(res, dict):
        return res
    if isinstance(res.get("labels"), list):
        res = dict(res, labels=to_mapping(res["labels"], "="))
    ext = res.get("external")
    if isinstance(ext, dict):
        res = dict(res, external=True)
        if ext.get("name") is not None and res.get("name") is None:
            res["name"] = ext["name"]
            if diagnostics is not None:
                diagnostics.warn(path,
                                 "external.name is deprecated. Please set name and external: true")
    return res


def _service(svc: dict, path: tuple, filename, diagnostics) -> dict:
    s = dict(svc)
    if isinstance(s.get("volumes"), list):
        ignored: list[tuple[int, str]] = []
        try:
            s["volumes"] = volumes(s["volumes"], ignored)
        except ValueError as e:
            raise _error(str(e), filename, path + ("volumes",)) from None
        for i, option in ignored:
            if diagnostics is not None:
                diagnostics.warn(path + ("volumes", i), f"unknown volume option {option!r} ignored")
    for key, convert in _SERVICE_FIELDS.items():
        if key in s and s[key] is not None:
            try:
                s[key] = convert(s[key])
            except ValueError as e:
                raise _error(str(e), filename, path + (key,)) from None
    build = s.get("build")
    if isinstance(build, dict):
        s["build"] = _build(build)
    deploy = s.get("deploy")
    if isinstance(deploy, dict) and deploy.get("labels") is not None:
        s["deploy"] = dict(deploy, labels=to_mapping(deploy["labels"], "="))
    return s


def _error(message: str, filename, key_path) -> ComposeFileError:
    line = column = None
    if filename:
        from dekube_nspawn.loader.yaml import line_of
        try:
            line, column = line_of(filename, key_path)
        except Exception:  # a position is a courtesy; the key path already says where
            line = column = None
    return ComposeFileError(message, file=filename, line=line, column=column, key_path=key_path)


def _build(build: dict) -> dict:
    b = dict(build)
    for key in ("args",):
        if b.get(key) is not None:
            b[key] = to_mapping_with_equals(b[key])
    for key in ("labels", "additional_contexts"):
        if b.get(key) is not None:
            b[key] = to_mapping(b[key], "=")
    if b.get("extra_hosts") is not None:
        b["extra_hosts"] = extra_hosts(b["extra_hosts"])
    if b.get("secrets") is not None:
        b["secrets"] = [file_reference(x) for x in b["secrets"]]
    if b.get("ssh") is not None:
        b["ssh"] = ssh_keys(b["ssh"])
    for key in ("cache_from", "cache_to", "no_cache_filter", "tags", "platforms"):
        if isinstance(b.get(key), str):
            b[key] = [b[key]]
    return b


def to_mapping_with_equals(value) -> dict:
    """environment / build.args: `["A=1", "B"]` -> `{A: "1", B: None}`; a map keeps its values."""
    if isinstance(value, dict):
        return dict(value)
    out = {}
    for item in value:
        key, sep, val = str(item).partition("=")
        if key != key.rstrip():
            raise ValueError(f"environment variable {key.rstrip()} is declared with a trailing space")
        out[key] = val if sep else None
    return out


def to_mapping(value, sep: str) -> dict:
    """labels / sysctls / annotations: a list of `key=value` (a bare key means an empty value)."""
    if isinstance(value, dict):
        return dict(value)
    out = {}
    for item in value:
        key, found, val = str(item).partition(sep)
        out[key] = val if found else ""
    return out


def command(value):
    """A string command is split the way a POSIX shell would (mattn/go-shellwords)."""
    if isinstance(value, str):
        return shell_split(value)
    return value


def shell_split(text: str) -> list[str]:
    """go-shellwords without env/backtick expansion: quotes group, backslash escapes."""
    words: list[str] = []
    buf = ""
    in_word = False
    quote = ""
    escaped = False
    for ch in text:
        if escaped:
            buf += ch
            escaped = False
            continue
        if ch == "\\" and quote != "'":
            escaped = True
            in_word = True
            continue
        if quote:
            if ch == quote:
                quote = ""
            else:
                buf += ch
            continue
        if ch in "'\"":
            quote = ch
            in_word = True
            continue
        if ch in " \t\r\n":
            if in_word:
                words.append(buf)
                buf = ""
                in_word = False
            continue
        buf += ch
        in_word = True
    if quote or escaped:
        raise ValueError(f"invalid command line string: unterminated quote or escape in {text!r}")
    if in_word:
        words.append(buf)
    return words


def healthcheck(value):
    if isinstance(value, dict) and isinstance(value.get("test"), str):
        return dict(value, test=["CMD-SHELL", value["test"]])
    return value


def depends_on(value) -> dict:
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True} for name in value}
    out = {}
    for name, dep in value.items():
        dep = dict(dep or {})
        dep.setdefault("condition", "service_started")
        dep.setdefault("required", True)
        out[name] = dep
    return out


def networks(value) -> dict:
    if isinstance(value, list):
        return {name: None for name in value}
    return dict(value)


def env_file(value) -> list:
    if isinstance(value, (str, dict)):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, str):
            out.append({"path": item, "required": True})
        else:
            entry = dict(item)
            entry.setdefault("required", True)
            out.append(entry)
    return out


def string_list(value) -> list:
    """A string is a one-element list; an empty string (an unset variable) is no element at all."""
    if isinstance(value, str):
        return [value] if value else []
    return list(value)


def hooks(value) -> list:
    return [_hook(h) for h in value]


def _hook(hook):
    if not isinstance(hook, dict):
        return hook
    h = dict(hook)
    if h.get("command") is not None:
        h["command"] = command(h["command"])
    if h.get("environment") is not None:
        h["environment"] = to_mapping_with_equals(h["environment"])
    return h


def develop(value):
    if not isinstance(value, dict) or not isinstance(value.get("watch"), list):
        return value
    watch = []
    for trigger in value["watch"]:
        t = dict(trigger)
        if isinstance(t.get("exec"), dict):
            t["exec"] = _hook(t["exec"])
        for key in ("ignore", "include"):
            if isinstance(t.get(key), str):
                t[key] = string_list(t[key])
        watch.append(t)
    return dict(value, watch=watch)


def provider(value):
    """provider.options values are lists of strings (a scalar is a one-element list)."""
    if not isinstance(value, dict) or not isinstance(value.get("options"), dict):
        return value
    options = {k: [units.go_string(x) for x in (v if isinstance(v, list) else [v])]
               for k, v in value["options"].items()}
    return dict(value, options=options)


def file_reference(value) -> dict:
    return {"source": value} if isinstance(value, str) else dict(value)


def ssh_keys(value) -> list:
    """build.ssh: `default` or `id=path`, from a list or a map."""
    if isinstance(value, dict):
        return [k if v is None else f"{k}={v}" for k, v in value.items()]
    if isinstance(value, str):
        return [value]
    return list(value)


def extra_hosts(value) -> list:
    """-> sorted `host=ip` strings, as compose-go's HostsList prints them (either separator accepted)."""
    hosts: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for host, ips in value.items():
            if isinstance(ips, list):
                hosts[host] = [str(ip) for ip in ips]
            else:
                hosts[host] = ["" if ips is None else str(ips)]
    else:
        for item in value:
            item = str(item)
            for sep in ("=", ":"):
                host, found, ip = item.partition(sep)
                if found:
                    hosts.setdefault(host, []).extend(ip.split(","))
                    break
            else:
                raise ValueError(f"invalid additional host, missing IP: {item}")
    out = []
    for host, ips in hosts.items():
        if not host or ":" in host or "=" in host:
            raise ValueError(f"bad host name '{host}'")
        for ip in ips:
            if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
                ip = ip[1:-1]
            out.append(f"{host}={ip}")
    return sorted(out)


def ulimits(value) -> dict:
    return {name: (dict(v) if isinstance(v, dict) else v) for name, v in value.items()}


def devices(value) -> list:
    out = []
    for item in value:
        if not isinstance(item, str):
            out.append(dict(item))
            continue
        parts = item.split(":")
        if len(parts) == 1:
            out.append({"source": parts[0], "target": parts[0], "permissions": "rwm"})
        elif len(parts) == 2:
            out.append({"source": parts[0], "target": parts[1], "permissions": "rwm"})
        elif len(parts) == 3:
            out.append({"source": parts[0], "target": parts[1], "permissions": parts[2]})
        else:
            raise ValueError(f"confusing device mapping, please use long syntax: {item}")
    return out


# --- ports ---------------------------------------------------------------------------------------

def ports(value) -> list:
    out = []
    for item in value:
        if isinstance(item, dict):
            p = dict(item)
            p.setdefault("mode", "ingress")
            p.setdefault("protocol", "tcp")
            if p.get("published") is not None and not isinstance(p["published"], str):
                p["published"] = str(p["published"])
            out.append(p)
        else:
            out.extend(parse_port(str(item)))
    return out


def parse_port(spec: str) -> list[dict]:
    """docker/go-connections nat.ParsePortSpec, then compose-go's sort by `port/proto` key."""
    raw, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    parts = raw.split(":")
    container = parts[-1]
    if len(parts) == 1:
        ip, host = "", ""
    elif len(parts) == 2:
        ip, host = "", parts[0]
    else:
        ip, host = ":".join(parts[:-2]), parts[-2]
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"invalid IP address: {ip}") from None
    if not container:
        raise ValueError(f"no port specified: {spec}<empty>")
    start, end = _port_range(container, spec)
    hstart = hend = 0
    if host:
        hstart, hend = _port_range(host, spec)
        if end - start != hend - hstart and end != start:
            raise ValueError(f"invalid ranges specified for container and host Ports: {container} and {host}")
    entries = []
    for i in range(end - start + 1):
        published = ""
        if host:
            published = str(hstart + i)
            if start == end and hstart != hend:
                published = f"{published}-{hend}"
        entry = {"mode": "ingress"}
        if ip:
            entry["host_ip"] = ip
        entry["target"] = start + i
        if published:
            entry["published"] = published
        entry["protocol"] = proto
        entries.append((f"{start + i}/{proto}", entry))
    entries.sort(key=lambda e: e[0])
    return [e for _, e in entries]


def _port_range(text: str, spec: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        start = int(lo)
        end = int(hi) if sep else start
    except ValueError:
        raise ValueError(f"invalid port {text!r} in {spec!r}") from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise ValueError(f"invalid port range {text!r} in {spec!r}")
    return start, end


# --- volumes -------------------------------------------------------------------------------------

def volumes(value, ignored: list | None = None) -> list:
    """`ignored` collects (index, option) for short-syntax options Compose accepts and ignores."""
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            v = dict(item)
            if v.get("target"):
                v["target"] = clean_path(str(v["target"]))
            out.append(v)
        else:
            out.append(parse_volume(str(item), None if ignored is None else
                                    lambda option, i=i: ignored.append((i, option))))
    return out


def _is_drive(buffer: str, ch: str) -> bool:
    return ch == ":" and len(buffer) == 1 and buffer.isalpha()


def parse_volume(spec: str, on_ignored=None) -> dict:
    """compose-go format.ParseVolume: `[source:]target[:options]`, Windows drive letters kept whole."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    vol: dict = {}
    if "${" not in spec and "\0" not in spec:
        # The common case, without the character loop below: split on `:`, except the `:` right
        # after a field that is a single letter so far (a Windows drive, `C:\\data`).
        parts = spec.split(":")
        last = len(parts) - 1
        i = 0
        while i <= last:
            field = parts[i]
            if i < last and len(field) == 1 and field.isalpha():
                i += 1
                field += ":" + parts[i]
            _volume_field(i == last, field, vol, spec, on_ignored)
            i += 1
        return _volume_result(vol)
    buffer = ""
    depth = 0
    end = "\0"
    text = spec + end
    for i, ch in enumerate(text):
        if ch == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
            buffer += ch
            continue
        if ch == "}" and depth:
            depth -= 1
            buffer += ch
            continue
        if _is_drive(buffer, ch):
            buffer += ch
        elif ch in (":", end) and depth == 0:
            _volume_field(ch == end, buffer, vol, spec, on_ignored)
            buffer = ""
        else:
            buffer += ch
    return _volume_result(vol)


def _volume_result(vol: dict) -> dict:
    source = vol.get("source", "")
    if _is_file_path(source):
        vol["type"] = "bind"
        vol["bind"] = dict(vol.get("bind") or {}, create_host_path=True)
    else:
        vol["type"] = "volume"
        vol.setdefault("volume", {})
    if vol.get("target"):
        vol["target"] = clean_path(vol["target"])
    order = ("type", "source", "target", "read_only", "bind", "volume")
    return {k: vol[k] for k in order if k in vol}


def clean_path(path: str) -> str:
    """Go's path.Clean, which compose-go applies to mount targets: `/data/` -> `/data`."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append(part)
            continue
        parts.append(part)
    out = "/".join(parts)
    return ("/" + out) if rooted else (out or ".")


def _volume_field(at_end: bool, buffer: str, vol: dict, spec: str, on_ignored=None) -> None:
    if not buffer:
        raise ValueError(f"invalid spec: {spec}: empty section between colons")
    if "source" not in vol and at_end:
        vol["target"] = buffer
    elif "source" not in vol:
        vol["source"] = buffer
    elif "target" not in vol:
        vol["target"] = buffer
    elif not at_end:
        raise ValueError(f"invalid spec: {spec}: too many colons")
    else:
        for option in buffer.split(","):
            if option == "ro":
                vol["read_only"] = True
            elif option == "rw":
                vol["read_only"] = False
            elif option == "nocopy":
                vol["volume"] = {"nocopy": True}
            elif option in ("rprivate", "private", "rshared", "shared", "rslave", "slave"):
                vol.setdefault("bind", {})["propagation"] = option
            elif option in ("z", "Z"):
                vol.setdefault("bind", {})["selinux"] = option
            elif on_ignored is not None:
                on_ignored(option)


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and _is_drive(source[0], source[1])


_SERVICE_FIELDS = {
    "environment": to_mapping_with_equals,
    "labels": lambda v: to_mapping(v, "="),
    "annotations": lambda v: to_mapping(v, "="),
    "sysctls": lambda v: to_mapping(v, "="),
    "command": command,
    "entrypoint": command,
    "healthcheck": healthcheck,
    "depends_on": depends_on,
    "networks": networks,
    "env_file": env_file,
    "label_file": string_list,
    "dns": string_list,
    "dns_search": string_list,
    "tmpfs": string_list,
    "expose": lambda v: [units.go_string(x) for x in v],
    "extends": lambda v: {"service": v} if isinstance(v, str) else v,
    "secrets": lambda v: [file_reference(x) for x in v],
    "configs": lambda v: [file_reference(x) for x in v],
    "extra_hosts": extra_hosts,
    "ulimits": ulimits,
    "devices": devices,
    "ports": ports,
    "build": lambda v: {"context": v} if isinstance(v, str) else v,
    "post_start": hooks,
    "pre_stop": hooks,
    "develop": develop,
    "provider": provider,
}
