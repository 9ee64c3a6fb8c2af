"""Day-2 operations on an installed project (`up`, `down`, `ps`, `logs`, `exec`, ...), in Docker
Compose's vocabulary, built on systemd's own tools. Everything starts from what install.sh
recorded (`locate.py`); nothing here re-implements install.sh, uninstall.sh or bootstrap.sh."""

# The verbs, listed here so that the command line knows them without importing their code.
DAY2_VERBS = ("up", "down", "ps", "logs", "exec", "start", "stop", "restart", "pull", "images", "prune")
