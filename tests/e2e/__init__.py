# A package, so that pytest imports tests/e2e/conftest.py as `e2e.conftest` and not as a second
# top-level `conftest` that would shadow tests/conftest.py for `from conftest import ...`.
