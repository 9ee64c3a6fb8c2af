"""`images` and `prune`: the unpacked images under /var/lib/dekube-nspawn/images (shared by all
projects on the host, bootstrap.sh's layout: `<key>/{oci,bundle-*,current,image-config.json}`).
An image is in use when an installed project's machine unit names its key (`rootfs.sh up M KEY`)
or a mounted overlay still reads from it."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass

from dekube_nspawn.ops import locate

IMAGES_DIR = os.path.join(locate.STATE_ROOT, "images")


@dataclass
class ImageEntry:
    key: str
    path: str
    size_bytes: int
    used_by: list[str]      # installed projects whose machines use the image

    @property
    def in_use(self) -> bool:
        return bool(self.used_by)


def disk_usage(path: str) -> int:
    """Bytes allocated (du -s: hard links counted once, symlinks not followed)."""
    proc = subprocess.run(["du", "-s", "-B1", "--", path], capture_output=True, text=True)
    try:
        return int(proc.stdout.split()[0])
    except (IndexError, ValueError):
        return 0


def keys_in_use(config_root: str | None = None) -> dict[str, list[str]]:
    """image key -> installed projects using it."""
    used: dict[str, list[str]] = {}
    for name in locate.installed_projects(config_root):
        try:
            project = locate.load_installed(name, config_root)
        except locate.ProjectNotInstalled:
            continue
        for machine in project.machines:
            if machine.image_key and name not in used.setdefault(machine.image_key, []):
                used[machine.image_key].append(name)
    return used


def mounted_keys(images_dir: str = IMAGES_DIR, mountinfo: str = "/proc/self/mountinfo") -> set[str]:
    """Keys an overlay mount still has as its lower layer (a machine of a project since removed)."""
    keys = set()
    try:
        with open(mountinfo) as fh:
            text = fh.read()
    except OSError:
        return keys
    marker = "lowerdir=" + images_dir.rstrip("/") + "/"
    for line in text.splitlines():
        start = line.find(marker)
        if start >= 0:
            keys.add(line[start + len(marker):].split("/", 1)[0])
    return keys


def list_images(images_dir: str = IMAGES_DIR, config_root: str | None = None,
                usage=disk_usage) -> list[ImageEntry]:
    try:
        keys = sorted(k for k in os.listdir(images_dir) if os.path.isdir(os.path.join(images_dir, k)))
    except OSError:
        return []
    used = keys_in_use(config_root)
    mounted = mounted_keys(images_dir)
    entries = []
    for key in keys:
        users = list(used.get(key, []))
        if key in mounted and not users:
            users = ["(mounted)"]
        path = os.path.join(images_dir, key)
        entries.append(ImageEntry(key, path, usage(path), users))
    return entries


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n}"


def format_table(entries: list[ImageEntry]) -> str:
    table = [("IMAGE", "SIZE", "USED BY")] + [(e.key, human_size(e.size_bytes), ",".join(e.used_by) or "-")
                                              for e in entries]
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in table)


def format_json(entries: list[ImageEntry]) -> str:
    return json.dumps([asdict(e) for e in entries], indent=2) + "\n"


def remove_unless_locked(path: str) -> bool:
    """bootstrap.sh holds `<image>/.lock` (flock) while it pulls or unpacks the image: an image
    being pulled right now is kept; otherwise it is removed under that same lock."""
    try:
        fd = os.open(os.path.join(path, ".lock"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        shutil.rmtree(path)
        return True
    finally:
        if fd is not None:
            os.close(fd)


def prune(entries: list[ImageEntry], remove=remove_unless_locked) -> list[ImageEntry]:
    """Remove every image no installed project uses; returns the removed ones."""
    return [entry for entry in entries if not entry.in_use and remove(entry.path)]
