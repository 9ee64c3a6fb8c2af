"""Issue #4 scenarios: the unmodified output of `dekube-nspawn compose.yml --output-dir out`,
installed, bootstrapped and started in a booted systemd host, observed from outside.

Each test gets a fresh host (`fresh_host`), so a broken scenario cannot leak into the next one.
"""
from __future__ import annotations

import pathlib
import re
import time

import pytest

import images
from deploy import Deployment, convert, deploy, write_project

pytestmark = pytest.mark.e2e

BUSYBOX = images.BUSYBOX_IMAGE.reference
HTTPD = images.HTTPD_IMAGE.reference
DEFAULTS = images.DEFAULTS_IMAGE.reference
NOPASSWD = images.NOPASSWD_IMAGE.reference
# Stays up and stops at once on SIGTERM (a plain `sleep` as PID 1 ignores it, as under Docker).
SLEEP = '["sh", "-c", "trap \'exit 0\' TERM; sleep 2147483647 & wait"]'


@pytest.fixture
def project(fresh_host, tmp_path):
    """`project(compose_text, files={...})` -> an installed, bootstrapped, started Deployment."""
    def make(compose_text: str, files: dict[str, str] | None = None, name: str = "proj",
             start: bool = True, convert_args: tuple[str, ...] = ()) -> Deployment:
        directory = write_project(tmp_path / name, compose_text, files)
        # --resolve-images asks the registry, which only the test host reaches.
        dep = deploy(fresh_host, directory, name, *convert_args, in_host="--resolve-images" in convert_args)
        if start:
            dep.up()
        return dep
    return make


def started(dep: Deployment, service: str) -> int:
    """When systemd began starting the unit (µs, monotonic): after every After= dependency."""
    return dep.host.unit_timestamp(dep.unit(service), "InactiveExitTimestamp")


def active_since(dep: Deployment, service: str) -> int:
    return dep.host.unit_timestamp(dep.unit(service), "ActiveEnterTimestamp")


# busybox 1.35 (busybox-static) wget segfaults with -T: bound it with `timeout` instead.
WGET = ["timeout", "10", "wget", "-q", "-O", "-"]


def fetch(dep: Deployment, service: str, url: str, check: bool = True):
    result = dep.exec(service, ["/bin/busybox", *WGET, url], check=check)
    return result.stdout if check else result


def report(dep: Deployment, service: str, timeout: float = 20) -> dict[str, str]:
    """The last DKREPORT block the show-process payload of `images.py` wrote to the journal."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line[len("DKREPORT "):] for line in dep.host.journal(dep.unit(service), output="cat").splitlines()
                 if line.startswith("DKREPORT ")]
        if len(lines) >= 5:
            return dict(line.split(" ", 1) if " " in line else (line, "") for line in lines[-5:])
        if time.monotonic() > deadline:
            raise AssertionError(f"no report from {service}:\n{dep.journal(service)[-3000:]}")
        time.sleep(0.2)


def nul_list(hex_text: str) -> list[bytes]:
    return bytes.fromhex(hex_text).split(b"\0")[:-1]


# -- 1 ---------------------------------------------------------------------------------------


def test_clients_reach_a_server_by_name_alias_and_container_name_in_depends_on_order(project):
    dep = project(f"""
services:
  web:
    image: {HTTPD}
    container_name: frontdoor
    networks:
      default:
        aliases: [www]
  api:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on: [web]
  client:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on: [api]
""")
    dep.host.wait_active(dep.units("web", "api", "client"), timeout=60)
    for name in ("web", "www", "frontdoor"):
        assert fetch(dep, "client", f"http://{name}/") == images.INDEX_HTML, name
    assert active_since(dep, "web") <= started(dep, "api")
    assert active_since(dep, "api") <= started(dep, "client")


# -- 2 ---------------------------------------------------------------------------------------


def test_service_healthy_holds_dependents_until_the_check_passes(project):
    dep = project(f"""
