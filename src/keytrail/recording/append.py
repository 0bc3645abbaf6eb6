"""Appending one line to a history file: locked, never rewriting, all or nothing.

:func:`project_lock` serialises every ``keytrail record`` of one project: an
advisory lock (``flock``) on the project folder itself, so two pipelines
appending at the same moment (to one file or to two) take turns, and each
reads the file's last line, chains to it and checks event ids while no other
record can write. The wait is bounded (``--wait``); the lock leaves no file
behind and is released when the process ends, however it ends.

:func:`history_file` refuses a file outside the project folder, or one its
``history:`` globs do not read (an event written there would never be
checked). :func:`last_line` finds the line a new event's ``prev`` must hash,
the way the history reader does (the last non-blank line, its line ending and
a first line's byte order mark removed). :func:`append` writes the line with a
single ``write`` on a descriptor opened for appending (``O_APPEND``), never
through a symbolic link, then ``fsync``; if the write fails the file is cut
back to its size before, so no partial line remains.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keytrail.errors import UsageError
from keytrail.textsafe import inline

#: Bytes read at a time when looking for the last line from the end.
_TAIL_CHUNK = 1 << 16


@contextmanager
def project_lock(root: Path, wait: float) -> Iterator[None]:
    """Hold the project's record lock, waiting at most ``wait`` seconds for it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        raise UsageError("keytrail record needs POSIX file locks (flock), which this system "
                         "does not have; record from Linux or macOS") from None
    try:
        fd = os.open(root, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot open the project folder {inline(str(root))}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UsageError(f"another `keytrail record` has held the lock on "
                                     f"{inline(str(root))} for {wait:g} s; nothing was written "
                                     "(try again, or raise --wait)") from None
                time.sleep(0.02)
            except OSError as exc:
                raise UsageError(f"cannot lock {inline(str(root))}: {exc.strerror}") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def history_file(out: Path, root: Path, patterns: list[str], read: list[Path]) -> str:
    """``out`` as the project names it (its path relative to ``root``); a usage error when
    it is outside the project, not a file the ``history:`` globs read, or not a plain file."""
    from keytrail.confine import Confinement, _matches

    shown = inline(str(out))
    if out.is_symlink():
        raise UsageError(f"--out {shown}: is a symbolic link; name the history file itself")
    if out.exists() and not out.is_file():
        raise UsageError(f"--out {shown}: is not a file")
    real = out.resolve()
    base = root.resolve()
    if not Confinement.of(base).contains(out if out.exists() else out.parent):
        raise UsageError(f"--out {shown}: is outside the project folder {inline(str(base))}; "
                         "record appends only to the project's own history")
    rel = real.relative_to(base)
    if out.exists():
        if any(real == p.resolve() for p in read):
            return rel.as_posix()
    else:
        if not real.parent.is_dir():
            raise UsageError(f"--out {shown}: its folder does not exist")
        for pattern in patterns:
            parts = Path(os.path.normpath(pattern)).parts
            if glob.has_magic(pattern) and _matches(rel.parts, parts):
                return rel.as_posix()
    listed = ", ".join(inline(p) for p in patterns) or "nothing"
    raise UsageError(f"--out {shown}: is not one of the project's history files (keytrail.yaml "
                     f"`history:` reads {listed}); an event written there would never be checked")


def last_line(path: Path) -> bytes | None:
    """The last non-blank line of ``path`` exactly as the history reader sees it, or None.

    Read backwards from the end in chunks: a history can be large, a line is short."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        pos = handle.seek(0, os.SEEK_END)
        tail = b""
        while True:
            lines = tail.split(b"\n")
            first = 0 if pos == 0 else 1  # lines[0] may be cut short until the start is read
            for i in range(len(lines) - 1, first - 1, -1):
                raw = lines[i]
                if i < len(lines) - 1 and raw.endswith(b"\r"):
                    raw = raw[:-1]  # the reader drops \r only before a \n
                if pos == 0 and i == 0 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # the first line's byte order mark, as the reader drops it
                if raw and not raw.isspace():
                    return raw
            if pos == 0:
                return None
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            handle.seek(pos)
            tail = handle.read(step) + tail


def append(path: Path, line: bytes) -> None:
    """Append ``line`` and a line feed (after one, when the file does not end with one)."""
    import stat

    # O_NONBLOCK: a FIFO put at the name since it was checked fails at once instead of
    # blocking the pipeline until something reads it (no effect on a regular file).
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot open {inline(str(path))} for appending: {exc.strerror}; "
                         "nothing was written") from None
    try:
        info = os.fstat(fd)
        # What was opened, not what the name showed before: a plain file, and the only name
        # of its content (a hard link would append the event to a file elsewhere too).
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"cannot append to {inline(str(path))}: not a plain file; nothing was written")
        if info.st_nlink > 1:
            raise UsageError(f"cannot append to {inline(str(path))}: the file has {info.st_nlink} hard "
                             "links, so the event would be written to another file too; nothing was "
                             "written (copy the file to give it a name of its own)")
        size = info.st_size
        data = line + b"\n"
        if size:
            with path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data  # the last line was not ended: end it, never join it
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(0, f"only {written} of {len(data)} bytes written")
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise UsageError(f"cannot append to {inline(str(path))}: {exc.strerror or exc}; "
                             "nothing was written") from None
    finally:
        os.close(fd)
