"""Mounts: binds, named and anonymous volumes, tmpfs, secrets and configs, volumes_from."""
from __future__ import annotations

import posixpath

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import names, values
from dekube_nspawn.planning.context import Context, service_path

_VOLUME_IGNORED = {"driver": "driver ignored: the volume is a directory on the host",
                   "driver_opts": "driver options ignored: the volume is a directory on the host",
                   "labels": "ignored: volumes have no labels"}


def _absolute_target(ctx: Context, target: str, key_path) -> str | None:
    """None (warned) for what is no Linux path: Windows-container paths, relative names."""
    if not target.startswith("/"):
        ctx.warn(key_path, f"{target!r} is not an absolute Linux path: not mounted")
        return None
    return posixpath.normpath(target)


def plan_volumes(ctx: Context) -> dict[str, ir.Volume]:
    """Top-level named volumes -> host directories (persistent, under the project state dir;
    external ones under the shared state dir, by their external name)."""
    result = {}
    for key, cfg in sorted(ctx.resource("volumes").items()):
        cfg = cfg or {}
        path = ("volumes", key)
        name = str(cfg.get("name") or f"{ctx.project}_{key}")
        opts = cfg.get("driver_opts") or {}
        if (cfg.get("driver") in (None, "local") and opts.get("o") and "bind" in str(opts["o"]).split(",")
                and str(opts.get("device", "")).startswith("/")):
            # The common `local` driver idiom for "this host directory as a named volume".
            result[key] = ir.Volume(name=key, host_path=posixpath.normpath(opts["device"]))
            continue
        for k, why in _VOLUME_IGNORED.items():
            if cfg.get(k) and not (k == "driver" and cfg[k] == "local"):
                ctx.warn(path + (k,), why)
        if cfg.get("external"):
            host = posixpath.join(ctx.layout.state_dir, "volumes", names.path_component(name))
            ctx.warn(path + ("external",), f"external volume: expected as directory {host} "
                     "(shared by projects); it is neither created nor removed")
            result[key] = ir.Volume(name=key, host_path=host, external=True)
        else:
            result[key] = ir.Volume(name=key, host_path=posixpath.join(
                ctx.state_dir, "volumes", names.path_component(name)))
    return result


def _tmpfs_options(ctx: Context, text: str, key_path) -> tuple[int | None, int | None]:
    size = mode = None
    for opt in filter(None, text.split(",")):
        k, _, v = opt.partition("=")
        if k == "size":
            size = values.size_bytes(v, key_path)
        elif k == "mode":
            mode = values.file_mode(v, key_path)
        else:
            ctx.warn(key_path, f"tmpfs option {opt!r} ignored (size and mode are kept)")
    return size, mode


def _volume_mount(ctx: Context, service: str, i: int, vol, volumes: dict[str, ir.Volume],
                  anonymous_dir: str) -> ir.Mount | None:
    path = service_path(service, "volumes", i)
    kind = vol.get("type")
    target = _absolute_target(ctx, values.unescape(str(vol.get("target") or "")), path + ("target",))
    if target is None:
        return None
    read_only = bool(vol.get("read_only"))
    if vol.get("consistency"):
        ctx.warn(path + ("consistency",), "ignored: only meaningful on Docker Desktop")
    if kind == "bind":
        bind = vol.get("bind") or {}
        for key in ("propagation", "selinux", "recursive"):
            if bind.get(key):
                ctx.warn(path + ("bind", key), f"bind {key} ignored: a plain recursive bind is "
                         "made")
        source = _absolute_target(ctx, values.unescape(str(vol.get("source") or "")), path + ("source",))
        if source is None:
            return None
        return ir.Mount(ir.MountKind.BIND, source, target, read_only,
                        create_host_path=bool(bind.get("create_host_path")))
    if kind == "volume":
        opts = vol.get("volume") or {}
        copy = not opts.get("nocopy")
        for key in ("labels", "driver_opts"):
            if opts.get(key):
                ctx.warn(path + ("volume", key), "ignored: volumes are host directories")
        subpath = opts.get("subpath")
        if subpath:
            subpath = posixpath.normpath(values.unescape(str(subpath)))
            if subpath.startswith("/") or subpath.split("/")[0] == "..":
                raise ConversionError(f"volume subpath {subpath!r} leaves the volume",
                                      key_path=path + ("volume", "subpath"))
        source = vol.get("source")
        if source:
            if source not in volumes:
                raise ConversionError(f"volume {source!r} is not defined in top-level volumes",
                                      key_path=path + ("source",))
            return ir.Mount(ir.MountKind.VOLUME, volumes[source].host_path, target, read_only,
                            subpath=subpath, copy_image_content=copy)
        host = posixpath.join(anonymous_dir, names.short_hash(target, 16))
        return ir.Mount(ir.MountKind.ANONYMOUS, host, target, read_only, subpath=subpath,
                        copy_image_content=copy)
    if kind == "tmpfs":
        opts = vol.get("tmpfs") or {}
        size = values.size_bytes(opts["size"], path + ("tmpfs", "size")) if opts.get("size") else None
        mode = values.file_mode(opts["mode"], path + ("tmpfs", "mode")) if opts.get("mode") is not None else None
        for key in opts:
            if key not in ("size", "mode"):
                ctx.warn(path + ("tmpfs", key), "ignored (size and mode are kept)")
        return ir.Mount(ir.MountKind.TMPFS, "", target, read_only, tmpfs_size=size,
                        tmpfs_mode=mode)
    ctx.warn(path, f"mount type {kind!r} is not supported: not mounted")
    return None


