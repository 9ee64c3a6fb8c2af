"""Compose's process rules over an image's defaults: the ONE implementation.

Used by the converter (with --resolve-images) and embedded verbatim in bootstrap.sh, which runs
it with the host's python3 after unpacking an image. So: standard library only, no imports from
this package.

Rules (Docker/Compose):
- compose `entrypoint` replaces the image ENTRYPOINT and drops the image CMD;
- compose `command` replaces the image CMD and keeps the ENTRYPOINT (unless entrypoint is set);
- environment: the image ENV, then compose's variables over it (compose wins, same position);
- working_dir: compose, else image WorkingDir, else "/";
- user: compose, else image User, else none (root).
`None` in the compose part means "not set: the image default applies"; an empty list is a set,
empty value (compose `entrypoint: []` clears the image ENTRYPOINT).

CLI: `python3 process.py < in.json > out.json` with
  {"image": <OCI image config, whole or its "config" object>,
   "compose": {"entrypoint": [..]|null, "command": [..]|null, "environment": [[k, v], ..],
               "working_dir": str|null, "user": str|null}}
prints {"argv": [...], "environment": [[k, v], ...], "working_dir": str, "user": str|null}.
"""
import json
import sys


class ProcessError(Exception):
    pass


def image_defaults(config):
    """The process fields of an OCI image config (`skopeo inspect --config` output or the blob
    itself): accepts the whole document or its "config" object."""
    if config is None:
        config = {}
    if "config" in config:     # the whole image config document, not its "config" object
        config = config["config"] or {}
    env = []
    for item in config.get("Env") or []:
        name, sep, value = item.partition("=")
        env.append((name, value if sep else ""))
    return {
        "entrypoint": list(config["Entrypoint"]) if config.get("Entrypoint") is not None else None,
        "cmd": list(config["Cmd"]) if config.get("Cmd") is not None else None,
        "env": env,
        "working_dir": config.get("WorkingDir") or None,
        "user": config.get("User") or None,
    }


def merge_environment(image_env, compose_env):
    merged = dict(image_env)   # insertion order = image order
    for name, value in compose_env:
        merged[name] = value   # an existing name keeps its position, a new one is appended
    return list(merged.items())


def effective_process(image, compose):
    """image: output of `image_defaults`; compose: dict as in the module doc. Returns the dict
    the CLI prints. Raises ProcessError when nothing is left to run (Docker's "no command
    specified")."""
    entrypoint = compose.get("entrypoint")
    command = compose.get("command")
    if entrypoint is not None:
        argv = list(entrypoint) + (list(command) if command is not None else [])
    else:
        base = image.get("entrypoint") or []
        cmd = command if command is not None else (image.get("cmd") or [])
        argv = list(base) + list(cmd)
    if not argv:
        raise ProcessError("no command: neither the compose file nor the image sets an "
                           "entrypoint or command")
    compose_env = compose.get("environment") or []
    if isinstance(compose_env, dict):
        compose_env = list(compose_env.items())
    env = merge_environment(image.get("env") or [], [(str(k), str(v)) for k, v in compose_env])
    return {
        "argv": [str(a) for a in argv],
        "environment": [[k, v] for k, v in env],
        "working_dir": compose.get("working_dir") or image.get("working_dir") or "/",
        "user": compose.get("user") or image.get("user") or None,
    }


def main(argv=None, stdin=None, stdout=None):
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        request = json.load(stdin)
        result = effective_process(image_defaults(request.get("image")),
                                   request.get("compose") or {})
    except (ValueError, ProcessError, AttributeError, TypeError) as exc:
        sys.stderr.write("process.py: %s\n" % exc)
        return 1
    json.dump(result, stdout)
    stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
