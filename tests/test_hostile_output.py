"""Hostile names and values end to end, through the command line: output stays inside the output
directory, mounts stay on what the compose file names, a failed run leaves the previous output as
it was, file modes follow the policy, every invalid corpus case is refused in one paragraph, and
healthcheck commands read back byte-exact by bash."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

import goldens
from conftest import CORPUS
from test_fuzz import ENVIRON, assert_cli_clean, assert_inside, examples, odd_text, run_cli

TOOL_DIRS = ("/var/lib/dekube-nspawn/{p}/", "/run/dekube-nspawn/{p}/", "/etc/dekube-nspawn/{p}/")

EVIL = """\
name: evil
services:
  "..":
    image: busybox
    volumes:
      - "..:/data"
      - "./a/../b:/b"
      - "dots..:/x/../../y"
      - type: bind
        source: /srv/../srv/shared
        target: /shared
    secrets:
      - source: s
        target: ../../../etc/shadow
    configs:
      - source: c
        target: ../c.conf
  x:
    image: busybox
    volumes:
      - "..:/up"
volumes:
  "..": {}
  "dots..":
    name: "../../escape"
secrets:
  s:
    file: ../outside-secret.txt
configs:
  c:
    file: ./../../c.conf
"""


def tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


def bind_sources(out: pathlib.Path) -> list[str]:
    """Host sides of every Bind=/BindReadOnly= (nspawn escapes a `:` in a path as `\\:`)."""
    sources = []
    for f in out.glob("*.nspawn"):
        for m in re.finditer(r"^Bind(?:ReadOnly)?=((?:[^:\\\n]|\\.)*)", f.read_text(), re.M):
            sources.append(re.sub(r"\\(.)", r"\1", m.group(1)))
    return sources


def test_dot_dot_and_slash_names_never_leave_the_output_dir_or_the_named_paths(tmp_path):
    project = tmp_path / "p" / "q"
    project.mkdir(parents=True)
    (project / "compose.yaml").write_text(EVIL)
    (tmp_path / "p" / "outside-secret.txt").write_text("s\n")
    (tmp_path / "c.conf").write_text("c\n")
    out = tmp_path / "out"
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", str(out)], project)
    assert_cli_clean(rc, err)
    assert rc == 0, err
    assert_inside(out)
    listed = {e["path"] for e in json.loads((out / "manifest.json").read_text())["files"]}
    assert listed == {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    for path in listed:
        assert ".." not in path.split("/") and not path.startswith("/"), path
    # Every host path mounted into a machine is one the compose file names (resolved the way
    # Compose resolves it) or lies in the tool's own per-project state directories.
    named = {str(tmp_path / "p"), str(project / "b"), "/srv/shared"}
    sources = bind_sources(out)
    assert sources
    for source in sources:
        assert os.path.normpath(source) == source, source
        assert source in named or any(source.startswith(d.format(p="evil")) for d in TOOL_DIRS), source
    # The file secrets are read from where the compose file says, nowhere else.
    prepare = (out / "lib" / "prepare.sh").read_text()
    assert str(tmp_path / "p" / "outside-secret.txt") in prepare


@pytest.mark.parametrize("bad", [
    "services:\n  web:\n    image: [\n",                        # YAML error
    "services:\n  web:\n    image: busybox\n    ports: [x]\n",   # schema error
    "services:\n  web:\n    image: busybox\n    command: ${NOPE?must be set}\n",  # interpolation
    "services:\n  web:\n    image: busybox\n    depends_on: [db]\n",  # consistency
    "services:\n  web:\n    image: busybox\n    environment:\n      A: \"a\\x00b\"\n",  # conversion
])
def test_any_failure_leaves_the_previous_output_as_it_was(tmp_path, bad):
    """Loader, planner and emitter failures alike: the previous output, foreign files included,
    is untouched, and nothing is left beside it (no staging directory)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(goldens.FIXTURES.parent / "examples" / "hello" / "compose.yaml", project / "compose.yaml")
    out = tmp_path / "out"
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", str(out)], project)
    assert rc == 0, err
    (out / "NOTES.txt").write_text("mine\n")
    before = tree(out)
    (project / "compose.yaml").write_text(bad)
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", str(out)], project)
    assert rc == 1
    assert_cli_clean(rc, err)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]


