"""escape.py: each function's output read back by the real consumer (systemd-nspawn for .nspawn
words and paths, systemd-analyze verify for unit lines), byte-exact or refused with a
ConversionError; never an extra line, option or argument."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import consumers
from dekube_nspawn import escape
from dekube_nspawn.errors import ConversionError

# Printable ASCII (both quote kinds, `$`, `%`, `\`, `;`, `#`, `-`...), whitespace and some non-ASCII.
chars = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(
    ["\t", "\n", "é", "€", "😀", '"', "'", "\\", "$", "%", ";", "-", " "])
values = st.text(alphabet=chars, max_size=24)
tricky = st.sampled_from(["", " ", "-x", "--help", "a b", "$HOME", "${X}", "%n", "%%", "\\", "a\\",
                          "\\\\", ";", " ; ", "#c", "'", '"', "x'y", 'x"y', "a\tb", "\\x41",
                          "$$", "@", "!", "-@:+!"])
word_lists = st.lists(values | tricky, min_size=1, max_size=6)

needs_root = pytest.mark.skipif(bool(consumers.tools_available()),
                                reason=f"needs {consumers.tools_available()}")


# --------------------------------------------------------------------------------------------
# pure behaviour

# Each fast path (one regex match for the common case) must answer exactly what the full checks
# answer: compared with the fast regex disabled, on values from the same alphabet plus controls.
FAST_PATHS = [
    (escape.unit_text, "_PLAIN_TEXT"), (escape.nspawn_word, "_NSPAWN_DOUBLE_QUOTABLE"),
    (escape.nspawn_path, "_PLAIN_PATH"), (escape.nspawn_value, "_PLAIN_VALUE"),
    (escape.hosts_name, "_PLAIN_HOST_NAME"),
]
fast_values = st.text(alphabet=chars | st.sampled_from(["\x00", "\r", "\x1b", "\x7f", "/", ":", "#"]),
                      max_size=16) | tricky | st.from_regex(r"/[a-z0-9_./@+=,~:-]{0,12}", fullmatch=True)


def _outcome(function, value):
    try:
        return ("ok", function(value, ("k",)))
    except ConversionError as e:
        return ("refused", str(e))


@pytest.mark.parametrize("function, fast", FAST_PATHS, ids=[f.__name__ for f, _ in FAST_PATHS])
@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=fast_values)
def test_fast_path_answers_as_the_full_checks(function, fast, value, monkeypatch):
    with_fast = _outcome(function, value)
    import re
    monkeypatch.setattr(escape, fast, re.compile(r"(?!)"))     # never matches
    try:
        assert _outcome(function, value) == with_fast
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("function", [escape.shell_quote, escape.unit_exec_word, escape.nspawn_word,
                                      escape.nspawn_path, escape.nspawn_value, escape.unit_text])
@pytest.mark.parametrize("value", ["\x00", "a\x00", "/x\x00", "plain\x00word"])
def test_nul_is_refused_before_or_after_any_fast_path(function, value):
    with pytest.raises(ConversionError):
        function(value)


@settings(max_examples=500, derandomize=True)
@given(words=st.lists(fast_values, max_size=5))
def test_exec_line_fast_path_answers_as_word_by_word(words):
    argv = ["/usr/bin/tool"] + words
    with_fast = _outcome(lambda a, k: escape.unit_exec_line(a, k), argv)
    slow = _outcome(lambda a, k: " ".join([a[0]] + [escape.unit_exec_word(w, k) for w in a[1:]]), argv)
    assert with_fast == slow


@settings(max_examples=500, derandomize=True)
@given(value=fast_values)
def test_fits_nspawn_word_is_nspawn_word_accepting(value):
    assert escape.fits_nspawn_word(value) == (_outcome(escape.nspawn_word, value)[0] == "ok")


def test_nspawn_word_picks_the_absent_quote_kind():
    assert escape.nspawn_word("a b") == '"a b"'
    assert escape.nspawn_word('say "hi"') == "'say \"hi\"'"
    with pytest.raises(ConversionError, match="both quote kinds"):
        escape.nspawn_word("it's \"x\"")
    with pytest.raises(ConversionError, match="line break"):
        escape.nspawn_word("a\nb")


def test_unit_exec_word_quotes_only_what_systemd_would_interpret():
    assert escape.unit_exec_word("--machine=a-b") == "--machine=a-b"
    assert escape.unit_exec_word("$HOME") == '"$$HOME"'
    assert escape.unit_exec_word("50%") == '"50%%"'
    assert escape.unit_exec_word("a\nb") == '"a\\nb"'
    assert escape.unit_exec_word("") == '""'
    assert escape.unit_exec_word(";") == '";"'


def test_unit_exec_line_refuses_an_untrusted_executable():
    for bad in ("-/bin/sh", "sh", "/bin/s h", "@/bin/sh", "/bin/../sh"):
        with pytest.raises(ConversionError):
            escape.unit_exec_line([bad, "x"])


def test_unit_text_never_continues_the_line():
    assert escape.unit_text("a \n b") == "a b"
    assert not escape.unit_text("ends with \\").endswith("\\")
    assert escape.unit_text("100%") == "100%%"


def test_nspawn_path_escapes_the_separator():
    assert escape.nspawn_path("/srv/a:b\\c") == "/srv/a\\:b\\\\c"
    for bad in ("relative", "/x\n", "/trailing "):
        with pytest.raises(ConversionError):
            escape.nspawn_path(bad)


def test_unit_environment_refuses_names_systemd_ignores():
    with pytest.raises(ConversionError):
        escape.unit_environment("A-B", "x")
    with pytest.raises(ConversionError):
        escape.unit_environment("A", "x\x01")


@given(st.text())
def test_shell_quote_round_trips_through_sh(value):
    if "\x00" in value:
        with pytest.raises(ConversionError):
            escape.shell_quote(value)
        return
    try:
        value.encode()
    except UnicodeEncodeError:
        return
    out = subprocess.run(["sh", "-c", "printf %s " + escape.shell_quote(value)],
                         capture_output=True).stdout
    assert out == value.encode()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
@pytest.mark.parametrize("value", ["value-types-a", "a-b", "x-1-y", "--flag", "web"])
def test_shell_quoted_assignments_are_shellcheck_clean(value, tmp_path):
    # An unquoted `X=value-types-a` is read by shellcheck as arithmetic (SC2100).
    script = tmp_path / "assign.sh"
    script.write_text(f'#!/bin/bash\nX={escape.shell_quote(value)}\necho "$X"\n')
    result = subprocess.run(["shellcheck", "-S", "style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# --------------------------------------------------------------------------------------------
# .nspawn: systemd-nspawn reads the words back


def _accepted(value: str, quoting) -> bool:
    try:
        quoting(value)
        return True
    except ConversionError:
        return False


@pytest.fixture(scope="module")
def rootfs():
    if consumers.tools_available():
        pytest.skip(f"needs {consumers.tools_available()}")
    return consumers.busybox_rootfs(pathlib.Path(tempfile.mkdtemp(prefix="dekube-escape-")))


def _run_settings(rootfs, text: str):
    settings_file = pathlib.Path(tempfile.mkdtemp(prefix="dekube-escape-")) / "esc-test.nspawn"
    settings_file.write_text(text)
    r = consumers.run_nspawn(rootfs, settings_file, "esc-test")
    return r


@needs_root
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=word_lists, env_values=word_lists)
def test_nspawn_parameters_and_environment_read_back_exactly(rootfs, words, env_values):
    refused = [w for w in words + env_values if not _accepted(w, escape.nspawn_word)]
    for w in refused:   # refusals are exactly what the format cannot carry
        assert "\n" in w or ('"' in w and "'" in w)
    words = [w for w in words if w not in refused]
    env_values = [v for v in env_values if v not in refused]
    params = " ".join(escape.nspawn_word(w) for w in ["/bin/show"] + words)
    env_lines = "".join(f"Environment={escape.nspawn_word(f'T_{i}={v}')}\n"
                        for i, v in enumerate(env_values))
    text = f"[Exec]\nBoot=no\nParameters={params}\n{env_lines}PrivateUsers=no\n"
    r = _run_settings(rootfs, text)
    assert r.returncode == 0, r.stderr
    assert "esc-test.nspawn:" not in r.stderr, r.stderr
    argv_part, _, env_part = r.stdout.encode("utf-8", "surrogateescape").partition(b"\x01")
    argv = argv_part.split(b"\x00")[:-1]
    assert argv == [w.encode() for w in words]
    env = {}
    for item in env_part.split(b"\x00"):
        name, _, value = item.partition(b"=")
        env[name] = value
    for i, v in enumerate(env_values):
        assert env[f"T_{i}".encode()] == v.encode()
    assert {n for n in env if n.startswith(b"T_")} == {f"T_{i}".encode() for i in range(len(env_values))}


def _bind_round_trip(name: str):
    """Bind /srv/esc-src-NAME at /mnt/NAME and a tmpfs at /tmp/NAME; the machine lists what it sees."""
    rootfs = consumers.busybox_rootfs(pathlib.Path(tempfile.mkdtemp(prefix="dekube-escape-")))
    source = f"/srv/esc-src-{name}"
    target = f"/mnt/{name}"
    text = ("[Exec]\nBoot=no\nPrivateUsers=no\n"
            "Parameters=/bin/sh -c 'find /mnt /tmp -mindepth 1 -maxdepth 1; "
            "for d in /mnt/* /mnt/.[!.]*; do [ -f \"$d/marker\" ] && cat \"$d/marker\"; done; true'\n"
            "[Files]\n"
            f"BindReadOnly={escape.nspawn_path(source)}:{escape.nspawn_path(target)}\n"
            f"TemporaryFileSystem={escape.nspawn_path('/tmp/' + name)}:mode=0700\n")
    settings_file = pathlib.Path(tempfile.mkdtemp(prefix="dekube-escape-")) / "esc-bind.nspawn"
    settings_file.write_text(text)
    # The consumer script creates the missing source directory; put a marker in it first.
    script = (f"mkdir -p {escape.shell_quote(source)} && echo ok > {escape.shell_quote(source + '/marker')}"
              f" && exec \"$@\"")
    r = subprocess.run(["unshare", "-m", "bash", "-c", consumers._OVERLAYS + script, "x",
                        "bash", "-c", consumers._NSPAWN_SCRIPT, "check", str(rootfs), str(settings_file),
                        "esc-bind"], capture_output=True, timeout=60)
    # /mnt and /tmp of the machine hold exactly the one entry each, named exactly.
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"/mnt/{name}\n/tmp/{name}\nok\n".encode(), (r.stdout, r.stderr)
    assert b"esc-bind.nspawn:" not in r.stderr


@needs_root
@pytest.mark.parametrize("name", ["a:b", "back\\slash", "sp ace", "q'uo\"te", "-dash", "%p$x", "é",
                                  "t\tab", ".dot", "a\\:b\\"])
def test_nspawn_bind_paths_read_back_exactly(name):
    _bind_round_trip(name)


path_names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="/")
                     | st.sampled_from(["\t", "é", "\\", ":", " "]), min_size=1, max_size=16)


@needs_root
@settings(max_examples=10, deadline=None)
@given(name=path_names)
def test_nspawn_bind_paths_random_names(name):
    if name in (".", "..") or name != name.rstrip():
        with pytest.raises(ConversionError) if name != name.rstrip() else _nothing():
            escape.nspawn_path(f"/mnt/{name}")
        return
    _bind_round_trip(name)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------
# units: systemd-analyze verify parses them without a single complaint


@needs_root
@settings(max_examples=20, deadline=None)
@given(description=values | tricky, env_value=values | tricky, words=word_lists)
def test_unit_lines_parse_without_complaint(description, env_value, words):
    try:
        env_line = escape.unit_environment("T_VALUE", env_value)
    except ConversionError:
        assert any(ord(c) < 0x20 and c not in "\t\n" for c in env_value)
        env_line = escape.unit_environment("T_VALUE", "x")
    unit = ("[Unit]\n"
            f"Description={escape.unit_text(description)}\n"
            "[Service]\n"
            f"Environment={env_line}\n"
            f"ExecStart={escape.unit_exec_line(['/bin/true'] + words)}\n")
    d = pathlib.Path(tempfile.mkdtemp(prefix="dekube-escape-"))
    (d / "esc-test.service").write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(d / "esc-test.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), (unit, r.stdout, r.stderr)
    # One line per setting, nothing more: the value never spills onto a new line.
    assert unit.count("\n") == 5


# --------------------------------------------------------------------------------------------
# units: a booted systemd (the e2e test host) runs them and the payload reports what it got


@pytest.fixture(scope="module")
def booted_systemd(tmp_path_factory):
    if consumers.tools_available():
        pytest.skip(f"needs {consumers.tools_available()}")
    from e2e import hostimage
    from e2e.machine import BootedHost
    scratch = tmp_path_factory.mktemp("escape-host")
    root = scratch / "rootfs"
    hostimage.unpack_host(hostimage.ensure_host_tarball(), root)
    host = BootedHost(root, f"dk-esc-{os.getpid()}", scratch / "console.log")
    host.boot()
    try:
        yield host
    finally:
        host.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)


_REPORT = ('printf "%s\\0" "$@" > /run/esc/argv; printf "%s" "$T_VALUE" > /run/esc/env; '
           'printf "%s\\0" "$F_0" "$F_1" > /run/esc/envfile')


def _expected_description(value: str) -> str:
    text = " ".join(value.split())
    return text + " ." if (len(text) - len(text.rstrip("\\"))) % 2 else text


@pytest.mark.e2e
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=values | tricky, env_value=values | tricky, words=word_lists,
       file_values=st.lists(values | tricky, min_size=2, max_size=2))
@example(description="100% \\", env_value="a\nb $X %n \\", words=["-x", ";", "$HOME", "a b", ""],
         file_values=["it's \"q\" $X `c` \\ \n2nd line", "no quote\\n $Y # z"])
def test_unit_values_read_back_exactly_by_systemd(booted_systemd, description, env_value, words,
                                                 file_values):
    host = booted_systemd
    env_file = ""
    for i, v in enumerate(file_values):
        try:
            env_file += escape.env_file_assignment(f"F_{i}", v) + "\n"
        except ConversionError:
            assert any(ord(c) < 0x20 and c not in "\t\n" for c in v)
            file_values[i] = ""
            env_file += f"F_{i}=\n"
    try:
        env_line = escape.unit_environment("T_VALUE", env_value)
    except ConversionError:
        env_value = "x"
        env_line = escape.unit_environment("T_VALUE", env_value)
    unit = ("[Unit]\n"
            f"Description={escape.unit_text(description)}\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"Environment={env_line}\n"
            "EnvironmentFile=/run/esc-env/test.env\n"
            f"ExecStart={escape.unit_exec_line(['/bin/sh', '-c', _REPORT, 'sh'] + words)}\n")
    host.run("rm -rf /run/esc && mkdir -p /run/esc /run/esc-env")
    host.write_file("/run/esc-env/test.env", env_file, mode=0o600)
    host.write_file("/run/systemd/system/esc-test.service", unit)
    host.run(["systemctl", "daemon-reload"])
    host.run(["systemctl", "start", "esc-test.service"])
    argv = host.run(["cat", "/run/esc/argv"]).stdout_bytes.split(b"\0")[:-1]
    assert argv == [w.encode() for w in words], unit
    assert host.run(["cat", "/run/esc/env"]).stdout_bytes == env_value.encode(), unit
    got = host.run(["cat", "/run/esc/envfile"]).stdout_bytes.split(b"\0")[:-1]
    assert got == [v.encode() for v in file_values], env_file
    shown = host.run(["systemctl", "show", "-p", "Description", "--value", "esc-test.service"])
    # An empty Description= makes systemd show the unit name instead.
    expected = _expected_description(description) or "esc-test.service"
    assert shown.stdout_bytes.rstrip(b"\n") == expected.encode(), unit
