"""Writing the output directory: all or nothing, and never touching what the tool did not write.

The new tree is built in a temporary directory beside the output directory and swapped in with
one `renameat2(RENAME_EXCHANGE)`, so a failure at any point leaves the previous output intact.
`manifest.json` lists what a run wrote: the next run drops those of them it no longer makes and
carries every other (foreign) file over unchanged.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile

from dekube_nspawn.emit import OutputFile
from dekube_nspawn.errors import DekubeError
from dekube_nspawn.jsontext import dumps_indented

MANIFEST = "manifest.json"


def check_relative_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in path:
        raise DekubeError(f"internal: output path {path!r} is not a plain relative path")


def render_manifest(project: str, files: list[OutputFile]) -> OutputFile:
    entries = [{"path": f.path, "mode": f"{f.mode:04o}",
                "sha256": hashlib.sha256(f.content.encode("utf-8")).hexdigest()}
               for f in sorted(files, key=lambda f: f.path)]
    body = {"generator": "dekube-nspawn", "project": project, "files": entries}
    return OutputFile(MANIFEST, dumps_indented(body, sort_keys=True) + "\n")


def previous_files(output_dir: str) -> set[str]:
    """Files the previous run wrote, from its manifest (none when there is no readable manifest)."""
    try:
        with open(os.path.join(output_dir, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
        return {e["path"] for e in data.get("files", []) if isinstance(e.get("path"), str)} | {MANIFEST}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    import ctypes      # here: only a run that replaces an existing output directory needs it
    libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if func(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
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


def _carry_foreign(output_dir: str, staging: str, ours: set[str], new_paths: set[str]) -> None:
    files, empty_dirs = _scan(output_dir)
    for rel in files:
        if rel in ours:
            continue
        if rel in new_paths:
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
        os.makedirs(os.path.join(staging, rel), exist_ok=True)


def _write_tree(staging: str, files: list[OutputFile]) -> None:
    made = {staging}
    for f in files:
        path = f"{staging}/{f.path}"            # f.path: plain, relative, "/"-separated
        parent = path.rpartition("/")[0]
        if parent not in made:
            os.makedirs(parent, mode=0o755, exist_ok=True)
            made.add(parent)
        # Created with its final mode (the umask can only take bits away) so secret material is
        # never readable by others, even briefly; fchmod then sets exactly the mode asked for.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, f.mode)
        try:
            os.fchmod(fd, f.mode)
            data = memoryview(f.content.encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)


def write_output(output_dir: str, files: list[OutputFile]) -> None:
    """Replace the tool's files in `output_dir` with `files` (manifest included), atomically."""
    # A symlinked output directory is replaced where it really is, and the link kept.
    output_dir = os.path.realpath(output_dir)
    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise DekubeError(f"{output_dir} exists and is not a directory")
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    new_paths = {f.path for f in files}
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.new-", dir=parent)
    try:
        exists = os.path.isdir(output_dir)
        if exists:
            _carry_foreign(output_dir, staging, previous_files(output_dir), new_paths)
            os.chmod(staging, stat.S_IMODE(os.stat(output_dir).st_mode))
        else:
            os.chmod(staging, 0o755)
        _write_tree(staging, files)
        if not exists:
            os.rename(staging, output_dir)
            return
        if not _exchange(staging, output_dir):
            old = staging + ".old"
            os.rename(output_dir, old)
            os.rename(staging, output_dir)
            staging = old
        shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
        raise


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
