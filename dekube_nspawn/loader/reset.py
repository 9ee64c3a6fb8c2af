"""`!reset` and `!override` (compose-go loader/reset.go).

A later file (or a service that `extends` another) can say `key: !reset ...` to remove what came
before, or `key: !override value` to replace it instead of merging. `strip` takes the markers
out of a freshly parsed document and returns the paths they were at; `apply` then removes those
paths from the mapping the document is about to be merged onto, so the ordinary merge gives
the right result (nothing for `!reset`, the new value alone for `!override`).
"""
from __future__ import annotations

from dekube_nspawn.loader.yaml import Override, Reset


def strip(doc):
    """(doc without markers, [paths]). `!reset` entries are dropped, `!override` unwrapped."""
    paths: list[tuple] = []

    def walk(value, path):
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(v, Reset):
                    paths.append(path + (k,))
                    continue
                if isinstance(v, Override):
                    paths.append(path + (k,))
                    v = v.value
                out[k] = walk(v, path + (k,))
            return out
        if isinstance(value, list):
            out = []
            for i, v in enumerate(value):
                if isinstance(v, Reset):
                    continue
                if isinstance(v, Override):
                    v = v.value
                out.append(walk(v, path + (i,)))
            return out
        if isinstance(value, (Reset, Override)):  # on the root: nothing to reset
            return walk(value.value, path) if isinstance(value, Override) else None
        return value

    return walk(doc, ()), paths


def has_markers(doc) -> bool:
    if isinstance(doc, (Reset, Override)):
        return True
    if isinstance(doc, dict):
        return any(has_markers(v) for v in doc.values())
    if isinstance(doc, list):
        return any(has_markers(v) for v in doc)
    return False


def apply(target: dict, paths, prefix: tuple = ()) -> None:
    """Delete each path (relative to `prefix`) from `target`, in place."""
    for path in paths:
        if path[:len(prefix)] != prefix:
            continue
        rel = path[len(prefix):]
        if not rel:
            continue
        node = target
        for part in rel[:-1]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                node = None
                break
        if isinstance(node, dict):
            node.pop(rel[-1], None)