services:
  db:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; sleep 2147483647 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 1s
      retries: 30
  app:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on:
      db: {{condition: service_healthy}}
  sick:
    image: {BUSYBOX}
    command: {SLEEP}
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      timeout: 1s
      retries: 2
  blocked:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on:
      sick: {{condition: service_healthy}}
""", start=False)
    dep.install()
    dep.bootstrap()
    dep.host.run(["systemctl", "start", dep.target], check=False, timeout=120)
    dep.host.wait_active(dep.units("db", "app"), timeout=60)
    # app started only after db had been up for the 3 s its check needs to pass.
    assert started(dep, "app") - started(dep, "db") >= 3_000_000
    assert active_since(dep, "db") <= started(dep, "app")
    # A check that never passes: the dependent never starts.
    time.sleep(5)
    assert dep.host.unit_state(dep.unit("blocked")) != "active"
    assert dep.host.unit_timestamp(dep.unit("blocked"), "ExecMainStartTimestamp") == 0


# -- 3 ---------------------------------------------------------------------------------------


def test_service_completed_successfully_runs_init_jobs_first_and_a_failing_one_blocks(project):
    dep = project(f"""
services:
  init:
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 1; echo initialised > /data/marker"]
    volumes: [shared:/data]
  app:
    image: {BUSYBOX}
    command: {SLEEP}
    volumes: [shared:/data]
    depends_on:
      init: {{condition: service_completed_successfully}}
  badinit:
    image: {BUSYBOX}
    command: ["sh", "-c", "exit 3"]
  blocked:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on:
      badinit: {{condition: service_completed_successfully}}
volumes:
  shared:
""", start=False)
    dep.install()
    dep.bootstrap()
    dep.host.run(["systemctl", "start", dep.target], check=False, timeout=120)
    dep.host.wait_active(dep.unit("app"), timeout=60)
    assert dep.exec("app", ["/bin/cat", "/data/marker"]).stdout == "initialised\n"
    init_exit = dep.host.unit_timestamp(dep.unit("init"), "ExecMainExitTimestamp")
    assert 0 < init_exit <= started(dep, "app")
    assert dep.host.unit_property(dep.unit("init"), "ExecMainStatus") == "0"
    assert dep.host.unit_state(dep.unit("badinit")) == "failed"
    assert dep.host.unit_state(dep.unit("blocked")) != "active"
    assert dep.host.unit_timestamp(dep.unit("blocked"), "ExecMainStartTimestamp") == 0


# -- 4 ---------------------------------------------------------------------------------------


def test_published_ports_on_loopback_and_all_addresses_reach_the_container(project):
    dep = project(f"""
services:
  web:
    image: {HTTPD}
    ports:
      - "127.0.0.1:18081:80"
      - "0.0.0.0:18082:80"
  client:
    image: {BUSYBOX}
    command: {SLEEP}
""")
    dep.host.wait_active(dep.units("web", "client"), timeout=60)
    wget = ["busybox", *WGET]
    assert dep.host.run([*wget, "http://127.0.0.1:18081/"]).stdout == images.INDEX_HTML
    assert dep.host.run([*wget, "http://127.0.0.1:18082/"]).stdout == images.INDEX_HTML
    # 0.0.0.0 also means the host's other addresses: another machine reaches it on its gateway.
    gateway = dep.exec("client", "ip route | awk '/^default/ {print $3}'").stdout.strip()
    assert gateway
    assert fetch(dep, "client", f"http://{gateway}:18082/") == images.INDEX_HTML
    # ...but not the loopback-only one.
    assert fetch(dep, "client", f"http://{gateway}:18081/", check=False).returncode != 0


# -- 5 ---------------------------------------------------------------------------------------


@pytest.fixture(params=[(), ("--resolve-images",)], ids=["merged-by-bootstrap", "resolved-at-conversion"])
def image_defaults_project(project, request):
    """Without --resolve-images bootstrap.sh merges image and compose; with it, the converter."""
    return project(convert_args=request.param, compose_text=f"""
