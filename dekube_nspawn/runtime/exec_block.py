"""The image-derived `[Exec]` block bootstrap.sh puts in front of a machine's `.nspawn` file.

Runs on the target host (embedded in bootstrap.sh next to process.py, run with the host's
python3), so: standard library only. It applies compose's process rules (process.py, the one
implementation) to the unpacked image's config and writes them in .nspawn syntax, with the same
quoting and user switch as the converter writes with --resolve-images (escape.nspawn_word,
escape.nspawn_value, emit.nspawn_settings.setpriv_prefix; tests/test_bootstrap_exec_block.py
holds them equal).

CLI: `python3 exec_block.py < in.json > block` where in.json is process.py's input
({"image": ..., "compose": ...}) plus "helpers_dir" (host path of the user-switch helpers) and
"rootfs" (the unpacked image, whose /etc/passwd and /etc/group resolve user names); exit 1 with a message when the process cannot be written.
"""
import json
import os
import sys

try:
    from dekube_nspawn.runtime import process
except ImportError:            # on the host: process.py sits next to this file
    import process

HELPERS = "/run/dekube"        # the runtime helpers directory inside the machine (docs/runtime.md)


class BlockError(Exception):
    pass


def _check_controls(value, allowed=""):
    for ch in value:
        if (ord(ch) < 0x20 or ord(ch) == 0x7F) and ch not in allowed:
            raise BlockError("a value contains the control character %r, which a .nspawn file "
                             "cannot carry (value starts %r)" % (ch, value[:20]))


def nspawn_word(value):
    """One word of Parameters=/Environment=: nspawn 252 groups with either quote kind, no escapes."""
    if "\n" in value or "\r" in value:
        raise BlockError("a value with a line break cannot be written into a .nspawn file "
                         "(value starts %r)" % value[:20])
    _check_controls(value, allowed="\t")
    if '"' not in value:
        return '"%s"' % value
    if "'" not in value:
        return "'%s'" % value
    raise BlockError("a value holding both quote kinds cannot be written into a .nspawn file "
                     "(value starts %r)" % value[:20])


def nspawn_value(value):
    """A whole single-valued setting (WorkingDirectory=): verbatim, no surrounding whitespace."""
    if "\n" in value or "\r" in value:
        raise BlockError("a value with a line break cannot be written into a .nspawn file")
    _check_controls(value)
    if value != value.strip() or not value:
        raise BlockError("value %r is empty or has surrounding whitespace" % value)
    if (len(value) - len(value.rstrip("\\"))) % 2:
        raise BlockError("value %r ends with a backslash" % value)
    return value


def setpriv_prefix(user):
    """The host's setpriv through its own loader (docs/runtime.md "User")."""
    prefix = [HELPERS + "/ld.so", "--library-path", HELPERS + "/lib", HELPERS + "/setpriv"]
    uid, _, gid = user.partition(":")
    if gid:
        ids = ["--reuid=" + uid, "--regid=" + gid, "--clear-groups"]
    elif uid.isdigit():
        ids = ["--reuid=" + uid, "--regid=0", "--clear-groups"]
    else:
        ids = ["--reuid=" + uid, "--init-groups"]
    return prefix + ids + ["--"]


def _image_file_lines(rootfs, name):
    """Lines of /etc/NAME of the unpacked image; [] when absent or when a symlink in the
    (untrusted) image leads out of it: this runs on the host."""
    if not rootfs:
        return []
    root = os.path.realpath(rootfs)
    path = os.path.realpath(os.path.join(root, "etc", name))
    if not path.startswith(root + os.sep) or not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def _entries(lines):
    """name:x:id:... records (passwd and group alike) with a numeric third field."""
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit():
            yield fields


def resolved_user(user, rootfs):
    """`user` as numeric `uid:gid` from the image's own /etc/passwd and /etc/group, the way
    Docker resolves it: a name (or a uid with a passwd entry) takes the entry's uid and primary
    gid, a group name its gid. None when the image's files do not know the name: setpriv then
    resolves it inside the machine (setpriv_prefix)."""
    name, _, group = user.partition(":")
    passwd = [f for f in _entries(_image_file_lines(rootfs, "passwd")) if f[2].isdigit() and f[3].isdigit()]
    entry = next((f for f in passwd if (f[2] == name if name.isdigit() else f[0] == name)), None)
    if name.isdigit():
        uid = name
    elif entry is not None:
        uid = entry[2]
    else:
        return None
    if group:
        if group.isdigit():
            gid = group
        else:
            groups = _entries(_image_file_lines(rootfs, "group"))
            match = next((f for f in groups if f[0] == group), None)
            if match is None:
                return None
            gid = match[2]
    else:
        gid = entry[3] if entry is not None else "0"
    return uid, gid, entry is not None


def user_prefix(user, rootfs=None):
    """setpriv arguments for `user`: numeric ids from the image when it can be resolved there
    (supplementary groups from the image's /etc/group via initgroups when the user has a passwd
    entry and no explicit group, as Docker does), else setpriv_prefix's own handling."""
    ids = resolved_user(user, rootfs)
    if ids is None:
        return setpriv_prefix(user)
    uid, gid, known = ids
    groups = "--init-groups" if known and ":" not in user else "--clear-groups"
    prefix = [HELPERS + "/ld.so", "--library-path", HELPERS + "/lib", HELPERS + "/setpriv"]
    return prefix + ["--reuid=" + uid, "--regid=" + gid, groups, "--"]


def nspawn_path(value):
    """One path of BindReadOnly=: `:` separates, a backslash escapes."""
    _check_controls(value)
    return value.replace("\\", "\\\\").replace(":", "\\:")


def exec_block(result, helpers_bind=None, rootfs=None):
    """process.py's result -> the [Exec] lines (Parameters, Environment, WorkingDirectory).
    `helpers_bind`: host directory of the user-switch helpers, bound when only the image names
    a USER (the converter binds it itself when compose sets `user:`)."""
    argv = list(result["argv"])
    if result.get("user"):
        argv = user_prefix(result["user"], rootfs) + argv
    lines = ["[Exec]", "Parameters=" + " ".join(nspawn_word(a) for a in argv)]
    for name, value in result["environment"]:
        lines.append("Environment=" + nspawn_word("%s=%s" % (name, value)))
    lines.append("WorkingDirectory=" + nspawn_value(result["working_dir"]))
    if result.get("user") and helpers_bind:
        lines += ["[Files]", "BindReadOnly=%s:%s" % (nspawn_path(helpers_bind), HELPERS)]
    return "\n".join(lines) + "\n"


def main(stdin=None, stdout=None):
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        request = json.load(stdin)
        compose = request.get("compose") or {}
        result = process.effective_process(process.image_defaults(request.get("image")), compose)
        helpers = request.get("helpers_dir") if compose.get("user") is None else None
        block = exec_block(result, helpers, request.get("rootfs"))   # all or nothing on stdout
    except (ValueError, KeyError, TypeError, AttributeError, process.ProcessError, BlockError) as exc:
        sys.stderr.write("exec_block.py: %s\n" % exc)
        return 1
    stdout.write("# From the image's config (bootstrap.sh); the converter's file follows.\n")
    stdout.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
