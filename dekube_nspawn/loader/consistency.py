"""Cross-reference checks after normalization (stub)."""


def check(data):
    return None
