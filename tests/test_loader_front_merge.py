"""merge.py and reset.py: compose-go's override rules, unicity, `!reset` and `!override`."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from dekube_nspawn.loader import merge, reset
from dekube_nspawn.loader import yaml as y


def svc(**kw):
    return {"services": {"web": kw}}


def merged(base, other):
    out = merge.merge(base, other)
    return merge.enforce_unicity(out)["services"]["web"]


def test_mappings_merge_scalars_replace():
    out = merged(svc(image="a", deploy={"replicas": 1, "labels": ["x=1"]}),
                 svc(image="b", deploy={"mode": "global"}))
    assert out == {"image": "b", "deploy": {"replicas": 1, "labels": ["x=1"], "mode": "global"}}


def test_command_entrypoint_healthcheck_test_are_replaced_not_appended():
    out = merged(svc(command=["a", "b"], entrypoint=["sh"], healthcheck={"test": ["CMD", "x"], "retries": 1}),
                 svc(command=["c"], entrypoint="bash", healthcheck={"test": ["NONE"]}))
    assert out["command"] == ["c"]
    assert out["entrypoint"] == "bash"
    assert out["healthcheck"] == {"test": ["NONE"], "retries": 1}


def test_environment_map_and_list_merge_later_wins():
    out = merged(svc(environment={"A": "1", "B": "2", "N": None}), svc(environment=["B=3", "C=4"]))
    assert out["environment"] == ["A=1", "B=3", "N", "C=4"]


def test_labels_from_mapping_are_sorted_then_appended():
    out = merged(svc(labels={"z": "1", "a": "2"}), svc(labels={"m": 3}))
    assert out["labels"] == ["a=2", "z=1", "m=3"]


def test_ports_dedupe_by_whole_spec_volumes_by_target():
    out = merged(svc(ports=["80:80", "443:443"], volumes=["./a:/data", "logs:/logs"]),
                 svc(ports=["80:80", "8080:80"], volumes=[{"type": "bind", "source": "./b", "target": "/data"}]))
    assert out["ports"] == ["80:80", "443:443", "8080:80"]
    assert out["volumes"] == [{"type": "bind", "source": "./b", "target": "/data"}, "logs:/logs"]


def test_secrets_and_configs_by_target():
    out = merged(svc(secrets=["s", {"source": "t", "target": "/x"}], configs=["c"]),
                 svc(secrets=[{"source": "other", "target": "/run/secrets/s"}, "u"], configs=[{"source": "c", "mode": 1}]))
    assert out["secrets"] == [{"source": "other", "target": "/run/secrets/s"}, {"source": "t", "target": "/x"}, "u"]
    assert out["configs"] == [{"source": "c", "mode": 1}]


def test_depends_on_list_and_map_merge_with_defaults():
    out = merged(svc(depends_on=["db"]), svc(depends_on={"cache": {"condition": "service_healthy"}}))
    assert out["depends_on"] == {"db": {"condition": "service_started", "required": True},
                                 "cache": {"condition": "service_healthy"}}


def test_networks_list_and_map():
    out = merged(svc(networks=["front"]), svc(networks={"back": {"aliases": ["b"]}}))
    assert out["networks"] == {"front": None, "back": {"aliases": ["b"]}}


def test_extra_hosts_and_dns_append():
    out = merged(svc(extra_hosts=["a:1.1.1.1"], dns="8.8.8.8"),
                 svc(extra_hosts={"a": "1.1.1.1", "b": "2.2.2.2"}, dns=["1.1.1.1", "8.8.8.8"]))
    assert out["extra_hosts"] == ["a:1.1.1.1", "a=1.1.1.1", "b=2.2.2.2"]  # no dedupe in v2.40.3
    assert out["dns"] == ["8.8.8.8", "1.1.1.1"]


def test_build_string_and_mapping_merge():
    out = merged(svc(build="./app"), svc(build={"dockerfile": "Dev", "args": {"A": "1"}}))
    assert out["build"] == {"context": "./app", "dockerfile": "Dev", "args": {"A": "1"}}


def test_logging_options_merge_only_for_the_same_driver():
    same = merged(svc(logging={"driver": "json-file", "options": {"a": "1"}}),
                  svc(logging={"options": {"b": "2"}}))
    assert same["logging"] == {"driver": "json-file", "options": {"a": "1", "b": "2"}}
    other = merged(svc(logging={"driver": "json-file", "options": {"a": "1"}}),
                   svc(logging={"driver": "syslog"}))
    assert other["logging"] == {"driver": "syslog"}


def test_other_sequences_append():
    out = merged(svc(cap_add=["NET_ADMIN"], devices=["/dev/a:/dev/a"]),
                 svc(cap_add=["NET_ADMIN", "SYS_TIME"], devices=["/dev/b:/dev/a"]))
    assert out["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert out["devices"] == ["/dev/b:/dev/a"]


def test_mapping_onto_scalar_is_an_error():
    import pytest
    from dekube_nspawn.errors import ComposeFileError
    with pytest.raises(ComposeFileError, match="cannot override services.web.deploy"):
        merge.merge(svc(deploy={"a": 1}), svc(deploy="x"))


def test_short_volume_targets():
    assert merge.short_volume_target("./a:/data:ro") == "/data"
    assert merge.short_volume_target("/anon") == "/anon"
    assert merge.short_volume_target("C:\\x:/data") == "/data"
    assert merge.short_volume_target("v:/data") == "v:/data"


# --- reset / override ----------------------------------------------------------------------------

def load_two(base_text, override_text):
    base = y.parse_documents(base_text, "base.yml")[0]
    base, _ = reset.strip(base)
    over = y.parse_documents(override_text, "over.yml")[0]
    over, paths = reset.strip(over)
    reset.apply(base, paths)
    return merge.merge(base, over)["services"]["web"]


def test_reset_removes_what_earlier_files_said():
    out = load_two("services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: {A: '1'}\n",
                   "services:\n  web:\n    ports: !reset []\n    environment: !reset {}\n")
    assert out == {"image": "a"}


def test_override_replaces_instead_of_merging():
    out = load_two("services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: {A: '1'}\n",
                   "services:\n  web:\n    ports: !override ['81:81']\n    environment: !override {B: '2'}\n")
    assert out == {"image": "a", "ports": ["81:81"], "environment": {"B": "2"}}


def test_strip_reports_paths_and_removes_markers():
    doc = y.parse_documents("a:\n  b: !reset x\n  c: !override [1]\n  d: [1, !reset 2]\n", "s.yml")[0]
    clean, paths = reset.strip(doc)
    assert clean == {"a": {"c": [1], "d": [1]}}
    assert paths == [("a", "b"), ("a", "c")]
    assert not reset.has_markers(clean)


def _volume_target_by_characters(spec):
    """compose-go format.ParseVolume's split, character by character (the reference)."""
    parts, buf = [], ""
    for i, c in enumerate(spec):
        if c == ":" and not (len(buf) == 1 and buf.isalpha() and spec[i + 1:i + 2] in ("/", "\\")):
            parts.append(buf)
            buf = ""
        else:
            buf += c
    parts.append(buf)
    return parts[0] if len(parts) == 1 else parts[1]


@settings(max_examples=2000, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("aZé1:/\\.x_")), max_size=14))
def test_short_volume_target_splits_as_compose_go(spec):
    from dekube_nspawn.loader.merge import short_volume_target
    assert short_volume_target(spec) == _volume_target_by_characters(spec)
