"""docs/keys.md shows real output: its walkthrough is replayed and compared block by block.

The page walks a key through issue, use, rotate, revoke and review on a copy of
examples/acme. This test runs the same commands, in the same order, on a fresh
temporary copy, with the clock fixed for each step (``KEYTRAIL_NOW``, and the
``--as-of``/``--time`` the page shows), and compares every ``console`` block's
output and every ``yaml`` excerpt of keys.yaml with what the run printed and
wrote. A line ``...`` on the page stands for lines left out (of a command, an
output or a file); everything else must match exactly, line for line. What the
page tells without showing (the key written without ``--dry-run``, the two
changes made under it with ``keytrail record``) is done between the steps, as
the page says.

The trace example of the same page runs on the key commands' test organisation
(tests/keys/conftest.py), and the `keys suggest` example on the shared CloudTrail
sample (skipped when it is absent); both are compared the same way.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO, SHARED_DATA

PAGE = REPO / "docs" / "keys.md"
ACME = REPO / "examples" / "acme"
ELIDED = "..."

PURPOSE = "Payments operations: membership of the payments-ops group"
ISSUE = ["key", "issue", "pk-2026-0101", "--holder", "user:fatima.haddad", "--owner", "user:fatima.haddad",
         "--purpose", PURPOSE, "--ticket", "FIN-233"]
WORKSHEET = "pack/worksheets/keys-user_nina.petrova.csv"
DECISION = ("pk-2025-0010", "revoke",
            "Break-glass unused this year; SEC-702 replaces it with just-in-time elevation")


def fill_worksheet(root: Path) -> None:
    """What the page's ``$ #`` line says a reviewer does: revoke one key, with a comment."""
    path = root / WORKSHEET
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    (row,) = [r for r in rows[1:] if r[header.index("key_id")] == DECISION[0]]
    row[header.index("decision")], row[header.index("comment")] = DECISION[1], DECISION[2]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@dataclass(frozen=True)
class Step:
    """One ``$`` line of the page: the clock it runs at, what it runs, its exit code."""

    now: str
    argv: list[str] | None = None  # None: a ``$ #`` line, done by ``action``
    code: int = 0
    action: Callable[[Path], None] | None = None


#: The walkthrough, in the page's order (Issue, Use, Rotate, Revoke, Review).
STEPS = [
    Step("2026-10-01T09:00:00Z", [*ISSUE, "--approved-by", "user:fatima.haddad", "--scope", "group:payments-ops",
                                  "--expires", "2027-09-30T00:00:00Z", "--dir", "acme"], code=2),
    Step("2026-10-01T09:00:00Z", [*ISSUE, "--scope", "group:payments-ops", "--approved-by", "user:marcus.lindqvist",
                                  "--expires", "2027-03-31T23:59:59Z", "--dir", "acme", "--dry-run"]),
    Step("2026-10-06T09:00:00Z", ["keys", "show", "pk-2026-0101", "--dir", "acme"]),
    Step("2026-11-15T09:00:00Z", ["key", "rotate", "pk-2026-0101", "pk-2026-0102", "--ticket", "FIN-241",
                                  "--dir", "acme"]),
    Step("2026-11-21T09:00:00Z", ["keys", "show", "pk-2026-0101", "--dir", "acme", "--since", "2026-11-01T00:00:00Z"]),
    Step("2026-12-01T10:00:00Z", ["key", "revoke", "pk-2026-0102", "--reason",
                                  "Holder moved to the treasury team (HR-3301)", "--dir", "acme"]),
    Step("2027-01-04T09:00:00Z", ["keys", "acme", "--as-of", "2026-12-31T00:00:00Z",
                                  "--since", "2026-10-01T00:00:00Z"]),
    Step("2027-01-04T09:00:00Z", ["review", "acme", "--period", "2026-Q4", "--out", "pack"]),
    Step("2027-01-04T12:00:00Z", action=fill_worksheet),
    Step("2027-01-05T09:00:00Z", ["decisions", WORKSHEET, "--key", "pk-2026-0008", "--actor", "svc:access-bot",
                                  "--out", "acme/history/review-2026-Q4.jsonl", "--dir", "acme",
                                  "--time", "2027-01-05T09:00:00Z"]),
    Step("2027-01-05T09:00:00Z", ["key", "revoke", "--proposal", "acme/history/review-2026-Q4.jsonl.keys-proposal.yaml",
                                  "--dir", "acme"]),
]


