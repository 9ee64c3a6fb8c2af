"""Value decoding against the real Docker Compose binary: many generated spellings at once.

One compose file holds a few hundred services, each carrying one generated value (a duration, a
byte size, a cpus number, a port spec, a volume spec, a command line, an environment value...).
Docker Compose and we both print it; the two JSON documents must be equal. Seeds are fixed so a
failure reproduces; the seed list can grow.
"""
from __future__ import annotations

import json
import random
import subprocess

import pytest

from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.render_config import render_config

pytestmark = pytest.mark.oracle

ENV = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}


def _duration(r: random.Random) -> str:
    units = ["h", "m", "s", "ms", "us", "ns"]
    parts = r.sample(units, r.randint(1, 3))
    parts.sort(key=units.index)
    text = ""
    for u in parts:
        n = r.choice([0, 1, 5, 30, 59, 60, 90, 100, 1500, 3600])
        text += f"{n}{u}" if r.random() < 0.8 or u not in ("h", "m", "s") else f"{n}.{r.randint(1, 999)}{u}"
    return text


def _size(r: random.Random) -> str:
    unit = r.choice(["", "b", "k", "kb", "K", "m", "M", "mb", "g", "G", "gb"])
    number = r.choice([str(r.randint(0, 4096)), f"{r.randint(0, 64)}.{r.randint(1, 9)}"])
    return f"{number}{unit}" if unit or "." not in number else number.split(".")[0]


def _port(r: random.Random) -> str:
    target = r.randint(1, 65000)
    width = r.choice([0, 0, 0, 2, 11])
    container = f"{target}" if not width else f"{target}-{target + width}"
    host = r.choice(["", f"{r.randint(1, 60000)}", ""])
    if host and width:
        h = int(host)
        host = f"{h}-{h + width}"
    ip = r.choice(["", "", "127.0.0.1:", "[::1]:", "0.0.0.0:"]) if host else ""
    proto = r.choice(["", "", "/tcp", "/udp"])
    return f"{ip}{host}:{container}{proto}" if host else f"{container}{proto}"


def _volume(r: random.Random) -> str:
    source = r.choice(["./data", "../up", "~/cfg", "/abs/path/", "named", "v", "./a/../b", ""])
    target = r.choice(["/data", "/data/", "/x/./y", "/opt"])
    mode = r.choice(["", ":ro", ":rw", ":z", ":ro,shared", ":nocopy"])
    if not source:
        return target
    if mode == ":nocopy" and source[0] in "./~":
        mode = ":ro"
    return f"{source}:{target}{mode}"


def _command(r: random.Random) -> str:
    words = ["echo", "'a b'", '"c d"', "e\\ f", "$$HOME", "x=y", "--flag", "'it''s'"]
    return " ".join(r.choice(words) for _ in range(r.randint(1, 5)))


ENV_VALUES = ["1", "1.5", "true", "no", "0x1F", "010", "1e3", '"s p"', "null"]


