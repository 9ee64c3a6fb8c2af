"""--resolve-images against a real local OCI layout built with umoci (no network)."""
from __future__ import annotations

import subprocess

import pytest

from conftest import require_tools
from dekube_nspawn import images
from dekube_nspawn.errors import ConversionError
from dekube_nspawn.model import Project


def umoci(*args):
    subprocess.run(["umoci", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    require_tools("umoci", "skopeo")
    path = tmp_path_factory.mktemp("oci") / "layout"
    umoci("init", "--layout", str(path))
    umoci("new", "--image", f"{path}:app")
    umoci("config", "--image", f"{path}:app", "--config.entrypoint", "/bin/echo",
          "--config.cmd", "hello", "--config.env", "PATH=/usr/bin:/bin",
          "--config.env", "GREETING=a b=c", "--config.workingdir", "/srv",
          "--config.user", "1000:1000")
    umoci("new", "--image", f"{path}:bare")
    return str(path)


def test_inspect_reads_process_defaults_and_digest(layout):
    cfg = images.inspect_image("app", transport=f"oci:{layout}")
    assert cfg.entrypoint == ("/bin/echo",)
    assert cfg.cmd == ("hello",)
    assert cfg.env == (("PATH", "/usr/bin:/bin"), ("GREETING", "a b=c"))
    assert cfg.working_dir == "/srv"
    assert cfg.user == "1000:1000"
    assert cfg.digest.startswith("sha256:") and len(cfg.digest) == 71
    # the digest is the manifest's: the same as skopeo reports, stable across calls
    assert images.inspect_image("app", transport=f"oci:{layout}").digest == cfg.digest


def test_image_without_defaults(layout):
    cfg = images.inspect_image("bare", transport=f"oci:{layout}")
    assert (cfg.entrypoint, cfg.cmd, cfg.working_dir, cfg.user) == (None, None, None, None)


def test_resolve_images_of_a_project(layout):
    project = Project(name="p", project_dir="/srv/p", data={"services": {
        "a": {"image": "app"}, "b": {"image": "app"}, "c": {"image": "bare"},
        "d": {"build": {"context": "/x"}}}})
    resolved = images.resolve_images(project, transport=f"oci:{layout}")
    assert sorted(resolved) == ["app", "bare"]
    assert resolved["app"].cmd == ("hello",)


def test_missing_image_is_a_clear_error(layout):
    with pytest.raises(ConversionError) as err:
        images.inspect_image("nope", transport=f"oci:{layout}")
    text = str(err.value)
    assert "'nope'" in text and "skopeo" in text and "failed" in text


def test_missing_skopeo_is_a_clear_error():
    with pytest.raises(ConversionError, match="needs skopeo"):
        images.inspect_image("x", skopeo="/nonexistent/skopeo")


def test_source_reference_forms():
    assert images.source_reference("docker://", "busybox:1.36") == "docker://busybox:1.36"
    assert images.source_reference("docker://mirror.local/", "busybox") == \
        "docker://mirror.local/busybox"
    assert images.source_reference("oci:/var/img", "app") == "oci:/var/img:app"


def test_resolved_config_feeds_the_effective_process(layout):
    from planhelp import plan
    from dekube_nspawn.plan import PlanOptions
    resolved = {"app": images.inspect_image("app", transport=f"oci:{layout}")}
    p, _ = plan({"web": {"image": "app", "command": ["bye"], "environment": {"GREETING": "x"}}},
                options=PlanOptions(image_configs=resolved))
    m = p.machines[0]
    assert m.image.resolved is resolved["app"]
    assert m.effective.argv == ("/bin/echo", "bye")
    assert m.effective.environment == (("PATH", "/usr/bin:/bin"), ("GREETING", "x"))
    assert m.effective.working_dir == "/srv" and m.effective.user == "1000:1000"