def plan_own_mounts(ctx: Context, service: str, svc, volumes: dict[str, ir.Volume],
                    layer_dir: str) -> list[ir.Mount]:
    """The service's own mounts (not volumes_from, not secrets) for one machine."""
    out = []
    anonymous_dir = posixpath.join(layer_dir, "volumes")
    for i, vol in enumerate(svc.get("volumes") or ()):
        m = _volume_mount(ctx, service, i, vol, volumes, anonymous_dir)
        if m is not None:
            out.append(m)
    for i, item in enumerate(svc.get("tmpfs") or ()):
        path = service_path(service, "tmpfs", i)
        target, _, opts = str(item).partition(":")
        size, mode = _tmpfs_options(ctx, opts, path)
        target = _absolute_target(ctx, target, path)
        if target is not None:
            out.append(ir.Mount(ir.MountKind.TMPFS, "", target, tmpfs_size=size,
                                tmpfs_mode=mode))
    return out


def add_volumes_from(ctx: Context, services: dict, own: dict[str, list[ir.Mount]]
                     ) -> dict[str, list[ir.Mount]]:
    """service -> mounts including those copied from `volumes_from` (transitively, like Docker:
    the other container's mounts include what it copied). Own mounts win on the same target."""
    by_container = {svc.get("container_name"): s for s, svc in services.items()
                    if svc.get("container_name")}
    done: dict[str, list[ir.Mount]] = {}

    def resolve(service, stack):
        if service in done:
            return done[service]
        if service in stack:
            raise ConversionError("volumes_from references form a cycle: "
                                  + " -> ".join(stack + [service]),
                                  key_path=service_path(service, "volumes_from"))
        mounts = list(own.get(service, []))
        targets = {m.target for m in mounts}
        for i, ref in enumerate(services[service].get("volumes_from") or ()):
            path = service_path(service, "volumes_from", i)
            parts = str(ref).split(":")
            mode = None
            if parts[-1] in ("ro", "rw"):
                mode = parts.pop()
            if parts[0] == "container":
                other = by_container.get(":".join(parts[1:]))
                if other is None:
                    ctx.warn(path, "the container is not part of this project: nothing mounted")
                    continue
            else:
                other = ":".join(parts[1:]) if parts[0] == "service" else ":".join(parts)
                if other not in services:
                    raise ConversionError(f"volumes_from names unknown service {other!r}",
                                          key_path=path)
            if other not in own:
                ctx.warn(path, f"service {other!r} has no machine (0 replicas): nothing mounted")
                continue
            for m in resolve(other, stack + [service]):
                if m.kind in (ir.MountKind.SECRET, ir.MountKind.CONFIG) or m.target in targets:
                    continue
                if m.kind is ir.MountKind.TMPFS:
                    continue  # Docker does not share tmpfs mounts either
                if mode == "ro" and not m.read_only:
                    m = ir.Mount(m.kind, m.source, m.target, True, m.create_host_path,
                                 m.tmpfs_size, m.tmpfs_mode, m.subpath)
                mounts.append(m)
                targets.add(m.target)
        done[service] = mounts
        return mounts

    return {s: resolve(s, []) for s in own}


_FILE_IGNORED = {"template_driver": "ignored: the file is used as it is",
                 "driver": "ignored: the file comes from file/environment/content",
                 "driver_opts": "ignored: the file comes from file/environment/content",
                 "labels": "ignored"}


def plan_secret_files(ctx: Context, service: str, svc, machine: str
                      ) -> tuple[ir.SecretFile, ...]:
    """Secrets and configs as files: each prepared at start under the runtime dir (root only)
    and bound read-only at its target (the emitters bind `Machine.secrets`; they are not
    repeated in `Machine.mounts`)."""
    files = []
    for kind in ("secrets", "configs"):
        singular = kind[:-1]
        defined = ctx.resource(kind)
        for i, ref in enumerate(svc.get(kind) or ()):
            path = service_path(service, kind, i)
            if isinstance(ref, str):
                ref = {"source": ref}
            name = str(ref.get("source"))
            cfg = defined.get(name)
            if cfg is None:
                raise ConversionError(f"{singular} {name!r} is not defined in top-level {kind}",
                                      key_path=path)
            cpath = (kind, name)
            if cfg.get("external"):
                ctx.warn(path, f"external {singular} {name!r} cannot be read here: not mounted")
                continue
            for k, why in _FILE_IGNORED.items():
                if cfg.get(k):
                    ctx.warn(cpath + (k,), why)
            target = str(ref.get("target") or name)
            if not target.startswith("/"):
                target = ("/run/secrets/" if kind == "secrets" else "/") + target
            target = _absolute_target(ctx, target, path + ("target",))
            if target is None:
                continue
            mode = values.file_mode(ref["mode"], path + ("mode",)) if ref.get("mode") is not None else 0o444
            source_file = environment = content = None
            if cfg.get("file"):
                source_file = posixpath.normpath(str(cfg["file"]))
            elif cfg.get("environment"):
                environment = str(cfg["environment"])
            elif cfg.get("content") is not None:
                content = values.unescape(str(cfg["content"]))
            else:
                ctx.warn(cpath, f"{singular} has no file, environment or content: not mounted")
                continue
            runtime_path = posixpath.join(
                ctx.runtime_dir, "secrets", machine,
                f"{singular}-{names.path_component(name)}-{names.short_hash(target)}")
            files.append(ir.SecretFile(
                kind=singular, name=name, target=target, runtime_path=runtime_path, mode=mode,
                uid=str(ref["uid"]) if ref.get("uid") is not None else None,
                gid=str(ref["gid"]) if ref.get("gid") is not None else None,
                source_file=source_file, environment=environment, content=content))
    return tuple(files)