def test_file_modes_follow_the_policy_and_secret_values_stay_out(tmp_path, monkeypatch):
    """Scripts 0755 (health/*.sh are sourced: 0644); the .nspawn and env files carry the compose
    environment: 0600, and bootstrap.sh (it hands each machine's compose process to the image
    completion): 0700; everything else 0644; all root-owned. A compose environment value appears
    in no file others can read. Secret values never reach the output
    directory: install.sh reads them from the environment or the named file at install time."""
    from test_convert_cli import install_fake_skopeo
    install_fake_skopeo(tmp_path, monkeypatch)
    fixtures = goldens.FIXTURES
    files = []
    env_extra = {"API_TOKEN": "tok-VALUE-1234", "DB_PASSWORD": "pw-VALUE-5678"}
    monkeypatch.setattr("test_fuzz.ENVIRON", {**ENVIRON, **env_extra})
    for case in ("secrets-configs", "resolved-image", "health-deps", "warnings"):
        src = tmp_path / case
        shutil.copytree(fixtures / case, src, ignore=shutil.ignore_patterns("expected"))
        out = tmp_path / f"{case}.out"
        argv = ["-f", "compose.yaml", "convert", "-o", str(out)]
        rc, err = run_cli(argv + (["--resolve-images"] if case == "resolved-image" else []), src)
        assert rc == 0, err
        for p in out.rglob("*"):
            if p.is_file():
                files.append((out, p))
                for value in env_extra.values():
                    assert value.encode() not in p.read_bytes(), p
        secret_text = (src / "db_password.txt").read_bytes() if (src / "db_password.txt").exists() else None
        if secret_text:
            assert not any(secret_text.strip() in p.read_bytes() for _, p in files if p.is_relative_to(out))
    kinds = set()
    for out, p in files:
        rel = str(p.relative_to(out))
        mode = stat.S_IMODE(p.stat().st_mode)
        assert p.stat().st_uid == os.geteuid()
        if rel.endswith(".nspawn") or rel.startswith("env/"):
            want = 0o600
        elif rel == "bootstrap.sh":
            want = 0o700
        elif rel.endswith(".sh") and not rel.startswith("health/"):
            want = 0o755
        else:
            want = 0o644
        kinds.add((rel.rsplit(".", 1)[-1], want))
        assert mode == want, (rel, oct(mode))
    assert {("nspawn", 0o600), ("env", 0o600), ("sh", 0o700), ("sh", 0o755), ("sh", 0o644),
            ("service", 0o644)} <= kinds


@pytest.mark.parametrize("resolve", [False, True])
def test_environment_values_only_in_root_only_files(tmp_path, monkeypatch, resolve):
    """Compose environments carry passwords: every output file holding a value of one is
    root-only (0600, bootstrap.sh 0700), whether the image is resolved at conversion or
    completed by bootstrap.sh."""
    from test_convert_cli import install_fake_skopeo
    install_fake_skopeo(tmp_path, monkeypatch)
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text(
        "services:\n  db:\n    image: busybox\n    command: [sleep, inf]\n"
        "    environment:\n      DB_PASSWORD: env-VALUE-9f3\n"
        "  multi:\n    image: busybox\n    environment:\n      NOTE: \"line1\\nline2 env-VALUE-77a\"\n")
    out = tmp_path / "out"
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", str(out)]
                      + (["--resolve-images"] if resolve else []), project)
    if not resolve:   # a line break needs the image's environment: refused without resolving
        assert rc == 1 and "--resolve-images" in err
        (project / "compose.yaml").write_text(
            "services:\n  db:\n    image: busybox\n    environment:\n      DB_PASSWORD: env-VALUE-9f3\n")
        rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", str(out)], project)
    assert rc == 0, err
    holding = [p for p in out.rglob("*") if p.is_file() and b"env-VALUE-" in p.read_bytes()]
    assert holding
    for p in holding:
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, (p.relative_to(out), oct(p.stat().st_mode))


