"""Hostile input: whatever the compose text, the tool answers with output or one `DekubeError`.

Hypothesis builds compose documents (valid ones, and mutations of valid ones: wrong types, odd
unicode, huge values, deep nesting, YAML alias bombs, broken text) and feeds them to the loader,
the converter and the command line. Properties:

- nothing escapes but `DekubeError` (one paragraph); the CLI exits 0 or 1 and never takes its
  "internal error" path nor prints a traceback;
- alias bombs and absurd nesting are refused within a bounded time, not expanded;
- valid documents load and convert (or are refused with a `DekubeError`); a sample of their
  outputs passes `systemd-analyze verify --man=no` without a word, and every script of the
  sample passes `bash -n` and `shellcheck`;
- every output path stays inside the output directory.

Runs are derandomized. `DEKUBE_FUZZ_PROFILE=long` runs 20x the examples with fresh randomness.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import consumers
from dekube_nspawn import cli
from dekube_nspawn.convert import ConvertOptions, render_project
from dekube_nspawn.emit.nspawn_settings import RUNTIME_HELPERS_HOST
from dekube_nspawn.errors import DekubeError, Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.output import write_output

PROFILE = os.environ.get("DEKUBE_FUZZ_PROFILE", "ci")
settings.register_profile("dekube-fuzz-ci", derandomize=True, deadline=None, database=None,
                          print_blob=True,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("dekube-fuzz-long", derandomize=False, deadline=None, database=None,
                          print_blob=True, suppress_health_check=list(HealthCheck))
FUZZ = settings.get_profile(f"dekube-fuzz-{PROFILE}")
SCALE = 20 if PROFILE == "long" else 1
ENVIRON = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin", "TOKEN": "t0k3n"}


def examples(n: int):
    return settings(FUZZ, max_examples=n * SCALE)


# --- strategies: valid documents ----------------------------------------------------------------

# Names compose allows (lowercase letters, digits, `-`, `_`, `.`), some that no machine,
# interface or unit name may carry as they are, and long ones.
name_chars = "abcdefghijklmnopqrstuvwxyz0123456789-_."
names = st.one_of(
    st.sampled_from(["web", "db", "a", "my_app", "x.y", "a-b", "web_1", "0", "app.v2.local"]),
    st.builds(lambda a, b: a + b, st.sampled_from("abz09"), st.text(alphabet=name_chars, max_size=70)),
)
# Values with everything the target syntaxes interpret: quotes, `$`, `%`, `\`, `;`, spaces,
# newlines, control characters, non-ASCII, specifiers.
odd_text = st.lists(st.one_of(
    st.sampled_from(list(" \t\n\r\"'\\$%;&|<>`*?#!{}()[]~=,:@-") + ["\x00", "\x07", "\x1b", "\x7f",
                                                                    "\u00e9", "\u2028", "\ufeff",
                                                                    "\U0001f600", "%n", "%h", "${X}"]),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
), max_size=40).map("".join)
plain_text = st.text(alphabet="abcXYZ019 -_./:=@+", min_size=1, max_size=20)
words = st.one_of(plain_text, odd_text)
durations = st.sampled_from(["1s", "30s", "1m30s", "2h", "500ms", "0s", "1h2m3s"])
image = st.sampled_from(["busybox:1.36", "alpine", "docker.io/library/nginx:1.25",
                         "ghcr.io/o/r@sha256:" + "a" * 64, "registry:5000/x/y:tag", "postgres:16"])
abs_path = st.builds(lambda parts: "/" + "/".join(parts),
                     st.lists(st.text(alphabet="aZ09_.@+-", min_size=1, max_size=12).filter(
                         lambda p: p not in (".", "..")), min_size=1, max_size=3))
# Bind sources of the long syntax (no `:` splitting there): `:`, `\\`, spaces, `%` must survive.
odd_path = st.builds(lambda parts: "/" + "/".join(parts),
                     st.lists(st.text(alphabet="aZ09_.@+-:\\ %#=,$", min_size=1, max_size=12).filter(
                         lambda p: p not in (".", "..") and p.strip() == p), min_size=1, max_size=3))
env_names = st.builds(lambda a, b: a + b, st.sampled_from("aZ_"), st.text(alphabet="aZ09_", max_size=15))
hostnames = st.builds(lambda a, b: a + b, st.sampled_from("ab"), st.text(alphabet="az09-", max_size=20))
environment = st.one_of(
    st.dictionaries(env_names, st.one_of(words, st.integers(-10**6, 10**6), st.booleans(), st.none()), max_size=4),
    st.lists(st.builds(lambda k, v: f"{k}={v}", env_names, words), max_size=4),
)
command = st.one_of(st.lists(words, min_size=1, max_size=4), plain_text)
healthcheck = st.one_of(
    st.fixed_dictionaries({"test": st.one_of(
        st.builds(lambda ws: ["CMD"] + ws, st.lists(words, min_size=1, max_size=3)),
        st.builds(lambda w: ["CMD-SHELL", w], words.filter(bool)),
        plain_text)},
        optional={"interval": durations, "timeout": durations, "retries": st.integers(0, 10),
                  "start_period": durations}),
    st.just({"disable": True}),
)
port = st.integers(1, 65535)
ports = st.lists(st.one_of(
    port.map(str),
    st.builds(lambda a, b: f"{a}:{b}", port, port),
    st.builds(lambda a, b: f"127.0.0.1:{a}:{b}/udp", port, port),
    st.fixed_dictionaries({"target": port}, optional={"published": port.map(str),
                                                      "protocol": st.sampled_from(["tcp", "udp"])}),
), max_size=3, unique_by=str)


OPTIONAL_KEYS = (("restart", st.sampled_from(["no", "always", "on-failure", "unless-stopped"])),
    ("user", st.sampled_from(["1000", "1000:1000", "root", "nobody"])),
    ("working_dir", abs_path), ("hostname", hostnames),
    ("stop_grace_period", durations), ("init", st.booleans()),
    ("stop_signal", st.sampled_from(["SIGTERM", "SIGINT", "SIGKILL", "SIGUSR1"])),
    ("labels", st.dictionaries(plain_text, words, max_size=2)),
    ("read_only", st.booleans()), ("tty", st.booleans()),
    ("extra_hosts", st.lists(st.builds(lambda h, a: f"{h}={a}",
                                       hostnames,
                                       st.ip_addresses(v=4).map(str)), max_size=2)))


@st.composite
def service(draw, others, volume_names, network_names, secret_names):
    svc = {"image": draw(image)}
    if draw(st.booleans()):
        svc["command"] = draw(command)
    if draw(st.booleans()):
        svc["entrypoint"] = draw(command)
    if draw(st.booleans()):
        svc["environment"] = draw(environment)
    if draw(st.booleans()):
        svc["ports"] = draw(ports)
    if draw(st.booleans()):
        vols = []
        for _ in range(draw(st.integers(0, 3))):
            target = draw(abs_path)
            if volume_names and draw(st.booleans()):
                vols.append(f"{draw(st.sampled_from(volume_names))}:{target}")
            else:
                vols.append({"type": "bind", "source": draw(st.one_of(abs_path, odd_path)).replace("$", "$$"),
                             "target": target,
                             "read_only": draw(st.booleans())})
        targets = set()
        svc["volumes"] = [v for v in vols if (t := v["target"] if isinstance(v, dict) else v.split(":")[1])
                          not in targets and not targets.add(t)]
    if draw(st.booleans()):
        svc["healthcheck"] = draw(healthcheck)
    if others and draw(st.booleans()):
        svc["depends_on"] = draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    if network_names and draw(st.booleans()):
        svc["networks"] = draw(st.lists(st.sampled_from(network_names), unique=True, min_size=1))
    if secret_names and draw(st.booleans()):
        svc["secrets"] = draw(st.lists(st.sampled_from(secret_names), unique=True, max_size=2))
    for key, strat in OPTIONAL_KEYS:
        if draw(st.integers(0, 3)) == 0:
            svc[key] = draw(strat)
    return svc


@st.composite
def valid_documents(draw):
    services = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    volume_names = draw(st.lists(names, max_size=2, unique=True))
    network_names = draw(st.lists(names, max_size=2, unique=True))
    secret_names = draw(st.lists(names, max_size=2, unique=True))
    doc = {}
    if draw(st.booleans()):
        doc["name"] = draw(st.builds(lambda a, b: a + b, st.sampled_from("a0"),
                                     st.text(alphabet="az09_-", max_size=40)))
    doc["services"] = {}
    for i, s in enumerate(services):
        doc["services"][s] = draw(service(services[:i], volume_names, network_names, secret_names))
    if volume_names:
        doc["volumes"] = {v: None for v in volume_names}
    if network_names:
        doc["networks"] = {n: None for n in network_names}
    if secret_names:
        doc["secrets"] = {s: draw(st.one_of(st.just({"environment": "TOKEN"}),
                                            st.just({"file": "./secret.txt"})))
                          for s in secret_names}
    return doc


def dump(doc, style: int) -> str:
    """YAML block style, YAML flow style, or JSON (which YAML reads too)."""
    if style == 0:
        return json.dumps(doc, ensure_ascii=False)
    return yaml.safe_dump(doc, default_flow_style=style == 2, allow_unicode=True, sort_keys=False)


# --- strategies: hostile documents --------------------------------------------------------------

hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    odd_text, st.text(max_size=5).map(lambda t: t * 2000),     # long values
    st.sampled_from(["../../../etc/passwd", "/", "..", ".", "a/b", "", "-", "${", "$${X}",
                     "${TOKEN:?}", "${UNSET?required}", "0777", "1e999", "0x", "~", "  ",
                     "99999999999999999999:80", "80:80:80:80", "/x:/y:/z:rw", "\\", "%%%"]),
)


def nested(depth: int):
    doc = "x"
    for i in range(depth):
        doc = [doc] if i % 2 else {"k": doc}
    return doc


hostile_values = st.one_of(
    hostile_scalars,
    st.recursive(hostile_scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(plain_text, odd_text), inner, max_size=3)),
        max_leaves=10),
    st.integers(50, 400).map(nested),
)


@st.composite
def mutated_documents(draw):
    """A valid document with one to three of its nodes replaced, removed, or wrapped."""
    doc = copy.deepcopy(draw(valid_documents()))    # never mutate what hypothesis may reuse
    for _ in range(draw(st.integers(1, 3))):
        paths = []

        def collect(node, path):
            paths.append(path)
            if isinstance(node, dict):
                for k, v in node.items():
                    collect(v, path + (k,))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    collect(v, path + (i,))

        collect(doc, ())
        path = draw(st.sampled_from(paths[1:])) if len(paths) > 1 else ()
        if not path:
            break
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.integers(0, 4))
        if action <= 1:
            parent[path[-1]] = draw(hostile_values)
        elif action == 2:
            del parent[path[-1]]
        elif action == 3:
            parent[path[-1]] = [parent[path[-1]]]
        elif isinstance(parent, dict):     # a key of odd type or spelling beside it
            parent[draw(st.one_of(odd_text, st.sampled_from(["x-", "<<", "null", "1", "true"])))] = \
                draw(hostile_values)
    return doc


@st.composite
def mutated_texts(draw):
    """The text of a valid document with characters inserted, deleted or lines shuffled."""
    text = dump(draw(valid_documents()), draw(st.integers(0, 2)))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.integers(0, 3))
        if action == 0:
            text = text[:pos] + draw(st.sampled_from(list(":-[]{}&*!|>'\"#\n\t %@`,?") +
                                                     ["!!binary ", "!reset ", "!override ", "<<: ",
                                                      "&a ", "*a", "\n---\n", "\ufeff", "\x00"])) + text[pos:]
        elif action == 1:
            text = text[:pos] + text[pos + draw(st.integers(1, 10)):]
        elif action == 2:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
            text = "\n".join(lines)
        else:
            text = text[:pos] + draw(st.text(max_size=8)) + text[pos:]
    return text


def alias_bomb(width: int, depth: int, where: int) -> str:
    lines = ['x-a0: &a0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for i in range(1, depth):
        lines.append(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    top = f"*a{depth - 1}"
    tail = [f"services:\n  web:\n    image: busybox\n    x-bomb: {top}\n",
            f"services:\n  web:\n    image: busybox\n    command: {top}\n",
            f"services:\n  web:\n    image: busybox\n    environment:\n      A: {top}\n",
            f"services:\n  web: &w\n    image: busybox\n    labels: {{a: {top}}}\n  db:\n    <<: *w\n"][where]
    return "\n".join(lines) + "\n" + tail


# --- running the tool ---------------------------------------------------------------------------

def write_project(d: pathlib.Path, text: str) -> pathlib.Path:
    (d / "compose.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    (d / "secret.txt").write_text("s3cret\n")
    return d / "compose.yaml"


def load_and_convert(text: str):
    """(files, error): the in-process pipeline. Anything but a DekubeError propagates (a bug)."""
    with tempfile.TemporaryDirectory(prefix="dekube-fuzz-") as d:
        write_project(pathlib.Path(d), text)
        diagnostics = Diagnostics()
        try:
            project = load_project(LoadOptions(files=("compose.yaml",), project_name=None, cwd=d,
                                               environ=ENVIRON), diagnostics)
        except DekubeError as e:
            return None, e
        try:
            files = render_project(project, ConvertOptions(output_dir=os.path.join(d, "out")), diagnostics)
        except DekubeError as e:
            return None, e
        return files, None


def assert_clean_error(e: DekubeError) -> None:
    text = str(e)
    assert text.strip(), "an error without a message"
    assert "\n" not in text, f"an error of more than one line: {text!r}"
    assert "Traceback" not in text


def run_cli(argv, cwd) -> tuple[int, str]:
    err = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(argv, environ=ENVIRON)
    finally:
        os.chdir(old)
    return rc, err.getvalue()


def assert_cli_clean(rc: int, err: str) -> None:
    assert rc in (0, 1), (rc, err)
    assert "internal error" not in err and "Traceback" not in err, err
    if rc == 1:
        lines = [line for line in err.splitlines() if not line.startswith("WARNING: ")]
        assert len(lines) == 1 and lines[0].startswith("dekube-nspawn: error: "), err


def assert_inside(out: pathlib.Path) -> None:
    root = out.resolve()
    for p in out.rglob("*"):
        assert not p.is_symlink(), p
        assert p.resolve().is_relative_to(root), p


TOOL_DIRS = ("/var/lib/dekube-nspawn/{p}/", "/run/dekube-nspawn/{p}/", "/etc/dekube-nspawn/{p}/")
_BIND = re.compile(r"^Bind(?:ReadOnly)?=((?:[^:\\\n]|\\.)*)", re.M)


def assert_mounts_are_named_or_owned(doc, project: str, files) -> None:
    """Every host path bound into a machine is a bind source the document names (read back
    byte-exact through nspawn's `\\:` escaping and compose's `$$`) or lies in the tool's per-project directories."""
    named = {v["source"].replace("$$", "$") for svc in doc["services"].values() for v in svc.get("volumes", ())
             if isinstance(v, dict)}
    owned = tuple(d.format(p=project) for d in TOOL_DIRS)
    shared = f"/var/lib/dekube-nspawn/{RUNTIME_HELPERS_HOST}"    # the tool's helpers (read-only)
    for f in files:
        if not f.path.endswith(".nspawn"):
            continue
        for m in _BIND.finditer(f.content):
            source = re.sub(r"\\(.)", r"\1", m.group(1))
            assert source in named or source == shared or \
                (source.startswith(owned) and ".." not in source.split("/")), \
                (f.path, source, named)


