"""Every service key compose knows, and what the planner does with it.

A key maps either to `HANDLED` (some planning module reads it and warns about the parts it cannot
carry) or to the sentence the warning uses when a service sets it. `tests/test_plan_keys.py`
checks this table against the Compose schema, so a new compose key cannot be dropped silently.
"""
from __future__ import annotations

HANDLED = None

SERVICE_KEYS: dict[str, str | None] = {
    # images
    "image": HANDLED,
    "build": HANDLED,                   # warned: built elsewhere
    "pull_policy": HANDLED,
    "platform": "ignored: the image is pulled for the host's platform",
    "pull_refresh_after": "ignored: bootstrap.sh pulls when the digest changed",
    # process
    "entrypoint": HANDLED, "command": HANDLED, "environment": HANDLED,
    "env_file": HANDLED,                # merged into environment by the loader
    "working_dir": HANDLED, "user": HANDLED, "init": HANDLED, "hostname": HANDLED,
    "domainname": HANDLED, "tty": HANDLED, "stdin_open": HANDLED,
    "container_name": HANDLED,          # a host name of the machine
    "labels": HANDLED,                  # kept in the plan
    "label_file": HANDLED,              # merged into labels by the loader
    "group_add": "ignored: supplementary groups are not set (setpriv --clear-groups)",
    "umask": "ignored: the payload starts with the default umask",
    # networks
    "networks": HANDLED, "network_mode": HANDLED, "mac_address": HANDLED,
    "extra_hosts": HANDLED, "dns": HANDLED, "dns_search": HANDLED,
    "dns_opt": "ignored: resolv.conf gets no options line",
    "links": "ignored: every machine of the project resolves every service name through /etc/hosts",
    "external_links": "ignored: containers outside the project are not resolved",
    "ports": HANDLED,
    "expose": HANDLED,                  # nothing to do: machines reach every port on the bridge
    # storage
    "volumes": HANDLED, "volumes_from": HANDLED, "tmpfs": HANDLED, "read_only": HANDLED,
    "secrets": HANDLED, "configs": HANDLED,
    "shm_size": "ignored: /dev/shm keeps nspawn's default size",
    "storage_opt": "ignored: the overlay layer has no size limit",
    # health and order
    "healthcheck": HANDLED, "depends_on": HANDLED,
    # lifecycle
    "restart": HANDLED, "stop_signal": HANDLED, "stop_grace_period": HANDLED,
    "deploy": HANDLED, "scale": HANDLED,
    "post_start": "ignored: lifecycle hooks are not run",
    "pre_start": "ignored: lifecycle hooks are not run",
    "pre_stop": "ignored: lifecycle hooks are not run",
    "attach": "ignored: output always goes to the journal",
    "logging": "ignored: output goes to the journal (journalctl -u nspawn-<machine>)",
    # limits and privileges
    "mem_limit": HANDLED, "memswap_limit": HANDLED, "mem_reservation": HANDLED,
    "cpus": HANDLED, "cpu_shares": HANDLED, "cpu_quota": HANDLED, "cpu_period": HANDLED,
    "pids_limit": HANDLED, "ulimits": HANDLED, "cap_add": HANDLED, "cap_drop": HANDLED,
    "privileged": HANDLED, "devices": HANDLED, "sysctls": HANDLED, "security_opt": HANDLED,
    "cpu_count": "ignored: use cpus (CPUQuota=) instead",
    "cpu_percent": "ignored: use cpus (CPUQuota=) instead",
    "cpu_rt_period": "ignored: no realtime CPU budget is set",
    "cpu_rt_runtime": "ignored: no realtime CPU budget is set",
    "cpuset": "ignored: the machine may run on every CPU",
    "mem_swappiness": "ignored: the kernel's swappiness applies",
    "oom_kill_disable": "ignored: the OOM killer stays enabled",
    "oom_score_adj": "ignored: the machine keeps the default OOM score",
    "blkio_config": "ignored: no block IO limits are set",
    "device_cgroup_rules": "ignored: only the listed devices are made available",
    "gpus": "ignored: no GPU is made available",
    "cgroup": "ignored: nspawn gives every machine its own cgroup namespace",
    "cgroup_parent": "ignored: the machine runs in the unit's own cgroup",
    "ipc": "ignored: every machine has its own IPC namespace",
    "pid": "ignored: every machine has its own PID namespace",
    "uts": "ignored: every machine has its own UTS namespace",
    "userns_mode": "ignored: machines run without a user namespace (PrivateUsers=no)",
    "isolation": "ignored: Windows isolation technology",
    "runtime": "ignored: systemd-nspawn is the runtime",
    "credential_spec": "ignored: Windows credential specs",
    # compose-only features
    "annotations": "ignored: annotations have no meaning for systemd-nspawn",
    "profiles": "ignored: profiles were resolved by the loader; the service is planned",
    "extends": "ignored: extends was resolved by the loader",
    "develop": "ignored: compose watch is not supported",
    "provider": "ignored: provider services are not run",
    "models": "ignored: AI models are not provided",
    "use_api_socket": "ignored: there is no Docker API socket",
}

TOP_LEVEL_KEYS: dict[str, str | None] = {
    "name": HANDLED, "services": HANDLED, "networks": HANDLED, "volumes": HANDLED,
    "secrets": HANDLED, "configs": HANDLED,
    "version": "ignored: obsolete",
    "include": "ignored: resolved by the loader",
    "models": "ignored: AI models are not provided",
    "jobs": "ignored: jobs are not run",
}

IGNORED_DEPLOY = {
    "labels": "ignored: service labels are kept, deploy labels are not",
    "update_config": "ignored: swarm rolling updates",
    "rollback_config": "ignored: swarm rollbacks",
    "placement": "ignored: every machine runs on this host",
    "endpoint_mode": "ignored: names resolve through /etc/hosts to every replica's address",
}
