"""Stage 2: `${VAR}` substitution in values, then compose's type casting of the interpolated values.

Semantics of compose-go `template` (Docker Compose v2.40): `$$` is a literal `$`; `$NAME` and
`${NAME}` read the environment (unset -> empty, with a warning); `${NAME:-default}` /
`${NAME-default}`, `${NAME:?msg}` / `${NAME?msg}`, `${NAME:+alt}` / `${NAME+alt}`; the text after
the operator is itself interpolated (nested `${...}`), even when it ends up unused, exactly like
compose. Mapping keys are not interpolated (compose does not either).
"""
from __future__ import annotations

import math
import re
from typing import Callable, Mapping

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader.yaml import Override, line_of

_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
# Operators, by the order compose-go tries them when two could apply at the same place.
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class InterpolationError(ComposeFileError):
    pass


class MissingRequired(Exception):
    """A required variable is unset (or empty, for `:?`)."""

    def __init__(self, name: str, reason: str):
        super().__init__(name)
        self.name, self.reason = name, reason

    def text(self) -> str:
        if self.reason:
            return f"required variable {self.name} is missing a value: {self.reason}"
        return f"required variable {self.name} is missing a value"


class InvalidTemplate(Exception):
    def __init__(self, template: str):
        super().__init__(template)
        self.template = template


def _closing_brace(s: str, start: int) -> int:
    """Index of the `}` closing the `${` at `start`; only `${` opens (compose-go's rule)."""
    depth = 0
    i = start
    n = len(s)
    while i < n:
        c = s[i]
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        elif c == "$" and i + 1 < n and s[i + 1] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def substitute(template: str, lookup: Callable[[str], str | None], unset: list | None = None) -> str:
    """Interpolate one string. `lookup(name)` returns None when the variable is unset; names of
    unset variables read without a default are appended to `unset` (compose warns about them)."""
    if "$" not in template:
        return template
    out = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        nxt = template[j + 1] if j + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i = j + 2
        elif nxt == "{":
            end = _closing_brace(template, j)
            if end < 0:
                raise InvalidTemplate(template)
            out.append(_braced(template[j + 2:end], template, lookup, unset))
            i = end + 1
        else:
            m = _NAME.match(template, j + 1)
            if m:
                out.append(_plain(m.group(0), lookup, unset))
                i = m.end()
            else:  # `$` before anything else stays as it is, like compose
                out.append("$")
                i = j + 1
    return "".join(out)


def _plain(name, lookup, unset):
    value = lookup(name)
    if value is None:
        if unset is not None and name not in unset:
            unset.append(name)
        return ""
    return value


def _braced(content: str, template: str, lookup, unset) -> str:
    m = _NAME.match(content)
    if not m:
        raise InvalidTemplate(template)
    name = m.group(0)
    rest = content[m.end():]
    if not rest:
        return _plain(name, lookup, unset)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise InvalidTemplate(template)
    # compose-go interpolates the operand before looking at the variable
    operand = substitute(rest[len(op):], lookup, unset)
    value = lookup(name)
    if op == ":-":
        return operand if not value else value
    if op == "-":
        return operand if value is None else value
    if op == ":?":
        if not value:
            raise MissingRequired(name, operand)
        return value
    if op == "?":
        if value is None:
            raise MissingRequired(name, operand)
        return value
    if op == ":+":
        return operand if value else (value or "")
    return operand if value is not None else ""  # "+"


# --- type casting (compose-go loader/interpolate.go: interpolateTypeCastMapping) ----------------

def _to_int(s):
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ValueError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    return int(s, 10)


def _to_float(s):
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax') from None
    if math.isinf(v) and "inf" not in s.lower():
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": value out of range')
    return v


def _to_file_mode(s):
    """compose-go toUnixFileMode: an interpolated `mode` is octal (`"0440"` is 288)."""
    if not re.fullmatch(r"[0-7]+", s):
        raise ValueError(f'strconv.ParseUint: parsing "{s}": invalid syntax')
    return int(s, 8)


def _to_bool(s):
    low = s.lower()
    if low in ("true", "y", "yes", "on"):
        return True
    if low in ("false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {s}")


