"""dekube extension: write systemd-nspawn output next to dekube's compose.yml.

dekube (Helm charts -> compose) loads transforms from its `--extensions-dir`; `NspawnTransform`
is one. It turns the services dekube generated into a compose document, then runs it through the
same loader, planner and emitters as `dekube-nspawn convert`. `python -m dekube_nspawn.dekube
install-extension DIR` writes the file dekube needs to find it (see docs/dekube.md).
"""
from dekube_nspawn.dekube.transform import NspawnTransform

__all__ = ["NspawnTransform"]
