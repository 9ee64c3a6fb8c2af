"""The transform's path into the loader and converter, and its promise never to raise into dekube.

The converter is replaced here by a recorder (the real one is exercised by test_dekube_contract):
these tests are about what reaches it and what reaches `ctx.warnings`.
"""
from __future__ import annotations

import os

import pytest

import dekube_harness as dk
import dekube_nspawn.convert
from dekube_nspawn.dekube import NspawnTransform


@pytest.fixture
def recorder(monkeypatch):
    calls = []

    def convert_to_directory(project, options, diagnostics):
        calls.append((project, options, diagnostics))
        diagnostics.warn(("services", "web", "ports", 0), "recorded warning")
        return 0

    monkeypatch.setattr(dekube_nspawn.convert, "convert_to_directory", convert_to_directory)
    return calls


def test_the_loaded_project_is_what_dekube_compose_file_means(tmp_path, recorder):
    services, config, out = dk.shop(tmp_path)
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)
    [(project, options, diagnostics)] = recorder
    assert project.name == "shop"
    assert project.project_dir == out
    web = project.services["web"]
    # dekube's raw environment value arrives literal (`$$` is the canonical form of `$`)
    assert web["environment"]["DATABASE_URL"] == \
        "postgres://app:s3cr$$t@postgres.shop.svc.cluster.local:5432/shop"
    assert web["networks"]["default"]["aliases"][1] == "frontend.shop.svc.cluster.local"
    assert web["volumes"][0]["source"] == os.path.join(out, "configmaps", "web-config")
    assert web["volumes"][0]["read_only"] is True
    assert project.resource("volumes")["uploads"]["name"] == "shop_uploads"
    assert project.services["web-sidecar-exporter"]["network_mode"] == "container:shop-web"
    assert project.services["postgres"]["depends_on"]["postgres-init-permissions"]["condition"] == \
        "service_completed_successfully"
    assert project.services["postgres-init-permissions"]["command"] == \
        ["chown -R 999:999 /var/lib/postgresql/data && echo prepared for $${HOSTNAME}"]
    assert project.services["migrate"]["image"] == "registry.example/shop/migrate:2.1"  # override
    assert options.output_dir == os.path.join(out, "nspawn")
    assert options.bridge == "dk-shop" and options.subnets == ("10.231.7.0/24",)
    assert diagnostics.strict is False
    assert ctx.warnings == ["nspawn: services.web.ports[0]: recorded warning"]


def test_interpolation_reads_the_environment_and_dotenv_like_docker_compose(tmp_path, recorder,
                                                                            monkeypatch):
    services, config, out = dk.shop(tmp_path)
    config["overrides"] = {"web": {"environment": {"TIER": "${TIER:-dev}", "REGION": "${REGION}",
                                                   "UNSET": "${NOT_SET_ANYWHERE_42}"}}}
    (tmp_path / "dekube-out" / ".env").write_text("REGION=eu-west\nTIER=from-dotenv\n")
    monkeypatch.setenv("TIER", "prod")
    monkeypatch.delenv("NOT_SET_ANYWHERE_42", raising=False)
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)
    env = recorder[0][0].services["web"]["environment"]
    assert (env["TIER"], env["REGION"], env["UNSET"]) == ("prod", "eu-west", "")
    assert any("NOT_SET_ANYWHERE_42" in w and w.startswith("nspawn: ") for w in ctx.warnings)


def test_invalid_input_becomes_a_warning_naming_the_key_path(tmp_path, recorder, capsys):
    services, config, out = dk.shop(tmp_path)
    services["web"]["ports"] = ["30080:eighty"]
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)     # must not raise
    assert recorder == []
    [message] = [w for w in ctx.warnings if "error" in w]
    assert message.startswith("nspawn: error: ")
    assert "services.web.ports" in message
    assert "the services dekube generated for" in message and ":-:" not in message
    assert message.endswith(f"no systemd-nspawn output was written to {os.path.join(out, 'nspawn')}")
    assert "Traceback" not in capsys.readouterr().err


def test_strict_ends_dekube_like_its_own_fatal_errors(tmp_path, recorder, capsys):
    services, config, out = dk.shop(tmp_path)
    services["web"]["ports"] = ["30080:eighty"]
    config["nspawn"]["strict"] = True
    ctx = dk.DekubeContext(config, out)
    with pytest.raises(SystemExit) as exited:
        NspawnTransform().transform(services, [], ctx)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: nspawn: error: ") and "services.web.ports" in err


