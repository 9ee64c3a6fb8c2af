"""Transform options: dekube.yaml `nspawn:` then `extensions.nspawn`, warnings for bad values."""
from __future__ import annotations

import os

from dekube_nspawn.convert import ConvertOptions
from dekube_nspawn.dekube.options import read_options
from dekube_nspawn.dekube.transform import _cli_arguments


def read(config=None, extension=None, out="/srv/dekube-out"):
    warnings: list[str] = []
    options = read_options(config or {}, extension, out, warnings.append)
    return options, warnings


def test_defaults_write_next_to_dekube_output():
    options, warnings = read()
    assert warnings == []
    assert options.output_dir == "/srv/dekube-out/nspawn"
    assert (options.bridge, options.subnets, options.strict, options.resolve_images) == (None, (), False, False)


def test_extension_section_wins_key_by_key_over_top_level_section():
    options, warnings = read({"nspawn": {"bridge": "dk-top", "subnet": "10.1.0.0/24", "strict": True}},
                             {"bridge": "dk-ext", "enabled": True})
    assert warnings == []
    assert options.bridge == "dk-ext"
    assert options.subnets == ("10.1.0.0/24",)
    assert options.strict is True


def test_subnet_list_and_resolve_images():
    options, _ = read(extension={"subnet": ["10.1.0.0/24", "back=10.2.0.0/24"], "resolve_images": True})
    assert options.subnets == ("10.1.0.0/24", "back=10.2.0.0/24")
    assert options.resolve_images is True


def test_bad_values_and_unknown_keys_are_warned_with_their_key_path_and_ignored():
    options, warnings = read({"nspawn": {"strict": "yes", "colour": "blue"}},
                             {"bridge": 3, "subnet": [1]})
    assert options.strict is False and options.bridge is None and options.subnets == ()
    assert any(w.startswith("nspawn.strict: expected true or false, got 'yes'") for w in warnings)
    assert any(w.startswith("nspawn.colour: unknown option") for w in warnings)
    assert any(w.startswith("extensions.nspawn.bridge: expected a bridge interface name, got 3")
               for w in warnings)
    assert any(w.startswith("extensions.nspawn.subnet: expected") for w in warnings)
    assert len(warnings) == 4


def test_a_section_that_is_not_a_mapping_is_warned():
    options, warnings = read({"nspawn": "on"})
    assert options.output_dir == "/srv/dekube-out/nspawn"
    assert warnings == ["nspawn: expected a mapping of options, got str; ignored"]


def test_output_dir_relative_to_dekube_output_or_absolute():
    assert read(extension={"output_dir": "machines"})[0].output_dir == "/srv/dekube-out/machines"
    assert read(extension={"output_dir": "../shop-nspawn"})[0].output_dir == "/srv/shop-nspawn"
    assert read(extension={"output_dir": "/etc/shop"})[0].output_dir == "/etc/shop"


def test_output_dir_over_dekube_output_is_refused():
    for wanted in (".", "..", "/srv", "/"):
        options, warnings = read(extension={"output_dir": wanted})
        assert options.output_dir == "/srv/dekube-out/nspawn", wanted
        assert len(warnings) == 1 and warnings[0].startswith("extensions.nspawn.output_dir: ")
        assert "dekube's own output directory" in warnings[0]


def test_relative_dekube_output_dir_is_made_absolute():
    options, _ = read(out="out")
    assert options.output_dir == os.path.join(os.getcwd(), "out", "nspawn")


def test_options_reach_the_converter_as_the_cli_parses_them():
    options, _ = read({"nspawn": {"subnet": ["10.1.0.0/24", "back=10.2.0.0/24"]}},
                      {"bridge": "-dk", "strict": True, "resolve_images": True})
    args = _cli_arguments(options)
    assert args.strict is True
    converted = ConvertOptions.from_args(args)
    assert converted.output_dir == "/srv/dekube-out/nspawn"
    assert converted.bridge == "-dk"      # a value starting with a dash stays a value
    assert converted.subnets == ("10.1.0.0/24", "back=10.2.0.0/24")
    assert converted.resolve_images is True and converted.check is False
