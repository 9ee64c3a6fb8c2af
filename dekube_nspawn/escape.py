"""Escaping of untrusted values for every syntax the tool writes.

Compose files are untrusted input that ends up in root-run units and scripts. Each function here
turns one real value into text that the target's own parser reads back byte-exact, or refuses it
with a `ConversionError` when the target syntax cannot carry it. Emitters never build such text
by hand. `tests/test_escape.py` reads the output back through systemd and systemd-nspawn.

Two rules hold for every line-oriented systemd format (units, .nspawn, .netdev/.network), because
systemd's config parser applies them before any setting sees its value:
- a line ending in an unescaped backslash continues on the next line (so a value must never end
  with an odd run of backslashes unless it is followed by a closing quote);
- leading and trailing whitespace of a value is stripped.
"""
from __future__ import annotations

import re

from dekube_nspawn.errors import ConversionError


def _refuse_nul(value: str, what: str, key_path) -> None:
    if "\x00" in value:
        raise ConversionError(f"{what} contains a NUL byte, which no target format can carry",
                              key_path=key_path)


def _refuse_line_breaks(value: str, what: str, key_path) -> None:
    if "\n" in value or "\r" in value:
        raise ConversionError(f"{what} with a line break cannot be written here "
                              f"(value starts {value[:20]!r})", key_path=key_path)


_CONTROLS = {"": re.compile(r"[\x00-\x1f\x7f]"), "\t": re.compile(r"[\x00-\x08\x0a-\x1f\x7f]"),
             "\t\n": re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")}


def _refuse_controls(value: str, what: str, key_path, allowed: str = "") -> None:
    found = _CONTROLS[allowed].search(value)
    if found:
        raise ConversionError(f"{what} contains the control character {found.group()!r}, which "
                              f"cannot be written here (value starts {value[:20]!r})", key_path=key_path)


# ---------------------------------------------------------------------------------------------
# POSIX shell


# "-" is left out: shellcheck reads an unquoted `X=a-b` as arithmetic (SC2100).
_SHELL_PLAIN = re.compile(r"[A-Za-z0-9@%+=:,./_]+\Z")


def shell_quote(value: str, key_path=()) -> str:
    """POSIX shell single quoting: everything literal except the quote itself."""
    if _SHELL_PLAIN.match(value):
        return value
    _refuse_nul(value, "a value", key_path)
    return "'" + value.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------------------------
# systemd unit files


_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


_NEEDS_C_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')


def _c_escape(value: str) -> str:
    if not _NEEDS_C_ESCAPE.search(value):
        return value
    out = []
    for ch in value:
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=,+@-]+\Z")


def unit_exec_word(value: str, key_path=()) -> str:
    """One argument of an `Exec*=` line in a unit file: double-quoted with C escapes; `%` is a
    specifier and `$` a variable reference there, so both are doubled.

    Not for the first word (the executable): systemd reads `-@:+!` prefixes off it after
    unquoting, so emitters only put fixed absolute paths there (see `unit_exec_line`)."""
    if _PLAIN_WORD.match(value):
        return value      # nothing systemd would interpret: readable without quotes
    _refuse_nul(value, "an argument", key_path)
    return '"' + _c_escape(value).replace("%", "%%").replace("$", "$$") + '"'


_SAFE_EXECUTABLE = re.compile(r"/[A-Za-z0-9_./+-]*\Z")


# Arguments joined with NUL, all plain: the line is the words as they are. The common case
# (paths and names the tool chose), checked with one match.
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9_./:=,+@-]+(?:\x00[A-Za-z0-9_./:=,+@-]+)*\Z")


def unit_exec_line(argv, key_path=()) -> str:
    """A whole command line; the executable must be an absolute path of plain characters."""
    argv = list(argv)
    if not argv or not _SAFE_EXECUTABLE.match(argv[0]) or "/../" in argv[0] + "/":
        raise ConversionError(f"the executable of a unit command must be a plain absolute path, "
                              f"not {argv[0] if argv else ''!r}", key_path=key_path)
    if len(argv) > 1:
        joined = "\x00".join(argv[1:])
        # (a NUL inside an argument would pass for a separator: counted, then refused below)
        if _PLAIN_WORDS.match(joined) and joined.count("\x00") == len(argv) - 2:
            return " ".join(argv)
    return " ".join([argv[0]] + [unit_exec_word(a, key_path) for a in argv[1:]])