# --- properties ---------------------------------------------------------------------------------

def test_valid_documents_convert_and_their_output_passes_the_consumers(tmp_path):
    """Valid documents load; they convert or are refused clearly; a sample of the outputs is
    accepted by systemd-analyze verify (any output is a failure), bash -n and shellcheck."""
    sample: list[tuple[pathlib.Path, str]] = []
    seen_projects: set[str] = set()
    stats = {"converted": 0, "refused": 0}
    refusals: list[str] = []

    @given(doc=valid_documents(), style=st.integers(0, 2))
    @examples(400)
    def run(doc, style):
        files, error = load_and_convert(dump(doc, style))
        if error is not None:
            assert_clean_error(error)
            refusals.append(str(error))
            stats["refused"] += 1
            return
        stats["converted"] += 1
        project = json.loads(files[-1].content)["project"]
        assert_mounts_are_named_or_owned(doc, project, files)
        if stats["converted"] % 20 == 1 and project not in seen_projects and len(sample) < 10 * SCALE:
            seen_projects.add(project)
            out = tmp_path / f"o{len(sample)}"
            write_output(str(out), files)
            assert_inside(out)
            sample.append((out, project))

    started = time.monotonic()
    run()
    print(f"{time.monotonic() - started:.1f}s", stats, *refusals[:30], sep="\n")
    assert stats["converted"] > stats["refused"], stats
    assert sample
    if consumers.tools_available() or shutil.which("shellcheck") is None:
        pytest.skip(f"consumer checks need {consumers.tools_available() or ['shellcheck']}")
    outputs = [(out, f"/etc/dekube-nspawn/{project}") for out, project in sample
               if list(out.glob("*.target"))]
    started = time.monotonic()
    for i in range(0, len(outputs), 20):
        problems = consumers.check_units_many(outputs[i:i + 20])
        assert not problems, "\n".join(problems)
    unique = {}     # most scripts are the same library files in every output: check each text once
    for out, _ in sample:
        for p in sorted(out.rglob("*.sh")):
            unique.setdefault(p.read_bytes(), str(p))
    scripts = sorted(unique.values())
    for script in scripts:
        r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, (script, r.stderr)
    for i in range(0, len(scripts), 200):
        r = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", *scripts[i:i + 200]],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    print(f"consumers: {time.monotonic() - started:.1f}s for {len(sample)} outputs")


