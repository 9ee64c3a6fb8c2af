"""Small real OCI images built offline with umoci from the static busybox of busybox-static.

Each image is published in the test registry under the name a compose file would use
(`busybox:1.36` is `docker.io/library/busybox:1.36`), so generated bootstrap scripts pull them
unmodified. The layouts are cached next to the host tarball, keyed by this file and busybox.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

from hostimage import CACHE_DIR, prune_stale

BUSYBOX = pathlib.Path("/bin/busybox")

# Prints exactly what the process received: cmdline and environ byte-exact (hex of the raw
# NUL-separated /proc data of the shell itself, so no quoting can blur them), cwd, uid, gid.
# The report goes to stdout (journal) and, when the compose file mounts a /report dir, to a file.
SHOW_PROCESS = r"""#!/bin/sh
hex() { od -An -v -tx1 | tr -d ' \n'; }
report() {
    echo "cmdline $(hex < /proc/$$/cmdline)"
    echo "environ $(hex < /proc/$$/environ)"
    echo "cwd $(pwd)"
    echo "uid $(id -u)"
    echo "gid $(id -g)"
}
if [ -d /report ]; then report > "/report/$(hostname).txt"; fi
report | sed 's/^/DKREPORT /'
# Stay up, and stop at once on SIGTERM: as PID 1 a plain `sleep` would ignore it.
trap 'exit 0' TERM
sleep 2147483647 &
wait
"""

# busybox httpd as PID 1 ignores SIGTERM; real servers stop on it, so the image does too.
SERVE = r"""#!/bin/sh
trap 'exit 0' TERM
httpd -f -p 80 -h /www &
wait
"""

INDEX_HTML = "<html><body>served by dekube-test/httpd</body></html>\n"


@dataclasses.dataclass(frozen=True)
class TestImage:
    """`reference` is what a compose file writes; `layout_tag` names it in the OCI layout."""
    reference: str
    layout_tag: str
    passwd: bool = True
    files: tuple[tuple[str, str, int], ...] = ()   # (path, content, mode)
    config: tuple[str, ...] = ()                   # umoci config arguments
    workdir: str | None = None

    @property
    def registry_path(self) -> str:
        """Repository path inside the registry: Docker Hub's implicit `library/` included."""
        name, _, tag = self.reference.rpartition(":")
        if "/" not in name:
            name = "library/" + name
        return f"{name}:{tag}"


PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\napp:x:1234:\nnogroup:x:65534:\n"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BUSYBOX_IMAGE = TestImage("busybox:1.36", "busybox", config=("--config.cmd=sh", f"--config.env={PATH_ENV}"))
DEFAULTS_IMAGE = TestImage(
    "dekube-test/defaults:1", "defaults",
    files=(("/usr/local/bin/show-process", SHOW_PROCESS, 0o755),),
    config=("--config.entrypoint=/usr/local/bin/show-process", "--config.entrypoint=from-entrypoint",
            "--config.cmd=from-cmd", "--config.cmd=second cmd arg",
            f"--config.env={PATH_ENV}", "--config.env=IMAGE_ENV=from image", "--config.env=SHARED=image",
            "--config.workingdir=/srv/work", "--config.user=app"),
    workdir="/srv/work")
NOPASSWD_IMAGE = TestImage(
    "dekube-test/nopasswd:1", "nopasswd", passwd=False,
    files=(("/usr/local/bin/show-process", SHOW_PROCESS, 0o755),),
    config=("--config.cmd=/usr/local/bin/show-process", f"--config.env={PATH_ENV}"))
HTTPD_IMAGE = TestImage(
    "dekube-test/httpd:1", "httpd",
    files=(("/www/index.html", INDEX_HTML, 0o644), ("/usr/local/bin/serve", SERVE, 0o755)),
    config=("--config.cmd=/usr/local/bin/serve", f"--config.env={PATH_ENV}",
            "--config.exposedports=80/tcp"))

ALL_IMAGES = (BUSYBOX_IMAGE, DEFAULTS_IMAGE, NOPASSWD_IMAGE, HTTPD_IMAGE)


def _rootfs(image: TestImage, dest: pathlib.Path) -> None:
    """A busybox.1.36-style tree: every applet linked in /bin, the usual top-level dirs."""
    for d in ("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr/bin", "usr/sbin", "var/tmp"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "var/tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin/busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", dest / "bin" / applet)
    if image.workdir:  # a Dockerfile WORKDIR creates the directory in the image
        (dest / image.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    if image.passwd:
        (dest / "etc/passwd").write_text(PASSWD)
        (dest / "etc/group").write_text(GROUP)
        (dest / "home/app").mkdir()
        os.chown(dest / "home/app", 1234, 1234)
    for path, content, mode in image.files:
        f = dest / path.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(content)
        os.chmod(f, mode)


def _build_layout(layout: pathlib.Path, work: pathlib.Path) -> None:
    subprocess.run(["umoci", "init", "--layout", str(layout)], check=True)
    for image in ALL_IMAGES:
        ref = f"{layout}:{image.layout_tag}"
        tree = work / image.layout_tag
        _rootfs(image, tree)
        subprocess.run(["umoci", "new", "--image", ref], check=True)
        subprocess.run(["umoci", "insert", "--image", ref, str(tree), "/"], check=True, stdout=subprocess.DEVNULL)
        # `umoci config` without --config.* resets nothing; repeated flags append list items.
        subprocess.run(["umoci", "config", "--image", ref, "--os=linux", "--architecture=amd64",
                        *image.config], check=True)
    subprocess.run(["umoci", "gc", "--layout", str(layout)], check=True)


def cache_key() -> str:
    h = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    h.update(BUSYBOX.read_bytes())
    return h.hexdigest()[:16]


def ensure_image_layout() -> pathlib.Path:
    """One OCI layout holding every test image, each under its `layout_tag`."""
    target = CACHE_DIR / f"images-{cache_key()}"
    if (target / "index.json").is_file():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="images-build-", dir=CACHE_DIR))
    try:
        layout = work / "layout"
        _build_layout(layout, work / "trees")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(layout, target)
        prune_stale("images-", target.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
