"""Which images the project needs: each distinct reference once, under a stable key."""
from __future__ import annotations

from dekube_nspawn import ir
from dekube_nspawn.planning import names
from dekube_nspawn.planning.context import Context, service_path

# When services share an image but disagree on pull_policy, the most eager one wins.
_EAGERNESS = ["never", "missing", "if_not_present", "build", "daily", "weekly", "always"]


def image_reference(ctx: Context, service: str, svc) -> str | None:
    """The image a service runs, or None for `build:` without `image:` (warned)."""
    path = service_path(service)
    image = svc.get("image")
    if svc.get("build") is not None:
        if image:
            ctx.warn(path + ("build",), f"not built: image {image!r} must already exist in the "
                     "registry (build and push it elsewhere)")
        else:
            ctx.warn(path + ("build",), "not built and no `image:` to pull: build the image "
                     "elsewhere, set `image:`, and convert again; the machine is planned "
                     "without an image")
            return None
    if not image:
        return None
    return str(image)


def pull_policy(ctx: Context, service: str, svc) -> str:
    policy = str(svc.get("pull_policy") or "missing")
    if policy == "build":
        ctx.warn(service_path(service, "pull_policy"), "images are not built here: pulled like "
                 "`missing`")
        return "missing"
    if policy.startswith("every_") or policy in ("daily", "weekly"):
        ctx.warn(service_path(service, "pull_policy"), "bootstrap.sh pulls when run; there is "
                 "no periodic refresh")
    return policy


def plan_images(ctx: Context, references: dict[str, tuple[str, str]]) -> dict[str, ir.Image]:
    """references: service -> (image reference, pull policy). Returns reference -> Image."""
    transport = ctx.options.image_transport
    configs = ctx.options.image_configs or {}
    policies: dict[str, str] = {}
    for ref, policy in references.values():
        old = policies.get(ref)
        rank = _EAGERNESS.index(policy) if policy in _EAGERNESS else len(_EAGERNESS)
        if old is None or rank > (_EAGERNESS.index(old) if old in _EAGERNESS else len(_EAGERNESS)):
            policies[ref] = policy
    return {ref: ir.Image(reference=ref, key=names.image_key(transport, ref), transport=transport,
                          pull_policy=policies[ref], resolved=configs.get(ref))
            for ref in sorted(policies)}