@given(doc=mutated_documents(), style=st.integers(0, 2))
@examples(800)
def test_mutated_documents_load_or_fail_with_one_clear_error(doc, style):
    try:
        text = dump(doc, style)
    except (yaml.YAMLError, ValueError, TypeError):
        text = json.dumps(doc, default=str)
    _, error = load_and_convert(text)
    if error is not None:
        assert_clean_error(error)


@given(text=mutated_texts())
@examples(500)
def test_broken_text_through_the_command_line(text):
    with tempfile.TemporaryDirectory(prefix="dekube-fuzz-") as d:
        write_project(pathlib.Path(d), text)
        rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", "out"], d)
        assert_cli_clean(rc, err)
        out = pathlib.Path(d) / "out"
        if rc == 0:
            assert_inside(out)
        else:
            assert not out.exists(), "a failed run left an output directory"
        assert sorted(os.listdir(d)) == sorted(["compose.yaml", "secret.txt"] + (["out"] if rc == 0 else []))


@given(width=st.integers(2, 12), depth=st.integers(2, 40), where=st.integers(0, 3))
@examples(200)
def test_alias_bombs_are_refused_not_expanded(width, depth, where):
    """Small alias trees load; big ones are refused; either way within a bounded time."""
    text = alias_bomb(width, depth, where)
    start = time.process_time()
    files, error = load_and_convert(text)
    elapsed = time.process_time() - start
    assert elapsed < 5, f"{width}^{depth}: {elapsed:.1f}s of CPU"
    if error is not None:
        assert_clean_error(error)
    expanded = width ** depth
    if expanded > 10 ** 6:
        assert error is not None and "alias" in str(error), f"{width}^{depth} was expanded"


