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
