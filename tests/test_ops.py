"""The pure parts of the day-2 verbs (dekube_nspawn/ops): finding an installed project from what
install.sh records, reading back .nspawn/env files, formatting ps/logs/images, argument handling
and the errors a user sees. The real-host behaviour is tests/e2e/test_ops.py."""
from __future__ import annotations

import io
import json
import os
import types

import pytest

from dekube_nspawn import cli, escape
from dekube_nspawn.convert import ConvertOptions, render_project
from dekube_nspawn.errors import DekubeError, Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.ops import exec as machine_exec
from dekube_nspawn.ops import images, locate, logs, nspawn_settings, status, systemd, verbs

COMPOSE = """
name: demo
services:
  web:
    image: busybox:latest
    ports: ["127.0.0.1:8080:80", "9090:90"]
    healthcheck: {test: ["CMD", "true"], interval: 2s}
  db:
    image: busybox:latest
    environment: {A: "b c"}
  worker:
    image: busybox:latest
    deploy: {replicas: 2}
"""


def destination(rel: str) -> str:
    """Where install.sh puts an output file (its destination_of)."""
    if "/" in rel:
        return f"/etc/dekube-nspawn/demo/{rel}"
    if rel.endswith((".service", ".socket", ".target")):
        return f"/etc/systemd/system/{rel}"
    if rel.endswith((".netdev", ".network")):
        return f"/etc/systemd/network/{rel}"
    return f"/etc/dekube-nspawn/demo/{rel}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A converted project laid out as install.sh records it; `read` maps the absolute paths."""
    directory = tmp_path_factory.mktemp("demo")
    (directory / "compose.yml").write_text(COMPOSE)
    project = load_project(LoadOptions(files=(str(directory / "compose.yml"),), cwd=str(directory),
                                       environ={}), Diagnostics())
    files = {f.path: f.content for f in render_project(project, ConvertOptions(output_dir="unused"), Diagnostics())}
    tree = {}
    for rel, content in files.items():
        if rel in ("install.sh", "manifest.json"):
            continue
        tree[destination(rel)] = content
        if rel.endswith(".nspawn"):
            tree[f"/etc/systemd/nspawn/{rel}"] = content
    tree["/etc/dekube-nspawn/demo/installed-files"] = "".join(p + "\n" for p in sorted(tree))
    return tree


def reader(tree):
    return lambda path: tree.get(path, "")


# -- locate --------------------------------------------------------------------------------------

def test_locate_finds_services_machines_images_addresses_and_ports(installed):
    project = locate.load_installed("demo", read=reader(installed))
    assert project.services() == ["db", "web", "worker"]
    assert [(m.service, m.replica, m.name, m.unit) for m in project.machines] == [
        ("db", 1, "demo-db", "nspawn-demo-db.service"),
        ("web", 1, "demo-web", "nspawn-demo-web.service"),
        ("worker", 1, "demo-worker-1", "nspawn-demo-worker-1.service"),
        ("worker", 2, "demo-worker-2", "nspawn-demo-worker-2.service")]
    web = project.machines_of(["web"])[0]
    assert web.image_key.startswith("busybox-latest-")
    assert len(web.addresses) == 1 and web.addresses[0].endswith("/24")
    address = web.addresses[0].split("/")[0]
    assert sorted(str(p) for p in web.ports) == ["0.0.0.0:9090->90/tcp", "127.0.0.1:8080->80/tcp"]
    assert all(p.target.startswith(address + ":") for p in web.ports)
    assert project.machines_of(["db"])[0].ports == []
    assert "dekube-demo.target" in project.units()
    assert project.target == "dekube-demo.target"
    assert project.installed_nspawn(web) == "/etc/systemd/nspawn/demo-web.nspawn"


def test_machines_of_keeps_the_order_asked_and_names_replicas(installed):
    project = locate.load_installed("demo", read=reader(installed))
    assert [m.name for m in project.machines_of(["worker", "db"])] == ["demo-worker-1", "demo-worker-2", "demo-db"]