services:
  plain:
    image: {DEFAULTS}
  command:
    image: {DEFAULTS}
    command: ["over", "ride"]
  entrypoint:
    image: {DEFAULTS}
    entrypoint: ["/usr/local/bin/show-process", "new-entrypoint"]
  env:
    image: {DEFAULTS}
    environment:
      SHARED: compose
      ADDED: "1"
    working_dir: /tmp
    user: "0"
  numeric:
    image: {NOPASSWD}
    user: "1000:1000"
""")


SHOW_PROCESS = b"/usr/local/bin/show-process"


def test_image_entrypoint_cmd_env_workdir_user_apply(image_defaults_project):
    plain = report(image_defaults_project, "plain")
    assert nul_list(plain["cmdline"]) == [b"/bin/sh", SHOW_PROCESS, b"from-entrypoint", b"from-cmd", b"second cmd arg"]
    env = nul_list(plain["environ"])
    assert b"IMAGE_ENV=from image" in env and b"SHARED=image" in env
    assert b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in env
    assert (plain["cwd"], plain["uid"]) == ("/srv/work", "1234")


def test_image_user_by_name_gets_the_primary_group_of_its_passwd_entry(image_defaults_project):
    """Docker: `USER app` runs with app's uid and the gid of app's passwd entry (1234 here)."""
    assert report(image_defaults_project, "plain")["gid"] == "1234"


def test_compose_overrides_follow_compose_rules(image_defaults_project):
    dep = image_defaults_project
    # compose `command` replaces CMD and keeps ENTRYPOINT.
    assert nul_list(report(dep, "command")["cmdline"]) == [b"/bin/sh", SHOW_PROCESS, b"from-entrypoint", b"over", b"ride"]
    # compose `entrypoint` drops the image's CMD.
    assert nul_list(report(dep, "entrypoint")["cmdline"]) == [b"/bin/sh", SHOW_PROCESS, b"new-entrypoint"]
    overridden = report(dep, "env")
    env = nul_list(overridden["environ"])
    assert b"SHARED=compose" in env and b"SHARED=image" not in env
    assert b"ADDED=1" in env and b"IMAGE_ENV=from image" in env
    assert (overridden["cwd"], overridden["uid"]) == ("/tmp", "0")


def test_numeric_user_runs_on_an_image_without_passwd_or_getent(image_defaults_project):
    numeric = report(image_defaults_project, "numeric")
    assert (numeric["uid"], numeric["gid"]) == ("1000", "1000")


# -- 6 ---------------------------------------------------------------------------------------


def test_volumes_named_survives_restart_relative_bind_tmpfs_and_read_only(project):
    dep = project(f"""
services:
  app:
    image: {BUSYBOX}
    command: {SLEEP}
    volumes:
      - data:/data
      - ./site:/site
      - ./conf:/conf:ro
      - type: tmpfs
        target: /scratch
volumes:
  data:
""", files={"site/hello.txt": "from the host\n", "conf/app.conf": "setting=1\n"})
    dep.host.wait_active(dep.unit("app"), timeout=60)
    dep.exec("app", "echo persisted > /data/file && echo written-inside > /site/new.txt")
    assert dep.exec("app", ["/bin/cat", "/site/hello.txt"]).stdout == "from the host\n"
    assert dep.host.read_file(f"{dep.project_dir}/site/new.txt") == b"written-inside\n"
    assert dep.exec("app", "echo x > /conf/app.conf", check=False).returncode != 0
    assert dep.exec("app", ["/bin/cat", "/conf/app.conf"]).stdout == "setting=1\n"
    mounts = dep.exec("app", ["/bin/cat", "/proc/mounts"]).stdout
    assert re.search(r"^\S+ /scratch tmpfs ", mounts, re.M), mounts
    dep.exec("app", "echo gone-after-restart > /scratch/file")

    dep.host.run(["systemctl", "restart", dep.unit("app")], timeout=60)
    dep.host.wait_active(dep.unit("app"), timeout=60)
    assert dep.exec("app", ["/bin/cat", "/data/file"]).stdout == "persisted\n"
    assert dep.exec("app", "test -e /scratch/file", check=False).returncode != 0


# -- 7 ---------------------------------------------------------------------------------------


def test_secrets_and_configs_appear_at_their_targets_with_content_and_mode(project):
    dep = project(f"""
