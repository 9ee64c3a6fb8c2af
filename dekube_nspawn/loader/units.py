"""Scalar conversions Docker Compose applies while decoding: durations, byte sizes, float32.

Compose decodes these into Go types (time.Duration, go-units bytes, float32) and prints them back
with Go's formatting, so `90s` comes out as `1m30s` and `cpus: 0.1` stays `0.1` only because
Go prints float32 with the shortest decimal that round-trips. Each function raises ValueError with
a message meant for the user; the caller adds file and key path.
"""
from __future__ import annotations

import decimal
import math
import re
import struct

_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000, "w": 604_800_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(value) -> int:
    """str2duration.ParseDuration (Go's syntax plus `d` and `w`) -> nanoseconds."""
    text = str(value).strip() if not isinstance(value, bool) else ""
    if text in ("0", "+0", "-0"):
        return 0
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text:
        raise ValueError(f"invalid duration {value!r}")
    total = 0
    pos = 0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            raise ValueError(f"invalid duration {value!r} (use a number and a unit: 10s, 1m30s, 500ms)")
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = m.end()
    if total > _INT64_MAX:
        raise ValueError(f"duration {value!r} is out of range")
    return sign * total


def format_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        for unit, scale in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < scale * 1000:
                out = _decimal(u, scale) + unit
                break
    else:
        hours, rest = divmod(u, 3_600_000_000_000)
        minutes, rest = divmod(rest, 60_000_000_000)
        out = _decimal(rest, 1_000_000_000) + "s"
        if hours or minutes:
            out = f"{minutes}m" + out
        if hours:
            out = f"{hours}h" + out
    return "-" + out if neg else out


def _decimal(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


_INT64_MAX = (1 << 63) - 1
_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?\Z")
_RAM_SCALE = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value) -> int:
    """go-units RAMInBytes: `512m` -> 536870912 (binary multiples); integers are bytes already."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    m = _RAM.match(str(value))
    if not m:
        raise ValueError(f"invalid size: {value!r} (use a number and an optional unit: 512m, 1g, 100k)")
    number, unit = m.groups()
    size = int(float(number) * (_RAM_SCALE[unit.lower()] if unit else 1))
    if size > _INT64_MAX:
        raise ValueError(f"size {value!r} is out of range")
    return size


def float32(value: float):
    """The value Go prints for a float32: the shortest decimal that maps to the same float32.
    Integral values come back as int, as `json.loads` of Go's output would give them."""
    try:
        f = struct.unpack("f", struct.pack("f", float(value)))[0]
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ValueError(f"{value} is not a usable number")
    if f == int(f) and abs(f) < 1e21:
        return int(f)
    for precision in range(1, 10):
        text = "%.*g" % (precision, f)
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f:
            return float(text)
    return f


def go_string(value) -> str:
    """How Go's weakly typed decoding turns a YAML scalar into a string field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """fmt.Sprint of a float64 (`%v`): strconv 'g' with the shortest digits, which switches to an
    exponent below 1e-4 or from 1e6 (`1e+06`, `1.2345675e+06`)."""
    return _format_float(value, "v")


def go_json_float(value: float) -> str:
    """encoding/json of a float64: 'f' between 1e-6 and 1e21, else 'e' with `e-07` cleaned to `e-7`."""
    return _format_float(value, "json")


def _format_float(value: float, style: str) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "-0" if style == "v" and math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent          # position of the decimal point in `digits`
    exp = point - 1
    if style == "v":
        exponential = exp < -4 or exp >= 6
    else:
        exponential = abs(value) < 1e-6 or abs(value) >= 1e21
    if exponential:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
        if style == "json" and exp < 0 and abs(exp) < 10:
            text = f"{mantissa}e-{abs(exp)}"
    elif point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if sign else "") + text
