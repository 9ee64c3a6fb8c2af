"""The compiled-template cache (emit/templating.py): same output cold and warm, never in a
directory others may write to, and never a reason for a conversion to fail."""
from __future__ import annotations

import os

import jinja2

from dekube_nspawn.emit import templating


def _env(tmp_path, cache_home, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.delenv("DEKUBE_NSPAWN_NO_CACHE", raising=False)
    (tmp_path / "t.j2").write_text("{% for x in xs %}{{ x }}\n{% endfor %}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)), trim_blocks=True)
    env.bytecode_cache = templating.bytecode_cache(env, "test")
    return env


def test_cold_and_warm_render_alike(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cold = _env(tmp_path, cache, monkeypatch).get_template("t.j2").render(xs=[1, 2])
    assert [p.name for p in (cache / "dekube-nspawn").iterdir() if p.name.startswith("test-")]
    warm = _env(tmp_path, cache, monkeypatch).get_template("t.j2").render(xs=[1, 2])
    assert cold == warm == "1\n2\n"


def test_syntax_settings_are_part_of_the_key(tmp_path, monkeypatch):
    env = _env(tmp_path, tmp_path / "cache", monkeypatch)
    other = jinja2.Environment(trim_blocks=False)
    assert templating.bytecode_cache(other, "test").pattern != env.bytecode_cache.pattern


def test_no_cache_in_a_directory_others_may_write(tmp_path, monkeypatch):
    (tmp_path / "cache" / "dekube-nspawn").mkdir(parents=True)
    os.chmod(tmp_path / "cache" / "dekube-nspawn", 0o777)
    assert _env(tmp_path, tmp_path / "cache", monkeypatch).bytecode_cache is None


def test_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    env = _env(tmp_path, tmp_path / "cache", monkeypatch)
    env.bytecode_cache.directory = str(tmp_path / "missing")   # writes fail with OSError
    assert env.get_template("t.j2").render(xs=[3]) == "3\n"


def test_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DEKUBE_NSPAWN_NO_CACHE", "1")
    assert templating.bytecode_cache(jinja2.Environment(), "test") is None


def test_templates_read_attributes_only_and_loudly():
    """`a.b` is Python's getattr: attributes render, a dict key or a missing attribute raises
    (no silent empty text in a unit file)."""
    import collections

    import pytest
    env = templating.AttributeEnvironment(undefined=jinja2.StrictUndefined)
    Row = collections.namedtuple("Row", "name")
    assert env.from_string("{{ r.name }}").render(r=Row("web")) == "web"
    with pytest.raises(AttributeError):
        env.from_string("{{ r.name }}").render(r={"name": "web"})
    with pytest.raises(AttributeError):
        env.from_string("{{ r.other }}").render(r=Row("web"))
    assert templating.environment().getattr is getattr
