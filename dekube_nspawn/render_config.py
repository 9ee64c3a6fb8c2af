"""Render a Project like `docker compose config --format json|yaml` (stub)."""
import json


def render_config(project, fmt):
    return json.dumps(project.data, indent=2) + "\n"