def test_an_unknown_service_is_one_paragraph_naming_the_known_ones(installed):
    project = locate.load_installed("demo", read=reader(installed))
    with pytest.raises(locate.UnknownService) as e:
        project.machines_of(["web", "nosuch"])
    text = str(e.value)
    assert "no such service: nosuch" in text and "db, web, worker" in text and "\n" not in text


def test_a_project_not_installed_says_so_and_lists_the_installed_ones(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "installed-files").write_text("/etc/x\n")
    (tmp_path / "half").mkdir()            # no installed-files: not an installed project
    with pytest.raises(locate.ProjectNotInstalled) as e:
        locate.load_installed("demo", config_root=str(tmp_path))
    text = str(e.value)
    assert "'demo' is not installed" in text and "Installed projects: other." in text
    assert locate.installed_projects(str(tmp_path)) == ["other"]


def test_project_name_comes_from_p_or_from_the_compose_file(tmp_path):
    args = types.SimpleNamespace(project_name="My_Proj", files=[], positional_files=[])
    from dekube_nspawn.planning.names import project_id
    assert locate.project_name_from_args(args, {}) == project_id("My_Proj")
    (tmp_path / "compose.yml").write_text("name: fromfile\nservices: {a: {image: busybox}}\n")
    args = types.SimpleNamespace(project_name=None, files=[str(tmp_path / "compose.yml")])
    assert locate.project_name_from_args(args, {}) == "fromfile"
    args = types.SimpleNamespace(project_name=None, files=[str(tmp_path / "missing.yml")])
    with pytest.raises(DekubeError, match="-p NAME"):
        locate.project_name_from_args(args, {})


# -- .nspawn and env files read back --------------------------------------------------------------

@pytest.mark.parametrize("value", ["plain", "with space", "it's", 'say "hi"', "$HOME%n\\x", "a=b=c", ""])
def test_nspawn_words_read_back_what_escape_writes(value):
    words = [escape.nspawn_word(v) for v in ("first", value, "last")]
    assert nspawn_settings.nspawn_words(" ".join(words)) == ["first", value, "last"]


def test_exec_settings_later_environment_wins_and_only_exec_counts():
    text = """# comment
[Exec]
Boot=no
Parameters="/bin/app" "a b"
Environment="PATH=/app" "X=image"
WorkingDirectory=/srv
[Exec]
Environment="X=compose" 'Q=say "hi"'
[Files]
Environment=NOT=this
"""
    settings = nspawn_settings.exec_settings(text)
    assert settings["environment"] == {"PATH": "/app", "X": "compose", "Q": 'say "hi"'}
    assert settings["working_directory"] == "/srv"
    assert settings["parameters"] == ["/bin/app", "a b"]
    assert settings["process_two"] is False
    assert nspawn_settings.exec_settings("[Exec]\nProcessTwo=yes\n")["process_two"] is True


def test_env_file_reads_back_what_escape_writes():
    values = {"A": "plain", "B": "two\nlines", "C": "it's $x \\ \"q\" `c`", "D": ""}
    text = "# generated\n" + "".join(escape.env_file_assignment(k, v) + "\n" for k, v in values.items())
    assert nspawn_settings.env_file(text) == values


def test_machine_process_uses_the_env_file_when_the_unit_has_one(installed):
    project = locate.load_installed("demo", read=reader(installed))
    db = project.machines_of(["db"])[0]
    tree = dict(installed)
    process = machine_exec.machine_process(project, db, read=lambda p: tree[p])
    assert process["environment"]["A"] == "b c"
    assert process["environment"]["PATH"] == nspawn_settings.DEFAULT_PATH   # nspawn's default
    assert process["working_directory"] == "/"
    db.env_file = "/etc/dekube-nspawn/demo/env/demo-db.env"
    tree[db.env_file] = "A='from file'\nPATH='/app'\n"
    process = machine_exec.machine_process(project, db, read=lambda p: tree[p])
    assert process["environment"] == {"A": "from file", "PATH": "/app"}