_S = ("services", "*")
CASTS: dict[tuple, Callable[[str], object]] = {
    _S + ("configs", "[]", "mode"): _to_file_mode,
    _S + ("cpu_count",): _to_int,
    _S + ("cpu_percent",): _to_float,
    _S + ("cpu_period",): _to_int,
    _S + ("cpu_quota",): _to_int,
    _S + ("cpu_rt_period",): _to_int,
    _S + ("cpu_rt_runtime",): _to_int,
    _S + ("cpus",): _to_float,
    _S + ("cpu_shares",): _to_int,
    _S + ("init",): _to_bool,
    _S + ("deploy", "replicas"): _to_int,
    _S + ("deploy", "update_config", "parallelism"): _to_int,
    _S + ("deploy", "update_config", "max_failure_ratio"): _to_float,
    _S + ("deploy", "rollback_config", "parallelism"): _to_int,
    _S + ("deploy", "rollback_config", "max_failure_ratio"): _to_float,
    _S + ("deploy", "restart_policy", "max_attempts"): _to_int,
    _S + ("deploy", "placement", "max_replicas_per_node"): _to_int,
    _S + ("healthcheck", "retries"): _to_int,
    _S + ("healthcheck", "disable"): _to_bool,
    _S + ("oom_kill_disable",): _to_bool,
    _S + ("oom_score_adj",): _to_int,
    _S + ("pids_limit",): _to_int,
    _S + ("ports", "[]", "target"): _to_int,
    _S + ("privileged",): _to_bool,
    _S + ("read_only",): _to_bool,
    _S + ("scale",): _to_int,
    _S + ("secrets", "[]", "mode"): _to_file_mode,
    _S + ("stdin_open",): _to_bool,
    _S + ("tty",): _to_bool,
    _S + ("ulimits", "*"): _to_int,
    _S + ("ulimits", "*", "hard"): _to_int,
    _S + ("ulimits", "*", "soft"): _to_int,
    _S + ("volumes", "[]", "read_only"): _to_bool,
    _S + ("volumes", "[]", "volume", "nocopy"): _to_bool,
    ("networks", "*", "external"): _to_bool,
    ("networks", "*", "internal"): _to_bool,
    ("networks", "*", "attachable"): _to_bool,
    ("networks", "*", "enable_ipv4"): _to_bool,
    ("networks", "*", "enable_ipv6"): _to_bool,
    ("volumes", "*", "external"): _to_bool,
    ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}


def _index(casts):
    index: dict[tuple, list] = {}
    for pattern, cast in casts.items():
        index.setdefault((len(pattern), pattern[0], pattern[2]), []).append((pattern, cast))
    return index


_CAST_INDEX = _index(CASTS)


def _caster_for(path: tuple):
    """compose-go tree.Path.Matches: `*` matches any key or list item, `[]` any list item."""
    if len(path) < 3:
        return None
    for pattern, cast in _CAST_INDEX.get((len(path), path[0], path[2]), ()):
        if all(p == "*" or p == q for p, q in zip(pattern, path)):
            return cast
    return None


# --- the stage ----------------------------------------------------------------------------------

def interpolate(doc, environ: Mapping[str, str], *, filename: str | None = None,
                warnings: list | None = None):
    """A copy of `doc` with every string value interpolated and cast where compose casts.

    Errors name the file, the line (looked up lazily) and the key path. Names of variables read
    while unset are appended to `warnings`."""
    def lookup(name):
        return environ.get(name)

    def walk(value, path, pattern):
        if isinstance(value, dict):
            return {k: walk(v, path + (k,), pattern + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,), pattern + ("[]",)) for i, v in enumerate(value)]
        if isinstance(value, str):
            try:
                result = substitute(value, lookup, warnings)
            except MissingRequired as e:
                raise _error(filename, path, e.text()) from None
            except InvalidTemplate as e:
                raise _error(filename, path, f'invalid interpolation format: "{e.template}"; '
                             'you may need to escape any $ with another $') from None
            cast = _caster_for(pattern)
            if cast is None:
                return result
            try:
                return cast(result)
            except ValueError as e:
                raise _error(filename, path, f"failed to cast to expected type: {e}") from None
        if isinstance(value, Override):
            return Override(walk(value.value, path, pattern))
        return value

    return walk(doc, (), ())


def _error(filename, path, message) -> InterpolationError:
    line = column = None
    if filename:
        line, column = line_of(filename, path)
    return InterpolationError(message, file=filename, line=line, column=column, key_path=path)
