"""``keytrail key issue|rotate|revoke``: edit the key registry without hand-editing YAML.

Every edit is checked first (:mod:`keytrail.keys.rules`: a new, well-formed id;
holder, owner and approver known and active; an approver who is neither holder
nor owner; scope globs naming target kinds; a bounded validity) and refused with
every reason at once, writing nothing; otherwise ``keys.yaml`` is rewritten
atomically with its comments and layout kept (:mod:`keytrail.keys.edit`).
``--dry-run`` prints the change as a diff and writes nothing.

- ``issue ID``: a new key (at the end of the registry);
- ``rotate ID NEW-ID``: the successor, after the old key, copying what is not given,
  with ``replaces: ID``; the old key's ``revoked_at`` becomes the successor's ``not_before``;
- ``revoke ID [--at TIME]``, or ``revoke --proposal FILE``: the ``revoked_at`` of
  one key, or of every key a review decided to revoke (``keytrail decisions`` writes
  ``FILE.keys-proposal.yaml``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_OK, now_us, time_arg
from keytrail.errors import InputError, Problem, UsageError
from keytrail.textsafe import inline

SECOND = 1_000_000


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "key", help="issue, rotate or revoke a provisioning key (edits keys.yaml, keeping its comments)",
        description="Edit the project's key registry (keys.yaml) safely: every edit is validated "
                    "first and refused with every reason, writing nothing; otherwise the file is "
                    "replaced atomically with its comments, order and layout kept. Exit 0 written "
                    "(or shown with --dry-run); 2 refused.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    issue = actions.add_parser("issue", help="add a new key to the registry",
                               description="Add a key at the end of the registry.")
    issue.add_argument("id", metavar="ID", help="the new key's id, as events will carry it")
    issue.add_argument("--holder", required=True, help="the one user: or svc: that uses the key")
    issue.add_argument("--owner", required=True, help="the accountable human (a user:)")
    issue.add_argument("--purpose", required=True, metavar="TEXT", help="why the key exists")
    issue.add_argument("--ticket", required=True, metavar="T", help="the ticket that approved it")
    issue.add_argument("--approved-by", required=True, metavar="A", help="who approved it (not holder or owner)")
    issue.add_argument("--scope", required=True, action="append", metavar="GLOB",
                       help="a glob over the targets it may change, e.g. role:prod-* (repeatable)")
    issue.add_argument("--expires", required=True, metavar="TIME", help="when it stops being valid")
    issue.add_argument("--not-before", metavar="TIME", help="when it becomes valid (default: now)")
    _common(issue)
    rotate = actions.add_parser("rotate", help="issue a key's successor and revoke the key when it starts",
                                description="Add NEW-ID after ID with `replaces: ID`, copying holder, "
                                            "owner, purpose, ticket, approver and scope unless given; "
                                            "ID's revoked_at becomes NEW-ID's not_before.")
    rotate.add_argument("id", metavar="ID", help="the key being replaced")
    rotate.add_argument("new_id", metavar="NEW-ID", help="the successor's id")
    rotate.add_argument("--expires", metavar="TIME",
                        help="when the successor expires (default: as long after its start as ID was valid, "
                             "at most the policy's max_validity)")
    rotate.add_argument("--not-before", metavar="TIME", help="when the successor starts (default: now)")
    for option in ("holder", "owner", "purpose", "ticket", "approved-by"):
        rotate.add_argument(f"--{option}", help=f"the successor's {option.replace('-', ' ')} (default: ID's)")
    rotate.add_argument("--scope", action="append", metavar="GLOB", help="the successor's scope (default: ID's)")
    _common(rotate)
    revoke = actions.add_parser("revoke", help="set a key's revoked_at, or apply a review's key proposal",
                                description="Set revoked_at of key ID (at --at, default now), or of every "
                                            "key in a review's FILE.keys-proposal.yaml (--proposal).")
    revoke.add_argument("id", metavar="ID", nargs="?", help="the key to revoke")
    revoke.add_argument("--at", metavar="TIME", help="when the key stops being valid (default: now)")
    revoke.add_argument("--reason", metavar="TEXT", help="why; added to the key's notes")
    revoke.add_argument("--proposal", metavar="FILE", type=Path,
                        help="apply a FILE.keys-proposal.yaml that `keytrail decisions` wrote")
    _common(revoke)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=".", help="the project folder (default: .)")
    parser.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")


@dataclass
class Loaded:
    root: Path
    display: str
    path: Path
    keys: dict[str, Any]
    directory: Any
    policies: list[Any]


def load_for_edit(folder: str) -> Loaded:
    """The project's registry, directory and policies (the history is not needed to edit keys).
    Paths are confined to the project: no --allow-outside, keytrail writes only inside it."""
    from keytrail.policy import load_policies
    from keytrail.project import display_path, load_config, load_directory, load_keys

    cfg = load_config(Path(folder))
    display = display_path(cfg.keys, cfg.root)
    keys = load_keys(cfg.keys, display)
    directory = load_directory(cfg.directory, display_path(cfg.directory, cfg.root))
    known = [*directory.principals, *directory.groups, *directory.roles]
    policies = load_policies(cfg.policies, [display_path(p, cfg.root) for p in cfg.policies], known,
                             cfg.from_folders)
    return Loaded(cfg.root, display, cfg.keys, keys, directory, policies)


def _now() -> int:
    now = now_us()
    return now - now % SECOND


def _when(text: str | None, option: str, default: int) -> int:
    return default if text is None else time_arg(text, option)


def _refuse(loaded: Loaded, what: str, reasons: list[str]) -> InputError:
    from keytrail.keys.edit import EditRefused

    return EditRefused(f"{what} refused; {loaded.display} was not changed",
                      [Problem(loaded.display, 0, 0, "", r) for r in reasons])


def run(args: argparse.Namespace) -> int:
    from keytrail.errors import KeytrailError

    try:
        loaded = load_for_edit(args.dir)
    except KeytrailError as exc:
        exc.consequence = "nothing was written"  # the registry is not edited on a broken project
        raise
    from keytrail.keys.edit import open_registry

    registry = open_registry(loaded.path, loaded.display, loaded.root)
    if args.action == "issue":
        message = _issue(args, loaded, registry)
    elif args.action == "rotate":
        message = _rotate(args, loaded, registry)
    else:
        message = _revoke(args, loaded, registry)
    return finish(args, loaded, registry, message)


def finish(args: argparse.Namespace, loaded: Loaded, registry: Any, message: list[str]) -> int:
    """Print the edit as a diff (``--dry-run``), or validate and write it; then say what was done."""
    from keytrail.commands._output import write
    from keytrail.project import load_keys

    if args.dry_run:
        import difflib

        before = registry.original.decode("utf-8").splitlines(keepends=True)
        diff = difflib.unified_diff(before, registry.text().splitlines(keepends=True),
                                    f"a/{loaded.display}", f"b/{loaded.display}")
        write("".join(inline(line.rstrip("\r\n")) + "\n" for line in diff)
              + "".join(f"(dry run, not written) {m}\n" for m in message), None)
        return EXIT_OK
    registry.write(load_keys)
    write("".join(f"{loaded.display}: {m}\n" for m in message), None)
    return EXIT_OK


def _draft_problems(loaded: Loaded, draft: Any) -> list[str]:
    from keytrail.keys.rules import problems

    found = problems(draft, loaded.keys, loaded.directory, loaded.policies, _now())
    if not found and "*" in draft.scope:
        # Allowed (a registry may need one), but never unremarked.
        import sys

        print(f"keytrail: warning: {inline(draft.id)} has scope `*`: it may change every role and "
              "group; sprawl.overbroad-key reports such keys", file=sys.stderr)
    return found


def _issue(args: argparse.Namespace, loaded: Loaded, registry: Any) -> list[str]:
    from keytrail.keys.rules import Draft, as_entry
    from keytrail.timeutil import format_time

    draft = Draft(args.id, args.holder, args.owner, args.purpose, args.ticket, args.approved_by,
                  tuple(args.scope), _when(args.not_before, "--not-before", _now()),
                  time_arg(args.expires, "--expires", now=False))
    reasons = _draft_problems(loaded, draft)
    if reasons:
        raise _refuse(loaded, f"key issue {inline(args.id)}", reasons)
    registry.add(as_entry(draft))
    return [f"issued {inline(draft.id)} to {inline(draft.holder)} (owner {inline(draft.owner)}), valid "
            f"{format_time(draft.not_before)} to {format_time(draft.expires)}, scope "
            f"{', '.join(inline(s) for s in draft.scope)}"]


def _rotate(args: argparse.Namespace, loaded: Loaded, registry: Any) -> list[str]:
    from keytrail.keys.rules import Draft, as_entry
    from keytrail.timeutil import format_time

    old = loaded.keys.get(args.id)
    if old is None:
        from keytrail.schemas import did_you_mean

        raise _refuse(loaded, f"key rotate {inline(args.id)}", [
            f"no key '{inline(args.id)}' in the registry{did_you_mean(args.id, sorted(loaded.keys))}"])
    start = _when(args.not_before, "--not-before", _now())
    reasons: list[str] = []
    if old.revoked_at is not None:
        reasons.append(f"{inline(old.id)} already has revoked_at {format_time(old.revoked_at)}; "
                       "issue a new key with `keytrail key issue` instead")
    if old.not_before is not None and start <= old.not_before:
        reasons.append(f"the successor would start ({format_time(start)}) before {inline(old.id)} "
                       f"does ({format_time(old.not_before)})")
    if args.expires is not None:
        expires = time_arg(args.expires, "--expires", now=False)
    elif old.expires is not None and old.not_before is not None:
        from keytrail.keys.rules import max_validity

        # The lifetime of the key it replaces, within what the policy allows today.
        expires = start + min(old.expires - old.not_before, max_validity(loaded.policies)[0])
    else:
        raise _refuse(loaded, f"key rotate {inline(args.id)}", [
            f"{inline(old.id)} has no bounded validity to copy: give --expires"])
    draft = Draft(args.new_id, args.holder or old.holder, args.owner or old.owner or "",
                  args.purpose or old.purpose, args.ticket or old.ticket,
                  args.approved_by or old.approved_by or "", tuple(args.scope or old.scope), start, expires,
                  replaces=old.id)
    reasons += _draft_problems(loaded, draft)
    if reasons:
        raise _refuse(loaded, f"key rotate {inline(args.id)} {inline(args.new_id)}", reasons)
    registry.add(as_entry(draft), after=old.id)
    registry.set(old.id, "revoked_at", format_time(start), after="expires")
    return [f"issued {inline(draft.id)} (replaces {inline(old.id)}), valid {format_time(start)} to "
            f"{format_time(expires)}",
            f"revoked {inline(old.id)} at {format_time(start)}, when {inline(draft.id)} starts"]


def _revoke(args: argparse.Namespace, loaded: Loaded, registry: Any) -> list[str]:
    from keytrail.keys.rules import text_problem
    from keytrail.timeutil import format_time

    if args.proposal is not None:
        if args.id or args.at or args.reason:
            raise UsageError("key revoke: give ID (with --at, --reason) or --proposal FILE, not both")
        from keytrail.keys.proposal import apply_proposal

        return apply_proposal(args.proposal, loaded, registry)
    if not args.id:
        raise UsageError("key revoke: give the key's ID, or --proposal FILE")
    key = loaded.keys.get(args.id)
    reasons: list[str] = []
    if key is None:
        from keytrail.schemas import did_you_mean

        reasons.append(f"no key '{inline(args.id)}' in the registry{did_you_mean(args.id, sorted(loaded.keys))}")
    elif key.revoked_at is not None:
        reasons.append(f"{inline(key.id)} already has revoked_at {format_time(key.revoked_at)}; "
                       "a revocation is a record and is not moved")
    if args.reason is not None and (why := text_problem("--reason", args.reason)):
        reasons.append(why)
    if reasons:
        raise _refuse(loaded, f"key revoke {inline(args.id)}", reasons)
    at = _when(args.at, "--at", _now())
    registry.set(args.id, "revoked_at", format_time(at), after="expires")
    if args.reason:
        note(registry, args.id, f"Revoked {format_time(at)}: {args.reason.strip()}")
    return [f"revoked {inline(args.id)} at {format_time(at)}"]


def note(registry: Any, ident: str, text: str) -> None:
    """Add ``text`` to key ``ident``'s notes (a new sentence after what is there)."""
    entry = registry.entry(ident)
    existing = entry.get("notes")
    registry.set(ident, "notes", f"{str(existing).rstrip()} {text}" if existing else text)
