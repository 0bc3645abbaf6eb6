"""``keytrail keys suggest [DIR]``: registry entries for the keys the history uses but the registry lacks.

Prints YAML to review and paste (``--output FILE`` writes it to a file instead);
``--write`` adds the entries to ``keys.yaml`` with ``keytrail key issue``'s checks
(holder known and active, owner and approver given, known, active and not the
holder, scope naming kinds, validity within the policy's bound) and writes
nothing if any entry fails them. Entries describe the past, so an ``expires``
before now is accepted here, unlike ``key issue``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keytrail.commands._args import EXIT_OK

if TYPE_CHECKING:
    from keytrail.keys.suggest import Suggestion

DESCRIPTION = ("Propose key registry entries for the unknown keys the history uses: holder = the "
               "actor seen, scope = the narrowest glob covering what it changed, validity = first "
               "to last use. Prints YAML to review and paste; --write adds them to keys.yaml with "
               "`keytrail key issue`'s checks (all or nothing).")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``keytrail keys suggest``."""
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The parser of ``keytrail keys suggest``."""
    from keytrail.cli import _Parser
    from keytrail.commands._args import confine_options, time_options

    parser = _Parser(prog="keytrail keys suggest", description=DESCRIPTION)
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the YAML to FILE instead of standard output")
    parser.add_argument("--write", action="store_true",
                        help="add the entries to keys.yaml (needs --owner, --approved-by and --ticket)")
    parser.add_argument("--owner", help="with --write: the accountable human of every entry")
    parser.add_argument("--approved-by", help="with --write: who approved registering them")
    parser.add_argument("--ticket", help="with --write: the ticket of the registration")
    parser.add_argument("--purpose", metavar="TEXT",
                        help="with --write: the purpose of every entry (default: what the history shows)")
    parser.add_argument("--dry-run", action="store_true", help="with --write: print the change as a diff")
    time_options(parser)
    confine_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from keytrail import pipeline
    from keytrail.commands._args import since_arg, time_arg
    from keytrail.commands._output import refuse_inputs, write
    from keytrail.errors import UsageError
    from keytrail.keys.suggest import render, suggestions

    if args.write and args.output:
        raise UsageError("keys suggest: give --write (add to keys.yaml) or --output FILE, not both")
    if not args.write and (args.owner or args.approved_by or args.ticket or args.purpose or args.dry_run):
        raise UsageError("keys suggest: --owner, --approved-by, --ticket, --purpose and --dry-run "
                         "go with --write")
    as_of = time_arg(args.as_of)
    since = since_arg(args.since, as_of)
    project = pipeline.load(args.dir, allow_outside=args.allow_outside)
    if args.output:
        refuse_inputs([("--output", args.output)], project.inputs)
    state = pipeline.replay(project, as_of, since)
    found = suggestions(state.window, project.keys, project.history_files)
    registry = next((str(k.location.path) for k in project.keys.values() if k.location), "keys.yaml")
    if not args.write:
        write(render(found, registry, as_of), args.output)
        return EXIT_OK
    return _write(args, found)


def _write(args: argparse.Namespace, found: list[Suggestion]) -> int:
    from keytrail.commands.key import finish, load_for_edit
    from keytrail.errors import Problem, UsageError
    from keytrail.keys.edit import EditRefused, open_registry
    from keytrail.keys.rules import Draft, as_entry, problems
    from keytrail.textsafe import inline
    from keytrail.timeutil import format_time

    missing = [o for o, v in (("--owner", args.owner), ("--approved-by", args.approved_by),
                              ("--ticket", args.ticket)) if not v]
    if missing:
        raise UsageError(f"keys suggest --write: give {', '.join(missing)} (the history cannot know "
                         "who is accountable for a key, or who approved it)")
    loaded = load_for_edit(args.dir)
    if not found:
        print(f"{loaded.display}: every key the history uses is registered; nothing to add")
        return EXIT_OK
    registry = open_registry(loaded.path, loaded.display, loaded.root)
    reasons: list[str] = []
    drafts = []
    for s in found:
        purpose = args.purpose or (f"Registered from the history ({s.events} event{'s' if s.events != 1 else ''} "
                                   f"by {', '.join(sorted(s.actors)) or 'no recorded actor'}, "
                                   f"{format_time(s.first)} to {format_time(s.last)})")
        draft = Draft(s.id, s.holder or "", args.owner, purpose, args.ticket, args.approved_by,
                      tuple(s.scope), s.first, s.last + 1_000_000)
        drafts.append(draft)
        # The past is what is being recorded: validity may have ended already.
        reasons += [f"{inline(s.id)}: {r}" for r in problems(draft, loaded.keys, loaded.directory,
                                                             loaded.policies, s.first)]
        if s.holder is None:
            reasons.append(f"{inline(s.id)}: no actor is recorded for its events, so nobody can be its holder")
    if reasons:
        raise EditRefused(f"keys suggest --write refused; {loaded.display} was not changed",
                          [Problem(loaded.display, 0, 0, "", r) for r in reasons])
    for draft in drafts:
        registry.add(as_entry(draft))
    return finish(args, loaded, registry, [
        f"registered {inline(d.id)} for {inline(d.holder)}, valid {format_time(d.not_before)} to "
        f"{format_time(d.expires)}, scope {', '.join(inline(g) for g in d.scope)}" for d in drafts])
