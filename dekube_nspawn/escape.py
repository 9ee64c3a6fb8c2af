"""Escaping of untrusted values for every syntax the tool writes.

Compose files are untrusted input that ends up in root-run units and scripts. Each function here
turns one real value into text that the target's own parser reads back byte-exact, or refuses it
with a `ConversionError` when the target syntax cannot carry it. Emitters never build such text
by hand.
"""
from __future__ import annotations

from dekube_nspawn.errors import ConversionError


def _refuse_nul(value: str, what: str, key_path) -> None:
    if "\x00" in value:
        raise ConversionError(f"{what} contains a NUL byte, which no target format can carry",
                              key_path=key_path)


def shell_quote(value: str, key_path=()) -> str:
    """POSIX shell single quoting: everything literal except the quote itself."""
    _refuse_nul(value, "a value", key_path)
    if value and all(c.isalnum() or c in "@%+=:,./-_" for c in value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _c_escape(value: str) -> str:
    out = []
    for ch in value:
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def unit_exec_word(value: str, key_path=()) -> str:
    """One argument of an `Exec*=` line in a unit file: double-quoted with C escapes; `%` is a
    specifier and `$` a variable reference there, so both are doubled."""
    _refuse_nul(value, "an argument", key_path)
    return '"' + _c_escape(value).replace("%", "%%").replace("$", "$$") + '"'


def unit_exec_line(argv, key_path=()) -> str:
    return " ".join(unit_exec_word(a, key_path) for a in argv)


def unit_environment(name: str, value: str, key_path=()) -> str:
    """`Environment=` of a unit: one quoted `NAME=value` word; `%` is a specifier, `$` literal."""
    _refuse_nul(value, "an environment value", key_path)
    return '"' + _c_escape(f"{name}={value}").replace("%", "%%") + '"'


def unit_text(value: str, key_path=()) -> str:
    """Free text such as `Description=`: one line, `%` doubled."""
    _refuse_nul(value, "a value", key_path)
    return " ".join(value.split()).replace("%", "%%")


def nspawn_word(value: str, key_path=()) -> str:
    """One word of a `.nspawn` list setting (Parameters=, Environment=, Bind=...).

    systemd-nspawn 252 splits on whitespace, groups with double or single quotes, knows no
    escapes, and takes `$` and `%` literally (field notes). So a value fits when one quote kind is
    absent from it and it has no newline; otherwise it is refused.
    """
    _refuse_nul(value, "a value", key_path)
    if "\n" in value or "\r" in value:
        raise ConversionError("a value with a newline cannot be written into a .nspawn file "
                              f"(value starts {value[:20]!r})", key_path=key_path)
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ConversionError("a value holding both quote kinds cannot be written into a .nspawn "
                          f"file (value starts {value[:20]!r})", key_path=key_path)
