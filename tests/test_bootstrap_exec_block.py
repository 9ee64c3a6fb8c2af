"""runtime/exec_block.py (run on the host by bootstrap.sh) writes the process exactly as the
converter does with --resolve-images: same quoting as escape.nspawn_word/nspawn_value, same
setpriv prefix as the .nspawn emitter, same refusals."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, strategies as st

from dekube_nspawn import escape
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.runtime import exec_block

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF), max_size=30)


@given(texts)
def test_nspawn_word_agrees_with_the_converter(value):
    try:
        expected = escape.nspawn_word(value)
    except ConversionError:
        with pytest.raises(exec_block.BlockError):
            exec_block.nspawn_word(value)
    else:
        assert exec_block.nspawn_word(value) == expected


@given(texts)
def test_nspawn_value_agrees_with_the_converter(value):
    try:
        expected = escape.nspawn_value(value)
    except ConversionError:
        with pytest.raises(exec_block.BlockError):
            exec_block.nspawn_value(value)
    else:
        assert exec_block.nspawn_value(value) == expected


@given(st.text(alphabet="/:\\ab -", min_size=1, max_size=20).map(lambda s: "/" + s.strip()))
def test_nspawn_path_agrees_with_the_converter(value):
    try:
        expected = escape.nspawn_path(value)
    except ConversionError:
        return
    assert exec_block.nspawn_path(value) == expected


@pytest.mark.parametrize("user", ["1000", "1000:1000", "www-data", "www-data:staff", "0:0"])
def test_setpriv_prefix_agrees_with_the_nspawn_emitter(user):
    nspawn_settings = pytest.importorskip("dekube_nspawn.emit.nspawn_settings")
    assert tuple(exec_block.setpriv_prefix(user)) == nspawn_settings.setpriv_prefix(user)


def run(request: dict) -> tuple[int, str]:
    out = io.StringIO()
    rc = exec_block.main(stdin=io.StringIO(json.dumps(request)), stdout=out)
    return rc, out.getvalue()


def test_block_applies_compose_rules_over_the_image():
    image = {"config": {"Entrypoint": ["/entry"], "Cmd": ["default"], "Env": ["PATH=/bin", "A=1"],
                        "WorkingDir": "/srv", "User": "7"}}
    rc, block = run({"image": image, "compose": {"entrypoint": None, "command": ["it's", 'a "b"'],
                                                 "environment": [["A", "x y"]], "working_dir": None,
                                                 "user": None},
                     "helpers_dir": "/var/lib/dekube-nspawn/runtime"})
    assert rc == 0
    lines = block.splitlines()
    assert lines[1:] == [
        "[Exec]",
        'Parameters="/run/dekube/ld.so" "--library-path" "/run/dekube/lib" "/run/dekube/setpriv" '
        '"--reuid=7" "--regid=0" "--clear-groups" "--" "/entry" "it\'s" \'a "b"\'',
        'Environment="PATH=/bin"',
        'Environment="A=x y"',
        "WorkingDirectory=/srv",
        "[Files]",
        "BindReadOnly=/var/lib/dekube-nspawn/runtime:/run/dekube",
    ]


def test_block_refuses_what_nspawn_cannot_carry(capsys):
    rc, block = run({"image": {"config": {"Cmd": ["sh"]}},
                     "compose": {"entrypoint": ["echo", "both ' and \""], "command": None,
                                 "environment": [], "working_dir": None, "user": None}})
    assert rc == 1 and block == ""
    assert "both quote kinds" in capsys.readouterr().err


def test_no_command_is_an_error(capsys):
    rc, _ = run({"image": {"config": {}}, "compose": {}})
    assert rc == 1
    assert "no command" in capsys.readouterr().err


@pytest.fixture
def image_root(tmp_path):
    etc = tmp_path / "rootfs/etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n"
                                "svc:x:99:7::/:/bin/false\n")
    (etc / "group").write_text("root:x:0:\napp:x:1234:\nstaff:x:50:app\n")
    return tmp_path / "rootfs"


PREFIX = ["/run/dekube/ld.so", "--library-path", "/run/dekube/lib", "/run/dekube/setpriv"]


@pytest.mark.parametrize("user, ids", [
    ("app", ["--reuid=1234", "--regid=1234", "--init-groups"]),        # Docker: passwd's primary gid
    ("1234", ["--reuid=1234", "--regid=1234", "--init-groups"]),       # a uid with a passwd entry too
    ("svc:staff", ["--reuid=99", "--regid=50", "--clear-groups"]),
    ("app:0", ["--reuid=1234", "--regid=0", "--clear-groups"]),
    ("4321", ["--reuid=4321", "--regid=0", "--clear-groups"]),         # unknown uid: gid 0
    ("4321:4321", ["--reuid=4321", "--regid=4321", "--clear-groups"]),
    ("nobody-here", ["--reuid=nobody-here", "--init-groups"]),         # left to setpriv
])
def test_user_is_resolved_in_the_image(image_root, user, ids):
    assert exec_block.user_prefix(user, str(image_root)) == PREFIX + ids + ["--"]


def test_image_files_pointing_out_of_the_image_are_ignored(tmp_path):
    host = tmp_path / "host-passwd"
    host.write_text("app:x:4242:4242::/:/bin/sh\n")
    (tmp_path / "rootfs/etc").mkdir(parents=True)
    (tmp_path / "rootfs/etc/passwd").symlink_to(str(host))
    assert exec_block.user_prefix("app", str(tmp_path / "rootfs")) == exec_block.setpriv_prefix("app")


def test_block_uses_the_image_passwd(image_root):
    rc, block = run({"image": {"config": {"Cmd": ["sh"], "User": "app"}}, "compose": {},
                     "rootfs": str(image_root)})
    assert rc == 0
    assert '"--reuid=1234" "--regid=1234" "--init-groups"' in block
