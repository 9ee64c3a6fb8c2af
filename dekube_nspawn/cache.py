"""The private cache directory for compiled code ($XDG_CACHE_HOME/dekube-nspawn, else
~/.cache/dekube-nspawn): the compiled templates and the compiled schema validator, kept between
runs like __pycache__. Code is loaded from there, so only from a real directory of this user that
nobody else may write to; anything else means no cache (conversion is the same, only slower).
`DEKUBE_NSPAWN_NO_CACHE=1` turns it off."""
from __future__ import annotations

import os


def cache_directory() -> str | None:
    if os.environ.get("DEKUBE_NSPAWN_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    directory = os.path.join(base, "dekube-nspawn")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return None
    if not os.path.isdir(directory) or os.path.islink(directory) or st.st_uid != os.getuid() \
            or st.st_mode & 0o022:
        return None
    return directory