def build_file(seed: int, count: int = 60) -> str:
    r = random.Random(seed)
    lines = ["services:"]
    for i in range(count):
        lines += [f"  d{i}:", "    image: busybox",
                  f"    stop_grace_period: {_duration(r)}",
                  "    healthcheck:", f"      interval: {_duration(r)}", f"      timeout: {_duration(r)}",
                  f"    shm_size: {_size(r)}", f"    mem_limit: {_size(r)}",
                  f"    cpus: {r.choice(['0.5', '1', '2.25', '0.001', '1.1', '3'])}",
                  f"    ports: [{json.dumps(_port(r))}, {json.dumps(_port(r))}]",
                  f"    volumes: [{json.dumps(_volume(r))}]",
                  f"    command: {json.dumps(_command(r))}",
                  "    environment:",
                  f"      A: {r.choice(ENV_VALUES)}",
                  f"    labels: [{json.dumps('k=' + r.choice(['v', '', '=x']))}]"]
    lines += ["volumes:", "  named: {}", "  v: {}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_generated_values_decode_like_docker_compose(seed, tmp_path, docker_compose):
    (tmp_path / "compose.yaml").write_text(build_file(seed), encoding="utf-8")
    p = subprocess.run([docker_compose, "-p", "oracle", "-f", "compose.yaml", "config", "--format", "json"],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    project = load_project(LoadOptions(files=("compose.yaml",), project_name="oracle", environ=dict(ENV),
                                       cwd=str(tmp_path)), Diagnostics())
    ours = render_config(project, "json")
    theirs = json.loads(p.stdout)
    if json.loads(ours) != theirs:
        for name in sorted(theirs["services"]):
            assert json.loads(ours)["services"].get(name) == theirs["services"][name], name
    assert ours == p.stdout


# Hand-written corners: defaults that depend on which keys are present, zero values under
# omitempty vs pointers, implicit dependencies, path rules that depend on the volume driver.
EDGE_FILES = {
    "string-escapes-and-float-spellings": 'services:\n  a:\n    image: "x<y>&z"\n    environment:\n      U: "héllo ✓ 😀"\n      T: "tab\\there"\n      C: "bell\\a esc\\e nul-ish \\x01 del \\x7f"\n      L: "line\\u2028sep\\u2029"\n      M: |\n        multi\n        line\n      Q: "quote\\" back\\\\\\\\slash"\n      BIG: 123456789012345678901234567890\n      F: 0.1\n      E: 1.0e-7\n      NEG: -0\n      HEX: 0x10\n      OCT: 0o17\n      INF: .inf\n    labels:\n      "a.b/c": "d"\nx-ext:\n  f: 1.0e-7\n  g: 12345678901234567890.5\n  h: [1, 2.50, true, null, "s"]\n  i: 0.1\n  j: 1e21\n',
    "float-environment-values": 'services:\n  a:\n    image: x\n    environment:\n      A: 1000000.0\n      B: 123456.5\n      C: 1234567.5\n      D: 0.0001\n      E: 0.00001\n      F: 100000000000000000000.0\n',
    "ports-tmpfs-bind-options-misc": 'services:\n  a:\n    image: x\n    pull_policy: if_not_present\n    restart: on-failure:3\n    stop_grace_period: 1m\n    shm_size: 1024\n    cpu_rt_runtime: 400\n    cpu_rt_period: 1400\n    cpu_period: 100000\n    cpu_quota: 50000\n    cpuset: "0,1"\n    pids_limit: -1\n    mem_swappiness: 60\n    oom_kill_disable: true\n    ulimits:\n      nofile: {soft: 5, hard: 10}\n    extra_hosts: ["host.docker.internal:host-gateway"]\n    ports:\n      - name: web\n        target: 8080\n        host_ip: 127.0.0.1\n        published: "8080-8081"\n        protocol: udp\n        mode: host\n      - 127.0.0.1::81\n      - "[::1]:8082:82"\n      - 0.0.0.0:9000-9001:9000-9001/udp\n    expose: [80, "81-82/tcp"]\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 1g}\n      - type: bind\n        source: .\n        target: /src\n        consistency: cached\n        bind: {selinux: Z, recursive: readonly}\n      - ./rel:/rel:cached\n    environment:\n      - "=weird"\n      - "A=with spaces "\n      - "B="\n    annotations: {com.x: 1}\n    dns_opt: [use-vc]\n    dns_search: []\n    group_add: [1000]\n    security_opt: [no-new-privileges:true]\n    runtime: runc\n    isolation: default\n    userns_mode: host\n    cgroup: private\n    attach: false\n    use_api_socket: true\n  b:\n    image: y\n    scale: 0\n    healthcheck:\n      retries: 5\n    depends_on:\n      a:\n        condition: service_completed_successfully\n        restart: false\n',
    "resources-external-ipam": 'name: Proj_5\nservices:\n  a:\n    image: x\n    networks:\n      front:\n        ipv4_address: 10.1.0.2\n        driver_opts: {mtu: 1400}\n        gw_priority: 1\n        link_local_ips: [169.254.0.2]\n      back: {}\n    volumes:\n      - ext:/e\n      - legacy:/l\n      - type: volume\n        source: opts\n        target: /o\n        read_only: true\n        volume: {nocopy: true, labels: {k: v}}\n      - type: tmpfs\n        target: /t\n        tmpfs: {mode: 0755}\n    secrets: [ext_s]\n    configs:\n      - source: ext_c\n        target: /etc/c\n        uid: "1"\n    logging:\n      driver: syslog\n    labels:\n      z: 1\n      a: true\n    deploy:\n      mode: global\n      endpoint_mode: vip\n      restart_policy: {condition: any, max_attempts: 0, window: 0s}\n      rollback_config: {order: stop-first, max_failure_ratio: 0.25}\n      resources:\n        limits: {cpus: "1.0", memory: "1048576"}\nnetworks:\n  front:\n    driver: bridge\n    driver_opts: {com.docker.network.bridge.name: br0, mtu: 1400}\n    ipam:\n      config:\n        - subnet: 10.1.0.0/24\n          aux_addresses: {r: 10.1.0.254}\n    attachable: true\n    enable_ipv4: true\n  back:\n    external: false\n    name: custom-back\nvolumes:\n  ext:\n    external: true\n  legacy:\n    external:\n      name: real-legacy\n  opts:\n    driver: local\n    driver_opts: {type: tmpfs, device: tmpfs, o: "size=100m"}\n    labels: [x=y]\nsecrets:\n  ext_s:\n    external: true\n    name: real-s\nconfigs:\n  ext_c:\n    external: true\n',
    "build-paths-home-env": 'services:\n  a:\n    build:\n      context: https://github.com/docker/compose.git#main\n      args: [A=1, HOME, NOPE]\n      ssh: [default]\n      cache_from: [x]\n      additional_contexts:\n        img: docker-image://alpine\n        svc: service:b\n        dir: ../other\n      secrets: [bs]\n      extra_hosts: ["h:1.2.3.4"]\n      labels: [l=1]\n      shm_size: 64m\n      tags: [t1]\n      ulimits: {nofile: 100}\n    image: app\n    env_file:\n      - path: ./missing.env\n        required: false\n    environment:\n      HOME:\n      PATH:\n      X: "$${ESC}"\n    healthcheck:\n      test: ["CMD-SHELL", "echo $$HOME"]\n      start_period: 1h2m3s\n    hostname: h\n    stop_grace_period: 1.5s\n    mem_reservation: 1.5g\n    cpu_percent: 33\n    cpus: 0.333\n    memswap_limit: -1\n    credential_spec: {file: x.json}\n  b:\n    image: b\n    build: .\n    volumes:\n      - ~/x:/x\n      - type: bind\n        source: "~"\n        target: /home\n      - type: volume\n        target: /anon\n      - type: image\n        source: alpine\n        target: /img\n        image: {subpath: etc}\n    pid: host\n    expose: ["80/udp"]\n    device_cgroup_rules: ["c 1:3 mr"]\n    post_start:\n      - command: echo hi\n    mac_address: 02:42:ac:11:00:02\nsecrets:\n  bs:\n    file: ~/secret.txt\nconfigs:\n  unused:\n    file: ./x\nnetworks:\n  unused: {}\nvolumes:\n  unused: {}\n',
    "volumes-ports-implicit-deps": 'services:\n  a:\n    image: x\n    volumes:\n      - type: bind\n        source: ./x\n        target: /x\n        bind:\n          propagation: rshared\n      - type: volume\n        source: v\n        target: /v\n      - type: tmpfs\n        target: /t\n        tmpfs:\n          size: 0\n      - type: bind\n        source: ./y\n        target: /y/\n    ports:\n      - target: 80\n        published: 8080\n      - "80"\n    pid: "service:b"\n    links: ["b:bee"]\n    volumes_from: ["b:ro", "container:zzz"]\n    expose: [80, "90-91"]\n    gpus: all\n    mem_swappiness: 60\n    blkio_config:\n      weight_device:\n        - path: /dev/sda\n          weight: 10\n  b:\n    image: y\n    build: .\n    env_file: []\n    environment: []\n    labels: []\n    dns: []\nvolumes:\n  v:\n    driver_opts:\n      o: bind\n      type: none\n      device: ./data\n',
    "zeros-defaults-resources": 'services:\n  a:\n    image: x\n    command: ""\n    entrypoint: []\n    extra_hosts:\n      h1: 1.2.3.4\n      h2: ["::1", "10.0.0.1"]\n      h0: "[::2]"\n    ulimits:\n      nproc: 10\n      nofile: {soft: 5, hard: 6}\n    healthcheck:\n      disable: true\n    depends_on:\n      b: {condition: service_healthy, required: false}\n    secrets:\n      - source: s\n        target: rel\n      - s\n    configs:\n      - source: c\n        mode: 0644\n    networks:\n      n1: {aliases: [x], priority: 3}\n      n2: null\n    deploy:\n      replicas: 2\n      labels: {a: 1}\n      update_config: {parallelism: 0, delay: 0s}\n    scale: 2\n    logging: {options: {max-file: 3}}\n    sysctls: {a.b: 1}\n    dns: 1.1.1.1\n    tmpfs: /run:size=1m\n    environment: [B=true, C, "D=a=b"]\n    labels: {x: null, y: 1.5}\n    stop_signal: SIGINT\n    init: false\n    privileged: false\n    read_only: false\n    cpu_count: 0\n    oom_score_adj: 0\n    annotations: [a=b]\n    cap_add: []\n    working_dir: ""\n  b:\n    image: y\n    network_mode: host\n    healthcheck:\n      test: ["CMD", "true"]\n      retries: 0\n      interval: 0s\n    restart: "no"\n    user: "0"\n    pull_policy: daily\n    platform: linux/amd64\n    develop:\n      watch:\n        - path: ./src\n          action: sync+exec\n          target: /app/\n          exec:\n            command: ["sh", "-c", "kill 1"]\n            user: root\nnetworks:\n  n1:\n    ipam:\n      driver: default\n      config:\n        - subnet: 10.9.0.0/16\n          gateway: 10.9.0.1\n    enable_ipv6: false\n    internal: true\n    labels: [a=b]\n  n2:\n    external: true\n    name: outside\nsecrets:\n  s:\n    environment: HOME\nconfigs:\n  c:\n    content: "x $$y"\n',
}


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
def test_edge_files_match_docker_compose(name, tmp_path, docker_compose):
    (tmp_path / "compose.yaml").write_text(EDGE_FILES[name], encoding="utf-8")
    p = subprocess.run([docker_compose, "-p", "edge", "-f", "compose.yaml", "config", "--format", "json"],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    project = load_project(LoadOptions(files=("compose.yaml",), project_name="edge", environ=dict(ENV),
                                       cwd=str(tmp_path)), Diagnostics())
    assert render_config(project, "json") == p.stdout
