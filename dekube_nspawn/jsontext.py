"""The layout of the JSON files people review in diffs (manifest.json, machines/<m>.json).

Keys sorted, one per line; a list of objects or lists gets one line per item; every value on its
line is compact JSON from the standard library's C encoder. A changed file of the manifest or
a changed variable of a machine is one changed line in a diff. (`json.dumps(indent=2)` spreads
every small list over several lines, and is pure Python: three times slower on a 1000-machine
output.)
"""
from __future__ import annotations

import json


def dumps_reviewable(mapping: dict, *, ensure_ascii: bool = True) -> str:
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii, sort_keys=True).encode
    lines = []
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, (list, tuple)) and value and \
                all(isinstance(item, (dict, list, tuple)) for item in value):
            items = ",\n".join(["    " + encode(item) for item in value])
            lines.append(f"  {encode(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {encode(key)}: {encode(value)}")
    if not lines:
        return "{}\n"
    return "{\n" + ",\n".join(lines) + "\n}\n"
