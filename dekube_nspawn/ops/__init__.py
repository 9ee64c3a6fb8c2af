"""Day-2 operations on an installed project (`up`, `down`, `ps`, `logs`, `exec`, ...), in Docker
Compose's vocabulary, built on systemd's own tools. Everything starts from what install.sh
recorded (`locate.py`); nothing here re-implements install.sh, uninstall.sh or bootstrap.sh."""
