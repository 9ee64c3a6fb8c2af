"""Raw merged mapping -> canonical form of `docker compose config` (stub: identity)."""


def normalize(doc, *, name, project_dir, environ, resolve_paths, diagnostics):
    return dict(doc, name=name)
