"""`install-extension DIR`: the file that makes dekube find the transform.

dekube loads every `.py` file at the root of its `--extensions-dir` (and one folder below) and
keeps only the classes *defined in that file*; a class imported from our package does not count.
So the installed file defines a subclass. It also remembers where this package and its
dependencies were found, so that dekube finds them even when it runs from another Python
environment (a venv, or dekube's single-file distribution), and it degrades to a transform that
explains the problem when they cannot be imported at all: dekube then prints a warning instead of
silently losing the hook.
"""
from __future__ import annotations

import importlib
import os

FILENAME = "dekube_nspawn_transform.py"   # dekube imports it as `dekube_op_dekube_nspawn_transform`
MARKER = "# installed by: python -m dekube_nspawn.dekube install-extension"

# Third-party modules the conversion imports (pyproject.toml dependencies, by import name).
RUNTIME_MODULES = ("yaml", "jinja2", "jsonschema", "fastjsonschema")

_TEMPLATE = '''"""dekube transform: systemd-nspawn output next to compose.yml (package dekube-nspawn)."""
{marker}
import sys

# Where the Python that ran install-extension found dekube_nspawn and its dependencies: appended
# (never prepended) to sys.path when dekube's own Python lacks them.
_PATHS = {paths!r}

try:
    try:
        from dekube_nspawn.dekube.install import check_runtime
        check_runtime()
    except ImportError:
        sys.path.extend(p for p in _PATHS if p not in sys.path)
        from dekube_nspawn.dekube.install import check_runtime
        check_runtime()
    from dekube_nspawn.dekube import NspawnTransform as _Packaged
except Exception as _error:  # noqa: BLE001 - told to the user through dekube's warnings
    _IMPORT_ERROR = f"{{type(_error).__name__}}: {{_error}}"

    class NspawnTransform:
        """Stands in when dekube-nspawn cannot be imported by the Python that runs dekube."""

        name = "nspawn"
        priority = 9000

        def transform(self, compose_services, ingress_entries, ctx):
            ctx.warnings.append(
                "nspawn: dekube-nspawn cannot be imported by " + sys.executable + " ("
                + _IMPORT_ERROR + "); install it for this Python (it needs Python 3.11+) "
                "and run install-extension again; no systemd-nspawn output was written")
else:
    class NspawnTransform(_Packaged):
        """dekube keeps only classes defined in the file it loads: this one is."""
'''


def check_runtime() -> None:
    """Raises ImportError when a module the conversion needs cannot be imported."""
    for name in RUNTIME_MODULES:
        importlib.import_module(name)


def import_paths() -> list[str]:
    """The sys.path entries this Python found dekube_nspawn and its dependencies under."""
    paths = [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
    for name in RUNTIME_MODULES:
        module = importlib.import_module(name)
        location = os.path.dirname(os.path.abspath(module.__file__))
        if os.path.basename(module.__file__).startswith("__init__."):
            location = os.path.dirname(location)    # a package: its parent is on sys.path
        if location not in paths:
            paths.append(location)
    return paths


def extension_source() -> str:
    return _TEMPLATE.format(marker=MARKER, paths=import_paths())


def install_extension(extensions_dir: str, force: bool = False) -> str:
    """Writes the extension file; returns its path. Refuses to replace a file it did not write."""
    from dekube_nspawn.errors import UsageError
    if os.path.exists(extensions_dir) and not os.path.isdir(extensions_dir):
        raise UsageError(f"{extensions_dir} is not a directory")
    os.makedirs(extensions_dir, exist_ok=True)
    path = os.path.join(extensions_dir, FILENAME)
    if os.path.exists(path) and not force:
        with open(path, encoding="utf-8", errors="replace") as fh:
            if MARKER not in fh.read():
                raise UsageError(f"{path} exists and was not written by install-extension; "
                                 "pass --force to replace it")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(extension_source())
    os.replace(tmp, path)
    return path