# -- exec ----------------------------------------------------------------------------------------

def test_exec_command_enters_every_namespace_as_the_user_in_the_workdir():
    cmd = machine_exec.build_command(42, ["busybox", "id"], "1234", "2345", "/srv/work", "/usr/bin/nsenter")
    assert cmd == ["/usr/bin/nsenter", "-t", "42", "-m", "-u", "-i", "-n", "-p", "-r",
                   "--wd=/proc/42/root/srv/work", "-S", "1234", "-G", "2345", "--", "busybox", "id"]
    assert machine_exec.build_command(42, [], "0", "0", "/")[-1] == "/bin/sh"


def test_exec_environment_overrides(monkeypatch):
    monkeypatch.setenv("FROM_CALLER", "yes")
    monkeypatch.delenv("UNSET_HERE", raising=False)
    env = machine_exec.build_environment({"A": "1", "B": "2"}, ["B=3", "C=x=y", "FROM_CALLER", "UNSET_HERE"])
    assert env == {"A": "1", "B": "3", "C": "x=y", "FROM_CALLER": "yes"}


def test_exec_resolves_users_in_the_machine_passwd(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\napp:x:1234:1234::/:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nstaff:x:50:\n")
    assert machine_exec.resolve_user("app", str(tmp_path)) == ("1234", "1234")
    assert machine_exec.resolve_user("app:staff", str(tmp_path)) == ("1234", "50")
    assert machine_exec.resolve_user("77", str(tmp_path)) == ("77", "0")
    with pytest.raises(DekubeError, match="numeric ids"):
        machine_exec.resolve_user("ghost", str(tmp_path))


def test_exec_into_a_stopped_machine_is_a_clear_error(monkeypatch, installed):
    project = locate.load_installed("demo", read=reader(installed))
    web = project.machines_of(["web"])[0]
    monkeypatch.setattr(systemd, "show", lambda units, props=(): {
        units[0]: {"ActiveState": "failed", "SubState": "failed", "MainPID": "0"}})
    with pytest.raises(machine_exec.MachineNotRunning) as e:
        machine_exec.running_leader(web)
    text = str(e.value)
    assert "service web is not running" in text and "failed" in text and "dekube-nspawn start web" in text


# -- ps ------------------------------------------------------------------------------------------

def test_ps_rows_from_systemd_health_netns_and_port_units(installed, tmp_path, monkeypatch):
    project = locate.load_installed("demo", read=reader(installed))
    monkeypatch.setattr(locate, "RUNTIME_ROOT", str(tmp_path))
    (tmp_path / "demo/health").mkdir(parents=True)
    (tmp_path / "demo/health/demo-web").write_text("healthy\n")
    show = {"nspawn-demo-web.service": {"ActiveState": "active", "SubState": "running",
                                        "ActiveEnterTimestampMonotonic": "1000000", "NRestarts": "2"},
            "nspawn-demo-db.service": {"ActiveState": "failed", "SubState": "failed",
                                       "ActiveEnterTimestampMonotonic": "1000000"}}
    rows = status.collect(project, ["web", "db"], show=lambda units: {u: show[u] for u in units},
                          addresses=lambda m: ["10.1.2.3/24"], now_us=lambda: 3_725_000_000 + 1_000_000)
    web, db = rows
    assert (web.service, web.state, web.health, web.addresses, web.uptime_s, web.restarts) == \
        ("web", "active (running)", "healthy", ["10.1.2.3/24"], 3725, 2)
    assert web.ports == ["127.0.0.1:8080->80/tcp", "0.0.0.0:9090->90/tcp"]
    # Not running: no health verdict, no addresses, no uptime, whatever files remain.
    assert (db.state, db.health, db.addresses, db.uptime_s) == ("failed (failed)", "", [], None)
    table = status.format_table(rows).splitlines()
    assert table[0].split() == ["SERVICE", "MACHINE", "STATE", "HEALTH", "ADDRESSES", "PORTS", "UPTIME"]
    assert table[1].split()[0] == "web" and table[1].split()[-1] == "1h2m"
    assert table[2].split()[-1] == "-"
    decoded = json.loads(status.format_json(rows))
    assert decoded[0]["health"] == "healthy" and decoded[1]["uptime_s"] is None


def test_ps_health_is_starting_until_the_monitor_wrote_a_verdict(installed, tmp_path, monkeypatch):
    project = locate.load_installed("demo", read=reader(installed))
    monkeypatch.setattr(locate, "RUNTIME_ROOT", str(tmp_path))
    active = {"ActiveState": "active", "SubState": "running", "ActiveEnterTimestampMonotonic": "1"}
    rows = status.collect(project, ["web", "db"], show=lambda units: {u: active for u in units},
                          addresses=lambda m: None, now_us=lambda: 2)
    assert [r.health for r in rows] == ["starting", ""]     # db has no healthcheck


@pytest.mark.parametrize("seconds,text", [(None, "-"), (0, "0s"), (59, "59s"), (61, "1m1s"),
                                          (3600, "1h0m"), (90061, "1d1h")])
def test_human_duration(seconds, text):
    assert status.human_duration(seconds) == text


def test_systemctl_show_blocks_map_to_units():
    text = "Id=a.service\nActiveState=active\n\nId=b.service\nActiveState=inactive\n"
    proc = types.SimpleNamespace(returncode=0, stdout=text, stderr="")
    assert systemd.show(["a.service", "b.service"], run=lambda *a, **k: proc) == {
        "a.service": {"Id": "a.service", "ActiveState": "active"},
        "b.service": {"Id": "b.service", "ActiveState": "inactive"}}


# -- logs ----------------------------------------------------------------------------------------

def test_logs_prefix_each_line_with_its_service_and_replica(installed):
    project = locate.load_installed("demo", read=reader(installed))
    labels = logs.service_labels(project.machines)
    assert labels["nspawn-demo-worker-2.service"] == "worker-2" and labels["nspawn-demo-web.service"] == "web"
    entries = [{"_SYSTEMD_UNIT": "nspawn-demo-web.service", "MESSAGE": "hello"},
               {"_SYSTEMD_UNIT": "init.scope", "UNIT": "nspawn-demo-db.service", "MESSAGE": "Started x."},
               {"_SYSTEMD_UNIT": "nspawn-demo-web.service", "MESSAGE": list(b"caf\xc3\xa9 \xff")},
               {"_SYSTEMD_UNIT": "other.service", "MESSAGE": "not ours"}]
    out = [logs.format_entry(e, labels, 8) for e in entries]
    assert out == ["web      | hello", "db       | Started x.", "web      | café \ufffd", None]


def journal_line(unit, message, time_us, cursor):
    return json.dumps({"_SYSTEMD_UNIT": unit, "MESSAGE": message, "__REALTIME_TIMESTAMP": str(time_us),
                       "__CURSOR": cursor})


class FakeJournal:
    """journalctl -f: prints its lines, records its command line."""
    calls: list = []

    def __init__(self, cmd, **kwargs):
        FakeJournal.calls.append(cmd)
        self.stdout = io.StringIO(journal_line("nspawn-demo-db.service", "live", 9, "c9") + "\nnot json\n")

    def wait(self):
        return 0


def test_logs_without_tail_is_one_journalctl_for_all_units(installed):
    project = locate.load_installed("demo", read=reader(installed))
    FakeJournal.calls = []
    out = io.StringIO()
    assert logs.stream(project.machines_of(["db", "web"]), follow=True, tail=None, out=out, popen=FakeJournal) == 0
    assert out.getvalue() == "db  | live\n"
    cmd = FakeJournal.calls[0]
    assert cmd[0] == "journalctl" and cmd[-1] == "-f" and "-n" not in cmd
    assert [cmd[i + 1] for i, w in enumerate(cmd) if w == "-u"] == ["nspawn-demo-db.service", "nspawn-demo-web.service"]


def test_logs_tail_counts_per_service_and_follow_resumes_after_the_last_line(installed):
    project = locate.load_installed("demo", read=reader(installed))
    journal = {"nspawn-demo-db.service": [journal_line("nspawn-demo-db.service", "db old", 1, "c1"),
                                          journal_line("nspawn-demo-db.service", "db new", 5, "c5")],
               "nspawn-demo-web.service": [journal_line("nspawn-demo-web.service", "web", 3, "c3")]}
    queries = []

    def run(cmd, **kwargs):
        queries.append(cmd)
        unit = cmd[cmd.index("-u") + 1]
        n = int(cmd[cmd.index("-n") + 1])
        return types.SimpleNamespace(stdout="\n".join(journal[unit][-n:]) + "\n")

    out = io.StringIO()
    assert logs.stream(project.machines_of(["db", "web"]), follow=False, tail=1, out=out, run=run) == 0
    assert out.getvalue() == "web | web\ndb  | db new\n"          # one line each, in time order
    assert len(queries) == 2
    FakeJournal.calls = []
    out = io.StringIO()
    logs.stream(project.machines_of(["db", "web"]), follow=True, tail=2, out=out, run=run, popen=FakeJournal)
    assert out.getvalue() == "db  | db old\nweb | web\ndb  | db new\ndb  | live\n"
    follow = FakeJournal.calls[0]
    assert "--after-cursor=c5" in follow and "-n" not in follow and follow[-1] == "-f"


# -- images --------------------------------------------------------------------------------------

def test_images_in_use_by_installed_projects_or_mounts_are_kept(tmp_path, installed):
    config_root, images_dir = tmp_path / "etc", tmp_path / "images"
    project = locate.load_installed("demo", read=reader(installed))
    key = project.machines[0].image_key
    (config_root / "demo").mkdir(parents=True)
    unit = installed["/etc/systemd/system/nspawn-demo-web.service"]
    (config_root / "demo" / "nspawn-demo-web.service").write_text(unit)
    (config_root / "demo" / "installed-files").write_text(f"{config_root}/demo/nspawn-demo-web.service\n")
    for k in (key, "unused-1", "mounted-2"):
        (images_dir / k).mkdir(parents=True)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"1 2 0:1 / /m rw - overlay overlay rw,lowerdir={images_dir}/mounted-2/bundle-x/rootfs,upperdir=/u\n")
    assert images.mounted_keys(str(images_dir), str(mountinfo)) == {"mounted-2"}
    import unittest.mock as mock
    with mock.patch.object(images, "mounted_keys", lambda d: {"mounted-2"}):
        entries = images.list_images(str(images_dir), str(config_root), usage=lambda p: 2_500_000)
    assert sorted(e.key for e in entries) == sorted([key, "mounted-2", "unused-1"])
    by_key = {e.key: e for e in entries}
    assert by_key[key].used_by == ["demo"]
    assert by_key["mounted-2"].used_by == ["(mounted)"] and by_key["unused-1"].used_by == []
    removed = images.prune(entries, remove=lambda p: os.rename(p, p + ".removed") or True)
    assert "unused-1" in [e.key for e in removed] and "mounted-2" not in [e.key for e in removed]
    assert "2.5MB" in images.format_table(entries)