def unit_plain_path(value: str, key_path=()) -> str:
    """A path the tool itself chose (EnvironmentFile=...): plain characters only, never escaped."""
    if not _SAFE_EXECUTABLE.match(value) or "/../" in value + "/":
        raise ConversionError(f"{value!r} is not a plain absolute path", key_path=key_path)
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def unit_environment(name: str, value: str, key_path=()) -> str:
    """`Environment=` of a unit: one quoted `NAME=value` word; `%` is a specifier, `$` literal.

    systemd refuses (with only a warning) names that are not shell identifiers and values with
    control characters other than tab and newline, so those are refused here, loudly."""
    _refuse_nul(value, "an environment value", key_path)
    if not _ENV_NAME.match(name):
        raise ConversionError(f"environment variable name {name!r} cannot be set by systemd",
                              key_path=key_path)
    _refuse_controls(value, "an environment value", key_path, allowed="\t\n")
    return '"' + _c_escape(f"{name}={value}").replace("%", "%%") + '"'


# Printable ASCII words (no `%`, no backslash) separated by single spaces: already what
# unit_text makes of it. The common case, checked with one match.
_PLAIN_TEXT = re.compile(r"[!-$&-\[\]-~]+(?: [!-$&-\[\]-~]+)*\Z")


def unit_text(value: str, key_path=()) -> str:
    """Free text such as `Description=`: one line, whitespace runs folded, `%` doubled."""
    if _PLAIN_TEXT.match(value):
        return value
    _refuse_nul(value, "a value", key_path)
    text = " ".join(value.split())
    _refuse_controls(text, "a description", key_path)
    if (len(text) - len(text.rstrip("\\"))) % 2:
        # An odd trailing backslash would join the next line of the file to this value.
        text += " ."
    return text.replace("%", "%%")


_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.@\\-]+\.(service|socket|target|slice|mount|timer|path)\Z")


def unit_name(value: str, key_path=()) -> str:
    """A unit name in a dependency list (Requires=, After=...): names are never escaped, so only
    valid unit names pass."""
    if not _UNIT_NAME.match(value) or len(value) > 255:
        raise ConversionError(f"{value!r} is not a valid unit name", key_path=key_path)
    return value


_DEVICE_PATH = re.compile(r"/dev/[A-Za-z0-9_./:+-]+\Z")


def unit_device_path(value: str, key_path=()) -> str:
    """`DeviceAllow=` path: read with quote and escape handling plus specifiers; device nodes have
    plain names, so anything else is refused rather than escaped."""
    if not _DEVICE_PATH.match(value) or "/../" in value + "/":
        raise ConversionError(f"device path {value!r} is not a plain /dev path", key_path=key_path)
    return value


def env_file_assignment(name: str, value: str, key_path=()) -> str:
    """One `NAME=value` line of a unit's `EnvironmentFile=` (systemd's env-file parser, no
    variable expansion): single quotes keep everything, line breaks included, up to the next
    single quote; a value holding one goes in double quotes, where `\\`, `"`, `$` and `` ` `` are
    backslash-escaped."""
    _refuse_nul(value, "an environment value", key_path)
    if not _ENV_NAME.match(name):
        raise ConversionError(f"environment variable name {name!r} cannot be set by systemd",
                              key_path=key_path)
    _refuse_controls(value, "an environment value", key_path, allowed="\t\n")
    if "'" not in value:
        return f"{name}='{value}'"
    escaped = "".join("\\" + c if c in '\\"$`' else c for c in value)
    return f'{name}="{escaped}"'


# ---------------------------------------------------------------------------------------------
# .nspawn settings files


