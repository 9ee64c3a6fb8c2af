"""`dekube-<project>.target`: the project as one unit (start, stop, enable at boot)."""
from __future__ import annotations

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.emit.templating import HEADER, render_template
from dekube_nspawn.ir import Plan


def render_target(plan: Plan) -> OutputFile:
    sockets = [f"{p.socket_unit}.socket" for m in plan.machines for p in m.ports]
    content = render_template("project.target.j2", header=HEADER, plan=plan,
                              units=[m.unit for m in plan.machines], sockets=sockets)
    return OutputFile(plan.target, content)


def render(plan: Plan) -> list[OutputFile]:
    return [render_target(plan)]