def test_images_used_by_an_installed_project(tmp_path, installed):
    config_root = tmp_path / "etc"
    (config_root / "demo").mkdir(parents=True)
    paths = []
    for path, content in installed.items():
        if path.startswith("/etc/systemd/system/nspawn-"):
            local = config_root / "demo" / os.path.basename(path)
            local.write_text(content)
            paths.append(str(local))
    (config_root / "demo" / "installed-files").write_text("".join(p + "\n" for p in paths))
    used = images.keys_in_use(str(config_root))
    assert list(used.values()) == [["demo"]] and next(iter(used)).startswith("busybox-latest-")


# -- command line --------------------------------------------------------------------------------

def parse(*argv):
    return cli.build_parser().parse_args(cli._normalize_argv(list(argv)))


def test_exec_keeps_the_command_options_for_the_command():
    args = parse("-p", "demo", "exec", "-u", "1:2", "-w", "/x", "-e", "A=1", "web", "sh", "-c", "exit 3")
    assert (args.verb, args.project_name, args.user, args.workdir, args.env, args.service, args.command) == \
        ("exec", "demo", "1:2", "/x", ["A=1"], "web", ["sh", "-c", "exit 3"])
    assert parse("exec", "web").command == []


def test_logs_f_is_follow_and_global_options_work_after_the_verb():
    args = parse("logs", "-f", "--tail", "10", "-p", "demo", "web", "db")
    assert (args.follow, args.tail, args.project_name, args.services) == (True, "10", "demo", ["web", "db"])
    args = parse("down", "--volumes", "--rmi", "-p", "demo")
    assert (args.volumes, args.rmi) == (True, "all")
    assert parse("up", "-d").detach is True
    assert parse("ps", "--format", "json").format == "json"


