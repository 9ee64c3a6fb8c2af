"""Errors and warnings that name the file, line and key path a user has to fix.

Every failure the tool reports on purpose is a `DekubeError`; the CLI prints its one-paragraph
`str()` and exits 1. Warnings are collected in a `Diagnostics` object that travels with the
pipeline, so that no stage prints on its own and library users (the dekube transform) can route
them wherever they want.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field


def format_key_path(path) -> str:
    """`("services", "web", "ports", 0)` -> `services.web.ports[0]`. A key that is empty or has
    characters that do not print (a service named "\\n") is shown quoted and escaped, so a
    message stays one line and the key stays visible."""
    out = ""
    for part in path or ():
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text or not text.isprintable():
                text = json.dumps(text, ensure_ascii=False)
            out += ("." if out else "") + text
    return out


class DekubeError(Exception):
    """An error the user can act on: what failed, where, and why."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, key_path=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.key_path = tuple(key_path) if key_path else ()

    def __reduce__(self):
        # Pickled whole (a render worker process reports its error this way): the default would
        # rebuild it from the message alone and lose the file, line and key path.
        return (_rebuild_error, (type(self), self.message, self.file, self.line, self.column,
                                 self.key_path))

    def location(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        parts = []
        loc = self.location()
        if loc:
            parts.append(loc)
        if self.key_path:
            parts.append(format_key_path(self.key_path))
        prefix = ": ".join(parts)
        # One paragraph: embedded newlines from YAML parser messages are folded.
        msg = " ".join(self.message.split())
        return f"{prefix}: {msg}" if prefix else msg


def _rebuild_error(cls, message, file, line, column, key_path):
    return cls(message, file=file, line=line, column=column, key_path=key_path)


class ComposeFileError(DekubeError):
    """The compose input is invalid (syntax, schema, semantics)."""


class UsageError(DekubeError):
    """The command line is wrong (exit 2)."""


class ConversionError(DekubeError):
    """A valid compose project asks for something the target cannot express, under --strict
    or where no safe fallback exists."""


@dataclass(frozen=True)
class Warning_:
    key_path: tuple
    message: str

    def __str__(self) -> str:
        path = format_key_path(self.key_path)
        return f"{path}: {self.message}" if path else self.message


@dataclass
class Diagnostics:
    """Warnings collected along the pipeline; `strict` turns the first one into an error."""

    strict: bool = False
    warnings: list[Warning_] = field(default_factory=list)

    def warn(self, key_path, message: str) -> None:
        w = Warning_(tuple(key_path), message)
        if self.strict:
            raise ConversionError(f"{message} (--strict turns warnings into errors)",
                                  key_path=key_path)
        if w not in self.warnings:
            self.warnings.append(w)
