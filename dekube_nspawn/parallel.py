"""Rendering and writing the output in two processes at once.

Rendering and writing a large project's files costs about as much as loading and planning it
together (1000 services: ~3600 files). On a host with a second CPU the emitters are split into
two groups: a forked child renders and writes one group into the staging directory while this
process does the other. Emitters are pure functions of the plan, so the files are the same bytes
as in a serial run; each process stops at its first error and the error of the emitter that comes
first in `convert.EMITTERS` wins, which is the error the serial run reports.

The child reports back over a pipe, pickled: what it wrote (path, mode, digest) or the error it
hit. It never returns into the caller's code: it leaves with os._exit.
"""
from __future__ import annotations

import os
import pickle

from dekube_nspawn.errors import DekubeError

# Below this many machines a second process costs more (fork, its own template loading) than it
# saves.
MIN_MACHINES = 100

# The child's share: the .nspawn files, the host scripts, install.sh and hosts are about half of
# the render and write time at 1000 services (the rest: units, sockets, bootstrap.sh and the
# machine specs, health scripts).
CHILD_EMITTERS = frozenset({"nspawn_settings", "scripts", "install", "hosts", "target", "networkd"})


def worth_forking(plan) -> bool:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus >= 2 and len(plan.machines) >= MIN_MACHINES and hasattr(os, "fork")


def render_and_write(plan, staging, emitters, parallel: bool) -> list:
    """Render every emitter of `emitters` ((name, module) in output order) into `staging`;
    returns the WrittenFiles. `parallel`: split the work with a forked child."""
    indexed = list(enumerate(emitters))
    if not parallel:
        failure, done = _run(plan, staging, indexed)
        if failure:
            raise failure[1]
        return _unique(done)
    mine = [(i, e) for i, e in indexed if e[0] not in CHILD_EMITTERS]
    theirs = [(i, e) for i, e in indexed if e[0] in CHILD_EMITTERS]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(plan, staging, theirs, read_end, write_end)
    os.close(write_end)
    try:
        failure, done = _run(plan, staging, mine)
        if not failure:
            staging.prepare_swap()     # while the worker may still be busy
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if not payload or code != 0:
        raise DekubeError(f"internal: the render worker process died (exit status {code})")
    child_failure, child_done = pickle.loads(payload)
    failures = [f for f in (failure, child_failure) if f]
    if failures:
        raise min(failures, key=lambda f: f[0])[1]
    return _unique(done + child_done)


def _child(plan, staging, emitters, read_end: int, write_end: int):
    """Runs in the forked child: render, write, report, and leave without returning."""
    code = 0
    try:
        os.close(read_end)
        failure, done = _run(plan, staging, emitters, catch_all=True)
        try:
            payload = pickle.dumps((failure, done), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:                 # an exception that does not pickle: its text does
            failure = (failure[0], RuntimeError(f"{type(failure[1]).__name__}: {failure[1]}"))
            payload = pickle.dumps((failure, done), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _run(plan, staging, emitters, catch_all: bool = False):
    """((index, error) of the first failing emitter or None, WrittenFiles so far). In the child
    any exception is reported (the parent raises it: a bug still shows as one); here only the
    user's errors are caught."""
    from dekube_nspawn.output import check_relative_path
    done = []
    for index, (_name, module) in emitters:
        try:
            files = module.render(plan)
            for f in files:
                check_relative_path(f.path)
            done += staging.write(files)
        except (Exception if catch_all else DekubeError) as e:
            return (index, e), done
    return None, done


def _unique(done: list) -> list:
    seen = set()
    for w in done:
        if w.path in seen:
            raise DekubeError(f"internal: two emitters write {w.path}")
        seen.add(w.path)
    return done
