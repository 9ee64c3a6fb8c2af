"""The layout of the JSON files people review in diffs (manifest.json).

Keys sorted, one per line; a list of objects or lists gets one line per item; every value on its
line is compact JSON from the standard library's C encoder. A changed file of the manifest is
one changed line in a diff. (`json.dumps(indent=2)` spreads
every small list over several lines, and is pure Python: three times slower on a 1000-machine
output.)
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring, encode_basestring_ascii


def dumps_reviewable(mapping: dict, *, ensure_ascii: bool = True) -> str:
    quote = encode_basestring_ascii if ensure_ascii else encode_basestring
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, sort_keys=True)

    def encode(value) -> str:
        # Strings, null, and lists and objects of strings (the manifest's rows) are spelled here
        # exactly as the C encoder spells them, without its per-value set-up.
        if value.__class__ is str:
            return quote(value)
        if value is None:
            return "null"
        if isinstance(value, (list, tuple)) and all(item.__class__ is str for item in value):
            return "[" + ", ".join([quote(item) for item in value]) + "]"
        if value.__class__ is dict and all(k.__class__ is str and v.__class__ is str
                                           for k, v in value.items()):
            return "{" + ", ".join([f"{quote(k)}: {quote(value[k])}" for k in sorted(value)]) + "}"
        return encoder.encode(value)

    lines = []
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, (list, tuple)) and value and \
                all(isinstance(item, (dict, list, tuple)) for item in value):
            items = ",\n".join(["    " + encode(item) for item in value])
            lines.append(f"  {quote(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {quote(key)}: {encode(value)}")
    if not lines:
        return "{}\n"
    return "{\n" + ",\n".join(lines) + "\n}\n"
