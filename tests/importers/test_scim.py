"""keytrail import scim: SCIM 2.0 requests (RFC 7644) into native history."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import scim
from keytrail.importers.base import Context, Field, Mapping

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "data" / "python-scim-scim2-models" / "samples"
FIXTURES = Path(__file__).parent / "fixtures" / "scim"
GROUP = "group:scim/e9e30dba-f08f-4109-8486-d5c6a331660a"
BABS = "user:2819c223-7f76-453a-919d-413861904646"
MSG = "urn:ietf:params:scim:api:messages:2.0:"


def _convert(*paths: Path, mapping: Mapping | None = None, strict: bool = False) -> tuple[Context, list[dict]]:
    ctx = Context("scim", mapping or Mapping(), strict)
    return ctx, list(scim.convert(list(paths), ctx))


def _samples() -> list[Path]:
    files = sorted(SAMPLES.glob("*.json"))
    if not files:
        pytest.skip("the shared SCIM samples are absent")
    return files


def test_rfc_samples_are_skipped_or_refused_for_want_of_time_and_target() -> None:
    files = _samples()
    docs = {f.name: json.loads(f.read_text()) for f in files}
    bulk = {n: d for n, d in docs.items() if MSG + "BulkRequest" in d.get("schemas", [])}
    patches = {n for n, d in docs.items() if MSG + "PatchOp" in d.get("schemas", [])}
    member_patches = {n for n in patches if any(str(op.get("path", "")).startswith("members")
                                                for op in docs[n]["Operations"])}
    post_requests = {n for n, d in docs.items() if n not in bulk and n not in patches and "id" not in d
                     and "meta" not in d and any(s.endswith("core:2.0:User") for s in d.get("schemas", []))}
    # bulk operations that change access: POST (join/define), DELETE (leave); PUT/PATCH here change other fields
    bulk_changes = [op for d in bulk.values() for op in d["Operations"] if op["method"] in ("POST", "DELETE")]
    bulk_other = [op for d in bulk.values() for op in d["Operations"] if op["method"] not in ("POST", "DELETE")]

    ctx, events = _convert(*files)
    assert events == [] and not ctx.converted
    # every access change lacks a time (and a bare PatchOp also its group): each is a located problem
    assert len(ctx.problems) == len(member_patches) + len(post_requests) + len(bulk_changes)
    by_file = Counter(Path(p.file).name for p in ctx.problems)
    assert set(by_file) == member_patches | post_requests | set(bulk)
    assert all("no time" in p.message or "names no Group" in p.message for p in ctx.problems)
    # everything else is skipped with its reason
    skipped = sum(sum(c.values()) for c in ctx.skipped.values())
    assert skipped == len(files) - len(member_patches) - len(post_requests) - len(bulk) + len(bulk_other)
    representations = [n for n, d in docs.items() if n not in bulk and n not in patches and n not in post_requests
                        and any(s.endswith(("core:2.0:User", "core:2.0:Group")) for s in d.get("schemas", []))]
    assert sum(ctx.skipped["resource representation"].values()) == len(representations)


def test_rfc_samples_via_the_cli_exit_2_and_write_nothing(tmp_path: Path, capsys) -> None:
    _samples()
    out = tmp_path / "h.jsonl"
    assert main(["import", "scim", str(SAMPLES), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "rfc7644-3.5.2.1-patch_op-add_members.json" in err and "names no Group" in err
    assert not out.exists()


def test_requests_convert_to_history() -> None:
    ctx, events = _convert(FIXTURES / "requests.jsonl")
    assert not ctx.problems
    got = [(e["id"], e["action"], e.get("subject"), e.get("target")) for e in events]
    assert got == [
        ("scim-req-1", "join", BABS, None),
        ("scim-req-2-1", "define", None, GROUP),
        ("scim-req-2-2", "grant", "user:902c246b-6245-4190-8e05-00816be7344a", GROUP),
        ("scim-req-3", "grant", BABS, GROUP),
        ("scim-req-4", "revoke", BABS, GROUP),
        ("scim-req-5-1", "grant", BABS, GROUP),
        ("scim-req-5-2", "grant", "user:08e1d05d-121c-4561-8b96-473d93df9210", GROUP),
        ("scim-req-7", "leave", BABS, None),
        ("scim-req-8", "leave", "user:08e1d05d-121c-4561-8b96-473d93df9210", None),
        ("scim-req-9", "retire", None, GROUP),
    ]
    assert events[0]["attributes"] == {"userName": "bjensen", "externalId": "bjensen"}
    assert events[0]["actor"] == "svc:okta-scim" and events[4]["time"] == "2026-03-02T10:00:00Z"
    assert "key" not in events[1]
    assert events[3]["source"] == {"format": "scim", "file": str(FIXTURES / "requests.jsonl"), "line": 3,
                                   "id": "req-3"}
    assert dict(ctx.converted) == {"POST Users": 1, "POST Groups": 1, "PATCH Groups": 3, "PATCH Users": 1,
                                   "PUT Users": 1, "DELETE Groups": 1}
    assert ctx.skipped == {"members not named": Counter({"PATCH Groups": 2}),
                           "read-only": Counter({"GET Users": 1}),
                           "not an access change": Counter({"PATCH Users": 1})}


def test_bulk_request_resolves_bulk_ids() -> None:
    ctx, events = _convert(FIXTURES / "bulk.json")
    assert [(e["id"], e["action"], e.get("subject"), e.get("target")) for e in events] == [
        ("scim-bulk-77-op0", "join", "user:Alice", None),
        ("scim-bulk-77-op1-1", "define", None, "group:scim/Tour-Guides"),
        ("scim-bulk-77-op1-2", "grant", "user:Alice", "group:scim/Tour-Guides"),
    ]
    assert events[2]["source"]["operation"] == 1


def test_time_from_meta_when_the_request_has_none(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    body = json.loads((SAMPLES / "rfc7644-3.3-user-post_response.json").read_text()) if SAMPLES.is_dir() else \
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "b",
         "meta": {"created": "2011-08-01T21:32:44.882000Z", "lastModified": "2011-08-01T21:32:44.882000Z"}}
    path.write_text(json.dumps({"method": "POST", "path": "/Users", "data": body}))
    ctx, events = _convert(path)
    assert events[0]["time"] == body["meta"]["lastModified"]
    assert events[0]["id"].startswith("scim-") and len(events[0]["id"]) == len("scim-") + 16


def test_key_mapping_and_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "requests.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "requests.jsonl").read_bytes()))
    events = _convert(gz, mapping=Mapping(key=Field("headers.X-Change-Key")))[1]
    assert [e["id"] for e in events if e.get("key") == "pk-2026-0042"] == ["scim-req-2-1", "scim-req-2-2",
                                                                           "scim-req-3"]


def test_malformed_records_exit_2_naming_the_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "scim", str(FIXTURES / "bad.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: PATCH Groups: no time" in err
    assert "bad.jsonl:3: Operations[0]: unresolved reference 'bulkId:nobody'" in err
    assert not out.exists()


def test_strict_makes_skipped_requests_errors(tmp_path: Path, capsys) -> None:
    assert main(["import", "scim", str(FIXTURES / "requests.jsonl"), "--out", str(tmp_path / "h.jsonl"),
                 "--strict"]) == 2
    assert "read-only: GET Users" in capsys.readouterr().err


def test_cli_end_to_end_loads_as_a_project(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    out = tmp_path / "history" / "scim.jsonl"
    assert main(["import", "scim", str(FIXTURES / "requests.jsonl"), str(FIXTURES / "bulk.json"),
                 "--out", str(out), "--key-from", "headers.X-Change-Key"]) == 0
    assert len(out.read_text().splitlines()) == 13
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text(f"principals:\n  - {{id: {BABS}}}\n  - {{id: user:Alice}}\n"
                                             f"groups:\n  - {{id: {GROUP}}}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    assert len(project.events) == 13
    report = tmp_path / "findings.json"
    main(["check", str(tmp_path), "--as-of", "2026-09-30T23:59:59Z", "-f", "json", "-o", str(report)])
    checks = Counter(f["check"] for f in json.loads(report.read_text())["findings"])
    assert checks["unexplained.unknown-key"] >= 1  # pk-2026-0042 is not registered
