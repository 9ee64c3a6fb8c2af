"""Which skopeo references bootstrap.sh uses: docker:// by digest after asking for it, pinned
digests without asking, registry mirrors (`--from docker://MIRROR/PATH`) with Docker Hub's
`library/` names. A stand-in `skopeo` on PATH records its arguments and refuses every copy."""
from __future__ import annotations

import os
import subprocess

import pytest

from dekube_nspawn import ir
from dekube_nspawn.emit import bootstrap, scripts
from scripts_plans import image, layout, machine, plan, write_output

DIGEST = "sha256:" + "c" * 64
PINNED = "sha256:" + "a" * 64

FAKE_SKOPEO = f"""#!/bin/bash
printf '%s\\n' "$*" >> "$SKOPEO_LOG"
case "$1" in
    inspect) echo {DIGEST} ;;
    copy) exit 1 ;;
esac
"""


@pytest.fixture
def run(tmp_path):
    lay = layout(str(tmp_path / "r"))
    cfg = ir.ImageConfig(entrypoint=None, cmd=("sh",), env=(), working_dir=None, user=None, digest=PINNED)
    images = [image("busybox:1.36"), image("ghcr.io/org/app:2"), image("localhost:5000/x/y"),
              image("registry.example:5000/team/app:v1@" + PINNED, resolved=cfg)]
    p = plan("src", lay, [machine("src", lay, f"s{i}", img, mode=ir.NetworkMode.NONE)
                          for i, img in enumerate(images)])
    write_output(scripts.render(p) + bootstrap.render(p), tmp_path / "out")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "skopeo").write_text(FAKE_SKOPEO)
    (bin_dir / "skopeo").chmod(0o755)
    log = tmp_path / "skopeo.log"

    def _run(*args):
        log.write_text("")
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", SKOPEO_LOG=str(log))
        r = subprocess.run([str(tmp_path / "out/bootstrap.sh"), *args], capture_output=True, text=True, env=env)
        assert r.returncode == 1                      # every copy fails
        return [line.split() for line in log.read_text().splitlines()]
    return _run


def sources(calls, verb):
    return [c[-1] if verb == "inspect" else c[-2] for c in calls if c[0] == verb]


def test_docker_hub_and_registries_are_pulled_by_digest(run):
    calls = run()
    assert sources(calls, "inspect") == ["docker://busybox:1.36", "docker://ghcr.io/org/app:2",
                                         "docker://localhost:5000/x/y"]
    assert all("--no-tags" in c for c in calls if c[0] == "inspect")
    assert sources(calls, "copy") == [
        f"docker://busybox@{DIGEST}", f"docker://ghcr.io/org/app@{DIGEST}",
        f"docker://localhost:5000/x/y@{DIGEST}",
        f"docker://registry.example:5000/team/app@{PINNED}",      # pinned: nothing asked
    ]


def test_a_mirror_replaces_the_registry(run):
    calls = run("--from", "docker://mirror.local:5000/hub/")
    assert sources(calls, "inspect") == [
        "docker://mirror.local:5000/hub/library/busybox:1.36",
        "docker://mirror.local:5000/hub/org/app:2",
        "docker://mirror.local:5000/hub/x/y",
    ]
    assert sources(calls, "copy")[-1] == f"docker://mirror.local:5000/hub/team/app@{PINNED}"


def test_unknown_source_is_refused(run, tmp_path):
    calls = run("--from", "ftp://x")
    assert calls == []
