"""The payload as compose describes it (`ir.Process`); image defaults stay `None`."""
from __future__ import annotations

from dekube_nspawn import ir
from dekube_nspawn.planning import names, values
from dekube_nspawn.planning.context import Context, service_path


def environment(ctx: Context, service: str, svc) -> tuple[tuple[str, str], ...]:
    env = svc.get("environment") or {}
    if isinstance(env, list):   # not the canonical form, but harmless to accept
        env = dict(e.partition("=")[::2] for e in env)
    out = []
    for name, value in env.items():
        # null: a bare `NAME` whose variable was unset when compose read the file; compose then
        # leaves it out of the container environment, and so do we.
        if value is None:
            continue
        out.append((str(name), values.unescape(str(value))))
    return tuple(out)


def default_hostname(service: str, machine: str) -> str:
    """Docker's default hostname is the container id; the service name is what other services
    call it, so use that when it is a valid host name (the machine name otherwise)."""
    return service if names.valid_hostname(service) else machine


def plan_process(ctx: Context, service: str, svc, machine: str) -> ir.Process:
    path = service_path(service)
    for key in ("tty", "stdin_open"):
        if svc.get(key):
            ctx.warn(path + (key,), "the payload runs with pipes to the journal, not a terminal "
                     "or an open stdin")
    user = svc.get("user")
    working_dir = svc.get("working_dir")
    return ir.Process(
        entrypoint=values.argv(svc.get("entrypoint"), path + ("entrypoint",)),
        command=values.argv(svc.get("command"), path + ("command",)),
        environment=environment(ctx, service, svc),
        working_dir=values.unescape(working_dir) if working_dir else None,
        user=values.unescape(str(user)) if user not in (None, "") else None,
        init=bool(svc.get("init")),
        hostname=values.unescape(svc["hostname"]) if svc.get("hostname") else
        default_hostname(service, machine),
        domainname=values.unescape(svc["domainname"]) if svc.get("domainname") else None,
        tty=bool(svc.get("tty")),
        stdin_open=bool(svc.get("stdin_open")),
    )
