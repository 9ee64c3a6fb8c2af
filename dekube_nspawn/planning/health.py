"""Health checks: the test argv and Docker's timing defaults."""
from __future__ import annotations

import posixpath

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import values
from dekube_nspawn.planning.context import Context, service_path

# Docker's defaults (docker run reference, HEALTHCHECK).
DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0,
            "start_interval": 5.0}
_KNOWN = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}


def health_test(ctx: Context, service: str, test) -> tuple[str, ...] | None:
    path = service_path(service, "healthcheck", "test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test:
        ctx.warn(path, "empty test means \"the image's HEALTHCHECK\", which is not read: no "
                 "health check")
        return None
    kind, rest = test[0], [values.unescape(str(a)) for a in test[1:]]
    if kind == "NONE":
        return None
    if kind == "CMD":
        if not rest:
            raise ConversionError("CMD without a command", key_path=path)
        return tuple(rest)
    if kind == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(rest))
    raise ConversionError(f"test must start with CMD, CMD-SHELL or NONE, not {kind!r}",
                          key_path=path)


def plan_health(ctx: Context, service: str, svc, machine: str) -> ir.HealthCheck | None:
    hc = svc.get("healthcheck")
    if not hc or hc.get("disable"):
        return None
    path = service_path(service, "healthcheck")
    for key in hc:
        if key not in _KNOWN:
            ctx.warn(path + (key,), "ignored: unknown healthcheck key")
    if "test" not in hc:
        ctx.warn(path, "no test: the image's HEALTHCHECK is not read, so there is no health check")
        return None
    test = health_test(ctx, service, hc.get("test"))
    if test is None:
        return None
    timing = {}
    for key, default in DEFAULTS.items():
        if hc.get(key) is None:
            timing[key] = default
        elif key == "retries":
            timing[key] = int(hc[key])
        else:
            timing[key] = values.duration_seconds(hc[key], path + (key,))
    return ir.HealthCheck(
        test=test, interval_s=timing["interval"], timeout_s=timing["timeout"],
        retries=timing["retries"], start_period_s=timing["start_period"],
        start_interval_s=timing["start_interval"],
        script_path=posixpath.join(ctx.config_dir, "health", f"{machine}.sh"),
        state_path=posixpath.join(ctx.runtime_dir, "health", machine),
        unit=f"dekube-{machine}-health.service")
