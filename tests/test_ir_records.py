"""ir.record: the IR types share one __eq__, __hash__ and __repr__; they must behave exactly as
the methods `@dataclass(frozen=True)` generates."""
from __future__ import annotations

import dataclasses

import pytest

import irsamples as s
from dekube_nspawn import ir

TYPES = [c for c in vars(ir).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]


def _generated_twin(cls):
    """The same fields under a plain frozen dataclass of the same name."""
    return dataclasses.make_dataclass(
        cls.__name__, [(f.name, f.type, dataclasses.field(default=None)) for f in dataclasses.fields(cls)],
        frozen=True)


def _instances():
    m = s.machine()
    other = s.machine(service="db", health=s.health("demo-db"))
    return [m, other, m.process, other.health, m.interfaces[0], m.lifecycle, m.limits,
            m.privileges, m.image]


def test_every_ir_type_uses_the_shared_methods():
    assert len(TYPES) >= 19
    for cls in TYPES:
        assert (cls.__eq__, cls.__hash__, cls.__repr__) == (ir._record_eq, ir._record_hash, ir._record_repr), cls
        with pytest.raises(dataclasses.FrozenInstanceError):
            object.__new__(cls).__setattr__("x", 1)


@pytest.mark.parametrize("index", range(9))
def test_same_behaviour_as_generated_methods(index):
    value = _instances()[index]
    twin_cls = _generated_twin(type(value))
    as_twin = lambda v: twin_cls(**{f.name: getattr(v, f.name) for f in dataclasses.fields(v)})
    twin = as_twin(value)
    assert repr(value) == repr(twin)
    assert hash(value) == hash(twin)
    copy = dataclasses.replace(value)
    assert copy == value and not (copy != value) and hash(copy) == hash(value)
    first = dataclasses.fields(value)[0].name
    changed = dataclasses.replace(value, **{first: "something else"})
    assert (changed == value) == (as_twin(changed) == twin) is False
    assert value.__eq__(twin) is NotImplemented       # another type: not equal, as generated
