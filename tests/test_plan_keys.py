"""The service key table covers every key the Compose schema allows, and unmapped keys warn."""
from __future__ import annotations

import json
import pathlib

import pytest

from dekube_nspawn.errors import ConversionError
from dekube_nspawn.planning.keys import SERVICE_KEYS, TOP_LEVEL_KEYS
from planhelp import plan, warned


def schema_service_keys() -> set[str]:
    check_jsonschema = pytest.importorskip("check_jsonschema")
    path = (pathlib.Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" /
            "compose-spec.json")
    schema = json.loads(path.read_text())
    defs = schema.get("$defs") or schema["definitions"]
    service = defs["service"]
    keys = set(service.get("properties") or {})
    for part in service.get("allOf") or ():
        keys |= set(defs[part["$ref"].rsplit("/", 1)[1]].get("properties") or {})
    return keys


def test_every_schema_service_key_is_in_the_table():
    keys = schema_service_keys()
    assert len(keys) > 80, "schema shape changed: the check would be vacuous"
    missing = sorted(keys - set(SERVICE_KEYS))
    assert not missing, f"service keys with no decision in planning/keys.py: {missing}"


def test_every_top_level_schema_key_is_in_the_table():
    check_jsonschema = pytest.importorskip("check_jsonschema")
    path = (pathlib.Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" /
            "compose-spec.json")
    keys = set(json.loads(path.read_text())["properties"])
    assert not sorted(keys - set(TOP_LEVEL_KEYS))


@pytest.mark.parametrize("key", sorted(k for k, why in SERVICE_KEYS.items() if why))
def test_each_ignored_key_warns_with_its_reason(key):
    _, diag = plan({"web": {"image": "busybox", key: {"some": "value"}}})
    assert warned(diag, SERVICE_KEYS[key], f"services.web.{key}")


def test_unknown_and_extension_keys_warn():
    _, diag = plan({"web": {"image": "busybox", "frobnicate": 1, "x-mine": 2}}, **{"x-top": 1})
    assert warned(diag, "unknown service key", "services.web.frobnicate")
    assert warned(diag, "extension field", "services.web.x-mine")
    assert warned(diag, "extension field", "x-top")


def test_strict_turns_a_warning_into_an_error():
    with pytest.raises(ConversionError, match="strict") as err:
        plan({"web": {"image": "busybox", "logging": {"driver": "syslog"}}}, strict=True)
    assert err.value.key_path == ("services", "web", "logging")
