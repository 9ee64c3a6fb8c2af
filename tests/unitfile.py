"""Reading generated systemd-style files back into (section, key) -> [values] for assertions."""
from __future__ import annotations

import collections


def parse(text: str) -> dict:
    settings = collections.defaultdict(list)
    section = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        settings[(section, key)].append(value)
    return settings
