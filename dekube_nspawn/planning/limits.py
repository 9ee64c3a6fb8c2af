"""Resource limits (cgroup settings of the unit, rlimits of the payload) and privileges."""
from __future__ import annotations

from dekube_nspawn import ir
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning import values
from dekube_nspawn.planning.context import Context, service_path

# ulimit name (docker) -> nspawn Limit*= setting.
ULIMITS = {"as": "LimitAS", "core": "LimitCORE", "cpu": "LimitCPU", "data": "LimitDATA",
           "fsize": "LimitFSIZE", "locks": "LimitLOCKS", "memlock": "LimitMEMLOCK",
           "msgqueue": "LimitMSGQUEUE", "nice": "LimitNICE", "nofile": "LimitNOFILE",
           "nproc": "LimitNPROC", "rss": "LimitRSS", "rtprio": "LimitRTPRIO",
           "rttime": "LimitRTTIME", "sigpending": "LimitSIGPENDING", "stack": "LimitSTACK"}

CAPABILITIES = frozenset("""AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE
CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE
MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP
SETGID SETPCAP SETUID SYSLOG SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT
SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG WAKE_ALARM""".split())

_RESOURCE_IGNORED = {"devices": "ignored: no device reservations (GPUs) are made",
                     "generic_resources": "ignored: swarm generic resources"}


def _cpu_weight(shares: int) -> int:
    """Docker's cgroup v2 mapping of cpu_shares, clamped to systemd's CPUWeight range."""
    return max(1, min(10000, round(shares / 1024 * 100)))


def plan_limits(ctx: Context, service: str, svc) -> ir.Limits:
    path = service_path(service)
    resources = (svc.get("deploy") or {}).get("resources") or {}
    limits = resources.get("limits") or {}
    reservations = resources.get("reservations") or {}
    rpath = path + ("deploy", "resources")

    def size(value, key_path):
        return values.size_bytes(value, key_path) if value not in (None, "", 0, "0") else None

    memory = size(svc.get("mem_limit"), path + ("mem_limit",)) or \
        size(limits.get("memory"), rpath + ("limits", "memory"))
    low = size(svc.get("mem_reservation"), path + ("mem_reservation",)) or \
        size(reservations.get("memory"), rpath + ("reservations", "memory"))
    swap = None
    if svc.get("memswap_limit") not in (None, ""):
        total = values.size_bytes(svc["memswap_limit"], path + ("memswap_limit",))
        if total == -1:
            swap = None   # unlimited swap: systemd's default
        elif memory is None:
            ctx.warn(path + ("memswap_limit",), "ignored without mem_limit (Docker counts it as "
                     "memory + swap)")
        elif total < memory:
            raise ConversionError("memswap_limit is smaller than mem_limit",
                                  key_path=path + ("memswap_limit",))
        else:
            swap = total - memory   # MemorySwapMax= is swap only
    cpus = svc.get("cpus") or limits.get("cpus")
    quota = float(cpus) * 100 if cpus else None
    if quota is None and svc.get("cpu_quota") and svc.get("cpu_period", 100000):
        quota = float(svc["cpu_quota"]) / float(svc.get("cpu_period") or 100000) * 100
    elif svc.get("cpu_period") and not svc.get("cpu_quota"):
        ctx.warn(path + ("cpu_period",), "ignored without cpu_quota")
    weight = _cpu_weight(int(svc["cpu_shares"])) if svc.get("cpu_shares") else None
    if reservations.get("cpus"):
        ctx.warn(rpath + ("reservations", "cpus"), "ignored: no CPU is reserved (use "
                 "cpu_shares for a relative weight)")
    pids = svc.get("pids_limit") if svc.get("pids_limit") is not None else limits.get("pids")
    tasks = int(pids) if pids is not None and int(pids) > 0 else None
    for part, cfg in (("limits", limits), ("reservations", reservations)):
        for key, why in _RESOURCE_IGNORED.items():
            if cfg.get(key):
                ctx.warn(rpath + (part, key), why)
    return ir.Limits(memory_max=memory, memory_swap_max=swap, memory_low=low,
                     cpu_quota_percent=quota, cpu_weight=weight, tasks_max=tasks,
                     ulimits=_ulimits(ctx, service, svc))


def _ulimits(ctx: Context, service: str, svc) -> tuple:
    out = []
    for name, value in sorted((svc.get("ulimits") or {}).items()):
        path = service_path(service, "ulimits", name)
        setting = ULIMITS.get(name)
        if setting is None:
            ctx.warn(path, f"unknown ulimit {name!r}: ignored")
            continue
        if isinstance(value, dict):
            soft, hard = value.get("soft"), value.get("hard")
        else:
            soft = hard = value
        conv = [None if v is None or int(v) < 0 else int(v) for v in (soft, hard)]
        out.append((setting, conv[0], conv[1]))
    return tuple(out)


def _capabilities(ctx: Context, service: str, svc, key: str) -> tuple[str, ...]:
    out = []
    for i, cap in enumerate(svc.get(key) or ()):
        name = str(cap).upper()
        if name == "ALL":
            out.append("all")
            continue
        name = name.removeprefix("CAP_")
        if name not in CAPABILITIES:
            ctx.warn(service_path(service, key, i), f"unknown capability {cap!r}: ignored")
            continue
        out.append("CAP_" + name)
    return tuple(dict.fromkeys(out))


def plan_privileges(ctx: Context, service: str, svc) -> ir.Privileges:
    path = service_path(service)
    no_new_privileges = False
    for i, opt in enumerate(svc.get("security_opt") or ()):
        text = str(opt)
        name, sep, val = text.replace("=", ":", 1).partition(":")
        if name == "no-new-privileges" and (not sep or val.lower() == "true"):
            no_new_privileges = True
        elif name == "no-new-privileges":
            pass
        else:
            ctx.warn(path + ("security_opt", i), f"{text!r} ignored: nspawn applies its own "
                     "seccomp filter and no SELinux/AppArmor label")
    devices = []
    for i, dev in enumerate(svc.get("devices") or ()):
        if isinstance(dev, str):
            parts = dev.split(":")
            dev = {"source": parts[0], "target": parts[1] if len(parts) > 1 else parts[0],
                   "permissions": parts[2] if len(parts) > 2 else "rwm"}
        source = str(dev.get("source") or "")
        if not source.startswith("/"):
            ctx.warn(path + ("devices", i), f"device {source!r} is not a host path (CDI "
                     "devices are not supported): ignored")
            continue
        devices.append((source, str(dev.get("target") or source),
                        str(dev.get("permissions") or "rwm")))
    sysctls = []
    for name, value in sorted((svc.get("sysctls") or {}).items()):
        if str(name).startswith("net."):
            sysctls.append((str(name), str(value)))
        else:
            ctx.warn(path + ("sysctls", name), "ignored: only net.* sysctls belong to the "
                     "machine's own namespace")
    return ir.Privileges(privileged=bool(svc.get("privileged")),
                         cap_add=_capabilities(ctx, service, svc, "cap_add"),
                         cap_drop=_capabilities(ctx, service, svc, "cap_drop"),
                         devices=tuple(devices), sysctls=tuple(sysctls),
                         read_only_root=bool(svc.get("read_only")),
                         no_new_privileges=no_new_privileges)
