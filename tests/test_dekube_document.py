"""dekube's services -> the compose document dekube's compose.yml holds."""
from __future__ import annotations

import base64
import copy

from dekube_nspawn.dekube.document import compose_document


def test_environment_dollars_are_escaped_the_way_dekube_escapes_them_later():
    services = {"db": {"image": "postgres", "environment": {"PW": "s3cr$t", "N": "plain", "X": 5},
                       "command": ["echo", "$${HOME}"]}}
    before = copy.deepcopy(services)
    doc = compose_document(services, {"name": "shop"})
    assert doc["services"]["db"]["environment"] == {"PW": "s3cr$$t", "N": "plain", "X": 5}
    assert doc["services"]["db"]["command"] == ["echo", "$${HOME}"]   # dekube escaped it already
    assert services == before
    assert doc["name"] == "shop"


def test_result_shares_nothing_with_the_input():
    services = {"web": {"image": "nginx", "volumes": ["./a:/a"], "environment": {"A": "1"}}}
    doc = compose_document(services, {})
    doc["services"]["web"]["volumes"].append("./b:/b")
    doc["services"]["web"]["environment"]["B"] = "2"
    assert services == {"web": {"image": "nginx", "volumes": ["./a:/a"], "environment": {"A": "1"}}}
    assert "name" not in doc


def test_named_volumes_are_declared_as_compose_needs_them():
    config = {"volumes": {"data-pg": {"host_path": "pg"}, "uploads": {}, "unused": {"driver": "local"}}}
    services = {
        "pg": {"image": "p", "volumes": ["./data/pg:/var/lib/pg", "claim-without-mapping:/x",
                                         "/anonymous", "./configmaps/c:/etc/c:ro"]},
        "web": {"image": "w", "volumes": ["uploads:/srv/uploads",
                                          {"type": "volume", "source": "long", "target": "/l"},
                                          {"type": "bind", "source": "./b", "target": "/b"}]},
    }
    doc = compose_document(services, config, {"volumes": {"shared-tmp": {}}})
    assert doc["volumes"] == {
        "shared-tmp": {},                        # a transform's ctx.compose_extras
        "uploads": {}, "unused": {"driver": "local"},   # dekube.yaml entries without host_path
        "claim-without-mapping": {}, "long": {},  # mounted, declared by nobody
    }


def test_other_compose_extras_are_kept_and_services_win():
    doc = compose_document({"a": {"image": "x"}}, {},
                           {"networks": {"edge": {"external": True}}, "services": {"evil": {}}})
    assert doc["networks"] == {"edge": {"external": True}}
    assert list(doc["services"]) == ["a"]
    assert "volumes" not in doc


def test_overrides_merge_after_the_escaping_like_dekube():
    services = {"web": {"image": "nginx:1", "environment": {"A": "x$y", "DROP": "1"},
                        "deploy": {"resources": {"limits": {"memory": "1g", "cpus": "1"}}}}}
    config = {"volume_root": "/srv/vol", "overrides": {
        "web": {"image": "nginx:2", "environment": {"B": "${FROM_ENV}", "DROP": None},
                "deploy": {"resources": {"limits": {"memory": "2g"}}},
                "volumes": ["$volume_root/web:/data"]},
        "ghost": {"image": "nothing"},
        "empty": None}}
    doc = compose_document(services, config)
    web = doc["services"]["web"]
    assert web["image"] == "nginx:2"
    # dekube's value escaped, the user's value left for compose to interpolate
    assert web["environment"] == {"A": "x$$y", "B": "${FROM_ENV}"}
    assert web["deploy"]["resources"]["limits"] == {"memory": "2g", "cpus": "1"}
    assert web["volumes"] == ["/srv/vol/web:/data"]
    assert set(doc["services"]) == {"web"}
    assert services["web"]["image"] == "nginx:1"


def test_custom_services_and_secret_references():
    secrets = {"db": {"data": {"password": base64.b64encode(b"pa$s").decode()},
                      "stringData": {"user": "app"}}}
    config = {"services": {
        "backup": {"image": "restic", "environment": {"PW": "$secret:db:password",
                                                      "U": "$secret:db:user",
                                                      "MISSING": "$secret:db:nope"},
                   "volumes": ["$volume_root/backup:/backup"]},
        "skipped": None}}
    doc = compose_document({"web": {"image": "w"}}, config, secrets=secrets)
    backup = doc["services"]["backup"]
    assert backup["environment"] == {"PW": "pa$$s", "U": "app", "MISSING": "$secret:db:nope"}
    assert backup["volumes"] == ["./data/backup:/backup"]
    assert set(doc["services"]) == {"web", "backup"}
    assert config["services"]["backup"]["environment"]["PW"] == "$secret:db:password"
