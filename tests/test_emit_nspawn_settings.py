"""`<machine>.nspawn` from hand-built IR."""
from __future__ import annotations

from dataclasses import replace

import pytest

import irsamples as s
from dekube_nspawn import ir
from dekube_nspawn.emit.nspawn_settings import render_nspawn_settings
from dekube_nspawn.errors import ConversionError
from unitfile import parse


def settings_of(machine, **plan_kw):
    plan = s.plan(machine, **plan_kw)
    return parse(render_nspawn_settings(plan, machine).content)


def resolved(machine, user=None, **process):
    p = replace(machine.process, **process)
    effective = ir.EffectiveProcess(argv=(p.entrypoint or ("/entry",)) + (p.command or ("cmd",)),
                                    environment=(("PATH", "/usr/bin:/bin"),) + p.environment,
                                    working_dir=p.working_dir or "/", user=user)
    return replace(machine, process=p, effective=effective)


def test_boot_no_is_always_written_so_parameters_count():
    conf = settings_of(resolved(s.machine(), command=("httpd", "-f")))
    assert conf[("Exec", "Boot")] == ["no"]
    assert conf[("Exec", "Parameters")] == ['"/entry" "httpd" "-f"']
    assert conf[("Exec", "PrivateUsers")] == ["no"]
    assert conf[("Exec", "Environment")][0] == '"PATH=/usr/bin:/bin"'


def test_init_runs_process_two_and_stops_with_its_signal():
    m = s.machine()
    m = replace(m, process=replace(m.process, init=True),
                lifecycle=replace(m.lifecycle, stop_signal="SIGINT"))
    conf = settings_of(m)
    assert conf[("Exec", "ProcessTwo")] == ["yes"] and ("Exec", "Boot") not in conf
    assert conf[("Exec", "KillSignal")] == ["SIGRTMIN+3"]


def test_without_a_resolved_image_the_process_is_left_to_bootstrap():
    m = s.machine()
    m = replace(m, process=replace(m.process, command=("a b",), environment=(("A", "1 2"),)))
    text = render_nspawn_settings(s.plan(m), m).content
    conf = parse(text)
    assert ("Exec", "Parameters") not in conf and ("Exec", "WorkingDirectory") not in conf
    assert conf[("Exec", "Environment")] == ['"A=1 2"']
    assert '#   compose command: "a b"' in text


def test_user_runs_the_payload_through_the_hosts_setpriv():
    m = resolved(s.machine(), user="1000:1001", command=("id",))
    conf = settings_of(m)
    words = conf[("Exec", "Parameters")][0].split(" ")
    assert words[:4] == ['"/run/dekube/ld.so"', '"--library-path"', '"/run/dekube/lib"', '"/run/dekube/setpriv"']
    assert '"--reuid=1000"' in words and '"--regid=1001"' in words
    assert words[-3:] == ['"--"', '"/entry"', '"id"']
    assert "/var/lib/dekube-nspawn/runtime:/run/dekube" in conf[("Files", "BindReadOnly")]


def test_values_the_file_cannot_carry_are_refused_with_their_key():
    m = resolved(s.machine(), command=("it's \"x\"",))
    with pytest.raises(ConversionError) as e:
        render_nspawn_settings(s.plan(m), m)
    assert e.value.key_path == ("services", "web", "command")


def test_environment_with_a_newline_needs_a_resolved_image():
    m = s.machine()
    m = replace(m, process=replace(m.process, environment=(("MULTI", "a\nb"),)))
    with pytest.raises(ConversionError, match="--resolve-images") as e:
        render_nspawn_settings(s.plan(m), m)
    assert e.value.key_path[-1] == "MULTI"
    m = resolved(m)
    conf = settings_of(m)
    assert ("Exec", "Environment") not in conf     # the unit passes it (--setenv)


def test_storage_maps_to_binds_tmpfs_and_read_only():
    m = s.machine(
        mounts=(ir.Mount(ir.MountKind.BIND, "/srv/a:b", "/data"),
                ir.Mount(ir.MountKind.VOLUME, "/var/lib/dekube-nspawn/demo/volumes/v", "/v", read_only=True),
                ir.Mount(ir.MountKind.TMPFS, "", "/scratch", tmpfs_size=1024, tmpfs_mode=0o1777),
                ir.Mount(ir.MountKind.TMPFS, "", "/run")),
        privileges=ir.Privileges(read_only_root=True))
    conf = settings_of(m)
    assert conf[("Files", "ReadOnly")] == ["yes"]
    assert conf[("Files", "Bind")] == ["/srv/a\\:b:/data"]
    assert "/var/lib/dekube-nspawn/demo/volumes/v:/v" in conf[("Files", "BindReadOnly")]
    assert "/etc/dekube-nspawn/demo/hosts:/etc/hosts" in conf[("Files", "BindReadOnly")]
    assert conf[("Files", "TemporaryFileSystem")] == ["/scratch:size=1024,mode=1777"]   # not /run


def test_secrets_dns_and_devices_are_bound():
    m = s.machine(
        secrets=(ir.SecretFile("secret", "pw", "/run/secrets/pw", "/run/dekube-nspawn/demo/secrets/pw",
                               0o400, None, None, source_file="/srv/pw"),),
        dns=("1.1.1.1",), privileges=ir.Privileges(devices=(("/dev/fuse", "/dev/fuse", "rwm"),)))
    conf = settings_of(m)
    ro = conf[("Files", "BindReadOnly")]
    assert "/run/dekube-nspawn/demo/secrets/pw:/run/secrets/pw" in ro
    assert "/etc/dekube-nspawn/demo/resolv/demo-web.conf:/etc/resolv.conf" in ro
    assert conf[("Files", "Bind")] == ["/dev/fuse:/dev/fuse"]


def test_capabilities_limits_and_no_new_privileges():
    m = s.machine(privileges=ir.Privileges(cap_add=("net_admin", "CAP_SYS_TIME"), cap_drop=("MKNOD",),
                                           no_new_privileges=True),
                  limits=ir.Limits(ulimits=(("LimitNOFILE", 1024, 4096), ("LimitNPROC", 64, 64))))
    conf = settings_of(m)
    assert conf[("Exec", "Capability")] == ["CAP_NET_ADMIN CAP_SYS_TIME"]
    assert conf[("Exec", "DropCapability")] == ["CAP_MKNOD"]
    assert conf[("Exec", "NoNewPrivileges")] == ["yes"]
    assert conf[("Exec", "LimitNOFILE")] == ["1024:4096"] and conf[("Exec", "LimitNPROC")] == ["64"]
    conf = settings_of(s.machine(privileges=ir.Privileges(privileged=True, cap_drop=("MKNOD",))))
    assert conf[("Exec", "Capability")] == ["all"] and ("Exec", "DropCapability") not in conf


def test_a_bad_signal_or_limit_name_is_refused():
    m = s.machine(lifecycle=replace(s.machine().lifecycle, stop_signal="SIGTERM\nBoot=yes"))
    with pytest.raises(ConversionError):
        render_nspawn_settings(s.plan(m), m)
    m = s.machine(limits=ir.Limits(ulimits=(("LimitNOFILE\nX", 1, 1),)))
    with pytest.raises(ConversionError):
        render_nspawn_settings(s.plan(m), m)


def test_settings_files_are_root_only():
    m = s.machine()
    assert render_nspawn_settings(s.plan(m), m).mode == 0o600
