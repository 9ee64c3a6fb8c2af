"""Scalar values of the canonical compose form: Go durations, byte sizes, `$$`, octal modes."""
from __future__ import annotations

import re

from dekube_nspawn.errors import ConversionError

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
             "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def duration_seconds(value, key_path) -> float:
    """Go `time.ParseDuration` (what compose prints: `1m30s`, `500ms`); plain numbers are
    seconds."""
    if isinstance(value, bool):
        raise ConversionError(f"not a duration: {value!r}", key_path=key_path)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    sign = 1.0
    if text and text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _GO_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ConversionError(f"not a duration: {value!r}", key_path=key_path)
    return sign * total


_SIZE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_MULT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5,
              "e": 1024**6}


def size_bytes(value, key_path) -> int:
    """Byte counts: the canonical form prints them as digit strings; Docker's short units
    (`64M`, `1g`, `512k`, binary multiples) appear in tmpfs option strings."""
    if isinstance(value, bool):
        raise ConversionError(f"not a size: {value!r}", key_path=key_path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    m = _SIZE.match(str(value))
    if not m:
        raise ConversionError(f"not a size: {value!r}", key_path=key_path)
    return int(float(m.group(1)) * _SIZE_MULT[m.group(2).lower()])


def file_mode(value, key_path) -> int:
    """Modes: the canonical form prints them as octal strings (`"0440"`); a bare YAML number
    was already read as the integer."""
    if isinstance(value, bool):
        raise ConversionError(f"not a file mode: {value!r}", key_path=key_path)
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ConversionError(f"not an octal file mode: {value!r}", key_path=key_path) from None


def unescape(value: str) -> str:
    """The canonical form writes a literal `$` as `$$`."""
    return value.replace("$$", "$")


def argv(value, key_path) -> tuple[str, ...] | None:
    """entrypoint/command: null (image default) or a list; a string is split like compose does
    (shell words) for robustness, though the canonical form always holds lists."""
    if value is None:
        return None
    if isinstance(value, str):
        import shlex
        try:
            return tuple(unescape(w) for w in shlex.split(value))
        except ValueError as exc:
            raise ConversionError(f"cannot split {value!r}: {exc}", key_path=key_path) from None
    return tuple(unescape(str(w)) for w in value)
