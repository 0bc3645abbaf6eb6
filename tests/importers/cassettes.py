"""Recorded API cassettes (go-vcr, vcrpy, PyGithub replay files) unwrapped into the pages the
state importers read: ``{"url", "status", "date", "body"}``, the body as the API returned it.

Tests only: keytrail itself reads what the API returns, never a recorder's wrapper.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def _body(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def vcr_pages(path: Path) -> list[dict[str, Any]]:
    """Every successful GET of a go-vcr (terraform-provider-okta) or vcrpy (okta-sdk-python) cassette."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for interaction in doc["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if request["method"] != "GET":
            continue
        url = request.get("url") or request.get("uri")
        if "code" in response:  # go-vcr
            status, body = response["code"], response.get("body")
            dates = (response.get("headers") or {}).get("Date") or []
        else:  # vcrpy
            status, body = response["status"]["code"], response["body"]["string"]
            dates = (response.get("headers") or {}).get("Date") or (response.get("headers") or {}).get("date") or []
        parsed = _body(body)
        if parsed is None:
            continue
        out.append({"url": url, "status": status, "date": dates[0] if dates else None, "body": parsed})
    return out


def write_pages(pages: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")
    return path


def replay_pages(path: Path) -> list[dict[str, Any]]:
    """Every GET of PyGithub's replay data, as parsed into ``derived/replay_interactions.jsonl``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["method"] == "GET":
            out.append({"url": "https://api.github.com" + row["path"], "status": row["status"],
                        "date": row["response_date"], "body": row["response_body"]})
    return out


def graph_mock_pages(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The GET responses of the Microsoft Graph doc-example mocks as pages, and how many mock
    bodies are not JSON at all (doc examples with trailing commas, stored as text)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out, unreadable = [], 0
    for mock in doc["mocks"]:
        request, response = mock["request"], mock["response"]
        body = response.get("body")
        if request["method"] != "GET" or body is None:
            continue
        if isinstance(body, str):
            body = _body(body)
            if body is None:
                unreadable += 1
                continue
        out.append({"url": request["url"], "status": response.get("statusCode", 200), "body": body})
    return out, unreadable
