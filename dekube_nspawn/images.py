"""`--resolve-images`: ask skopeo for each image's digest and process defaults at conversion time.

The result (reference -> `ir.ImageConfig`) goes into `PlanOptions.image_configs`; the planner
then writes the complete effective process (runtime/process.py) and bootstrap.sh can pin the
digest. Without this option the host computes the same thing after pulling.
"""
from __future__ import annotations

import json
import subprocess

from dekube_nspawn.errors import ConversionError
from dekube_nspawn.ir import ImageConfig
from dekube_nspawn.runtime.process import image_defaults


def source_reference(transport: str, reference: str) -> str:
    """What skopeo is given: `docker://` and mirror prefixes (ending in `/` or `:`) are put in
    front of the reference; a directory transport (`oci:DIR`, `oci-archive:FILE`) gets the
    reference as its tag: `oci:DIR:REF`."""
    if transport.endswith(("/", ":")):
        return transport + reference
    return f"{transport}:{reference}"


def project_references(project) -> list[str]:
    """Distinct images the project's services name, sorted (`build:` without `image:` has none)."""
    return sorted({str(svc["image"]) for svc in project.services.values()
                   if svc and svc.get("image")})


def _skopeo_json(args: list[str], skopeo: str, what: str, run) -> dict:
    try:
        proc = run([skopeo, *args], capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise ConversionError(f"--resolve-images needs skopeo, which is not installed "
                              f"({skopeo!r} not found)") from None
    except subprocess.TimeoutExpired:
        raise ConversionError(f"--resolve-images: skopeo timed out on {what}") from None
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout or "").split())
        raise ConversionError(f"--resolve-images: `skopeo {' '.join(args)}` failed for {what} "
                              f"(exit {proc.returncode}): {detail}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise ConversionError(f"--resolve-images: skopeo printed no JSON for {what}") from None


def inspect_image(reference: str, transport: str = "docker://", skopeo: str = "skopeo",
                  run=subprocess.run) -> ImageConfig:
    source = source_reference(transport, reference)
    what = f"image {reference!r} ({source})"
    # --no-tags: listing tags ignores registries.conf mirrors/rewrites (skopeo 1.9) and would
    # reach the original registry even where pulls are redirected (air-gapped hosts, mirrors).
    manifest = _skopeo_json(["inspect", "--no-tags", source], skopeo, what, run)
    config = _skopeo_json(["inspect", "--config", source], skopeo, what, run)
    digest = manifest.get("Digest")
    if not digest:
        raise ConversionError(f"--resolve-images: skopeo reported no digest for {what}")
    d = image_defaults(config)
    return ImageConfig(
        entrypoint=tuple(d["entrypoint"]) if d["entrypoint"] is not None else None,
        cmd=tuple(d["cmd"]) if d["cmd"] is not None else None,
        env=tuple(d["env"]), working_dir=d["working_dir"], user=d["user"], digest=digest)


def resolve_images(project, transport: str = "docker://", skopeo: str = "skopeo",
                   run=subprocess.run) -> dict[str, ImageConfig]:
    """reference -> ImageConfig for every image of the project; the first failure is an error
    naming the image (no partial result: a plan is either resolved or not)."""
    return {ref: inspect_image(ref, transport, skopeo, run) for ref in project_references(project)}