RECORD = ["record", "--dir", "acme", "--out", "acme/history/2026-Q4.jsonl"]

#: What the page tells but does not show, done just before the step with that index: the
#: clock, the command and the start of what it prints.
TOLD: dict[int, list[tuple[str, list[str], str]]] = {
    2: [("2026-10-01T09:00:00Z", [*ISSUE, "--scope", "group:payments-ops", "--approved-by", "user:marcus.lindqvist",
                                  "--expires", "2027-03-31T23:59:59Z", "--dir", "acme"],
         "keys.yaml: issued pk-2026-0101 to "),  # "and without --dry-run it is written"
        ("2026-10-05T08:30:00Z",  # the change the key's timeline shows
         [*RECORD, "grant", "--subject", "user:li.wei", "--target", "group:payments-ops",
          "--actor", "user:fatima.haddad", "--key", "pk-2026-0101", "--approver", "user:tomas.kral",
          "--ticket", "FIN-236", "--reason", "Cover payment operations during month-end close",
          "--id", "ev-000400", "--time", "2026-10-05T08:30:00Z"],
         '{"id":"ev-000400",')],
    4: [("2026-11-20T16:05:00Z",  # "a change still made under the old key afterwards"
         [*RECORD, "revoke", "--subject", "user:li.wei", "--target", "group:payments-ops",
          "--actor", "user:fatima.haddad", "--key", "pk-2026-0101", "--ticket", "FIN-236",
          "--reason", "Month-end cover ended", "--id", "ev-000401", "--time", "2026-11-20T16:05:00Z",
          "--allow-unexplained"],
         '{"id":"ev-000401",')],
}


# -- reading the page -------------------------------------------------------------------

@dataclass
class Shown:
    """A ``$`` command of the page with the output under it, or (command None) a yaml excerpt."""

    command: str | None
    text: str
    line: int  # where it is on the page, for the failure message


def blocks(page: str, fence: str) -> list[tuple[int, list[str]]]:
    """Every fenced block of the kind ``fence``: (line of its first content line, its lines)."""
    found, lines = [], page.splitlines()
    n = 0
    while n < len(lines):
        if lines[n] == f"```{fence}":
            end = lines.index("```", n + 1)
            found.append((n + 2, lines[n + 1:end]))
            n = end
        n += 1
    return found


def shown_items(page: str) -> list[Shown]:
    """The walkthrough's commands with their output, and keys.yaml excerpts, in page order."""
    walkthrough = page[:page.index("\n## Traces across systems")]
    items: list[tuple[int, Shown]] = []
    for first, lines in blocks(walkthrough, "yaml"):
        items.append((first, Shown(None, "".join(line + "\n" for line in lines), first)))
    for first, lines in blocks(walkthrough, "console"):
        n = 0
        while n < len(lines):
            assert lines[n].startswith("$ "), f"docs/keys.md:{first + n}: output before any command"
            start, command = n, lines[n][2:]
            while command.endswith("\\"):
                n += 1
                command = command[:-1] + lines[n].strip()
            n += 1
            output_start = n
            while n < len(lines) and not lines[n].startswith("$ "):
                n += 1
            output = "".join(line + "\n" for line in lines[output_start:n])
            items.append((first + start, Shown(command, output, first + start)))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]


def pattern(shown: str) -> re.Pattern[str]:
    """``shown`` as a pattern: each line itself, a ``...`` line any run of lines (none included)."""
    parts = []
    for line in shown.splitlines():
        parts.append(r"(?:.*\n)*?" if line.strip() == ELIDED else re.escape(line) + r"\n")
    return re.compile("".join(parts))


def assert_shown(shown: str, actual: str, where: str) -> None:
    """The page's block is the actual text, but for the lines it elides with ``...``."""
    if pattern(shown).fullmatch(actual) is None:
        if ELIDED not in shown.splitlines():
            assert shown == actual, where  # pytest shows the difference line by line
        pytest.fail(f"{where}: the page shows\n{shown}\nbut the command printed\n{actual}")


def assert_command(shown: str, argv: list[str], where: str) -> None:
    """The command on the page is the one run (``...`` stands for arguments left out)."""
    words = shlex.split(shown)
    assert words[0] == "keytrail", where
    expected = "".join(("...\n" if word == ELIDED else word + "\n") for word in words[1:])
    actual = "".join(arg + "\n" for arg in argv)
    assert pattern(expected).fullmatch(actual), f"{where}: the page shows `{shown}`, the test runs {argv}"


# -- the walkthrough ----------------------------------------------------------------------

