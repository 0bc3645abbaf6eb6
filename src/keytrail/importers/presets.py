"""Named mappings for the real fields that carry a provisioning key, a ticket or a reason.

``keytrail import FORMAT ... --key-preset NAME`` fills ``--key-from`` (and, where
the system has them, ``--ticket-from`` / ``--reason-from``) with the field paths and
pattern below; an explicit ``--key-from`` / ``--key-pattern`` (or ticket, reason)
still wins over the preset, so a preset's default pattern can be replaced by an
organisation's own id convention. Each preset belongs to one import format and is
refused for another (a CloudTrail path means nothing in an Okta record). Every
field here was seen in the real samples under ``/work/shared/data`` or is part of
the system's documented schema; each importer's page in ``docs/import/`` lists
its presets with their paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: A key written into free text as ``key=ID`` or ``key: ID`` (a justification, a description).
KEY_IN_TEXT = r"\bkey[=:] ?([A-Za-z0-9][A-Za-z0-9._:/@+-]*)"


@dataclass(frozen=True)
class Source:
    """One mapped field: its paths (the first that leads to a value wins) and an optional pattern."""

    paths: tuple[str, ...]
    pattern: str | None = None


@dataclass(frozen=True)
class Preset:
    """A named mapping for one import format."""

    name: str
    format: str
    summary: str
    fields: dict[str, Source] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "aws-source-identity": Preset(
        "aws-source-identity", "cloudtrail", "the source identity set when the role session was assumed (sts:AssumeRole "
        "SourceIdentity): it survives role chaining and cannot be changed by the session",
        {"key": Source(("userIdentity.sessionContext.sourceIdentity",))}),
    "aws-role-session-name": Preset(
        "aws-role-session-name", "cloudtrail", "the role session name of an assumed-role caller (the last part of its ARN)",
        {"key": Source(("userIdentity.arn",), r":assumed-role/[^/]+/([^/]+)$")}),
    "stratus-red-team": Preset(
        "stratus-red-team", "cloudtrail", "the Stratus Red Team detonation id in the user agent (the real sample's key)",
        {"key": Source(("userAgent",), r"stratus-red-team_([0-9a-f-]+)")}),
    "entra-pim": Preset(
        "entra-pim", "entra", "a key written in the PIM justification as key=ID; the PIM ticket number as the ticket",
        {"key": Source(("additionalDetails[key=Justification].value",
                        "properties.additionalDetails[key=Justification].value"), KEY_IN_TEXT),
         "ticket": Source(("additionalDetails[key=TicketNumber].value",
                           "properties.additionalDetails[key=TicketNumber].value",
                           "ticketInfo.ticketNumber"))}),
    "okta-api-token": Preset(
        "okta-api-token", "okta", "the id of the Okta API token that made the change",
        {"key": Source(("transaction.detail.requestApiTokenId",)),
         "ticket": Source(("transaction.id",))}),
    "github-token": Preset(
        "github-token", "github", "the id of the token (personal access token, OAuth or GitHub App token) that made the change",
        {"key": Source(("token_id", "hashed_token"))}),
}


def preset(name: str, fmt: str) -> Preset:
    """The preset ``name`` for import format ``fmt``; a usage error naming the choices otherwise."""
    from keytrail.errors import UsageError

    found = PRESETS.get(name)
    mine = sorted(n for n, p in PRESETS.items() if p.format == fmt)
    if found is None:
        from keytrail.schemas import did_you_mean

        raise UsageError(f"--key-preset {name!r}: no such preset{did_you_mean(name, sorted(PRESETS))} "
                         f"(for {fmt}: {', '.join(mine) or 'none'})")
    if found.format != fmt:
        raise UsageError(f"--key-preset {name}: a preset for {found.format} records, not {fmt} "
                         f"(for {fmt}: {', '.join(mine) or 'none'})")
    return found