@given(depth=st.integers(100, 5000), flow=st.booleans(), where=st.integers(0, 2))
@examples(100)
def test_deep_nesting_is_refused_or_loaded_never_a_crash(depth, flow, where):
    inner = ("[" * depth + "]" * depth) if flow else "".join(" " * i + "- \n" for i in range(depth))
    text = ["x-deep: ", "services:\n  web:\n    image: busybox\n    labels: ",
            "services:\n  web:\n    image: busybox\n    command: "][where] + ("\n" if not flow else "") + inner + "\n"
    if where == 0:
        text += "services:\n  web:\n    image: busybox\n"
    with tempfile.TemporaryDirectory(prefix="dekube-fuzz-") as d:
        write_project(pathlib.Path(d), text)
        rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", "out"], d)
        assert_cli_clean(rc, err)


def test_alias_bomb_under_the_total_cap_is_refused_quickly():
    """Regression: 10^6 leaves (1.1M nodes, under the 5M expanded-node cap) used to be accepted
    and walked by every loader stage (7 s, hundreds of MB); Docker Compose itself does not finish
    it within a minute. Aliases may add a bounded number of nodes only."""
    text = alias_bomb(10, 6, 0)
    start = time.process_time()
    _, error = load_and_convert(text)
    assert error is not None and "alias" in str(error)
    assert time.process_time() - start < 1


