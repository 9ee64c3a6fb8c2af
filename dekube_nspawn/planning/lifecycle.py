"""Replicas, restart policy, stop behaviour, and the order between machines (depends_on)."""
from __future__ import annotations

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import values
from dekube_nspawn.planning.context import Context, service_path
from dekube_nspawn.planning.keys import IGNORED_DEPLOY

DEFAULT_STOP_GRACE_S = 10.0
_DEPLOY_HANDLED = {"mode", "replicas", "resources", "restart_policy"}


def replica_count(ctx: Context, service: str, svc) -> int:
    deploy = svc.get("deploy") or {}
    path = service_path(service)
    if deploy.get("mode") == "global":
        ctx.warn(path + ("deploy", "mode"), "global mode: one machine on this host")
        count = 1
    elif svc.get("scale") is not None:
        count = int(svc["scale"])
    elif deploy.get("replicas") is not None:
        count = int(deploy["replicas"])
    else:
        count = 1
    if count == 0:
        ctx.warn(path + ("scale" if svc.get("scale") is not None else "deploy", ),
                 "0 replicas: the service gets no machine")
    if count < 0:
        raise ConversionError("negative replica count", key_path=path)
    for key, value in deploy.items():
        if key in IGNORED_DEPLOY:
            if value:
                ctx.warn(path + ("deploy", key), IGNORED_DEPLOY[key])
        elif key not in _DEPLOY_HANDLED:
            ctx.warn(path + ("deploy", key), "unknown deploy key: ignored")
    return count


def plan_lifecycle(ctx: Context, service: str, svc, oneshot: bool) -> ir.Lifecycle:
    path = service_path(service)
    restart, max_restarts, delay = ir.RestartPolicy.NO, None, None
    policy = (svc.get("deploy") or {}).get("restart_policy")
    if svc.get("restart"):
        text = str(svc["restart"])
        name, _, count = text.partition(":")
        try:
            restart = ir.RestartPolicy(name)
        except ValueError:
            raise ConversionError(f"unknown restart policy {text!r}",
                                  key_path=path + ("restart",)) from None
        if count:
            max_restarts = int(count)
        if policy:
            ctx.warn(path + ("deploy", "restart_policy"), "ignored: `restart` is set and wins")
    elif policy:
        ppath = path + ("deploy", "restart_policy")
        condition = policy.get("condition") or "any"
        restart = {"none": ir.RestartPolicy.NO, "on-failure": ir.RestartPolicy.ON_FAILURE,
                   "any": ir.RestartPolicy.ALWAYS}.get(condition)
        if restart is None:
            raise ConversionError(f"unknown restart condition {condition!r}",
                                  key_path=ppath + ("condition",))
        if policy.get("max_attempts") is not None:
            max_restarts = int(policy["max_attempts"])
        if policy.get("delay") is not None:
            delay = values.duration_seconds(policy["delay"], ppath + ("delay",))
        if policy.get("window"):
            ctx.warn(ppath + ("window",), "ignored: every restart counts toward max_attempts "
                     "(StartLimitBurst over the unit's default interval)")
    if oneshot and restart in (ir.RestartPolicy.ALWAYS, ir.RestartPolicy.UNLESS_STOPPED):
        ctx.warn(path + ("restart",), "a dependent waits for this service to complete: it runs "
                 "once (restart only on failure)")
        restart = ir.RestartPolicy.ON_FAILURE
    grace = (values.duration_seconds(svc["stop_grace_period"], path + ("stop_grace_period",))
             if svc.get("stop_grace_period") else DEFAULT_STOP_GRACE_S)
    return ir.Lifecycle(restart=restart, max_restarts=max_restarts,
                        stop_signal=str(svc.get("stop_signal") or "SIGTERM"),
                        stop_grace_s=grace, oneshot=oneshot, restart_delay_s=delay)


def completed_dependencies(services: dict) -> set[str]:
    """Services some other service waits for with service_completed_successfully."""
    out = set()
    for svc in services.values():
        for dep, cfg in (svc.get("depends_on") or {}).items():
            if (cfg or {}).get("condition") == ir.DependencyCondition.COMPLETED.value:
                out.add(dep)
    return out


def plan_dependencies(ctx: Context, service: str, svc, services: dict,
                      units_of: dict[str, list[str]], has_health: dict[str, bool]
                      ) -> tuple[ir.Dependency, ...]:
    """One Dependency per machine of each service depended on."""
    out = []
    for dep, cfg in (svc.get("depends_on") or {}).items():
        cfg = cfg or {}
        path = service_path(service, "depends_on", dep)
        if dep not in services:
            if cfg.get("required", True):
                raise ConversionError(f"depends on unknown service {dep!r}", key_path=path)
            ctx.warn(path, "optional dependency on a service that is not planned: ignored")
            continue
        try:
            condition = ir.DependencyCondition(cfg.get("condition") or "service_started")
        except ValueError:
            raise ConversionError(f"unknown condition {cfg.get('condition')!r}",
                                  key_path=path + ("condition",)) from None
        if condition is ir.DependencyCondition.HEALTHY and not has_health.get(dep):
            ctx.warn(path + ("condition",), f"{dep!r} has no health check here: waiting for it "
                     "to start instead")
            condition = ir.DependencyCondition.STARTED
        units = units_of.get(dep) or []
        if not units:
            ctx.warn(path, f"{dep!r} has no machine (0 replicas): dependency dropped")
        for unit in units:
            out.append(ir.Dependency(unit=unit, condition=condition,
                                     required=bool(cfg.get("required", True)),
                                     restart=bool(cfg.get("restart", False))))
    return tuple(out)
