"""The dekube contract end to end: install the extension with the documented command, load it
exactly as dekube loads extensions (tests/dekube_harness.py), call it with dekube-shaped
services, and read what it wrote."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import dekube_harness as dk
import goldens


@pytest.fixture
def converted(tmp_path):
    """(ctx, services as they were before, services after, nspawn output dir, dekube output dir)"""
    extensions = tmp_path / "extensions"
    result = subprocess.run([sys.executable, "-m", "dekube_nspawn.dekube", "install-extension",
                             str(extensions)], capture_output=True, text=True, cwd=dk.REPO)
    assert result.returncode == 0, result.stderr
    try:
        [transform] = dk.load_transforms(extensions)
    finally:
        dk.forget_extension_modules()
    services, config, out = dk.shop(tmp_path)
    before = dk.frozen(services)
    ctx = dk.DekubeContext(config, out)
    assert transform.transform(services, [], ctx) is None
    return ctx, before, services, tmp_path / "dekube-out" / "nspawn", tmp_path / "dekube-out"


def read(directory, name) -> str:
    return (directory / name).read_text()


def test_dekube_services_are_left_untouched(converted):
    ctx, before, after, _, _ = converted
    assert after == before


def test_no_warning_for_a_well_formed_dekube_project(converted):
    ctx = converted[0]
    assert ctx.warnings == []


def test_one_machine_per_service_and_nothing_written_outside_nspawn(converted):
    _, before, _, nspawn, out = converted
    machines = sorted(p.name[:-len(".nspawn")] for p in nspawn.glob("*.nspawn"))
    assert machines == sorted(f"shop-{name}" for name in before)
    for machine in machines:
        assert (nspawn / f"nspawn-{machine}.service").is_file()
    manifest = json.loads(read(nspawn, "manifest.json"))
    assert "shop-web.nspawn" in json.dumps(manifest)
    outside = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                     if p.is_file() and nspawn not in p.parents)
    assert outside == ["configmaps/web-config/default.conf", "secrets/db-credentials/dsn"]


def test_every_kubernetes_alias_lands_in_hosts(converted):
    _, before, _, nspawn, _ = converted
    hosts = read(nspawn, "hosts")
    lines = {line.split("\t")[0]: line.split("\t")[1].split() for line in hosts.splitlines()
             if line and not line.startswith("#") and "\t" in line}
    by_name = {name: address for address, names in lines.items() for name in names}
    for service in ("postgres", "web"):
        for alias in before[service]["networks"]["default"]["aliases"]:
            assert by_name[alias] == by_name[service], alias
    assert by_name["shop-web"] == by_name["web"]                     # container_name
    assert by_name["web"].startswith("10.231.7.")                    # nspawn.subnet of dekube.yaml
    assert "web-sidecar-exporter" not in by_name                     # it has no address of its own


def test_sidecar_joins_its_workload_network_namespace(converted):
    nspawn = converted[3]
    unit = read(nspawn, "nspawn-shop-web-sidecar-exporter.service")
    assert "--network-namespace-path=/run/netns/shop-web" in unit
    assert "BindsTo=nspawn-shop-web.service" in unit
    assert "netns.sh up" not in unit                                  # shop-web's unit owns it
    assert "netns.sh up shop-web " in read(nspawn, "nspawn-shop-web.service")


def test_bridge_from_the_extension_config(converted):
    nspawn = converted[3]
    assert "Name=dk-shop" in read(nspawn, "dk-shop.netdev")
    assert re.search(r"^Address=10\.231\.7\.1/24$", read(nspawn, "dk-shop.network"), re.M)


def test_relative_mounts_resolve_against_dekube_output_directory(converted):
    _, _, _, nspawn, out = converted
    web = read(nspawn, "shop-web.nspawn")
    assert f"BindReadOnly={out}/configmaps/web-config:/etc/nginx/conf.d\n" in web
    assert re.search(r"^Bind=/var/lib/dekube-nspawn/shop/volumes/\S+:/srv/uploads$", web, re.M)
    assert re.search(r"^Bind=\S+:/var/cache/nginx$", web, re.M)      # emptyDir: anonymous volume
    assert f"BindReadOnly={out}/secrets/db-credentials:/run/credentials\n" in \
        read(nspawn, "shop-migrate.nspawn")
    # dekube writes the Caddyfile after the transforms ran: bound by path all the same
    assert f"BindReadOnly={out}/Caddyfile:/etc/caddy/Caddyfile\n" in read(nspawn, "shop-caddy.nspawn")
    for machine in ("shop-postgres", "shop-postgres-init-permissions"):
        assert f"Bind={out}/data/postgres-data:/var/lib/postgresql/data\n" in \
            read(nspawn, f"{machine}.nspawn")


def test_dollars_survive_as_dekube_meant_them(converted):
    nspawn = converted[3]
    assert 'Environment="DATABASE_URL=postgres://app:s3cr$t@postgres.shop.svc.cluster.local:5432/shop"' \
        in read(nspawn, "shop-web.nspawn")
    assert re.search(r'^Environment="?POSTGRES_PASSWORD=s3cr\$t"?$', read(nspawn, "shop-postgres.nspawn"), re.M)
    spec = goldens.bootstrap_compose_process(read(nspawn, "bootstrap.sh"), "shop-postgres-init-permissions")
    assert spec["entrypoint"] == ["sh", "-c"]
    assert spec["command"] == ["chown -R 999:999 /var/lib/postgresql/data && echo prepared for ${HOSTNAME}"]


def test_init_container_runs_to_completion_before_its_workload(converted):
    nspawn = converted[3]
    init = read(nspawn, "nspawn-shop-postgres-init-permissions.service")
    assert "Type=oneshot" in init and "Restart=on-failure" in init
    postgres = read(nspawn, "nspawn-shop-postgres.service")
    assert "Requires=nspawn-shop-postgres-init-permissions.service" in postgres
    assert "After=nspawn-shop-postgres-init-permissions.service" in postgres


def test_limits_healthchecks_ports_and_overrides(converted):
    nspawn = converted[3]
    postgres = read(nspawn, "nspawn-shop-postgres.service")
    assert "MemoryMax=536870912" in postgres and "CPUQuota=50%" in postgres
    assert "MemoryMax=268435456" in read(nspawn, "nspawn-shop-web.service")
    assert "pg_isready" in read(nspawn, "health/shop-postgres.sh")
    assert (nspawn / "dekube-shop-web-health.service").is_file()
    assert "ListenStream=0.0.0.0:30080" in read(nspawn, "dekube-shop-web-tcp-30080.socket")
    # dekube.yaml overrides apply, as in dekube's compose.yml
    bootstrap = read(nspawn, "bootstrap.sh")
    assert "registry.example/shop/migrate:2.1" in bootstrap and "migrate:2.0" not in bootstrap


def test_project_named_after_a_directory_compose_would_normalize(tmp_path):
    """dekube names the project after the helmfile directory and builds container names from
    that raw name; compose normalizes the project name but matches container names as written."""
    services, config, out = dk.shop(tmp_path)
    config["name"] = "My.Shop"
    services["web"]["container_name"] = "My.Shop-web"
    services["web-sidecar-exporter"]["network_mode"] = "container:My.Shop-web"
    from dekube_nspawn.dekube import NspawnTransform
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)
    assert ctx.warnings == []
    nspawn = tmp_path / "dekube-out" / "nspawn"
    assert (nspawn / "dekube-myshop.target").is_file()
    assert "--network-namespace-path=/run/netns/myshop-web" in \
        read(nspawn, "nspawn-myshop-web-sidecar-exporter.service")
    assert "My.Shop-web" in read(nspawn, "hosts").split()
