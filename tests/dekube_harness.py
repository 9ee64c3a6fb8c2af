"""dekube's side of the extension contract, written from dekube-engine's code (core/extensions.py,
core/convert.py) and kept independent of dekube_nspawn: finding extension files, importing each
as its own module, picking transform classes, and the context object a transform receives.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import pathlib
import shutil
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
SHOP = REPO / "fixtures" / "dekube-shop"


def extension_files(extensions_dir) -> list[str]:
    """Every .py at the root and one folder below, sorted, skipping names starting with _ or ."""
    found = []
    for entry in sorted(os.listdir(extensions_dir)):
        full = os.path.join(extensions_dir, entry)
        if entry.startswith(("_", ".")):
            continue
        if entry.endswith(".py") and os.path.isfile(full):
            found.append(full)
        elif os.path.isdir(full):
            for sub in sorted(os.listdir(full)):
                sub_full = os.path.join(full, sub)
                if sub.endswith(".py") and not sub.startswith(("_", ".")) and os.path.isfile(sub_full):
                    found.append(sub_full)
    return found


def load_module(path: str):
    """Each file executed as its own module `dekube_op_<stem>`, its folder on sys.path meanwhile."""
    name = f"dekube_op_{pathlib.Path(path).stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    parent = str(pathlib.Path(path).parent)
    added = parent not in sys.path
    if added:
        sys.path.insert(0, parent)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(parent)
    return module


def is_transform_class(obj, module_name: str) -> bool:
    return (isinstance(obj, type)
            and obj.__module__ == module_name
            and callable(getattr(obj, "transform", None))
            and not hasattr(obj, "kinds")
            and not (hasattr(obj, "match") and hasattr(obj, "rewrite")))


def load_transforms(extensions_dir) -> list:
    """Instances (created with no arguments), in dekube's order: priority, default 1000."""
    transforms = []
    for path in extension_files(extensions_dir):
        module = load_module(path)
        for attr in dir(module):
            obj = getattr(module, attr)
            if is_transform_class(obj, module.__name__):
                transforms.append(obj())
    return sorted(transforms, key=lambda t: getattr(t, "priority", 1000))


def forget_extension_modules() -> None:
    for name in [n for n in sys.modules if n.startswith("dekube_op_")]:
        del sys.modules[name]


class DekubeContext:
    """The attributes of dekube's ConvertContext a transform reads."""

    def __init__(self, config: dict, output_dir: str, extension_name: str = "nspawn"):
        self.config = config
        self.output_dir = output_dir
        self.extension_config = (config.get("extensions") or {}).get(extension_name) or {}
        self.warnings: list[str] = []
        self.compose_extras: dict = {}
        self.secrets: dict = {}
        self.manifests: dict = {}


def shop_input():
    """(services, config) of the dekube-shop fixture: `compose_services` and dekube.yaml."""
    return (yaml.safe_load((SHOP / "services.yaml").read_text()),
            yaml.safe_load((SHOP / "dekube.yaml").read_text()))


def shop(tmp_path):
    """The dekube-shop fixture as dekube hands it to a transform: (services, config, output_dir),
    with dekube's output directory (configmaps/, secrets/) copied under tmp_path."""
    output_dir = tmp_path / "dekube-out"
    shutil.copytree(SHOP / "output", output_dir)
    return (*shop_input(), str(output_dir))


def frozen(value):
    return copy.deepcopy(value)