# No double quote, no control character but tab: double-quoted as is (the common case).
_NSPAWN_DOUBLE_QUOTABLE = re.compile(r'[^\x00-\x08\x0a-\x1f\x7f"]*\Z')


def nspawn_word(value: str, key_path=()) -> str:
    """One word of a `.nspawn` list setting (Parameters=, Environment=).

    systemd-nspawn 252 splits on whitespace, groups with double or single quotes, keeps
    backslashes, and takes `$` and `%` literally (field notes; verified in tests/test_escape.py).
    So a value fits when one quote kind is absent from it and it has no line break; otherwise it
    is refused.
    """
    if _NSPAWN_DOUBLE_QUOTABLE.match(value):
        return f'"{value}"'
    _refuse_nul(value, "a value", key_path)
    _refuse_line_breaks(value, "a value", key_path)
    _refuse_controls(value, "a value", key_path, allowed="\t")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ConversionError("a value holding both quote kinds cannot be written into a .nspawn "
                          f"file (value starts {value[:20]!r})", key_path=key_path)


def fits_nspawn_word(value: str) -> bool:
    """Whether `nspawn_word` accepts `value`, without building the error it would raise."""
    return not _NSPAWN_UNFIT.search(value) and ('"' not in value or "'" not in value)


_NSPAWN_UNFIT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# An absolute path of characters nspawn_path neither escapes nor refuses.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_./@+=,~-]*\Z")


def nspawn_path(value: str, key_path=()) -> str:
    """One path of `Bind=`, `BindReadOnly=` or `TemporaryFileSystem=`: these split on `:` and read
    a backslash as "next character literal", and take no quotes. Paths must be absolute, so a
    value never starts with whitespace; trailing whitespace would be stripped by the parser."""
    if _PLAIN_PATH.match(value):
        return value
    _refuse_nul(value, "a path", key_path)
    _refuse_line_breaks(value, "a path", key_path)
    _refuse_controls(value, "a path", key_path, allowed="\t")
    if not value.startswith("/"):
        raise ConversionError(f"path {value!r} is not absolute", key_path=key_path)
    if value != value.rstrip():
        raise ConversionError(f"path {value!r} ends with whitespace, which a .nspawn file cannot "
                              "carry", key_path=key_path)
    return value.replace("\\", "\\\\").replace(":", "\\:")


_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./@+=,:~-]+\Z")


def nspawn_value(value: str, key_path=()) -> str:
    """A whole single-valued setting (WorkingDirectory=, Hostname=): taken verbatim after the
    parser strips surrounding whitespace."""
    if _PLAIN_VALUE.match(value):
        return value
    _refuse_nul(value, "a value", key_path)
    _refuse_line_breaks(value, "a value", key_path)
    _refuse_controls(value, "a value", key_path)
    if value != value.strip() or not value:
        raise ConversionError(f"value {value!r} is empty or has surrounding whitespace, which a "
                              ".nspawn file cannot carry", key_path=key_path)
    if (len(value) - len(value.rstrip("\\"))) % 2:
        raise ConversionError(f"value {value!r} ends with a backslash, which a .nspawn file "
                              "cannot carry", key_path=key_path)
    return value


# ---------------------------------------------------------------------------------------------
# /etc/hosts and resolv.conf


_PLAIN_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


def hosts_name(value: str, key_path=()) -> str:
    """A host name in /etc/hosts: one whitespace-free word that does not start a comment."""
    if _PLAIN_HOST_NAME.match(value):
        return value
    if not value or any(c.isspace() for c in value) or "#" in value or not value.isprintable():
        raise ConversionError(f"{value!r} cannot be written as a host name", key_path=key_path)
    return value


def resolv_word(value: str, key_path=()) -> str:
    """A nameserver address or search domain in resolv.conf: one plain word."""
    if not value or any(c.isspace() for c in value) or not value.isprintable() \
            or value[0] in "#;":
        raise ConversionError(f"{value!r} cannot be written into resolv.conf", key_path=key_path)
    return value