services:
  app:
    image: {BUSYBOX}
    command: {SLEEP}
    secrets:
      - db_password
      - source: api_key
        target: /etc/app/key
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app/app.conf
        mode: 0444
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    file: ./api_key.txt
configs:
  app_conf:
    content: |
      inline config
""", files={"db_password.txt": "s3cret\n", "api_key.txt": "key-123"})
    dep.host.wait_active(dep.unit("app"), timeout=60)
    stat = ["/bin/stat", "-c", "%a"]
    assert dep.exec("app", ["/bin/cat", "/run/secrets/db_password"]).stdout == "s3cret\n"
    assert dep.exec("app", ["/bin/cat", "/etc/app/key"]).stdout == "key-123"
    assert dep.exec("app", [*stat, "/etc/app/key"]).stdout.strip() == "400"
    assert dep.exec("app", ["/bin/cat", "/etc/app/app.conf"]).stdout == "inline config\n"
    assert dep.exec("app", [*stat, "/etc/app/app.conf"]).stdout.strip() == "444"


# -- 8 ---------------------------------------------------------------------------------------

# Every value nspawn's settings syntax can carry (field notes): spaces, one kind of quote,
# `$`, `%`, backslashes, globs, shell syntax, a leading dash, non-ASCII.
HOSTILE = [
    "two  spaces", "it's", 'say "hi"', "$HOME ${PATH} $$ %h %%", "back\\slash\\n", "*.txt ?",
    "; rm -rf / #", "-n", "ünïcødé ✓", "tab\there", "",
]


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar: backslash, quote, tab and newline escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n") + '"'


def test_hostile_environment_and_command_values_reach_the_process_byte_exact(project):
    env = {f"HOSTILE_{i}": v for i, v in enumerate(HOSTILE)}
    # `$$` is compose's escape for a literal `$` (values are interpolated).
    env_yaml = "\n".join(f"      {k}: {_yaml_str(v.replace('$', '$$'))}" for k, v in env.items())
    command = ", ".join(_yaml_str(v.replace("$", "$$")) for v in HOSTILE)
    dep = project(f"""
services:
  app:
    image: {NOPASSWD}
    command: ["/usr/local/bin/show-process", {command}]
    environment:
{env_yaml}
""")
    got = report(dep, "app")
    assert nul_list(got["cmdline"])[2:] == [v.encode() for v in HOSTILE]
    environ = nul_list(got["environ"])
    for k, v in env.items():
        assert f"{k}={v}".encode() in environ, (k, v)


# Values a .nspawn file cannot carry (field notes): both quote kinds, a line break. Environment
# values go to a root-only EnvironmentFile when the image's config is known (--resolve-images)
# and must arrive byte-exact; otherwise, and for command words, the converter refuses clearly.
UNCARRIABLE = ["it's \"both\"", "line one\nline two", "\"'", "trailing newline\n"]


def _uncarriable_project(tmp_path, key: str) -> pathlib.Path:
    return write_project(tmp_path / "proj", f"""
services:
  app:
    image: {NOPASSWD}
    {key}
