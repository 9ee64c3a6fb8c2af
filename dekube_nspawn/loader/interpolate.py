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


# compose-go's template pattern, as Docker Compose v2.40.3 runs it: the operand of a braced
# substitution is greedy (`.*` up to the last `}` of the line), then cut back at the first `}`
# that closes every `{` seen (`_first_closing_brace`). Reproducing the pattern rather than
# parsing braces "properly" is what keeps odd templates such as `${A:-{}$${Y}` identical.
_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?].*)?)\}|(?P<invalid>)))")


def _first_closing_brace(s: str) -> int:
    """compose-go's getFirstBraceClosingIndex: every `{` opens (and hides the next character)."""
    depth = 0
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        if c == "{":
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
    pos = 0
    for m in _PATTERN.finditer(template):
        out.append(template[pos:m.start()])
        pos = m.end()
        out.append(_replace(m.group(0), template, lookup, unset))
    out.append(template[pos:])
    return "".join(out)


def _replace(matched: str, template: str, lookup, unset) -> str:
    cut = _first_closing_brace(matched)
    rest = ""
    if cut > -1:
        matched, rest = matched[:cut + 1], matched[cut + 1:]
    m = _PATTERN.search(matched)
    if m.group("escaped"):
        return "$"
    if m.group("named"):
        return _plain(m.group("named"), lookup, unset)
    content = m.group("braced")
    if not content:
        raise InvalidTemplate(template)
    name = _NAME.match(content).group(0)
    after = content[len(name):]
    op = next((o for o in _OPERATORS if after.startswith(o)), None)
    if op is None:
        return _plain(content, lookup, unset)
    return _apply(op, name, after[len(op):], lookup, unset) + substitute(rest, lookup, unset)


def _plain(name, lookup, unset):
    value = lookup(name)
    if value is None:
        if unset is not None and name not in unset:
            unset.append(name)
        return ""
    return value


def _apply(op: str, name: str, operand: str, lookup, unset) -> str:
    # compose-go interpolates the operand before looking at the variable
    operand = substitute(operand, lookup, unset)
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
# Leaves interpolation and casts leave alone (casts apply to strings only).
_PLAIN_LEAVES = frozenset((int, float, bool, type(None)))


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

    # Most leaves are strings without `$` at paths compose casts nothing at: the loops below copy
    # those (and numbers, booleans, nulls) without a call, two key-path tuples and a cast lookup
    # each. A leaf goes through `walk` as soon as a cast pattern could match its path, exactly as
    # `_caster_for` would look it up: by (length, first part, third part).
    def walk(value, path, pattern):
        if isinstance(value, dict):
            out = {}
            depth = len(pattern) + 1
            shared = _CAST_INDEX.get((depth, pattern[0], pattern[2])) if depth > 3 else None
            for k, v in value.items():
                cls = v.__class__
                if cls is str and "$" not in v:
                    if depth < 3 or not (shared if depth > 3 else _CAST_INDEX.get((3, pattern[0], k))):
                        out[k] = v
                        continue
                elif cls in _PLAIN_LEAVES:
                    out[k] = v
                    continue
                out[k] = walk(v, path + (k,), pattern + (k,))
            return out
        if isinstance(value, list):
            depth = len(pattern) + 1
            casts = (_CAST_INDEX.get((depth, pattern[0], pattern[2] if depth > 3 else "[]"))
                     if depth >= 3 else None)
            out = []
            for i, v in enumerate(value):
                cls = v.__class__
                if (cls is str and "$" not in v and not casts) or cls in _PLAIN_LEAVES:
                    out.append(v)
                else:
                    out.append(walk(v, path + (i,), pattern + ("[]",)))
            return out
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
