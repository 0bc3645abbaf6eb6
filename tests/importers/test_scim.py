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
MANDY = "user:902c246b-6245-4190-8e05-00816be7344a"
JAMES = "user:08e1d05d-121c-4561-8b96-473d93df9210"
MSG = "urn:ietf:params:scim:api:messages:2.0:"


def _convert(*paths: Path, mapping: Mapping | None = None, strict: bool = False) -> tuple[Context, list[dict]]:
    ctx = Context("scim", mapping or Mapping(), strict)
    return ctx, list(scim.convert(list(paths), ctx))


def _samples() -> list[Path]:
    files = sorted(SAMPLES.glob("*.json"))
    if not files:
        pytest.skip("the shared SCIM samples are absent")
    return files


def test_rfc_samples_are_skipped_by_place_for_want_of_time_and_target() -> None:
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
    assert events == [] and not ctx.converted and not ctx.problems
    # every access change lacks a time (and a bare PatchOp also its group): each is skipped, by place
    assert len(ctx.incomplete_at) == len(member_patches) + len(post_requests) + len(bulk_changes)
    assert sum(ctx.skipped["incomplete"].values()) == len(ctx.incomplete_at)
    by_file = Counter(Path(p.file).name for p in ctx.incomplete_at)
    assert set(by_file) == member_patches | post_requests | set(bulk)
    assert all("no time" in p.message or "names no Group" in p.message for p in ctx.incomplete_at)
    # everything else is skipped with its reason
    others = sum(sum(c.values()) for reason, c in ctx.skipped.items() if reason != "incomplete")
    assert others == len(files) - len(member_patches) - len(post_requests) - len(bulk) + len(bulk_other)
    representations = [n for n, d in docs.items() if n not in bulk and n not in patches and n not in post_requests
                        and any(s.endswith(("core:2.0:User", "core:2.0:Group")) for s in d.get("schemas", []))]
    assert sum(ctx.skipped["resource representation"].values()) == len(representations)

    # --assume-time places the timeless requests; the PatchOps still name no group
    ctx = Context("scim", Mapping(), assume_time="2026-01-01T00:00:00Z")
    events = list(scim.convert(files, ctx))
    unique_posts = {json.dumps(docs[n], sort_keys=True) for n in post_requests}
    assert sum(ctx.converted.values()) == len(bulk_changes) + len(unique_posts)
    assert ctx.skipped["duplicate delivery"] == Counter({"POST Users": len(post_requests) - len(unique_posts)})
    assert {Path(p.file).name for p in ctx.incomplete_at} == member_patches
    assert all(e["time"] == "2026-01-01T00:00:00Z" and e["source"]["time_assumed"] for e in events)
    joins = [e["subject"] for e in events if e["action"] == "join"]
    assert len(joins) == sum(1 for op in bulk_changes if op["method"] == "POST" and op["path"] == "/Users") \
        + len(unique_posts)
    assert len({e["id"] for e in events}) == len(events)  # bulkIds reused across files do not collide


