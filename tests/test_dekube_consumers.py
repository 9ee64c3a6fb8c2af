"""The dekube transform's output, read by the programs that consume it on a real host (the
checks of test_consumers.py: systemd-analyze verify, systemd-networkd, systemd-nspawn, bash -n
and shellcheck), for the dekube-shaped fixture."""
from __future__ import annotations

import pathlib
import tempfile

import pytest

import consumers
import dekube_harness as dk
from dekube_nspawn.dekube import NspawnTransform

pytestmark = pytest.mark.skipif(bool(consumers.tools_available()),
                                reason=f"needs {consumers.tools_available()}")


def test_dekube_output_is_accepted_by_its_consumers(tmp_path):
    services, config, out = dk.shop(tmp_path)
    ctx = dk.DekubeContext(config, out)
    NspawnTransform().transform(services, [], ctx)
    assert ctx.warnings == []
    nspawn = pathlib.Path(out) / "nspawn"
    rootfs = consumers.busybox_rootfs(pathlib.Path(tempfile.mkdtemp(prefix="dekube-consumers-",
                                                                    dir=tmp_path)))
    problems = consumers.check_output_dir(nspawn, "/etc/dekube-nspawn/shop", rootfs)
    assert not problems, "\n\n".join(problems)
