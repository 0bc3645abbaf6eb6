"""Writing what a command rendered: all of it, or none of it, and never over an input.

:func:`write` writes one output (standard output, or a file that appears only
when complete). :class:`Outputs` writes several as one: every output is
rendered to a temporary file beside its target first (``.NAME.partial``), and
only when all of them rendered are they moved into place; if any step fails,
every output is left as it was before the run (a file replaced is put back).
:func:`refuse_inputs` refuses an output that would overwrite a file the run
reads (compared by resolved path and by device and inode, so a second name for
the same file, a symbolic or hard link, is caught too).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from keytrail.errors import UsageError

#: What a temporary output is called while it is written: ``.NAME.partial`` beside NAME.
PARTIAL = ".{}.partial"
#: What a replaced file is called until every output is in place: ``.NAME.replaced``.
REPLACED = ".{}.replaced"


def _chunks(text: str | Iterable[str]) -> Iterable[str]:
    return [text] if isinstance(text, str) else text


def _to_stdout(chunks: Iterable[str]) -> None:
    # The rendered bytes exactly, as UTF-8, whatever the platform's newline translation
    # or console encoding (a CSV's \r\n must not become \r\r\n on Windows).
    raw = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    for chunk in chunks:
        if raw is not None:
            raw.write(chunk.encode("utf-8"))
        else:
            sys.stdout.write(chunk)
    (raw or sys.stdout).flush()


def write(text: str | Iterable[str], output: str | None) -> None:
    """Write text (or pieces of it) to stdout or a file; a file appears only when complete."""
    if output is None or output == "-":
        _to_stdout(_chunks(text))
        return
    outputs = Outputs()
    outputs.add(output, text)
    outputs.commit()


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file: the same resolved path, or (both
    existing) the same device and inode, which catches hard links."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(outputs: Iterable[tuple[str, str]], inputs: Iterable[Path]) -> None:
    """Refuse any (option, file) output that is one of ``inputs`` or a folder holding one."""
    read = list(inputs)
    for option, output in outputs:
        if output in ("", "-"):
            continue
        target = Path(output)
        for path in read:
            if same_file(target, path):
                raise UsageError(f"{option} {output}: is {path}, which this run reads; keytrail "
                                 "never writes over its own input (choose another file)")
        if target.is_dir():
            raise UsageError(f"{option} {output}: is a folder; give a file name")


def open_new(path: Path, newline: str = "") -> IO[str]:
    """Create ``path`` afresh for writing, never through whatever is there already.

    A temporary's name is predictable, so a repository could hold a symbolic link by
    that name pointing at a file of the person running keytrail: whatever is there is
    removed (the link, never its target) and the file is created exclusively, without
    following a link.
    """
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o666), "w", encoding="utf-8", newline=newline)


def _keep_aside(target: Path) -> Path:
    """A second name for ``target`` (a hard link; a copy where links are not supported),
    so that it can be put back if a later output fails."""
    aside = target.with_name(REPLACED.format(target.name))
    aside.unlink(missing_ok=True)  # a stale one from a killed run is only another name
    try:
        os.link(target, aside, follow_symlinks=False)
    except OSError:
        shutil.copy2(target, aside, follow_symlinks=False)
    return aside


@dataclass
class _Staged:
    target: Path
    partial: Path
    replaced: Path | None = None
    placed: bool = False


@dataclass
class Outputs:
    """Several outputs written as one: all in place, or none changed."""

    staged: list[_Staged] = field(default_factory=list)
    stdout: IO[str] | None = None
    appends: list[tuple[Path, str, str]] = field(default_factory=list)  # (file, text, what)
    created: list[Path] = field(default_factory=list)  # folders made for outputs, deepest last

    def add(self, output: str | None, text: str | Iterable[str]) -> None:
        """Render ``text`` now: into a temporary beside ``output``, or held back for stdout."""
        if output is None or output == "-":
            # Held in a temporary file, not memory: a large organisation's report is big.
            import tempfile

            self.stdout = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
            try:
                for chunk in _chunks(text):
                    self.stdout.write(chunk)
            except BaseException:
                self.discard()
                raise
            return
        target = Path(output)
        if any(same_file(target, s.target) for s in self.staged):
            self.discard()
            raise UsageError(f"{output}: named as the output of two formats; give each its own file")
        staged = _Staged(target, target.with_name(PARTIAL.format(target.name)))
        self.staged.append(staged)
        try:
            missing = [f for f in (target.parent, *target.parent.parents) if not f.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                self.created.append(folder)
            with open_new(staged.partial) as handle:  # the rendered bytes, exactly
                for chunk in _chunks(text):
                    handle.write(chunk)
        except OSError as exc:
            self.discard()
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
        except BaseException:
            self.discard()
            raise

    def append(self, path: str, text: str, what: str) -> None:
        """Append ``text`` to ``path`` when committing (undone if a later step fails)."""
        self.appends.append((Path(path), text, what))

    def discard(self) -> None:
        """Remove every temporary; nothing of this run remains."""
        for s in self.staged:
            try:
                s.partial.unlink(missing_ok=True)
            except OSError:
                pass
        for folder in reversed(self.created):  # folders made for this run only, if still empty
            try:
                folder.rmdir()
            except OSError:
                pass
        self.created = []
        if self.stdout is not None:
            self.stdout.close()
            self.stdout = None

    def commit(self) -> None:
        """Move every output into place, then append; on any failure put everything back."""
        appended: list[tuple[Path, int | None]] = []
        try:
            for s in self.staged:
                if s.target.exists() or s.target.is_symlink():
                    s.replaced = _keep_aside(s.target)
                os.replace(s.partial, s.target)  # atomic: the target is never missing
                s.placed = True
            for path, text, what in self.appends:
                try:
                    size = path.stat().st_size if path.exists() else None
                    appended.append((path, size))
                    with path.open("a", encoding="utf-8") as handle:
                        handle.write(text)
                except OSError as exc:
                    raise UsageError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
        except BaseException as exc:
            self._rollback(appended)
            if isinstance(exc, OSError):
                raise UsageError(f"cannot write {exc.filename or ''}: {exc.strerror or exc}; "
                                 "no output was changed") from None
            raise
        for s in self.staged:
            if s.replaced is not None:
                try:
                    s.replaced.unlink()
                except OSError:
                    pass
        if self.stdout is not None:
            self.stdout.seek(0)
            _to_stdout(iter(lambda: self.stdout.read(1 << 16) if self.stdout else "", ""))
            self.stdout.close()
            self.stdout = None

    def _rollback(self, appended: list[tuple[Path, int | None]]) -> None:
        for path, size in appended:
            try:
                if size is None:
                    path.unlink(missing_ok=True)
                else:
                    os.truncate(path, size)
            except OSError:
                pass
        for s in self.staged:
            try:
                if s.placed and s.replaced is not None:
                    os.replace(s.replaced, s.target)
                elif s.placed:
                    s.target.unlink(missing_ok=True)
                elif s.replaced is not None:  # never moved: the target is still the original
                    s.replaced.unlink(missing_ok=True)
            except OSError:
                pass
        self.discard()


__all__ = ["write", "Outputs", "refuse_inputs", "same_file", "PARTIAL", "REPLACED"]
