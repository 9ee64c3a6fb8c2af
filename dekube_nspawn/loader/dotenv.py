"""`.env` and `env_file` parsing, the way Docker Compose's dotenv parser (compose-go) reads them.

    # comment                 skipped
    export KEY=value          `export ` is ignored
    KEY=value # note          unquoted: up to the end of line, ` #` starts a comment, right-trimmed
    KEY: value                YAML-style separator accepted
    KEY="a\\nb ${X}"          double quotes: escapes (\\n \\t \\" \\\\ \\$ ...) then interpolation;
                              may span lines
    KEY='raw $X'              single quotes: literal (only \\' is unescaped), may span lines
    KEY                       no `=`: taken from the lookup (environment) when set there

Interpolation inside values reads the lookup first, then the keys defined earlier in the file.
`format: raw` (service env_file) takes every value after `=` literally.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Mapping

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader.interpolate import InvalidTemplate, MissingRequired, substitute

Lookup = Callable[[str], "str | None"]


class DotEnvError(ComposeFileError):
    pass


_ESCAPES = re.compile(r'\\(?:[abfnrtv$"\\]|0[0-7]{0,3})')
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           '"': '"', "\\": "\\", "$": "$$"}  # `\$` means a literal `$`: keep it escaped for interpolation
_EXPORT = re.compile(r"export[ \t]+")


def _expand_escapes(s: str) -> str:
    def one(m):
        seq = m.group(0)[1:]
        if seq[0] == "0":
            return chr(int(seq, 8)) if len(seq) > 1 else "\0"
        return _SIMPLE[seq]
    return _ESCAPES.sub(one, s)


def parse(text: str, filename: str = "<env>", lookup: Lookup | None = None) -> dict[str, str]:
    """Variables of one env file, in file order."""
    lookup = lookup or (lambda _k: None)
    out: dict[str, str] = {}
    line = 1
    i, n = 0, len(text)

    def env_lookup(k):
        v = lookup(k)
        return v if v is not None else out.get(k)

    def expand(value, at_line):
        try:
            return substitute(value, env_lookup)
        except MissingRequired as e:
            raise DotEnvError(e.text(), file=filename, line=at_line) from None
        except InvalidTemplate as e:
            raise DotEnvError(f'invalid interpolation format: "{e.template}"', file=filename,
                              line=at_line) from None

    while i < n:
        # statement start: skip blanks (counting lines) and comments
        while i < n and text[i] in " \t\r\n\f\v":
            if text[i] == "\n":
                line += 1
            i += 1
        if i >= n:
            break
        if text[i] == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        m = _EXPORT.match(text, i)
        if m and not re.match(r"export\s*[=:]", text[i:]):
            i = m.end()
        # key: letters, digits, `_ . - [ ]`; ends at `=`, `:` or end of line
        start = i
        while i < n and text[i] not in "=:\n":
            c = text[i]
            if not (c.isalnum() or c in "_.-[] \t"):
                first_line = text[start:].split("\n", 1)[0]
                raise DotEnvError(f'unexpected character "{c}" in variable name "{first_line}"',
                                  file=filename, line=line)
            i += 1
        key = text[start:i].rstrip()
        if " " in key or "\t" in key:
            raise DotEnvError(f'key cannot contain a space: "{key}"', file=filename, line=line)
        if i >= n or text[i] == "\n":  # bare KEY: inherit from the environment
            value = lookup(key)
            if value is not None:
                out[key] = value
            continue
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        key_line = line
        if i < n and text[i] in "\"'":
            quote = text[i]
            chars = []
            escaped = False
            j = i + 1
            while j < n:
                c = text[j]
                if c == "\n":
                    line += 1
                if c != quote:
                    if not escaped and c == "\\":
                        escaped = True
                    else:
                        if escaped:
                            chars.append("\\")
                            escaped = False
                        chars.append(c)
                    j += 1
                    continue
                if escaped:  # \" or \'
                    chars.append(c)
                    escaped = False
                    j += 1
                    continue
                break
            else:
                snippet = text[i:].split("\n", 1)[0]
                raise DotEnvError(f"unterminated quoted value {snippet}", file=filename,
                                  line=key_line)
            value = "".join(chars)
            if quote == '"':
                value = expand(_expand_escapes(value), key_line)
            out[key] = value
            i = j + 1
        else:
            j = text.find("\n", i)
            raw = text[i:] if j < 0 else text[i:j]
            i = n if j < 0 else j
            raw = raw.split(" #", 1)[0].rstrip()
            out[key] = expand(raw, key_line)
    return out


def parse_raw(text: str, filename: str = "<env>", lookup: Lookup | None = None) -> dict[str, str]:
    """`format: raw` (docker's `--env-file` reader): `KEY=VALUE` lines taken literally, no quotes,
    escapes or interpolation; a bare `KEY` is taken from the lookup when set there."""
    lookup = lookup or (lambda _k: None)
    out: dict[str, str] = {}
    for number, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line.removesuffix("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")
        line = line.lstrip(" \t\n\r\v\f")
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            if any(c in line for c in " \t"):
                raise DotEnvError(f"variable '{line}' contains whitespaces", file=filename, line=number)
            inherited = lookup(line)
            if inherited is not None:
                out[line] = inherited
            continue
        if not key:
            raise DotEnvError(f"no variable name on line '{line}'", file=filename, line=number)
        if any(c in key for c in " \t"):
            raise DotEnvError(f"variable '{key}' contains whitespaces", file=filename, line=number)
        out[key] = value
    return out


def read_file(path: str, lookup: Lookup | None = None, *, fmt: str | None = None,
              key_path=(), referrer: str | None = None) -> dict[str, str]:
    """Parse the env file at `path`; errors name it (and who asked for it)."""
    if fmt not in (None, "", "raw"):
        raise DotEnvError(f'unsupported env_file format "{fmt}"', file=referrer, key_path=key_path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise DotEnvError(f"env file {path} not found", file=referrer, key_path=key_path) from None
    except IsADirectoryError:
        raise DotEnvError(f"{path} is a directory", file=referrer, key_path=key_path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DotEnvError(f"cannot read env file {path}: {e}", file=referrer,
                          key_path=key_path) from None
    if fmt == "raw":
        return parse_raw(text, path, lookup)
    return parse(text, path, lookup)


def load_project_env(files, environ: Mapping[str, str]) -> dict[str, str]:
    """compose-go `GetEnvFromFile`: the files in order, later ones win; inside a file,
    interpolation sees what earlier files defined, then the process environment."""
    merged: dict[str, str] = {}
    for path in files:
        if not path:
            continue
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise DotEnvError(f"Couldn't find env file: {path}")
        if os.path.isdir(path):
            raise DotEnvError(f"{path} is a directory")

        def lookup(k, _merged=merged):
            return _merged[k] if k in _merged else environ.get(k)

        merged.update(read_file(path, lookup))
    return merged