def _invalid_corpus_cases():
    if not CORPUS.is_dir():
        return []
    from test_conformance import KNOWN     # cases we knowingly accept (listed with the reason)
    return sorted(case for p in CORPUS.glob("*/*/expected.rc")
                  if p.read_text().strip() != "0" and (case := str(p.parent.relative_to(CORPUS))) not in KNOWN)


@pytest.mark.parametrize("case", _invalid_corpus_cases())
def test_invalid_corpus_case_is_refused_in_one_paragraph_by_the_cli(case, tmp_path):
    """test_conformance checks the loader raises a DekubeError; here the command line: exit 1,
    one `dekube-nspawn: error:` line, no internal error, no output directory."""
    rc, err = run_cli(["-p", case.split("/")[1], "-f", "compose.yaml", "convert", "-o", str(tmp_path / "out")],
                      CORPUS / case)
    assert rc == 1, err
    assert_cli_clean(rc, err)
    assert not (tmp_path / "out").exists()


# --- healthcheck commands: the generated health/<m>.sh read back by bash ------------------------

def _compose_word(word: str) -> str:
    return word.replace("$", "$$")      # compose interpolates; `$$` is a literal `$`


@given(words=st.lists(odd_text, min_size=1, max_size=4), shell=st.booleans())
@examples(80)
def test_healthcheck_command_reads_back_byte_exact(tmp_path_factory, words, shell):
    d = tmp_path_factory.mktemp("hc")
    test = ["CMD-SHELL", " ".join(words)] if shell else ["CMD"] + words
    doc = {"name": "hc", "services": {"web": {"image": "busybox", "healthcheck": {
        "test": [test[0]] + [_compose_word(w) for w in test[1:]]}}}}
    (d / "compose.yaml").write_text(json.dumps(doc, ensure_ascii=False))
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", "out"], d)
    assert_cli_clean(rc, err)
    if rc == 1:
        return      # refused with a clear message (e.g. a NUL byte no target can carry)
    script = d / "out" / "health" / "hc-web.sh"
    r = subprocess.run(["bash", "-c", 'set -eu; source "$1"; printf "%s\\0" "${HEALTH_TEST[@]}"', "x", str(script)],
                       capture_output=True, env=ENVIRON)
    assert r.returncode == 0 and not r.stderr, r.stderr
    argv = r.stdout.split(b"\0")[:-1]
    expected = [w.encode("utf-8", "surrogateescape") for w in test[1:]]
    if shell:
        assert argv[-2:] == [b"-c", expected[0]] and argv[0].endswith(b"sh"), argv
    else:
        assert argv == expected


# --- names compose allows that machine, interface and unit names do not ------------------------

compose_names = st.builds(lambda a, b: a + b, st.sampled_from("aZ09"),
                          st.text(alphabet="abcxyzABC0189-_.", max_size=90))


@given(services=st.lists(compose_names, min_size=1, max_size=5, unique_by=str.lower),
       networks=st.lists(compose_names, min_size=1, max_size=3, unique=True),
       project=st.builds(lambda a, b: a + b, st.sampled_from("a0"), st.text(alphabet="az09_-", max_size=70)))
@examples(60)
def test_names_map_to_valid_distinct_machines_units_and_interfaces(tmp_path_factory, services, networks, project):
    """Through the command line: one machine per service, each name valid for machinectl and
    unique; one bridge per network within the 15-byte interface limit; no two units share a
    file; the mapping is deterministic (a second run writes the same names)."""
    d = tmp_path_factory.mktemp("names")
    doc = {"name": project, "networks": {n: None for n in networks},
           "services": {s: {"image": "busybox", "networks": networks} for s in services}}
    (d / "compose.yaml").write_text(json.dumps(doc, ensure_ascii=False))
    outs = []
    for run in ("a", "b"):
        rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", run], d)
        assert_cli_clean(rc, err)
        assert rc == 0, err
        outs.append(sorted(str(p.relative_to(d / run)) for p in (d / run).rglob("*")))
    assert outs[0] == outs[1]
    out = d / "a"
    assert_inside(out)
    machines = [p.stem for p in out.glob("*.nspawn")]
    assert len(machines) == len(services)
    for m in machines:
        assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", m), m
        assert (out / f"nspawn-{m}.service").is_file()
    bridges = [p.stem for p in out.glob("*.netdev")]
    assert len(bridges) == len(networks)
    for b in bridges:
        assert 0 < len(b.encode()) <= 15 and re.fullmatch(r"[a-zA-Z0-9_.-]+", b), b
    # netns.sh up MACHINE (IFNAME BRIDGE HOSTVETH ADDR GW)...: the host-side veth of each network
    veths = {word for p in out.glob("nspawn-*.service")
             for line in re.findall(r"netns\.sh up (.*)", p.read_text())
             for word in line.split()[1:][2::5]}
    assert len(veths) == len(services) * len(networks)
    for v in veths:
        assert len(v.encode()) <= 15, v


