"""Writing the output directory: all or nothing, and never touching what the tool did not write.

The new tree is built in a temporary directory beside the output directory and swapped in with
one `renameat2(RENAME_EXCHANGE)`, so a failure at any point leaves the previous output intact.
`manifest.json` lists what a run wrote: the next run drops those of them it no longer makes and
carries every other (foreign) file over unchanged.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from typing import NamedTuple

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.errors import DekubeError
from dekube_nspawn.jsontext import dumps_reviewable

MANIFEST = "manifest.json"


class OutputError(DekubeError):
    """The output directory cannot be written (permissions, space)."""


def check_relative_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in path:
        raise DekubeError(f"internal: output path {path!r} is not a plain relative path")


class WrittenFile(NamedTuple):
    """What the manifest records of one file: enough to check and to remove exactly it later.
    (A tuple: a render worker sends thousands of them back through a pipe.)"""
    path: str
    mode: int
    sha256: str


def written(f: OutputFile) -> WrittenFile:
    return WrittenFile(f.path, f.mode, hashlib.sha256(f.content.encode("utf-8")).hexdigest())


def render_manifest(project: str, files) -> OutputFile:
    """`files`: OutputFiles or WrittenFiles (what the writers reported)."""
    entries = [{"path": w.path, "mode": f"{w.mode:04o}", "sha256": w.sha256}
               for w in sorted((f if isinstance(f, WrittenFile) else written(f) for f in files),
                               key=lambda w: w.path)]
    body = {"generator": "dekube-nspawn", "project": project, "files": entries}
    return OutputFile(MANIFEST, dumps_reviewable(body))


def previous_files(output_dir: str) -> set[str]:
    """Files the previous run wrote, from its manifest (none when there is no readable manifest)."""
    try:
        with open(os.path.join(output_dir, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
        return {e["path"] for e in data.get("files", []) if isinstance(e.get("path"), str)} | {MANIFEST}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _renameat2():
    """libc's renameat2, or None where there is none."""
    import ctypes      # here: only a run that replaces an existing output directory needs it
    libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(libc, "renameat2", None)
    return (func, ctypes.get_errno) if func is not None else None


