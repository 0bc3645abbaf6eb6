"""The page reader every API state importer shares: {url, body} records, repeats, statuses, dates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from keytrail.importers.base import Context
from keytrail.importers.pages import Pages, capture_time, split_url


def read(tmp_path: Path, *pages: dict) -> tuple[list, Context, Pages]:
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pages))
    ctx = Context("test")
    reader = Pages(ctx, "see the docs", prefix=r"^/api/v1(?=/|$)")
    return list(reader.read([path])), ctx, reader


def test_a_url_read_again_keeps_the_later_response_by_date(tmp_path: Path) -> None:
    old = {"url": "/api/v1/groups", "date": "Mon, 02 Mar 2026 10:00:00 GMT", "body": ["old"]}
    new = {"url": "/api/v1/groups", "date": "Mon, 02 Mar 2026 11:00:00 GMT", "body": ["new"]}
    pages, ctx, reader = read(tmp_path, new, old)  # the newer one first in the file: the date decides
    assert [p.body for p in pages] == [["new"]]
    assert ctx.skipped == {"superseded": Counter({"a URL read again": 1})}
    assert reader.captured == "2026-03-02T11:00:00Z"


def test_without_dates_the_response_read_later_wins_and_other_urls_are_all_read(tmp_path: Path) -> None:
    pages, ctx, _ = read(tmp_path, {"url": "/api/v1/groups", "body": [1]}, {"url": "/api/v1/groups?after=x", "body": [2]},
                         {"url": "/api/v1/groups", "body": [3]})
    assert [p.body for p in pages] == [[2], [3]]  # the pages of a paged list are different URLs
    assert pages[0].parts == ("groups",) and pages[0].query == {"after": "x"}


def test_a_later_error_response_replaces_an_earlier_answer_and_is_skipped(tmp_path: Path) -> None:
    pages, ctx, _ = read(tmp_path, {"url": "/api/v1/groups/g/users", "status": 200, "body": [{"id": "u"}]},
                         {"url": "/api/v1/groups/g/users", "status": 404, "body": {"errorCode": "E0000007"}})
    assert pages == []
    assert ctx.skipped == {"superseded": Counter({"a URL read again": 1}),
                           "not a successful response": Counter({"HTTP 404": 1})}


def test_what_is_not_a_page_is_a_located_problem_naming_the_format(tmp_path: Path) -> None:
    pages, ctx, _ = read(tmp_path, {"url": 7, "body": []}, {"url": "/x", "status": "200", "body": []},
                         {"users": []})
    assert pages == []
    assert [(p.line, p.message) for p in ctx.problems] == [
        (1, "url must be a non-empty string, not a number"),
        (2, "status must be a number (the HTTP status), not a string"),
        (3, 'not a page: expected {"url": ..., "body": ...} (the request URL and the response body as the API '
            "returned it), got an object with users; see the docs"),
    ]


def test_urls_lose_host_and_prefix_and_are_percent_decoded() -> None:
    import re

    assert split_url("https://acme.okta.com/api/v1/groups/00g%2F1/users?limit=2&q=a+b", re.compile("^/api/v1")) == (
        ("groups", "00g/1", "users"), {"limit": "2", "q": "a b"})
    assert capture_time("Mon, 02 Feb 2026 11:10:06 GMT") == "2026-02-02T11:10:06Z"
    assert capture_time("2026-02-02T11:10:06+01:00") == "2026-02-02T10:10:06Z"
    assert capture_time("yesterday") is None and capture_time(None) is None