# --- hosts entries ------------------------------------------------------------------------------

@given(host=st.one_of(odd_text, compose_names), ip=st.ip_addresses().map(str), mapping=st.booleans())
@examples(80)
def test_extra_hosts_entries_are_exact_or_refused(tmp_path_factory, host, ip, mapping):
    """An extra_hosts name ends up as one whitespace-free field of a line for its address, or the
    conversion is refused; no value can add a line, a field or a comment to a hosts file."""
    import ipaddress
    d = tmp_path_factory.mktemp("hosts")
    # compose interpolates the list form (`$$` is a literal `$`), not the keys of the mapping form
    hosts = {host: ip} if mapping else [f"{host.replace('$', '$$')}={ip}"]
    doc = {"name": "h", "services": {"web": {"image": "busybox", "extra_hosts": hosts}}}
    (d / "compose.yaml").write_text(json.dumps(doc, ensure_ascii=False))
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", "out"], d)
    assert_cli_clean(rc, err)
    if rc == 1 or "extra_hosts[0]: not an address" in err:     # refused, or skipped with a warning
        return
    entries = []
    for f in (d / "out").rglob("*"):
        if f.is_file() and (f.name == "hosts" or f.name.endswith(".hosts")):
            for line in f.read_text().splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                fields = line.split()
                ipaddress.ip_address(fields[0])           # every line starts with an address
                assert not any(x.startswith("#") for x in fields[1:]), line
                entries.append((str(ipaddress.ip_address(fields[0])), fields[1:]))
    assert any(a == str(ipaddress.ip_address(ip)) and host in names for a, names in entries), (host, entries)


def test_dollar_escapes_are_undone_in_mounts_hosts_and_resolv(tmp_path):
    """Regression: `$$` (compose's literal `$`) reached Bind= paths, /etc/hosts aliases and
    extra_hosts, and resolv.conf as `$$`; Docker mounts and resolves the single `$`."""
    doc = {"name": "d", "services": {"web": {
        "image": "busybox",
        "volumes": [{"type": "bind", "source": "/srv/a$$b", "target": "/x$$y"}, "/srv/c$$d:/z"],
        "dns_search": ["s$$x"], "extra_hosts": ["h$$x=10.1.2.3"],
        "networks": {"default": {"aliases": ["al$$x"]}}}}}
    (tmp_path / "compose.yaml").write_text(json.dumps(doc))
    rc, err = run_cli(["-f", "compose.yaml", "convert", "-o", "out"], tmp_path)
    assert rc == 0, err
    out = tmp_path / "out"
    text = "".join(p.read_text() for p in out.rglob("*") if p.is_file() and p.suffix != ".json")
    assert "$$" not in text.replace("$$(", "")     # no doubled dollar left (shell `$$(` aside)
    settings = (out / "d-web.nspawn").read_text()
    assert "Bind=/srv/a$b:/x$y\n" in settings and "Bind=/srv/c$d:/z\n" in settings
    hosts = (out / "hosts").read_text()
    assert re.search(r"^10\.1\.2\.3\s+h\$x$", hosts, re.M) and re.search(r"\sal\$x(\s|$)", hosts, re.M)
    assert any("s$x" in p.read_text() for p in out.rglob("*") if "resolv" in str(p) and p.is_file())
