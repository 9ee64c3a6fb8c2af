"""Short syntax -> long syntax for the keys whose merge depends on it (stub: identity)."""


def canonicalize(doc):
    return doc