def test_moderate_aliases_still_load():
    files, error = load_and_convert(alias_bomb(2, 12, 0) + "x-ok: 1\n")
    assert error is None, error
    assert files


SCALARS = ["_", "__", "+_", "_1", "_1.5", "+_1", "._5", ".5", ".5_0", "1_0", "-.5e3", "0x_1"]


def test_underscore_and_sign_scalars_load_and_convert():
    """Regression: a plain `_` crashed the YAML resolver (IndexError on the empty digits)."""
    for scalar in SCALARS:
        files, error = load_and_convert(f"services:\n  web:\n    image: busybox\n    environment:\n      A: {scalar}\n")
        assert error is None and files, (scalar, error)


def test_scalars_get_the_types_docker_compose_gives_them(docker_compose, tmp_path):
    """Regression: `_1`, `_1.5`, `._5` were read as numbers; go-yaml hints on the first
    character only, and a leading `_` makes a string."""
    text = f"services:\n  web:\n    image: busybox\nx-v: [{', '.join(SCALARS)}]\n"
    write_project(tmp_path, text)
    r = subprocess.run([docker_compose, "-p", "p", "-f", "compose.yaml", "config", "--format", "json"],
                       cwd=tmp_path, capture_output=True, text=True, env=ENVIRON, timeout=60)
    assert r.returncode == 0, r.stderr
    expected = json.loads(r.stdout)["x-v"]
    rc, err = run_cli(["-p", "p", "-f", "compose.yaml", "config", "--format", "json", "-o", "ours.json"],
                      tmp_path)
    assert rc == 0, err
    assert json.loads((tmp_path / "ours.json").read_text())["x-v"] == expected


@pytest.mark.parametrize("name", ["\n", "a\nb", "\t", "\x1b[31m", "\u2028"])
def test_an_unprintable_key_keeps_the_error_on_one_line(name):
    """Regression (found by the long fuzz profile): a service named "\\n" put a line break into
    the key path of the error message."""
    doc = {"services": {name: "not a mapping"}}
    _, error = load_and_convert(json.dumps(doc))
    assert error is not None
    assert_clean_error(error)
    assert json.dumps(name, ensure_ascii=False) in str(error)