@pytest.mark.parametrize("value,expected", [(None, None), ("all", None), ("0", 0), ("25", 25)])
def test_tail_values(value, expected):
    assert verbs.parse_tail(value) == expected


def test_bad_tail_is_a_usage_error(capsys):
    assert cli.main(["-p", "demo", "logs", "--tail", "x"], environ={}) == 2
    assert "--tail wants a number" in capsys.readouterr().err


def test_a_verb_on_a_project_not_installed_exits_1_with_one_paragraph(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(locate, "CONFIG_ROOT", str(tmp_path))
    for verb in (["ps"], ["logs"], ["exec", "web", "true"], ["down"], ["stop", "web"], ["pull"]):
        assert cli.main(["-p", "nothere", *verb], environ={}) == 1, verb
        err = capsys.readouterr().err
        assert err.startswith("dekube-nspawn: error: project 'nothere' is not installed") and err.count("\n") == 1


def test_exec_knows_whether_the_user_switch_helpers_are_bound(installed):
    project = locate.load_installed("demo", read=reader(installed))
    db = project.machines_of(["db"])[0]
    assert machine_exec.machine_process(project, db, read=reader(installed))["helpers"] is False
    text = "[Exec]\nBoot=no\n[Files]\nBindReadOnly=/var/lib/dekube-nspawn/runtime:/run/dekube\n"
    assert machine_exec.machine_process(project, db, read=lambda p: text)["helpers"] is True


def test_prune_keeps_an_image_bootstrap_is_pulling(tmp_path):
    import fcntl
    busy, idle = tmp_path / "busy", tmp_path / "idle"
    for d in (busy, idle):
        (d / "oci").mkdir(parents=True)
    with open(busy / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # what bootstrap.sh's `flock "$lock"` holds
        assert images.remove_unless_locked(str(busy)) is False
        assert images.remove_unless_locked(str(idle)) is True
    assert busy.exists() and not idle.exists()


def test_up_counts_only_failed_units_as_not_up(monkeypatch):
    from dekube_nspawn.ops import lifecycle
    states = {"a.service": "active", "job.service": "inactive", "bad.service": "failed"}
    monkeypatch.setattr(systemd, "show", lambda units, props=(): {u: {"ActiveState": states[u]} for u in units})
    assert lifecycle.failed_units(list(states)) == {"bad.service": "failed"}


def test_start_stop_restart_name_the_units_or_the_whole_project(installed, monkeypatch):
    from dekube_nspawn.ops import lifecycle
    project = locate.load_installed("demo", read=reader(installed))
    calls = []
    monkeypatch.setattr(systemd, "systemctl", lambda *args: calls.append(args) or 0)
    lifecycle.control("restart", project, project.machines_of(["web"]))
    lifecycle.control("start", project, [])
    lifecycle.control("stop", project, [])
    assert calls[0] == ("restart", "nspawn-demo-web.service")
    assert calls[1] == ("start", "dekube-demo.target")
    # Stopping a target returns before its units are down: every installed unit is named.
    assert calls[2][0] == "stop" and set(calls[2][1:]) >= {"dekube-demo.target", "nspawn-demo-db.service",
                                                          "dekube-demo-web-health.service"}


def test_day2_verbs_on_a_named_project_need_only_the_standard_library(tmp_path):
    """Hosts run them with a plain python3: no yaml, jinja2 or jsonschema is imported."""
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from dekube_nspawn.cli import main\n"
            "for verb in (['ps'], ['logs'], ['exec', 'a', 'b'], ['down'], ['stop'], ['pull']):\n"
            "    assert main(['-p', 'nothere', *verb]) == 1\n"
            "main(['images'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'jinja2', 'jsonschema')))")
    proc = subprocess.run([sys.executable, "-S", "-c", code, repo], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def test_up_with_p_and_no_compose_file_starts_the_installed_project(installed, tmp_path, monkeypatch):
    from dekube_nspawn.ops import lifecycle
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(locate, "_read", reader(installed))
    monkeypatch.setattr(locate, "load_installed",
                        lambda name, config_root=None, read=None, _load=locate.load_installed:
                        _load(name, config_root, reader(installed)))
    started = []
    monkeypatch.setattr(lifecycle, "up_installed", lambda project, args: started.append((project.name, args)))
    assert cli.main(["-p", "demo", "up", "-d", "--pull"], environ={}) == 0
    assert started == [("demo", ["--pull"])]
    # Not named: the missing compose file is the error.
    assert cli.main(["up"], environ={}) == 1


def test_up_recreates_only_running_machines_whose_definition_changed():
    from dekube_nspawn.ops import lifecycle
    before = {"a.service": "1", "b.service": "2", "new.service": None, "stopped.service": "3"}
    after = {"a.service": "1", "b.service": "changed", "new.service": "4", "stopped.service": "changed"}
    states = {u: {"ActiveState": "active"} for u in before} | {"stopped.service": {"ActiveState": "inactive"}}
    assert lifecycle.changed_machines(before, after, states) == ["b.service"]


def test_machine_fingerprint_covers_unit_nspawn_and_env_file(installed):
    from dekube_nspawn.ops import lifecycle
    tree = {f"/etc/systemd/system/nspawn-demo-db.service": installed["/etc/systemd/system/nspawn-demo-db.service"],
            "/etc/systemd/nspawn/demo-db.nspawn": installed["/etc/systemd/nspawn/demo-db.nspawn"]}

    def fingerprint():
        return lifecycle.machine_fingerprint("nspawn-demo-db.service",
                                             read=lambda p: tree[p].encode() if p in tree else None)
    first = fingerprint()
    assert first == fingerprint()
    tree["/etc/systemd/nspawn/demo-db.nspawn"] += "Environment=NEW=1\n"
    assert fingerprint() != first
    assert lifecycle.machine_fingerprint("nspawn-nothere.service", read=lambda p: None) is None


def test_up_stops_the_units_a_new_conversion_no_longer_has():
    from dekube_nspawn.ops import lifecycle
    installed_units = ["dekube-p.target", "nspawn-p-a.service", "nspawn-p-gone.service",
                       "dekube-p-gone-tcp-80.socket", "dekube-p-gone-tcp-80.service"]
    output = ["dekube-p.target", "nspawn-p-a.service", "p-a.nspawn", "install.sh"]
    assert lifecycle.orphans(installed_units, output) == [
        "dekube-p-gone-tcp-80.service", "dekube-p-gone-tcp-80.socket", "nspawn-p-gone.service"]


def test_orphan_layers_are_removed_unless_still_mounted(tmp_path):
    from dekube_nspawn.ops import lifecycle
    for m in ("p-gone", "p-kept"):
        (tmp_path / "machines" / m / "upper").mkdir(parents=True)
    lifecycle.remove_machine_layers(str(tmp_path), ["p-gone", "p-never-existed"])
    assert sorted(os.listdir(tmp_path / "machines")) == ["p-kept"]
