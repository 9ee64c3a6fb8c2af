"""The root filesystem of the systemd test host: a minimal Debian bookworm made with debootstrap.

Building it takes about a minute, so it is cached as a tarball whose name carries a hash of
everything that shapes it (package list, suite, customisation below); a changed list builds a
new tarball, an unchanged one is reused. The mirror comes from this machine's apt sources, so
the build works wherever `apt-get install` works (CI has only a Debian mirror).
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

CACHE_DIR = pathlib.Path(os.environ.get("DEKUBE_E2E_CACHE", "/var/cache/dekube-nspawn-tests"))
SUITE = "bookworm"

# Everything the host needs to run generated output, in one place. containernetworking-plugins
# is listed explicitly: skopeo's dependency resolution fails in debootstrap without it.
HOST_PACKAGES = (
    "systemd", "systemd-sysv", "systemd-container", "dbus", "iproute2", "busybox-static",
    "skopeo", "containernetworking-plugins", "umoci", "procps", "python3", "util-linux",
    "nftables", "docker-registry", "jq",
)

# Applied to the fresh rootfs before it is archived; part of the cache key.
_CUSTOMISE = r"""
set -eu
echo dekube-e2e-host > etc/hostname
# networkd builds the bridges of generated .netdev/.network files.
ln -sf /lib/systemd/system/systemd-networkd.service etc/systemd/system/multi-user.target.wants/systemd-networkd.service
mkdir -p etc/systemd/system/sockets.target.wants
ln -sf /lib/systemd/system/systemd-networkd.socket etc/systemd/system/sockets.target.wants/systemd-networkd.socket
# The packaged registry listens on every address with its own config; the fixture runs its own.
rm -f etc/systemd/system/multi-user.target.wants/docker-registry.service
# Nothing to log in to on a console nobody reads.
ln -sf /dev/null etc/systemd/system/console-getty.service
ln -sf /dev/null etc/systemd/system/getty@.service
rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/*
"""


def cache_key() -> str:
    h = hashlib.sha256()
    h.update(SUITE.encode())
    h.update("\0".join(HOST_PACKAGES).encode())
    h.update(_CUSTOMISE.encode())
    return h.hexdigest()[:16]


def tarball_path() -> pathlib.Path:
    return CACHE_DIR / f"host-{cache_key()}.tar"


def prune_stale(prefix: str, keep: str) -> None:
    """Remove cache entries `prefix*` other than `keep` and its derived names: a changed package
    list or image builder leaves its predecessor behind otherwise (each host is 300-450 MB)."""
    for entry in CACHE_DIR.glob(prefix + "*"):
        if not entry.name.startswith(keep) and ".partial-" not in entry.name and "-build-" not in entry.name:
            subprocess.run(["rm", "-rf", "--one-file-system", str(entry)], check=True)


def debian_mirror() -> str:
    """The first Debian archive URI of the apt sources (not the security archive)."""
    candidates: list[str] = []
    sources_d = pathlib.Path("/etc/apt/sources.list.d")
    for f in sorted(sources_d.glob("*.sources")) if sources_d.is_dir() else ():
        for stanza in re.split(r"\n\s*\n", f.read_text()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if SUITE in fields.get("Suites", "").split() and "deb" in fields.get("Types", "").split():
                candidates += fields.get("URIs", "").split()
    for f in [pathlib.Path("/etc/apt/sources.list"), *sorted(sources_d.glob("*.list"))]:
        if f.is_file():
            for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", f.read_text(), re.M):
                candidates.append(m.group(1))
    for uri in candidates:
        if "security" not in uri:
            return uri
    raise RuntimeError("no Debian bookworm mirror found in the apt sources")


def ensure_host_tarball() -> pathlib.Path:
    """Return the cached host tarball, building it first when it is missing."""
    target = tarball_path()
    if target.is_file():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    build = pathlib.Path(tempfile.mkdtemp(prefix="host-build-", dir=CACHE_DIR))
    try:
        root = build / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(HOST_PACKAGES),
             SUITE, str(root), debian_mirror()],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        subprocess.run(["sh", "-c", _CUSTOMISE], cwd=root, check=True)
        partial = build / "host.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
                       check=True)
        os.replace(partial, target)  # atomic: a concurrent or interrupted build never leaves half a tar
        prune_stale("host-", target.with_suffix("").name)
    except subprocess.CalledProcessError as e:
        out = (e.stdout or b"").decode(errors="replace")[-3000:]
        raise RuntimeError(f"building the test host failed: {e}\n{out}") from e
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def unpack_host(tarball: pathlib.Path, dest: pathlib.Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(dest), "-xf", str(tarball)], check=True)


def ensure_host_rootfs() -> pathlib.Path:
    """The unpacked tarball, cached beside it. Test hosts boot it with --volatile=overlay only
    (read-only lower layer, tmpfs on top), so it is never written to and can be shared by
    concurrent hosts and sessions; unpacking per session would cost 10-15 s each way."""
    tarball = ensure_host_tarball()
    target = tarball.with_suffix("")
    if (target / "usr").is_dir():
        return target
    partial = pathlib.Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=CACHE_DIR))
    try:
        unpack_host(tarball, partial / "root")
        os.rename(partial / "root", target)  # atomic; a concurrent session that won keeps its tree
    except OSError:
        if not (target / "usr").is_dir():
            raise
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(partial)], check=True)
    return target
