"""The one error hierarchy keytrail raises, and the problems it carries.

Every error a user can cause by giving keytrail bad input is a
:class:`KeytrailError`; ``cli.main`` turns it into a message on stderr and exit
code 2. A :class:`Problem` pins one complaint to a file, line and column and a
path inside the document (``rules[3].use``), so messages read like a
compiler's: ``policies/pay.yaml:14:7: rules[2].use: unknown check ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How many problems one file may report before the rest are summarised.
MAX_PROBLEMS_PER_FILE = 50

#: A path that is only a record's place in its file (``[3]``) or in its line (``[3][1]``).
_POSITION = re.compile(r"(?:\[\d+\])+")


@dataclass(frozen=True, order=True)
class Problem:
    """One complaint about an input, located as precisely as the input allows."""

    file: str
    line: int = 0
    column: int = 0
    path: str = ""
    message: str = ""
    level: str = "error"

    def positions(self) -> list[int]:
        """The record positions the path consists of (``[3][1]`` → ``[3, 1]``); empty when the
        path is a place inside a document (``rules[2].use``) or there is none."""
        if not _POSITION.fullmatch(self.path):
            return []
        return [int(n) for n in self.path[1:-1].split("][")]

    def __str__(self) -> str:
        """``file:line:column: path: message`` on one line, inert (:func:`keytrail.textsafe.inline`):
        a value the message quotes cannot break the line or carry an escape sequence."""
        from keytrail.textsafe import inline

        where = self.file
        path = self.path
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        if self.positions():  # a record's place in a document (`file[3]`, `file:7[2]`)
            where, path = where + path, ""
        text = f"{path}: {self.message}" if path else self.message
        if self.level != "error":
            text = f"{self.level}: {text}"
        return inline(f"{where}: {text}")


class KeytrailError(Exception):
    """Base class of every error caused by input or usage (exit code 2)."""

    #: What the error stopped, said after the problems.
    consequence = "nothing was checked"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        """The message, or one line per problem: inert, since errors land in CI logs too
        (a value a message quotes cannot start a line or carry an escape sequence)."""
        from keytrail.textsafe import inline, path_line

        if not self.problems:
            return inline(self.message)
        return "\n".join(path_line(str(p)) for p in self.problems)


class InputError(KeytrailError):
    """An input file (project, directory, keys, history, snapshot) is invalid."""


class PolicyError(KeytrailError):
    """A policy file is invalid."""


class UsageError(KeytrailError):
    """The command line asks for something that cannot be done."""


class ImportFailedError(InputError):
    """An import found malformed (or, with --strict, unconvertible) records."""

    consequence = "nothing was written"


class TemplateError(KeytrailError):
    """A user template cannot be rendered."""

    consequence = "the template's report was not written"


def cap_problems(problems: list[Problem], file: str, limit: int = MAX_PROBLEMS_PER_FILE,
                 stopped_at: int = 0) -> list[Problem]:
    """Keep the first ``limit`` problems of a file and summarise the rest in one line.

    ``stopped_at`` is the line where reading gave up on a hopelessly broken
    file; the summary then says that its count is a lower bound.
    """
    if len(problems) <= limit and not stopped_at:
        return problems
    kept = problems[:limit]
    more = len(problems) - len(kept)
    if stopped_at:
        kept.append(Problem(file, 0, 0, "", f"... and at least {more} more problems in this file "
                                            f"(checking stopped at line {stopped_at})"))
    else:
        kept.append(Problem(file, 0, 0, "", f"... and {more} more problems in this file"))
    return kept
