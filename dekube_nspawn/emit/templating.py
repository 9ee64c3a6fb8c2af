"""The one Jinja2 environment every emitter renders with.

Autoescape is off (no template writes HTML) and undefined names fail loudly. Templates never quote
anything themselves: each untrusted value goes through a filter named after its target syntax,
and each filter is a function of `escape.py`.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import pathlib

import jinja2

from dekube_nspawn import escape
from dekube_nspawn.cache import cache_directory


def _template_dir() -> pathlib.Path:
    # Installed wheels carry the templates inside the package; a source checkout has them at the
    # repository root.
    package = pathlib.Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("dekube-nspawn templates directory not found")


def _seconds(value: float) -> str:
    """A time span for a unit file: whole seconds as `90`, fractions as `1.5s`, `infinity`."""
    if value is None or value == float("inf"):
        return "infinity"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"


def joined(escape_word):
    """The filter for a list of words of one syntax: each escaped by `escape_word`, separated by
    one space."""
    def words(values, key_path=()) -> str:
        return " ".join([escape_word(v, key_path) for v in values])
    return words


FILTERS = {
    "sh": escape.shell_quote,
    "exec_word": escape.unit_exec_word,
    "exec_line": escape.unit_exec_line,
    "unit_env": escape.unit_environment,
    "env_assignment": escape.env_file_assignment,
    "unit_text": escape.unit_text,
    "unit_name": escape.unit_name,
    "unit_path": escape.unit_plain_path,
    "device_path": escape.unit_device_path,
    "nspawn_word": escape.nspawn_word,
    "nspawn_words": joined(escape.nspawn_word),
    "nspawn_path": escape.nspawn_path,
    "nspawn_value": escape.nspawn_value,
    "hosts_name": escape.hosts_name,
    "hosts_names": joined(escape.hosts_name),
    "resolv_word": escape.resolv_word,
    "resolv_words": joined(escape.resolv_word),
    "seconds": _seconds,
}


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs, like Python's __pycache__: compiling the templates
    costs more than rendering all of a 1000-machine project's files. Jinja reuses an entry only
    for the same template source (checksum), Jinja version and Python version; the file name
    pattern adds the environment's syntax settings, which Jinja does not check itself. The cache
    is an optimization only: when it cannot be written, conversion goes on without it."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def bytecode_cache(env: jinja2.Environment, tag: str) -> jinja2.BytecodeCache | None:
    """The compiled-template cache for `env`, or None when there is no usable cache directory.
    `DEKUBE_NSPAWN_NO_CACHE=1` turns it off."""
    directory = cache_directory()
    if directory is None:
        return None
    syntax = (jinja2.__version__, env.block_start_string, env.block_end_string,
              env.variable_start_string, env.variable_end_string, env.comment_start_string,
              env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
              env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
              env.autoescape, env.optimized, sorted(env.extensions))
    digest = hashlib.sha256(repr(syntax).encode()).hexdigest()[:16]
    return _TemplateCache(directory, pattern=f"{tag}-{digest}-%s.cache")


class AttributeEnvironment(jinja2.Environment):
    """Templates read attributes only (of the IR, and of the NamedTuples emitters make for them),
    never dict keys, so `a.b` in a template is Python's own getattr. Jinja's default tries the
    attribute, then the item, then makes an undefined, in a Python call per access: ~40% of the
    rendering of a 1000-machine project. A missing attribute raises AttributeError, as loud as
    StrictUndefined."""

    getattr = staticmethod(builtins.getattr)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = AttributeEnvironment(
        loader=jinja2.FileSystemLoader(str(_template_dir())),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,      # templates do not change while converting; skips a stat per render
    )
    env.filters.update(FILTERS)
    env.bytecode_cache = bytecode_cache(env, "units")
    return env


def render_template(name: str, **context) -> str:
    return render_named(environment(), name, context)


def render_named(env: jinja2.Environment, name: str, context: dict) -> str:
    """`env.get_template(name).render(**context)` without its per-call cost (~6 us of ~10 for a
    small file, thousands of files per project): the template object is looked up once, and the
    context is the caller's dict as is, since no template reads the environment's globals."""
    template = _loaded.get((env, name))
    if template is None:
        template = _loaded[(env, name)] = env.get_template(name)
    return "".join(template.root_render_func(template.new_context(context, shared=True)))


_loaded: dict = {}


HEADER = "Generated by dekube-nspawn; edit the compose file and convert again instead of this file."