def test_rfc_samples_via_the_cli_import_what_they_can_and_name_the_rest(tmp_path: Path, capsys) -> None:
    _samples()
    out = tmp_path / "h.jsonl"
    assert main(["import", "scim", str(SAMPLES), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "converted 0" in err and "access change(s) could not be converted" in err
    assert "rfc7644-3.5.2.1-patch_op-add_members.json[0]: warning: a change of members names no Group" in err
    assert out.read_text() == ""
    assert main(["import", "scim", str(SAMPLES), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert not (tmp_path / "s.jsonl").exists()
    assert main(["import", "scim", str(SAMPLES), "--out", str(out), "--force",
                 "--assume-time", "2026-01-01T00:00:00+02:00"]) == 0
    assert "given 2025-12-31T22:00:00Z (--assume-time)" in capsys.readouterr().err
    assert main(["import", "scim", str(SAMPLES), "--out", str(out), "--force", "--assume-time", "2026-01-01"]) == 2
    assert "--assume-time: time '2026-01-01' has no zone" in capsys.readouterr().err


def test_requests_convert_to_history() -> None:
    ctx, events = _convert(FIXTURES / "requests.jsonl")
    assert not ctx.problems
    got = [(e["id"], e["action"], e.get("subject"), e.get("target")) for e in events]
    assert got == [
        ("scim-req-1", "join", BABS, None),
        ("scim-req-2-1", "define", None, GROUP),
        ("scim-req-2-2", "grant", MANDY, GROUP),
        ("scim-req-3", "grant", BABS, GROUP),
        ("scim-req-4", "revoke", BABS, GROUP),
        # remove all members, then add two: the group was created in this history, so the
        # removal of the member it had is known
        ("scim-req-5-1", "revoke", MANDY, GROUP),
        ("scim-req-5-2", "grant", BABS, GROUP),
        ("scim-req-5-3", "grant", JAMES, GROUP),
        ("scim-req-6-1", "revoke", JAMES, GROUP),
        ("scim-req-6-2", "revoke", BABS, GROUP),
        ("scim-req-7", "leave", BABS, None),
        ("scim-req-8", "leave", JAMES, None),
        ("scim-req-9", "retire", None, GROUP),
    ]
    assert events[0]["attributes"] == {"userName": "bjensen", "externalId": "bjensen"}
    assert events[0]["actor"] == "svc:okta-scim" and events[4]["time"] == "2026-03-02T10:00:00Z"
    assert "key" not in events[1]
    assert events[3]["source"] == {"format": "scim", "file": str(FIXTURES / "requests.jsonl"), "line": 3,
                                   "id": "req-3"}
    assert dict(ctx.converted) == {"POST Users": 1, "POST Groups": 1, "PATCH Groups": 4, "PATCH Users": 1,
                                   "PUT Users": 1, "DELETE Groups": 1}
    assert ctx.skipped == {"read-only": Counter({"GET Users": 1}),
                           "not an access change": Counter({"PATCH Users": 1})}


def _request(n: int, method: str, path: str, data: dict | None = None) -> dict:
    out = {"id": f"r{n}", "method": method, "path": path, "time": f"2026-04-0{n}T10:00:00Z"}
    if data is not None:
        out["data"] = data
    return out


def _members(op: str, *ids: str, path: str = "members") -> dict:
    value = [{"value": i} for i in ids]
    return {"schemas": [MSG + "PatchOp"], "Operations": [{"op": op, "path": path, "value": value}]}


def test_replacing_members_revokes_those_dropped_when_the_group_is_known(tmp_path: Path) -> None:
    source = tmp_path / "r.jsonl"
    records = [
        _request(1, "POST", "/Groups", {"schemas": [MSG.replace("api:messages", "schemas:core") + "Group"],
                                        "id": "g1", "displayName": "G", "members": [{"value": "a"}, {"value": "b"}]}),
        _request(2, "PATCH", "/Groups/g1", _members("replace", "b", "c")),   # a out, c in, b stays
        _request(3, "PUT", "/Groups/g1", {"id": "g1", "displayName": "G", "members": [{"value": "c"}]}),
        _request(4, "PATCH", "/Groups/g1", _members("add", "c")),            # already a member: no change
        _request(5, "PATCH", "/Groups/other", _members("replace", "x")),     # never seen: removals unknown
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    ctx, events = _convert(source)
    assert [(e["id"], e["action"], e.get("subject")) for e in events] == [
        ("scim-r1-1", "define", None), ("scim-r1-2", "grant", "user:a"), ("scim-r1-3", "grant", "user:b"),
        ("scim-r2-1", "revoke", "user:a"), ("scim-r2-2", "grant", "user:c"),
        ("scim-r3", "revoke", "user:b"),
        ("scim-r5", "grant", "user:x"),
    ]
    assert ctx.skipped == {"no change": Counter({"PATCH Groups": 1}),
                           "members not named": Counter({"PATCH Groups": 1})}


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
    assert "bad.jsonl:4: expected a SCIM request object, found list" in err
    assert "bad.jsonl:2: warning: PATCH Groups: no time" in err
    assert "bad.jsonl:3: warning: Operations[0]: unresolved reference 'bulkId:nobody'" in err
    assert "keytrail: 1 error; nothing was written" in err
    assert not out.exists()


def test_strict_accepts_requests_that_change_no_access(tmp_path: Path, capsys) -> None:
    assert main(["import", "scim", str(FIXTURES / "requests.jsonl"), "--out", str(tmp_path / "h.jsonl"),
                 "--strict"]) == 0
    assert "skipped 1 (read-only): GET Users 1" in capsys.readouterr().err


def test_cli_end_to_end_loads_as_a_project(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    out = tmp_path / "history" / "scim.jsonl"
    assert main(["import", "scim", str(FIXTURES / "requests.jsonl"), str(FIXTURES / "bulk.json"),
                 "--out", str(out), "--key-from", "headers.X-Change-Key"]) == 0
    assert len(out.read_text().splitlines()) == 16
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text(f"principals:\n  - {{id: {BABS}}}\n  - {{id: user:Alice}}\n"
                                             f"groups:\n  - {{id: {GROUP}}}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    assert len(project.events) == 16
    report = tmp_path / "findings.json"
    main(["check", str(tmp_path), "--as-of", "2026-09-30T23:59:59Z", "-f", "json", "-o", str(report)])
    checks = Counter(f["check"] for f in json.loads(report.read_text())["findings"])
    assert checks["unexplained.unknown-key"] >= 1  # pk-2026-0042 is not registered


def test_a_put_that_names_no_user_or_group_is_incomplete_not_user_none(tmp_path: Path) -> None:
    source = tmp_path / "r.jsonl"
    source.write_text(json.dumps({"method": "PUT", "path": "/Users", "time": "2026-04-01T10:00:00Z",
                                  "data": {"userName": "bob", "active": False}}) + "\n"
                      + json.dumps({"method": "PUT", "path": "/Groups", "time": "2026-04-01T11:00:00Z",
                                    "data": {"displayName": "G", "members": [{"value": "a"}]}}) + "\n")
    ctx, events = _convert(source)
    assert events == []
    assert [(p.line, p.message) for p in ctx.incomplete_at] == [
        (1, "a PUT of active names no User: give the path /Users/ID or the body's id"),
        (2, "a PUT of members names no Group: give the path /Groups/ID or the body's id")]
