"""`extends`: a service starts from another service's definition (compose-go loader/extends.go).

- `extends: NAME` or `{service: NAME}` looks in the same file; `{file: F, service: NAME}` reads F
  (relative to the project directory), interpolated with the same environment, and
  rebases F's relative paths so they stay relative to F.
- Chains are followed; a service seen twice along one chain is a cycle (an error).
- Everything is inherited (depends_on, links, volumes_from included, as in Compose v2.40); the
  extending service is merged on top with the ordinary merge rules, and `!reset`/`!override`
  in it apply to what it inherits.
"""
from __future__ import annotations

import copy
import os

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import interpolate as interpolate_stage
from dekube_nspawn.loader import merge, rebase, reset
from dekube_nspawn.loader import yaml as yaml_stage


class ExtendsError(ComposeFileError):
    pass


def _err(message, *, file=None, key_path=()) -> ExtendsError:
    """The error, pointing at the line of `key_path` in `file` when the file spells it out."""
    line, column = yaml_stage.line_of(file, key_path) if file and file != "-" else (None, None)
    return ExtendsError(message, file=file, line=line, column=column, key_path=key_path)


def apply(cfg: dict, filename: str, ctx, reset_paths=()) -> None:
    """Resolve every `extends` of `cfg["services"]` in place."""
    services = cfg.get("services")
    if services is None:
        return
    if not isinstance(services, dict):
        raise _err("services must be a mapping", file=filename, key_path=("services",))
    for name in list(services):
        _resolve(name, services, filename, ctx, chain=(), reset_paths=reset_paths)


def _resolve(name, services, filename, ctx, chain, reset_paths=()):
    service = services.get(name)
    if service is None:
        return None
    if not isinstance(service, dict):
        raise _err("must be a mapping", file=filename, key_path=("services", name))
    spec = service.get("extends")
    if spec is None:
        return service
    key_path = ("services", name, "extends")
    ref_file = None
    if isinstance(spec, str):
        ref = spec
    elif isinstance(spec, dict) and isinstance(spec.get("service"), str):
        ref = spec["service"]
        ref_file = spec.get("file")
        if ref_file is not None and not isinstance(ref_file, str):
            raise _err("file must be a string", file=filename, key_path=key_path + ("file",))
    else:
        raise _err("must be a service name or a mapping with `service`", file=filename,
                           key_path=key_path)

    base_services, base_filename, base_resets = services, filename, ()
    if ref_file is not None:
        base_services, base_filename, base_resets = _load_other_file(ref_file, filename, name, ref,
                                                                     ctx, key_path)
    elif ref not in services:
        raise _err(f'cannot extend service "{name}" in {filename}: service "{ref}" not found',
                           file=filename, key_path=key_path)

    link = (base_filename, name)
    if link in chain:
        first = chain[0]
        steps = [f"{first[1]} in {first[0]}"] + [f"extends {s} in {f}" for f, s in chain[1:] + (link,)]
        raise _err("circular reference: " + ", ".join(steps), file=filename, key_path=key_path)
    chain = chain + (link,)

    base = _resolve(ref, base_services, base_filename, ctx, chain, base_resets)
    if base is None:
        return service
    source = copy.deepcopy(base)
    wrapped = {"services": {name: source}}
    reset.apply(wrapped, reset_paths)
    merged = merge.merge(wrapped["services"][name], service, ("services", name))
    merged.pop("extends", None)
    services[name] = merged
    return merged


def _load_other_file(ref_file, filename, name, ref, ctx, key_path):
    """The services of `ref_file`, interpolated, `!reset`-stripped, paths rebased onto it."""
    if rebase.is_remote(ref_file):
        raise _err(f"remote extends file {ref_file} is not supported: download it and refer to the local copy",
                   file=filename, key_path=key_path + ("file",))
    # compose-go resolves it against the working directory of the (sub-)project, like every
    # other relative path, not against the extending file
    path = os.path.normpath(os.path.join(ctx.working_dir, os.path.expanduser(ref_file)))
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise _err(f"cannot read {path}: {e.strerror or e}", file=filename,
                           key_path=key_path + ("file",)) from None
    merged: dict = {}
    resets: list = []
    for doc in yaml_stage.parse_documents(text, path):
        if not isinstance(doc, dict):
            raise _err("top-level object must be a mapping", file=path)
        if ctx.interpolate:
            unset: list[str] = []
            doc = interpolate_stage.interpolate(doc, ctx.environ, filename=path, warnings=unset)
            for var in unset:
                ctx.diagnostics.warn((), f'The "{var}" variable is not set. Defaulting to a blank string.')
        doc, paths = reset.strip(doc)
        resets.extend(paths)
        reset.apply(merged, paths)
        merged = merge.merge(merged, doc)
    services = merged.get("services")
    if not isinstance(services, dict):
        raise _err(f'cannot extend service "{name}" in {path}: no services section',
                           file=filename, key_path=key_path)
    if ref not in services:
        raise _err(f'cannot extend service "{name}" in {filename}: service "{ref}" not found '
                           f"in {ref_file}", file=filename, key_path=key_path)
    rel = os.path.relpath(os.path.dirname(path), ctx.working_dir)
    for svc in services.values():
        if isinstance(svc, dict):
            rebase.service(svc, rel)
    return services, path, tuple(resets)
