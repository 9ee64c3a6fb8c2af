"""`include:` pulls other compose projects into this one (compose-go loader/include.go).

Each entry is a path, or `{path: str|[str], project_directory, env_file: str|[str]}`. The
included files load as a project of their own: their directory (or `project_directory`) is
where their relative paths point, their `.env` (or `env_file`s) adds to the environment without
overriding the including project's, and they may include further files (a file including
itself, directly or not, is an error). Their resources are added to this document; a resource
defined differently on both sides is a conflict, as in Docker Compose v2.40.
"""
from __future__ import annotations

import dataclasses
import os

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import dotenv, rebase

RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")


class IncludeError(ComposeFileError):
    pass


def _err(message, *, file=None, key_path=()) -> IncludeError:
    """The error, pointing at the line of `key_path` in `file` when the file spells it out."""
    from dekube_nspawn.loader.yaml import line_of
    line, column = line_of(file, key_path) if file and file != "-" else (None, None)
    return IncludeError(message, file=file, line=line, column=column, key_path=key_path)


def _as_list(value, key_path, filename):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _err("must be a string or a list of strings", file=filename, key_path=key_path)


def entries(spec, filename):
    """The `include` section as [(paths, project_directory, env_files, key_path)]."""
    if not isinstance(spec, list):
        raise _err("must be a list", file=filename, key_path=("include",))
    out = []
    for i, item in enumerate(spec):
        kp = ("include", i)
        if isinstance(item, str):
            out.append(([item], None, None, kp))
        elif isinstance(item, dict):
            paths = _as_list(item.get("path"), kp + ("path",), filename)
            if not paths:
                raise _err("path is required", file=filename, key_path=kp)
            pd = item.get("project_directory")
            if pd is not None and not isinstance(pd, str):
                raise _err("must be a string", file=filename, key_path=kp + ("project_directory",))
            env = item.get("env_file")
            out.append((paths, pd, _as_list(env, kp + ("env_file",), filename) if env is not None
                        else None, kp))
        else:
            raise _err("must be a path or a mapping", file=filename, key_path=kp)
    return out


def apply(cfg: dict, filename: str, ctx) -> None:
    """Load every included project and add its resources to `cfg` (in place)."""
    if "include" not in cfg:
        return
    spec = cfg.pop("include")
    if spec is None:
        return
    from dekube_nspawn.loader import pipeline  # the included project runs the same per-file stages

    chain = ctx.include_chain + (filename,)
    for paths, project_directory, env_files, key_path in entries(spec, filename):
        remote = next((p for p in paths if rebase.is_remote(p)), None)
        if remote:
            raise _err(f"remote include {remote} is not supported: download it and include the local copy",
                       file=filename, key_path=key_path)
        files = [os.path.normpath(os.path.join(ctx.working_dir, os.path.expanduser(p))) for p in paths]
        if files[0] in chain:
            raise _err("include cycle detected: " + " includes ".join(chain + (files[0],)),
                               file=filename, key_path=key_path)
        if project_directory is None:
            sub_dir = os.path.dirname(files[0])
        else:
            sub_dir = os.path.normpath(os.path.join(ctx.working_dir, project_directory))

        if env_files is None:
            default = os.path.join(sub_dir, ".env")
            env_files = [default] if os.path.isfile(default) else []
        else:
            resolved = []
            for f in env_files:
                if f == "/dev/null":
                    continue
                f = os.path.join(ctx.working_dir, f)
                if not os.path.exists(f):
                    raise _err(f"env file {f} not found", file=filename,
                                       key_path=key_path + ("env_file",))
                if os.path.isdir(f):
                    raise _err(f"{f} is not a file", file=filename,
                                       key_path=key_path + ("env_file",))
                resolved.append(f)
            env_files = resolved
        environ = dict(ctx.environ)
        for k, v in dotenv.load_project_env(env_files, ctx.environ).items():
            environ.setdefault(k, v)

        sub_ctx = dataclasses.replace(ctx, environ=environ, working_dir=sub_dir, include_chain=chain)
        sources = []
        for f in files:
            if f in chain:
                raise _err("include cycle detected: " + " includes ".join(chain + (f,)),
                                   file=filename, key_path=key_path)
            sources.append((f, pipeline.read_source(f, None)))
        imported = pipeline.load_model(sources, sub_ctx)
        rebase.project(imported, os.path.relpath(sub_dir, ctx.working_dir))
        _import_resources(imported, cfg, filename, key_path)


def _import_resources(source: dict, target: dict, filename, key_path) -> None:
    for kind in RESOURCES:
        items = source.get(kind)
        if not items:
            continue
        to = target.get(kind)
        if to is None:
            to = target[kind] = {}
        for name, definition in items.items():
            if name in to:
                if to[name] == definition:  # the same definition twice is no conflict
                    continue
                raise _err(f"{kind}.{name} conflicts with imported resource", file=filename,
                                   key_path=(kind, name))
            to[name] = definition
