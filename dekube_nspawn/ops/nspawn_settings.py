"""Read back the process settings of an installed `.nspawn` file and a unit's EnvironmentFile=,
with the quoting rules they were written with (docs/runtime.md "Quoting", escape.py)."""
from __future__ import annotations

import re

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # nspawn's own default


def nspawn_words(value: str) -> list[str]:
    """Parameters=/Environment= words: whitespace-split, either quote kind groups, no escapes."""
    words, current, quote, in_word = [], [], None, False
    for ch in value:
        if quote:
            if ch == quote:
                quote = None
            else:
                current.append(ch)
        elif ch in "\"'":
            quote, in_word = ch, True
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(ch)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def exec_settings(text: str) -> dict:
    """{"environment": {...} (later assignments win), "working_directory": str|None,
    "parameters": [...], "process_two": bool} from the [Exec] sections of a .nspawn file."""
    env: dict[str, str] = {}
    workdir, params, section, process_two = None, [], None, False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Exec" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key == "Environment":
            for word in nspawn_words(value):
                name, sep, val = word.partition("=")
                if sep:
                    env[name] = val
        elif key == "WorkingDirectory":
            workdir = value.strip() or None
        elif key == "ProcessTwo":
            process_two = value.strip().lower() in ("yes", "true", "1", "on")
        elif key == "Parameters":
            params = [] if not value.strip() else params + nspawn_words(value)
    return {"environment": env, "working_directory": workdir, "parameters": params,
            "process_two": process_two}


_ENV_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


def env_file(text: str) -> dict[str, str]:
    """systemd env-file assignments as escape.env_file_assignment writes them: NAME='...' (kept
    verbatim, line breaks included) or NAME="..." (backslash escapes), or a bare value."""
    env, i, n = {}, 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\n":
            i += 1
        if i < n and text[i] in "#;":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        m = _ENV_LINE.match(text, i)
        if not m:
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        name, i = m.group(1), m.end()
        if i < n and text[i] == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            env[name], i = text[i + 1:end], end + 1
        elif i < n and text[i] == '"':
            out, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(text[i])
                i += 1
            env[name], i = "".join(out), i + 1
        else:
            nl = text.find("\n", i)
            nl = n if nl < 0 else nl
            env[name], i = text[i:nl].strip(), nl
    return env