""")


@pytest.mark.parametrize("key, where, args", [
    (f"environment: {{BOTH: {_yaml_str(UNCARRIABLE[0])}}}", r"services\.app\.environment\.BOTH", ()),
    (f"command: [{_yaml_str(UNCARRIABLE[0])}]", r"services\.app\.command", ()),
    (f"command: [{_yaml_str(UNCARRIABLE[1])}]", r"services\.app\.command", ()),
])
def test_values_a_settings_file_cannot_carry_are_refused_naming_the_key(tmp_path, key, where, args):
    directory = _uncarriable_project(tmp_path, key)
    with pytest.raises(AssertionError, match=where):
        convert(directory / "compose.yml", directory / "out", *args)


def test_environment_values_a_settings_file_cannot_carry_arrive_byte_exact_with_resolved_images(project):
    env = {f"HARD_{i}": v for i, v in enumerate(UNCARRIABLE)}
    env_yaml = "\n".join(f"      {k}: {_yaml_str(v)}" for k, v in env.items())
    dep = project(f"""
services:
  app:
    image: {NOPASSWD}
    environment:
{env_yaml}
""", convert_args=("--resolve-images",))
    environ = nul_list(report(dep, "app")["environ"])
    for k, v in env.items():
        assert f"{k}={v}".encode() in environ, (k, v)


# -- 9 ---------------------------------------------------------------------------------------


def test_restart_policies(project):
    dep = project(f"""
services:
  flaky:
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 1; exit 1"]
    restart: on-failure
  never:
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 1; exit 1"]
    restart: "no"
  forever:
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 1; exit 0"]
    restart: always
""", start=False)
    dep.install()
    dep.bootstrap()
    dep.host.run(["systemctl", "start", dep.target], check=False, timeout=60)
    time.sleep(8)
    restarts = {s: int(dep.host.unit_property(dep.unit(s), "NRestarts") or 0) for s in ("flaky", "never", "forever")}
    assert restarts["flaky"] >= 2, restarts
    assert restarts["forever"] >= 2, restarts
    assert restarts["never"] == 0, restarts
    assert dep.host.unit_state(dep.unit("never")) in ("failed", "inactive")


# -- 10 --------------------------------------------------------------------------------------


def _leftovers(host) -> dict[str, str]:
    mounts = [line for line in host.run(["cat", "/proc/self/mountinfo"]).stdout.splitlines()
              if "/var/lib/dekube-nspawn/" in line.split()[4]]
    return {
        "netns": host.run(["ip", "netns", "list"]).stdout.strip(),
        "veth": host.run(["ip", "-o", "link", "show", "type", "veth"]).stdout.strip(),
        "nspawn": host.run(["pgrep", "-a", "systemd-nspawn"], check=False).stdout.strip(),
        "mounts": "\n".join(mounts),
        "sockets": host.run("ss -Htln | grep -E ':1808[0-9] ' || true").stdout.strip(),
    }


def test_stop_leaves_nothing_behind(project):
    dep = project(f"""
