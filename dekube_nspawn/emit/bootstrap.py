"""`bootstrap.sh`: pull + unpack every image, and complete the process of each machine whose image
was not resolved at conversion from the unpacked image, with compose's process of that machine
(one JSON line per machine in the script: the input it hands to runtime/process.py on the host).
The script is root-only (0700): those lines carry the compose environment.

bootstrap.sh embeds `runtime/process.py` (compose's process rules, the one implementation) and
`runtime/exec_block.py` (their .nspawn rendering) verbatim as quoted here-documents.
"""
from __future__ import annotations

import hashlib
import json
import pathlib

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.scripts import helpers_dir, images_dir, render_template
from dekube_nspawn.ir import Machine, Plan

_RUNTIME = pathlib.Path(__file__).resolve().parent.parent / "runtime"


def _embeddable(name: str) -> tuple[str, str]:
    """(source, here-document delimiter): the delimiter is derived from the source and checked
    not to occur in it as a line, so the embedded text is byte-exact."""
    source = (_RUNTIME / name).read_text()
    if not source.endswith("\n"):
        source += "\n"
    delimiter = "DEKUBE_" + name.replace(".", "_").upper() + "_" + hashlib.sha256(source.encode()).hexdigest()[:12]
    assert delimiter not in source.splitlines()
    return source, delimiter


def unresolved_machines(plan: Plan) -> list[Machine]:
    """Machines whose process bootstrap.sh completes from the unpacked image: the image was not
    resolved at conversion, or the process runs as a user named in the image's passwd."""
    return [m for m in plan.machines if m.image is not None and m.effective is None]


def machine_spec(machine: Machine) -> str:
    """runtime/process.py's "compose" input, as one line of JSON: null = the image's default
    applies."""
    p = machine.process
    spec = {
        "entrypoint": list(p.entrypoint) if p.entrypoint is not None else None,
        "command": list(p.command) if p.command is not None else None,
        "environment": [[k, v] for k, v in p.environment],
        "working_dir": p.working_dir,
        "user": p.user,
    }
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


def render(plan: Plan) -> list[OutputFile]:
    unresolved = unresolved_machines(plan)
    process_source, process_delimiter = _embeddable("process.py")
    block_source, block_delimiter = _embeddable("exec_block.py")
    script = render_template(
        "bootstrap.sh.j2", plan=plan, unresolved=unresolved,
        images_dir=images_dir(plan), helpers_dir=helpers_dir(plan),
        helpers_dir_json=json.dumps(helpers_dir(plan)),
        rootfs_json=lambda m: json.dumps(f"{images_dir(plan)}/{m.image.key}/current/rootfs"),
        spec_json=machine_spec,
        process_source=process_source, process_delimiter=process_delimiter,
        exec_block_source=block_source, exec_block_delimiter=block_delimiter)
    # Root-only, like the .nspawn: the compose environment routinely carries passwords.
    return [OutputFile("bootstrap.sh", script, 0o700)]
