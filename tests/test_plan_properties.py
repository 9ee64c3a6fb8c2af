"""Random small projects: the plan keeps its invariants (unique names, addresses, bridges)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from planhelp import plan
from test_plan_corpus import check_invariants

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=70)


@st.composite
def projects(draw):
    nets = draw(st.lists(_name, min_size=1, max_size=4, unique=True))
    services = {}
    for s in draw(st.lists(_name, min_size=1, max_size=6, unique=True)):
        svc = {"image": draw(st.sampled_from(["busybox", "redis:7", "x/y@sha256:" + "a" * 64]))}
        svc["networks"] = {n: None for n in draw(st.lists(st.sampled_from(nets), min_size=1,
                                                           max_size=len(nets), unique=True))}
        svc["scale"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            svc["ports"] = [{"mode": "ingress", "target": 80, "protocol": "tcp",
                             "published": str(draw(st.integers(1, 3)))}]
        if draw(st.booleans()):
            svc["volumes"] = [{"type": "volume", "target": "/d"}]
        services[s] = svc
    project = draw(_name.filter(lambda n: n[0].isalnum()))
    return services, {n: {"ipam": {}} for n in nets}, project


@settings(max_examples=60, deadline=None)
@given(projects())
def test_random_projects_plan_with_invariants(case):
    services, networks, name = case
    p, _ = plan(services, networks=networks, name=name)
    check_invariants(p)
    assert p == plan(services, networks=networks, name=name)[0]
    assert len(p.machines) == sum(s["scale"] for s in services.values())