services:
  web:
    image: {HTTPD}
    ports: ["127.0.0.1:18083:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
  client:
    image: {BUSYBOX}
    command: {SLEEP}
    depends_on:
      web: {{condition: service_healthy}}
""")
    dep.host.wait_active(dep.units("web", "client"), timeout=60)
    assert _leftovers(dep.host)["netns"]  # sanity: there was something to clean up
    t0 = time.monotonic()
    dep.stop(timeout=60)
    stop_seconds = time.monotonic() - t0
    assert _leftovers(dep.host) == dict.fromkeys(_leftovers(dep.host), "")
    assert stop_seconds < 15, f"stopping took {stop_seconds:.1f}s (a payload ignoring its stop signal?)"


# -- 11 --------------------------------------------------------------------------------------


def test_two_services_on_one_image_have_separate_writable_layers_unpacked_once(project):
    dep = project(f"""
services:
  one:
    image: {BUSYBOX}
    command: {SLEEP}
  two:
    image: {BUSYBOX}
    command: {SLEEP}
""")
    dep.host.wait_active(dep.units("one", "two"), timeout=60)
    dep.exec("one", "echo one > /etc/who")
    assert dep.exec("two", "test -e /etc/who", check=False).returncode != 0
    dep.exec("two", "echo two > /etc/who")
    assert dep.exec("one", ["/bin/cat", "/etc/who"]).stdout == "one\n"
    bundles = dep.host.run("ls -d /var/lib/dekube-nspawn/images/*/bundle-*").stdout.split()
    assert len(bundles) == 1, bundles
    assert dep.host.run(["test", "-e", f"{bundles[0]}/rootfs/etc/who"], check=False).returncode != 0


# -- 12 --------------------------------------------------------------------------------------


def test_bootstrap_rerun_is_a_fast_no_op(project):
    dep = project(f"""
services:
  one:
    image: {BUSYBOX}
    command: {SLEEP}
  web:
    image: {HTTPD}
""", start=False)
    dep.install()
    dep.bootstrap()
    # Every path, inode and mtime under the images; the flock files are opened for writing on
    # each run by design (one bootstrap at a time per image) and are left out.
    listing = "find /var/lib/dekube-nspawn/images -not -name .lock -printf '%p %i %T@\\n' | sort"
    before = dep.host.run(listing).stdout
    t0 = time.monotonic()
    dep.bootstrap()
    rerun = time.monotonic() - t0
    assert dep.host.run(listing).stdout == before
    assert rerun < 5, f"bootstrap re-run took {rerun:.1f}s"


# -- 13 --------------------------------------------------------------------------------------

SNAPSHOT = ("find /etc /usr /run/netns /run/systemd/nspawn /run/dekube-nspawn /var/lib/dekube-nspawn "
            "-xdev -printf '%p %y %m\\n' 2>/dev/null | grep -v '^/etc/ld.so.cache ' | sort")

# What may stay after `uninstall.sh --volumes --images`: state shared with other projects on the
# host, none of it naming this project.
SHARED_LEFTOVERS = re.compile("|".join([
    r"/etc/dekube-nspawn d", r"/etc/systemd/nspawn d", r"/run/dekube-nspawn d",     # empty parents
    r"/run/netns d", r"/run/systemd/nspawn(/locks|/propagate)? d",                  # made by ip/nspawn
    r"/var/lib/dekube-nspawn/runtime(/.*)? [df]",                                   # setpriv helpers
    # install.sh enables systemd-networkd for the bridges; other things may rely on it since.
    r"/etc/systemd/system/dbus-org\.freedesktop\.network1\.service l",
    r"/etc/systemd/system/network-online\.target\.wants(/systemd-networkd-wait-online\.service)? [dl]",
    r"/etc/systemd/system/sysinit\.target\.wants/systemd-network-generator\.service l",
]))


def test_uninstall_removes_exactly_what_install_put_in_place(project):
    compose = f"""
services:
  web:
    image: {HTTPD}
    ports: ["127.0.0.1:18084:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
  client:
    image: {BUSYBOX}
    command: {SLEEP}
    volumes: [data:/data]
    depends_on:
      web: {{condition: service_healthy}}
volumes:
  data:
"""
    dep = project(compose, start=False)
    host = dep.host
    before = host.run(SNAPSHOT).stdout
    dep.up()
    host.wait_active(dep.units("web", "client"), timeout=60)
    dep.stop()
    dep.uninstall("--volumes", "--images")
    after = host.run(SNAPSHOT).stdout
    extra = sorted(line for line in set(after.splitlines()) - set(before.splitlines())
                   if not SHARED_LEFTOVERS.fullmatch(line.rsplit(" ", 1)[0]))
    missing = sorted(set(before.splitlines()) - set(after.splitlines()))
    assert (extra, missing) == ([], []), f"left behind: {extra}\nremoved: {missing}"
    assert host.unit_state(dep.target) == "inactive"
    assert host.run(["systemctl", "cat", dep.target], check=False).returncode != 0
