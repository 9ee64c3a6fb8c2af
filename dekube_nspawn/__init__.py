"""dekube-nspawn: run a docker compose project as systemd-nspawn machines under systemd."""

__version__ = "0.1.0"
