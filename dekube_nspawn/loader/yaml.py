"""Stage 1: YAML text -> raw mapping (safe loading; stub, to be replaced)."""
import yaml


def parse(text: str, filename: str):
    return yaml.safe_load(text) or {}
