"""Every valid corpus case plans without an exception, deterministically, within name limits."""
from __future__ import annotations

import collections
import ipaddress
import json
import os
import pathlib

import pytest

from conftest import CORPUS
from dekube_nspawn import ir
from dekube_nspawn.errors import Diagnostics
from dekube_nspawn.model import Project
from dekube_nspawn.plan import PlanOptions, build_plan


def valid_cases():
    if not CORPUS.is_dir():
        return []
    cases = []
    for golden in sorted(CORPUS.glob("*/*/expected.json")):
        rc = golden.parent / "expected.rc"
        if rc.exists() and rc.read_text().strip() == "0":
            cases.append(golden.parent)
    return cases


CASES = valid_cases()
WARNINGS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def load(case: pathlib.Path) -> Project:
    text = (case / "expected.json").read_text().replace("@CORPUS@", str(CORPUS))
    data = json.loads(text)
    return Project(name=data["name"], project_dir=str(case), data=data)


def check_invariants(plan: ir.Plan) -> None:
    names = [m.name for m in plan.machines]
    assert len(names) == len(set(names)), "duplicate machine names"
    for m in plan.machines:
        assert 0 < len(m.name.encode()) <= 64 and m.name == m.name.lower()
        assert all(c.isalnum() or c == "-" for c in m.name) and m.name[0] != "-"
        assert m.unit == f"nspawn-{m.name}.service"
        for path in (m.rootfs, m.layer_dir):
            assert os.path.normpath(path) == path
            assert path.startswith(plan.state_dir + "/machines/")
        for mount in m.mounts:
            if mount.kind is ir.MountKind.ANONYMOUS:
                # its own layer, or another machine's (volumes_from)
                assert mount.source.startswith(plan.state_dir + "/machines/")
                assert os.path.normpath(mount.source) == mount.source
            if mount.kind is ir.MountKind.VOLUME:
                assert os.path.normpath(mount.source) == mount.source
            assert mount.target.startswith("/")
        for s in m.secrets:
            assert os.path.normpath(s.runtime_path) == s.runtime_path
            assert s.runtime_path.startswith(plan.runtime_dir + "/secrets/" + m.name + "/")
        for iface in m.interfaces:
            assert len(iface.host_name.encode()) <= 15 and len(iface.name) <= 15
    bridges = [n.bridge for n in plan.networks]
    assert len(bridges) == len(set(bridges)), "duplicate bridges"
    assert all(0 < len(b.encode()) <= 15 for b in bridges)
    veths = [i.host_name for m in plan.machines for i in m.interfaces]
    assert len(veths) == len(set(veths)), "duplicate veth names"
    subnets = {n.name: ipaddress.ip_network(n.subnet) for n in plan.networks}
    for n in plan.networks:
        assert ipaddress.ip_address(n.gateway) in subnets[n.name]
    per_net = collections.defaultdict(list)
    for m in plan.machines:
        for i in m.interfaces:
            assert ipaddress.ip_address(i.address) in subnets[i.network]
            per_net[i.network].append(i.address)
    for net, addrs in per_net.items():
        gw = next(n.gateway for n in plan.networks if n.name == net)
        assert len(addrs) == len(set(addrs)) and gw not in addrs, f"address clash on {net}"
    for v in plan.volumes:
        assert os.path.normpath(v.host_path) == v.host_path
    ports = [(p.host_ip, p.host_port, p.protocol) for m in plan.machines for p in m.ports]
    assert len(ports) == len(set(ports))


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(CORPUS)) for c in CASES])
def test_corpus_case_plans(case):
    project = load(case)
    diag = Diagnostics()
    first = build_plan(project, PlanOptions(), diag)
    second = build_plan(load(case), PlanOptions(), Diagnostics())
    assert first == second, "planning is not deterministic"
    check_invariants(first)
    WARNINGS[case.parent.name][case.name] = len(diag.warnings)


def test_corpus_is_there():
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert len(CASES) > 200


def test_zz_print_warning_counts(capsys):
    """Summary printed with -s (the count per source is informational)."""
    if not WARNINGS:
        pytest.skip("no corpus case ran in this session")
    with capsys.disabled():
        for source, cases in sorted(WARNINGS.items()):
            print(f"\n  {source}: {len(cases)} cases planned, {sum(cases.values())} warnings")
