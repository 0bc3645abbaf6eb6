"""The command-line reference (``docs/cli.md``), generated from the parser itself.

``python -m keytrail.authoring.clidoc > docs/cli.md`` writes it; a test fails when the
committed page differs from what the parser says, so the reference cannot drift from the
options keytrail really takes. Each command gets its usage line, its description and a table
of its arguments (name, default, meaning).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HEADER = """# Command-line reference

Generated from keytrail's argument parser (`python -m keytrail.authoring.clidoc >
docs/cli.md`); the README's command table says what each command is for and its exit
codes. Exit codes everywhere: 0 success, 1 findings or failures (at or above `--fail-on`
where it applies), 2 bad input or usage.
"""


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _argument(action: argparse.Action) -> tuple[str, str, str] | None:
    if action.help == argparse.SUPPRESS or isinstance(action, (argparse._HelpAction,
                                                                argparse._SubParsersAction)):
        return None
    if action.option_strings:
        name = ", ".join(f"`{o}`" for o in action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (action.dest.upper() if not action.choices else
                                         "{" + ",".join(map(str, action.choices)) + "}")
            name += f" `{metavar if isinstance(metavar, str) else ' '.join(metavar)}`"
    else:
        name = f"`{action.metavar or action.dest}`"
        if action.nargs in ("?", "*"):
            name += " (optional)"
    default = action.default
    shown = "" if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 else f"`{default}`"
    text = (action.help or "") % {"default": default, "prog": ""} if action.help else ""
    if action.choices and not action.option_strings:
        text += f" (one of {', '.join(map(str, action.choices))})"
    return name, shown, text


def _section(title: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    lines = [f"## `{title}`", ""]
    if summary:
        lines += [summary[:1].upper() + summary[1:] + ".", ""]
    usage = " ".join(parser.format_usage().split())[len("usage: "):]
    lines += ["```", usage, "```", ""]
    if parser.description:
        lines += [parser.description, ""]
    rows = [r for r in (_argument(a) for a in parser._actions) if r is not None]
    if rows:
        lines += ["| argument | default | meaning |", "|---|---|---|"]
        lines += [f"| {_cell(n)} | {_cell(d)} | {_cell(t)} |" for n, d, t in rows]
        lines.append("")
    return lines


def _subcommands(name: str) -> list[tuple[str, Any]]:
    """Commands under a command that parse their own arguments (``review status``, ``keys show``)."""
    from keytrail.cli import SUBCOMMANDS, subcommand

    return [(word, subcommand(name, word)) for word in SUBCOMMANDS.get(name, {})]


def reference() -> str:
    from keytrail.cli import build_parser

    out = [HEADER]
    for name, summary, sub in _subparsers(build_parser()):
        out += _section(f"keytrail {name}", sub, summary)
        for word, help_, nested in _subparsers(sub):  # argparse's own (``key issue``)
            out += _section(f"keytrail {name} {word}", nested, help_)
        for word, module in _subcommands(name):
            out += _section(f"keytrail {name} {word}", module.parser(), "")
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover - the documented way to regenerate docs/cli.md
    sys.stdout.write(reference())