def test_the_key_walkthrough_shows_the_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Every command of docs/keys.md's walkthrough prints, and leaves in keys.yaml, what the page shows."""
    shutil.copytree(ACME, tmp_path / "acme")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEYTRAIL_NOW", "2026-10-01T09:00:00Z")
    items = shown_items(PAGE.read_text(encoding="utf-8"))
    commands = [item for item in items if item.command is not None]
    assert len(commands) == len(STEPS), "a command was added to or removed from the walkthrough: update STEPS"
    n = 0
    for item in items:
        where = f"docs/keys.md:{item.line}"
        if item.command is None:  # an excerpt of keys.yaml as the commands above left it
            text = (tmp_path / "acme" / "keys.yaml").read_text(encoding="utf-8")
            assert pattern(f"{ELIDED}\n{item.text}{ELIDED}\n").fullmatch(text), \
                f"{where}: keys.yaml holds no such lines:\n{item.text}"
            continue
        step = STEPS[n]
        for now, argv, start in TOLD.get(n, []):
            monkeypatch.setenv("KEYTRAIL_NOW", now)
            code = main(argv)
            out, err = capsys.readouterr()
            assert code == 0 and out.startswith(start), f"before {where}: {argv}: exit {code}\n{out}{err}"
        n += 1
        monkeypatch.setenv("KEYTRAIL_NOW", step.now)
        if step.argv is None:
            assert item.command.startswith("# ") and step.action is not None, where
            step.action(tmp_path)
            continue
        assert_command(item.command, step.argv, where)
        code = main(list(step.argv))
        out, err = capsys.readouterr()
        assert code == step.code, f"{where}: exit {code}\n{out}{err}"
        assert_shown(item.text, out + err, where)


def test_elided_lines_still_have_to_match() -> None:
    """``...`` stands for lines left out, in order: a changed or reordered line is still a difference."""
    actual = "a\nb\nc\nd\n"
    assert pattern("a\n...\nd\n").fullmatch(actual)
    assert pattern("a\n...\nc\n...\n").fullmatch(actual)
    assert pattern("a\nb\nc\nd\n").fullmatch(actual)
    assert not pattern("a\n...\nx\n").fullmatch(actual)
    assert not pattern("a\n...\nc\nb\n...\n").fullmatch(actual)
    assert not pattern("a\nb\n").fullmatch(actual)  # without ..., nothing may be left out


# -- the trace example ---------------------------------------------------------------------

def test_the_trace_example_shows_the_real_output(org: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """docs/keys.md's `keys --trace` output is what the command prints on the tests' organisation."""
    page = PAGE.read_text(encoding="utf-8")
    section = page[page.index("\n## Traces across systems"):page.index("\n## Keys from what the history shows")]
    ((_, lines),) = blocks(section, "console")
    words = shlex.split(lines[0].removeprefix("$ "))
    assert words[:2] == ["keytrail", "keys"] and "--as-of" in words
    monkeypatch.chdir(org)
    code = main(words[1:])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_shown("".join(line + "\n" for line in lines[1:]), out + err, "docs/keys.md (Traces across systems)")


# -- keys suggest on the real CloudTrail sample ------------------------------------------------

CLOUDTRAIL = SHARED_DATA / "invictus-ir-aws_dataset" / "CloudTrail"


@pytest.mark.skipif(not CLOUDTRAIL.is_dir(), reason="the shared CloudTrail sample is absent")
def test_the_suggest_example_shows_the_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """docs/keys.md's import and `keys suggest` blocks are what the commands print on the sample."""
    page = PAGE.read_text(encoding="utf-8")
    section = page[page.index("\n## Keys from what the history shows"):page.index("\n## How `keys.yaml` is written")]
    ((_, lines),) = blocks(section, "console")
    root = tmp_path / "aws"
    (root / "history").mkdir(parents=True)
    (root / "directory.yaml").write_text("principals: []\n")
    (root / "keys.yaml").write_text("keys: []\n")
    (root / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                        "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "CloudTrail").symlink_to(CLOUDTRAIL, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    text = "".join(line + "\n" for line in lines)
    commands = [m.start() for m in re.finditer(r"^\$ ", text, re.M)]
    assert len(commands) == 2
    for start, end in zip(commands, [*commands[1:], len(text)], strict=True):
        command, _, output = text[start + 2:end].partition("\n")
        code = main(shlex.split(command)[1:])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert_shown(output, out + err, f"docs/keys.md: {command}")
