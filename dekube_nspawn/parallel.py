"""Rendering and writing the output in two processes at once.

Rendering and writing a large project's files costs about as much as planning it and more than
half of loading it (1000 services: ~2600 files). On a host with a second CPU a forked child and
this process share the emitters: each takes the next one from a queue (a pipe holding one byte
per emitter, the costliest first, so the two finish together whatever else the machine is doing)
and writes its files into the staging directory. Emitters are pure functions of the plan, so the
files are the same bytes as in a serial run. Every emitter is run even after one failed, and the
error of the first failing emitter in `convert.EMITTERS` order wins: the error a serial run
reports.

The child reports back over a pipe, pickled: what it wrote (path, mode, digest) and the errors it
hit. It never returns into the caller's code: it leaves with os._exit.
"""
from __future__ import annotations

import os
import pickle

from dekube_nspawn.errors import DekubeError

# Below this many machines a second process costs more (fork, its own template loading) than it
# saves.
MIN_MACHINES = 100

# Queue order: the emitters' relative cost at 1000 services (render + write), largest first.
# Only the order depends on it; the split adapts to what each process actually takes.
COST = {"service_unit": 75, "nspawn_settings": 55, "scripts": 25, "bootstrap": 20,
        "install": 15, "hosts": 10, "sockets": 10, "health_scripts": 7}


def worth_forking(plan) -> bool:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus >= 2 and len(plan.machines) >= MIN_MACHINES and hasattr(os, "fork")


def render_and_write(plan, staging, emitters, parallel: bool) -> list:
    """Render every emitter of `emitters` ((name, module) in output order) into `staging` (an
    output.Staging, or anything whose `write(files)` returns what it wrote); returns what was
    written. `parallel`: share the work with a forked child."""
    if not parallel:
        failures, done = _run(plan, staging, emitters, range(len(emitters)), stop_at_first=True)
        return _result(failures, done)
    queue = _queue(emitters)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(plan, staging, emitters, queue, read_end, write_end)
    os.close(write_end)
    try:
        failures, done = _run(plan, staging, emitters, queue)
        if not failures:
            staging.prepare_swap()     # while the worker may still be busy
    finally:
        os.close(queue.fd)
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if not payload or code != 0:
        raise DekubeError(f"internal: the render worker process died (exit status {code})")
    child_failures, child_done = pickle.loads(payload)
    return _result(failures + child_failures, done + child_done)


class _Queue:
    """The indices of the emitters not taken yet, one byte each in a pipe whose writing end is
    closed: a read of one byte is atomic between the processes, an empty pipe reads as the end."""

    def __init__(self, indices):
        read_end, write_end = os.pipe()
        os.write(write_end, bytes(indices))       # a few bytes: far below the pipe's capacity
        os.close(write_end)
        self.fd = read_end

    def __iter__(self):
        return self

    def __next__(self) -> int:
        taken = os.read(self.fd, 1)
        if not taken:
            raise StopIteration
        return taken[0]


def _queue(emitters) -> _Queue:
    if len(emitters) > 255:
        raise DekubeError("internal: too many emitters for the render queue")
    return _Queue(sorted(range(len(emitters)), key=lambda i: -COST.get(emitters[i][0], 1)))


def _child(plan, staging, emitters, queue, read_end: int, write_end: int):
    """Runs in the forked child: render, write, report, and leave without returning."""
    code = 0
    try:
        os.close(read_end)
        failures, done = _run(plan, staging, emitters, queue, catch_all=True)
        try:
            payload = pickle.dumps((failures, done), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:                 # an exception that does not pickle: its text does
            failures = [(i, e if _pickles(e) else RuntimeError(f"{type(e).__name__}: {e}"))
                        for i, e in failures]
            payload = pickle.dumps((failures, done), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _pickles(value) -> bool:
    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def _run(plan, staging, emitters, indices, catch_all: bool = False, stop_at_first: bool = False):
    """([(index, error)] of the emitters that failed, WrittenFiles) for the emitters `indices`
    yields. In the child any exception is reported (the parent raises it: a bug still shows as
    one); here only the user's errors are caught. A serial run, in emitter order, stops at the
    first failure; the two processes run every emitter they take."""
    from dekube_nspawn.output import check_relative_path
    done, failures = [], []
    for index in indices:
        try:
            files = emitters[index][1].render(plan)
            for f in files:
                check_relative_path(f.path)
            done += staging.write(files)
        except (Exception if catch_all else DekubeError) as e:
            failures.append((index, e))
            if stop_at_first:
                break
    return failures, done


def _result(failures: list, done: list) -> list:
    if failures:
        raise min(failures, key=lambda f: f[0])[1]
    seen = set()
    for w in done:
        if w.path in seen:
            raise DekubeError(f"internal: two emitters write {w.path}")
        seen.add(w.path)
    return done
