"""API list responses as state importers read them: pages, each with the URL it answered.

Every state importer of an identity system (``okta-state``, ``entra-state``,
``github-state``, ``gworkspace-state``, ``scim-state``) reads the same thing: the
bodies its API returned, each wrapped with the request it answered::

    {"url": "https://acme.okta.com/api/v1/groups/00g1/users?limit=200", "body": [...]}

A list response does not say what it lists (``GET /groups/{id}/users`` returns
bare users, ``GET /orgs/{org}/members`` bare logins), so the URL is part of the
data: its path names the parent (the group, team, repository) and its query the
filter (``role=admin``, ``affiliation=direct``). Pages are JSON lines (one page a
line: paging just adds lines), a JSON array of pages, or one page per file, in
files or folders, gzipped or not. ``status`` (the HTTP status) and ``date`` (the
response's ``Date`` header, or ISO 8601) are read when present; other fields are
ignored, so a recorder's own fields may stay.

A body that names its own kind needs no URL: an importer may accept such bare
bodies (SCIM resources carry ``schemas``; see ``bare`` below).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from keytrail.importers.base import Context, Record, json_type, read_records
from keytrail.textsafe import excerpt


@dataclass(frozen=True)
class Page:
    """One API response: the record it came from, its path split into parts (prefix removed,
    percent-decoded), its query, and its body."""

    record: Record
    url: str
    parts: tuple[str, ...]
    query: dict[str, str]
    body: Any
    status: int | None = None

    def endpoint(self, *names: str) -> str:
        """The path with every part that is neither in ``names`` nor an API word (``identityGovernance``,
        ``factors``: lower camel case) shown as ``{id}``: a kind for counting, not the data's names."""
        return "/" + "/".join(p if p in names or _WORD.fullmatch(p) else "{id}" for p in self.parts)


_WORD = re.compile(r"[a-z][A-Za-z]{1,39}")


def _prefix(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def split_url(url: str, prefix: re.Pattern[str] | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """``https://h/api/v1/groups/00g1/users?limit=2`` -> ``(("groups", "00g1", "users"), {"limit": "2"})``
    with ``prefix`` (``^/api/v1``) removed from the path."""
    parts = urlsplit(url.strip())
    path = parts.path
    if prefix is not None:
        path = prefix.sub("", path, count=1)
    segments = tuple(unquote(s) for s in path.split("/") if s)
    return segments, {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True)}


def capture_time(value: Any) -> str | None:
    """A response ``date`` (``Mon, 02 Feb 2026 11:10:06 GMT`` or ISO 8601) as ISO 8601 UTC; None if unreadable."""
    from keytrail.importers.base import iso_utc

    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return iso_utc(value)
    if parsed.tzinfo is None:
        return None
    return iso_utc(parsed.isoformat())


class Pages:
    """Reads pages for one importer and remembers the latest response ``date`` (the capture time)."""

    def __init__(self, ctx: Context, fmt_help: str, prefix: str | None = None,
                 bare: Callable[[Record], tuple[str, ...] | None] | None = None) -> None:
        self.ctx = ctx
        self.help = fmt_help
        self.prefix = _prefix(prefix) if prefix else None
        self.bare = bare
        self.captured: str | None = None

    def read(self, paths: list[Path]) -> Iterator[Page]:
        """Every page of ``paths``; what is not a page is a located problem, an error response a skip.

        A URL read twice (a recorder, a retried job, two runs' files in one folder) is the state
        twice: the later response — by ``date`` when both have one, else the one read later —
        replaces the earlier, which is skipped as ``superseded``. Different URLs (the pages of a
        paged list, ``?after=`` cursors) are all read.
        """
        latest: dict[str, tuple[Page, str | None, int]] = {}
        order: list[Page] = []
        for n, record in enumerate(read_records(paths)):
            page = self.page(record)
            if page is None:
                continue
            order.append(page)
            if not page.url:
                continue
            when = capture_time(record.data.get("date"))
            before = latest.get(page.url)
            if before is not None and before[1] is not None and when is not None and when < before[1]:
                self.ctx.skip(record, "superseded", "a URL read again")
                continue
            if before is not None:
                self.ctx.skip(before[0].record, "superseded", "a URL read again")
            latest[page.url] = (page, when, n)
        kept = {id(entry[0]) for entry in latest.values()}
        for page in order:
            if page.url and id(page) not in kept:
                continue
            if page.status is not None and not 200 <= page.status < 300:
                # a 404 on a membership URL means "not a member" (and, read last, that an earlier
                # answer no longer holds): no access to record, nothing lost
                self.ctx.skip(page.record, "not a successful response", f"HTTP {page.status}")
                continue
            yield page

    def page(self, record: Record) -> Page | None:
        data = record.data
        if isinstance(data, dict) and "url" in data and "body" in data:
            url = data["url"]
            if not isinstance(url, str) or not url.strip():
                self.ctx.problem(record, f"url must be a non-empty string, not {json_type(url)}")
                return None
            status = data.get("status")
            if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
                self.ctx.problem(record, f"status must be a number (the HTTP status), not {json_type(status)}")
                return None
            parts, query = split_url(url, self.prefix)
            when = capture_time(data.get("date"))
            if when is not None and (self.captured is None or when > self.captured):
                self.captured = when
            return Page(record, url, parts, query, data["body"], status)
        if self.bare is not None:
            kind = self.bare(record)
            if kind is not None:
                return Page(record, "", kind, {}, record.data)
        shown = f"an object with {', '.join(sorted(data)[:6])}" if isinstance(data, dict) else json_type(data)
        self.ctx.problem(record, f"not a page: expected {{\"url\": ..., \"body\": ...}} (the request URL and the "
                                 f"response body as the API returned it), got {excerpt(shown)}; {self.help}")
        return None


def items(page: Page, ctx: Context, key: str | None = None) -> list[tuple[int, Any]]:
    """The entries of a list response: the body itself when it is a list, else ``body[key]``
    (``value`` for Graph, ``Resources`` for SCIM, ``users`` for Workspace); a body of another
    shape is a located problem ([] returned). A missing ``key`` on an object body is an empty list
    (Workspace omits ``members`` from an empty group's page)."""
    body = page.body
    if isinstance(body, list):
        return list(enumerate(body))
    if key is not None and isinstance(body, dict):
        value = body.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return list(enumerate(value))
        ctx.problem(page.record, f"body.{key} must be a list, not {json_type(value)}")
        return []
    ctx.problem(page.record, f"the body of {excerpt(page.url)} must be a list"
                             + (f" or an object with {key}" if key else "") + f", not {json_type(body)}")
    return []