def _exchange(a: str, b: str, renameat2=None) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    found = renameat2 or _renameat2()
    if found is None:
        return False
    func, get_errno = found
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if func(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def _scan(root: str) -> tuple[list[str], list[str]]:
    """(files, empty directories) under `root`, relative and "/"-separated, files sorted. A
    symlink counts as a file, even to a directory (it is not followed). Unreadable directories
    are skipped, as os.walk does. One scandir pass: no per-entry stat or relpath."""
    files: list[str] = []
    empty: list[str] = []

    def walk(directory: str, prefix: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            return
        if not entries and prefix:
            empty.append(prefix[:-1])
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, prefix + entry.name + "/")
            else:
                files.append(prefix + entry.name)

    walk(root, "")
    return sorted(files), empty


def _carry_foreign(output_dir: str, staging: str, ours: set[str], new_paths: set[str],
                   scanned) -> None:
    files, empty_dirs = scanned
    new_dirs = {p.rpartition("/")[0] for p in new_paths}
    for d in list(new_dirs):
        while d:
            d = d.rpartition("/")[0]
            new_dirs.add(d)
    for rel in files:
        if rel in ours:
            continue
        parents = [rel[:i] for i, c in enumerate(rel) if c == "/"]
        if rel in new_paths or rel in new_dirs or any(p in new_paths for p in parents):
            raise DekubeError(f"{os.path.join(output_dir, rel)} was not written by dekube-nspawn "
                              "(not in manifest.json) and would be overwritten; move it away")
        src, dst = os.path.join(output_dir, rel), os.path.join(staging, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    # Empty directories are foreign too (the tool never leaves one); a directory that held only
    # the tool's files goes with them.
    for rel in empty_dirs:
        if rel in new_paths:
            raise DekubeError(f"{os.path.join(output_dir, rel)} is a directory dekube-nspawn did "
                              "not make, where it writes a file; move it away")
        os.makedirs(os.path.join(staging, rel), exist_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Staging:
    """The new output tree, built in a temporary directory beside `output_dir` and swapped in by
    `commit` with one `renameat2(RENAME_EXCHANGE)`: a failure at any point leaves the previous
    output intact. Files can be written by several processes (`write` returns what the manifest
    needs); `commit` adds the manifest, carries the foreign files over and swaps. As a context
    manager, it removes the staging directory when the block fails."""

    def __init__(self, output_dir: str):
        # A symlinked output directory is replaced where it really is, and the link kept.
        self.output_dir = os.path.realpath(output_dir)
        if os.path.lexists(self.output_dir) and not os.path.isdir(self.output_dir):
            raise DekubeError(f"{self.output_dir} exists and is not a directory")
        parent = os.path.dirname(self.output_dir)
        with _writing(self.output_dir):
            os.makedirs(parent, exist_ok=True)
            self.path = tempfile.mkdtemp(prefix=f".{os.path.basename(self.output_dir)}.new-",
                                         dir=parent)
        # Files are created with their final mode; fchmod only when the umask would take bits.
        self._umask = _umask()
        self._previous = None

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, files: list[OutputFile]) -> list[WrittenFile]:
        with _writing(self.output_dir):
            return _write_tree(self.path, files, self._umask)

    def commit(self, project: str, files: list[WrittenFile]) -> None:
        """Write the manifest of `files` (everything the writers wrote) and swap the tree in."""
        with _writing(self.output_dir):
            _write_tree(self.path, [render_manifest(project, files)], self._umask)
        self.swap({f.path for f in files} | {MANIFEST})

    def prepare_swap(self) -> None:
        """Read what the swap needs of the previous output (its manifest, its files) and load the
        exchange call. The parallel renderer calls this while its worker is still busy."""
        if self._previous is not None:
            return
        with _writing(self.output_dir):
            if os.path.isdir(self.output_dir):
                self._previous = (previous_files(self.output_dir), _scan(self.output_dir),
                                  _renameat2())
            else:
                self._previous = ()

    def swap(self, new_paths: set[str]) -> None:
        """Put the staging tree in place of the output directory; `new_paths`: every file written."""
        with _writing(self.output_dir):
            self._swap(new_paths)

    def _swap(self, new_paths: set[str]) -> None:
        output_dir, staging = self.output_dir, self.path
        self.prepare_swap()
        if not self._previous or not os.path.isdir(output_dir):
            os.chmod(staging, 0o755)
            os.rename(staging, output_dir)
            return
        ours, scanned, renameat2 = self._previous
        _carry_foreign(output_dir, staging, ours, new_paths, scanned)
        os.chmod(staging, stat.S_IMODE(os.stat(output_dir).st_mode))
        if not _exchange(staging, output_dir, renameat2):
            old = staging + ".old"
            os.rename(output_dir, old)
            os.rename(staging, output_dir)
            staging = old
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _writing(output_dir: str):
    """An OS error while writing the output (no space, no permission) is the user's to fix: one
    sentence naming the directory, not an internal error."""
    try:
        yield
    except DekubeError:
        raise
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        raise OutputError(f"cannot write the output directory {output_dir}: "
                          f"{e.strerror or e}{where}") from None


def _write_tree(staging: str, files: list[OutputFile], umask: int = 0o777) -> list[WrittenFile]:
    made = {staging}
    done = []
    for f in files:
        path = f"{staging}/{f.path}"            # f.path: plain, relative, "/"-separated
        parent = path.rpartition("/")[0]
        if parent not in made:
            os.makedirs(parent, mode=0o755, exist_ok=True)
            made.add(parent)
        # Created with its final mode (the umask can only take bits away) so secret material is
        # never readable by others, even briefly; fchmod then restores the bits the umask took.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, f.mode)
        try:
            if f.mode & umask:
                os.fchmod(fd, f.mode)
            encoded = f.content.encode("utf-8")
            data = memoryview(encoded)
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        done.append(WrittenFile(f.path, f.mode, hashlib.sha256(encoded).hexdigest()))
    return done


def write_output(output_dir: str, files: list[OutputFile]) -> None:
    """Replace the tool's files in `output_dir` with `files` (the manifest among them), atomically."""
    with Staging(output_dir) as staging:
        staging.write(files)
        staging.swap({f.path for f in files})


def diff_output(output_dir: str, files: list[OutputFile]) -> str:
    """A unified diff from the existing output to `files` (empty: identical). Foreign files are
    ignored; the previous run's files that would disappear show as removed."""
    import difflib     # here: only --check needs it
    out = []
    new = {f.path: f for f in files}
    old_paths = previous_files(output_dir) if os.path.isdir(output_dir) else set()
    for path in sorted(set(new) | old_paths):
        full = os.path.join(output_dir, *path.split("/"))
        try:
            with open(full, encoding="utf-8", errors="surrogateescape") as fh:
                old_text = fh.read()
            old_mode = stat.S_IMODE(os.stat(full).st_mode)
        except FileNotFoundError:
            old_text, old_mode = None, None
        f = new.get(path)
        new_text = f.content if f else None
        if old_text == new_text and (f is None or old_mode == f.mode):
            continue
        if old_text != new_text:
            out.extend(difflib.unified_diff(
                (old_text or "").splitlines(keepends=True), (new_text or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if old_text is not None else "/dev/null",
                tofile=f"b/{path}" if new_text is not None else "/dev/null"))
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n\\ No newline at end of file\n"
        if f is not None and old_mode is not None and old_mode != f.mode:
            out.append(f"mode of {path}: {old_mode:04o} -> {f.mode:04o}\n")
    return "".join(out)