def test_strict_turns_a_conversion_warning_into_the_failure(tmp_path, recorder, capsys):
    services, config, out = dk.shop(tmp_path)
    config["extensions"]["nspawn"]["strict"] = True
    with pytest.raises(SystemExit):
        NspawnTransform().transform(services, [], dk.DekubeContext(config, out))
    assert "services.web.ports[0]: recorded warning" in capsys.readouterr().err


def test_a_bug_is_reported_not_raised(tmp_path, monkeypatch):
    def broken(project, options, diagnostics):
        raise KeyError("oops")

    monkeypatch.setattr(dekube_nspawn.convert, "convert_to_directory", broken)
    monkeypatch.delenv("DEKUBE_NSPAWN_DEBUG", raising=False)
    services, config, out = dk.shop(tmp_path)
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)
    assert ctx.warnings[-1].startswith("nspawn: internal error (KeyError: 'oops'); this is a bug")
    monkeypatch.setenv("DEKUBE_NSPAWN_DEBUG", "1")
    with pytest.raises(KeyError):
        NspawnTransform().transform(services, [], dk.DekubeContext(config, out))


def test_garbage_from_dekube_is_reported(tmp_path, recorder):
    ctx = dk.DekubeContext({"name": "shop"}, str(tmp_path))
    NspawnTransform().transform({"web": "not a mapping"}, [], ctx)
    assert len(ctx.warnings) == 1 and ctx.warnings[0].startswith("nspawn: error: ")
    assert "services.web" in ctx.warnings[0]


def test_a_context_without_warnings_list_still_tells_the_user(tmp_path, recorder, capsys):
    class Bare:
        config = {"name": "shop"}
        output_dir = str(tmp_path)

    NspawnTransform().transform({"web": {"image": "nginx"}}, [], Bare())
    assert "Warning: nspawn: services.web.ports[0]: recorded warning" in capsys.readouterr().err


def test_failed_conversion_status_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(dekube_nspawn.convert, "convert_to_directory", lambda p, o, d: 1)
    ctx = dk.DekubeContext({"name": "shop"}, str(tmp_path))
    NspawnTransform().transform({"web": {"image": "nginx"}}, [], ctx)
    assert ctx.warnings == [f"nspawn: error: the conversion to {tmp_path}/nspawn failed (status 1)"]


def test_a_malformed_dekube_config_is_survived(tmp_path, recorder):
    ctx = dk.DekubeContext({}, str(tmp_path))
    ctx.config = ["not", "a", "mapping"]
    ctx.extension_config = "on"
    NspawnTransform().transform({"web": {"image": "nginx"}}, [], ctx)
    assert ctx.warnings[0] == "nspawn: extensions.nspawn: expected a mapping of options, got str; ignored"
    assert recorder[0][0].name == os.path.basename(str(tmp_path)).lower().replace(".", "")


def test_a_missing_dependency_is_named(tmp_path, monkeypatch):
    def missing(project, options, diagnostics):
        raise ModuleNotFoundError("No module named 'jinja2'", name="jinja2")

    monkeypatch.setattr(dekube_nspawn.convert, "convert_to_directory", missing)
    ctx = dk.DekubeContext({"name": "shop"}, str(tmp_path))
    NspawnTransform().transform({"web": {"image": "nginx"}}, [], ctx)
    assert ctx.warnings[0].startswith("nspawn: error: jinja2 (needed by dekube-nspawn) cannot be "
                                      "imported by ")


def test_an_unwritable_output_directory_is_reported(tmp_path):
    blocker = tmp_path / "dekube-out"
    blocker.write_text("a file where the output directory should be")
    ctx = dk.DekubeContext({"name": "shop", "nspawn": {"output_dir": str(blocker / "nspawn")}},
                           str(tmp_path))
    NspawnTransform().transform({"web": {"image": "nginx"}}, [], ctx)
    [warning] = ctx.warnings
    assert warning.startswith("nspawn: error: ") and "internal error" not in warning
    assert warning.endswith(f"no systemd-nspawn output was written to {blocker}/nspawn")


def test_a_value_the_cli_parser_refuses_is_reported(tmp_path, monkeypatch):
    import dekube_nspawn.cli

    def strict_parser(p):
        p.add_argument("-o", "--output-dir", required=True)
        p.add_argument("--bridge", choices=["br0"])

    monkeypatch.setattr(dekube_nspawn.cli, "add_convert_options", strict_parser)
    ctx = dk.DekubeContext({"name": "shop", "nspawn": {"bridge": "dk-x"}}, str(tmp_path))
    NspawnTransform().transform({"web": {"image": "nginx"}}, [], ctx)
    [warning] = ctx.warnings
    assert warning.startswith("nspawn: error: argument --bridge: invalid choice: 'dk-x'")
