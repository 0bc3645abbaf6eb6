"""``keytrail record`` and ``keytrail.record()``: a checked, chained change appended at the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import REPO, write_project

NOW = "2026-06-01T12:00:00Z"
DIRECTORY = {
    "principals": [
        {"id": "user:alice", "status": "active", "manager": "user:bob"},
        {"id": "user:bob", "status": "active"},
        {"id": "svc:terraform", "status": "active", "owner": "user:bob"},
    ],
    "roles": [{"id": "role:prod-admin", "owner": "user:bob"}, {"id": "role:billing", "owner": "user:bob"}],
    "groups": [{"id": "group:eng", "owner": "user:bob"}],
}
KEYS = [
    {"id": "pk-tf", "holder": "svc:terraform", "owner": "user:bob", "purpose": "terraform", "ticket": "CHG-1",
     "approved_by": "user:bob", "scope": ["role:prod-*", "group:*"], "not_before": "2026-01-01T00:00:00Z",
     "expires": "2026-12-31T23:59:59Z"},
    {"id": "pk-old", "holder": "svc:terraform", "owner": "user:bob", "purpose": "old", "ticket": "CHG-0",
     "approved_by": "user:bob", "scope": ["role:*"], "not_before": "2025-01-01T00:00:00Z",
     "expires": "2025-12-31T23:59:59Z"},
]
EVENTS = [
    {"time": "2026-02-01T10:00:00Z", "action": "grant", "subject": "user:bob", "target": "group:eng",
     "resource": "", "actor": "svc:terraform", "key": "pk-tf"},
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    monkeypatch.delenv("TRACEPARENT", raising=False)
    return write_project(tmp_path / "proj", directory=DIRECTORY, keys=KEYS, events=EVENTS)


def grant(root: Path, *extra: str, out: str = "history/h.jsonl") -> list[str]:
    return ["record", "grant", "--dir", str(root), "--out", str(root / out), "--subject", "user:alice",
            "--target", "role:prod-admin", "--actor", "svc:terraform", "--key", "pk-tf", *extra]


def history(root: Path) -> Any:
    from keytrail import pipeline

    return pipeline.load(root)


# -- recorded ------------------------------------------------------------------------------

def test_a_keyed_change_is_appended_chained_and_reads_back_as_check_reads_it(project: Path, capsys: Any) -> None:
    from keytrail.history import line_hash

    before = (project / "history" / "h.jsonl").read_bytes()
    assert main(grant(project, "--ticket", "CHG-9", "--reason", "on call", "--approver", "user:bob")) == 0
    out, err = capsys.readouterr()
    after = (project / "history" / "h.jsonl").read_bytes()
    assert after.startswith(before)  # appended, never rewritten
    line = after[len(before):].rstrip(b"\n")
    event = json.loads(line)
    assert json.loads(out) == event
    assert event["prev"] == line_hash(before.rstrip(b"\n").splitlines()[-1])
    assert event["time"] == NOW and event["action"] == "grant" and event["key"] == "pk-tf"
    assert event["id"].startswith("rec-")
    assert f"recorded {event['id']} in history/h.jsonl:2" in err
    loaded = history(project)
    assert not loaded.chain_breaks
    assert [e.id for e in loaded.events][-1] == event["id"]


def test_two_records_in_a_row_keep_the_chain_and_get_distinct_ids(project: Path, capsys: Any) -> None:
    assert main(grant(project)) == 0
    assert main(grant(project)) == 0  # the same change twice: its place differs, so does its id
    loaded = history(project)
    assert not loaded.chain_breaks
    ids = [e.id for e in loaded.events]
    assert len(ids) == len(set(ids)) == 3


def test_a_file_without_a_final_line_feed_is_ended_not_joined(project: Path, capsys: Any) -> None:
    path = project / "history" / "h.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert main(grant(project)) == 0
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[2] == b""
    assert not history(project).chain_breaks


def test_blank_lines_and_crlf_at_the_end_are_skipped_as_the_reader_skips_them(project: Path, capsys: Any) -> None:
    path = project / "history" / "h.jsonl"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n  \n\n")
    assert main(grant(project)) == 0
    assert not history(project).chain_breaks


def test_a_new_file_that_the_history_globs_read_is_created(project: Path, capsys: Any) -> None:
    assert main(grant(project, out="history/2026-06.jsonl")) == 0
    event = json.loads((project / "history" / "2026-06.jsonl").read_text())
    assert "prev" not in event  # the first line of a file: nothing before it to chain to
    assert any(e.id == event["id"] for e in history(project).events)


def test_allow_unexplained_records_an_unknown_key_and_says_why(project: Path, capsys: Any) -> None:
    args = grant(project, "--allow-unexplained")
    args[args.index("pk-tf")] = "pk-nope"
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: recorded although unexplained (unexplained.unknown-key)" in err
    assert json.loads((project / "history" / "h.jsonl").read_text().splitlines()[-1])["key"] == "pk-nope"


def test_join_with_attributes_and_define_with_an_owner(project: Path, capsys: Any) -> None:
    assert main(["record", "join", "--dir", str(project), "--out", str(project / "history/h.jsonl"),
                 "--subject", "user:carol", "--attribute", "department=payments", "--attribute", "title=eng",
                 "--actor", "svc:terraform", "--key", "pk-tf"]) == 0
    assert main(["record", "define", "--dir", str(project), "--out", str(project / "history/h.jsonl"),
                 "--target", "role:prod-new", "--owner", "user:bob", "--actor", "svc:terraform",
                 "--key", "pk-tf"]) == 0
    lines = [json.loads(x) for x in (project / "history" / "h.jsonl").read_text().splitlines()]
    assert lines[-2]["attributes"] == {"department": "payments", "title": "eng"}
    assert lines[-1]["owner"] == "user:bob" and "subject" not in lines[-1]
    assert not history(project).chain_breaks


def test_traceparent_from_the_environment_is_kept_on_the_event(project: Path, capsys: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert main(grant(project)) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["source"] == {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
                               "traceFlags": "01"}


def test_the_option_wins_over_the_environment(project: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert main(grant(project, "--traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")) == 0
    assert json.loads(capsys.readouterr().out)["source"]["traceId"] == "0af7651916cd43dd8448eb211c80319c"


# -- refused: nothing written --------------------------------------------------------------

REFUSED = [
    ("unknown key", {"--key": "pk-nope"}, "unexplained.unknown-key: grant of role:prod-admin for user:alice "
                                          "by svc:terraform was made under key pk-nope, which the key "
                                          "registry does not know"),
    ("out of scope", {"--target": "role:billing"}, "unexplained.key-out-of-scope: grant of role:billing "
                                                   "for user:alice by svc:terraform is outside the scope of "
                                                   "key pk-tf (role:prod-*, group:*)"),
    ("expired key", {"--key": "pk-old"}, "unexplained.key-not-valid: grant of role:prod-admin for user:alice "
                                         "by svc:terraform: key pk-old expired 2025-12-31"),
    ("not yet valid", {"--time": "2025-12-01T00:00:00Z"}, "unexplained.key-not-valid:"),
    ("holder is not the actor", {"--actor": "user:bob"}, "unexplained.key-misuse: grant of role:prod-admin "
                                                          "for user:alice was made by user:bob, but key pk-tf "
                                                          "is held by svc:terraform"),
    ("self-grant", {"--subject": "svc:terraform"}, "unexplained.self-grant: grant of role:prod-admin to "
                                                   "svc:terraform: svc:terraform granted itself"),
    ("self-approval", {"--approver": "svc:terraform"}, "unexplained.self-grant:"),
    ("naive time", {"--time": "2026-06-01T10:00:00"}, "--time: time '2026-06-01T10:00:00' has no zone"),
    ("an id without a kind", {"--subject": "alice"}, "--subject 'alice': not an id of a kind this field "
                                                     "takes: write KIND:NAME with KIND user, svc or group"),
    ("a target of the wrong kind", {"--target": "user:bob"}, "--target 'user:bob': not an id of a kind"),
    ("a kind without a name", {"--actor": "svc:"}, "--actor 'svc:': the id has a kind but no name"),
    ("an invisible character", {"--ticket": "CHG-1\u200b"}, "--ticket 'CHG-1\\u200b'"),
    ("a time in the future", {"--time": "2026-06-02T12:00:00Z"}, "is in the future"),
    ("expiry before the change", {"--expires": "2026-05-01T00:00:00Z"}, "is not after the change's time"),
    ("an empty key", {"--key": ""}, "--key is required"),
]


@pytest.mark.parametrize("why,changes,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_change_is_refused_with_a_clear_message_and_nothing_written(project: Path, capsys: Any, why: str,
                                                                      changes: dict[str, str], message: str) -> None:
    args = grant(project)
    for option, value in changes.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    before = (project / "history" / "h.jsonl").read_bytes()
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert "Traceback" not in err and out == ""
    assert (project / "history" / "h.jsonl").read_bytes() == before


def test_a_refusal_names_the_file_and_the_line_the_event_would_have_had(project: Path, capsys: Any) -> None:
    args = grant(project)
    args[args.index("pk-tf")] = "pk-nope"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("history/h.jsonl:2: unexplained.unknown-key:")
    assert "nothing was written (--allow-unexplained records it all the same)" in err


@pytest.mark.parametrize("args,message", [
    (["revoke", "--expires", "2026-07-01T00:00:00Z"], "--expires does not apply to revoke"),
    (["define", "--subject", "user:alice"], "define takes no --subject"),
    (["leave", "--target", "role:prod-admin"], "leave takes no --target"),
    (["grant", "--attribute", "x=1"], "--attribute applies to join and move only"),
    (["join", "--attribute", "novalue"], "--attribute 'novalue': write NAME=VALUE"),
])
def test_fields_an_action_does_not_take_are_refused(project: Path, capsys: Any, args: list[str],
                                                    message: str) -> None:
    base = {"grant": ["--subject", "user:alice", "--target", "role:prod-admin"],
            "revoke": ["--subject", "user:alice", "--target", "role:prod-admin"],
            "define": ["--target", "role:prod-x"], "leave": ["--subject", "user:alice"],
            "join": ["--subject", "user:carol"]}[args[0]]
    assert main(["record", args[0], "--dir", str(project), "--out", str(project / "history/h.jsonl"),
                 "--actor", "svc:terraform", "--key", "pk-tf", *base, *args[1:]]) == 2
    assert message in capsys.readouterr().err


def test_a_file_outside_the_project_is_refused(project: Path, tmp_path: Path, capsys: Any) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    args = grant(project)
    args[args.index("--out") + 1] = str(outside)
    assert main(args) == 2
    assert "is outside the project folder" in capsys.readouterr().err
    assert not outside.exists()


def test_a_file_the_history_globs_do_not_read_is_refused(project: Path, capsys: Any) -> None:
    assert main(grant(project, out="notes.jsonl")) == 2
    err = capsys.readouterr().err
    assert "is not one of the project's history files (keytrail.yaml `history:` reads history/*.jsonl)" in err
    assert not (project / "notes.jsonl").exists()


def test_a_symbolic_link_as_the_history_file_is_refused(project: Path, capsys: Any) -> None:
    target = project / "elsewhere.jsonl"  # inside the project, so the project itself loads
    target.write_text("")
    (project / "history" / "link.jsonl").symlink_to(target)
    assert main(grant(project, out="history/link.jsonl")) == 2
    assert "--out " + str(project / "history" / "link.jsonl") + ": is a symbolic link" in capsys.readouterr().err
    assert target.read_text() == ""


def test_a_link_out_of_the_project_fails_its_loading_and_nothing_is_written(project: Path, tmp_path: Path,
                                                                           capsys: Any) -> None:
    target = tmp_path / "target.jsonl"
    target.write_text("")
    (project / "history" / "link.jsonl").symlink_to(target)
    assert main(grant(project, out="history/link.jsonl")) == 2
    err = capsys.readouterr().err
    assert "which resolves outside the project folder" in err and "nothing was written" in err
    assert target.read_text() == ""


def test_an_id_the_history_has_already_is_refused(project: Path, capsys: Any) -> None:
    before = (project / "history" / "h.jsonl").read_bytes()
    assert main(grant(project, "--id", "ev-0001")) == 2
    assert "--id ev-0001: the history already has an event with this id" in capsys.readouterr().err
    assert (project / "history" / "h.jsonl").read_bytes() == before


def test_a_project_that_does_not_load_is_not_appended_to(project: Path, capsys: Any) -> None:
    path = project / "history" / "h.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": "bad", "time": "yesterday", "action": "grant"}\n')
    before = path.read_bytes()
    assert main(grant(project)) == 2
    assert "history/h.jsonl:2" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_an_invalid_traceparent_is_an_error_naming_where_it_came_from(project: Path, capsys: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
    before = (project / "history" / "h.jsonl").read_bytes()
    assert main(grant(project)) == 2
    assert "TRACEPARENT: '00-0000" in capsys.readouterr().err
    assert (project / "history" / "h.jsonl").read_bytes() == before


# -- sealed projects ---------------------------------------------------------------------------

def test_in_a_sealed_project_appending_keeps_verify_green_and_backdating_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from tests.integrity.conftest import anchor, public_pem, write_key

    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    root = write_project(tmp_path / "proj", directory=DIRECTORY, keys=KEYS, events=EVENTS)
    key = write_key(tmp_path / "signing.pem")
    public_pem(key, root / "keys" / "auditor.pub")
    anchor(root)
    assert main(["seal", str(root), "--signing-key", str(key)]) == 0
    before = (root / "history" / "h.jsonl").read_bytes()
    assert main(grant(root, "--time", "2026-05-01T00:00:00Z")) == 2
    assert "is more than 7 days before now and the project is sealed" in capsys.readouterr().err
    assert (root / "history" / "h.jsonl").read_bytes() == before
    assert main(grant(root, "--time", "2026-05-30T00:00:00Z")) == 0  # within the week: accepted
    capsys.readouterr()
    assert main(["verify", str(root)]) == 0


# -- concurrency ---------------------------------------------------------------------------------

def test_concurrent_records_take_turns_and_the_chain_stays_intact(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "KEYTRAIL_NOW": NOW}
    env.pop("TRACEPARENT", None)
    procs = []
    for n in range(8):
        args = grant(project, "--ticket", f"CHG-{n}")  # all into one file at once
        procs.append(subprocess.Popen([sys.executable, "-m", "keytrail", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0] * 8, results
    loaded = history(project)
    assert not loaded.chain_breaks
    tickets = sorted(e.ticket for e in loaded.events if e.id.startswith("rec-"))
    assert tickets == [f"CHG-{n}" for n in range(8)]
    assert len({e.id for e in loaded.events}) == 9


def test_a_held_lock_makes_a_record_give_up_after_wait(project: Path, capsys: Any) -> None:
    import fcntl

    fd = os.open(project, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = (project / "history" / "h.jsonl").read_bytes()
        assert main(grant(project, "--wait", "0.2")) == 2
        assert "another `keytrail record` has held the lock" in capsys.readouterr().err
        assert (project / "history" / "h.jsonl").read_bytes() == before
    finally:
        os.close(fd)
    assert main(grant(project, "--wait", "0.2")) == 0  # released: the next one goes through


# -- the Python API ---------------------------------------------------------------------------------

def test_the_python_api_records_the_same_event_as_the_command(project: Path, tmp_path: Path, capsys: Any) -> None:
    import shutil
    from datetime import datetime, timezone

    import keytrail

    twin = tmp_path / "twin"
    shutil.copytree(project, twin)
    event = keytrail.record("grant", dir=project, out=project / "history" / "h.jsonl", subject="user:alice",
                            target="role:prod-admin", actor="svc:terraform", key="pk-tf",
                            time=datetime(2026, 6, 1, 11, 0, tzinfo=timezone.utc))
    assert main(grant(twin, "--time", "2026-06-01T11:00:00Z")) == 0
    assert (project / "history" / "h.jsonl").read_bytes() == (twin / "history" / "h.jsonl").read_bytes()
    assert event == json.loads((project / "history" / "h.jsonl").read_text().splitlines()[-1])


def test_the_python_api_refuses_as_the_command_does(project: Path) -> None:
    from datetime import datetime

    import keytrail
    from keytrail.errors import UsageError
    from keytrail.recording.core import RecordRefused

    before = (project / "history" / "h.jsonl").read_bytes()
    with pytest.raises(RecordRefused) as refused:
        keytrail.record("grant", dir=project, out=project / "history" / "h.jsonl", subject="user:alice",
                        target="role:billing", actor="svc:terraform", key="pk-tf")
    assert "outside the scope of key pk-tf" in str(refused.value)
    with pytest.raises(UsageError, match="time= 2026-06-01T10:00:00: a time without a zone"):
        keytrail.record("grant", dir=project, out=project / "history" / "h.jsonl", subject="user:alice",
                        target="role:prod-admin", actor="svc:terraform", key="pk-tf",
                        time=datetime(2026, 6, 1, 10, 0))
    with pytest.raises(UsageError, match="subject= 'alice': not an id"):
        keytrail.record("grant", dir=project, out=project / "history" / "h.jsonl", subject="alice",
                        target="role:prod-admin", actor="svc:terraform", key="pk-tf")
    assert (project / "history" / "h.jsonl").read_bytes() == before


def test_import_keytrail_does_not_load_the_recording_package() -> None:
    code = ("import sys, keytrail; print(any(m.startswith(('keytrail.recording', 'opentelemetry')) "
            "for m in sys.modules)); keytrail.record; print('keytrail.recording' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_an_existing_file_the_history_globs_do_not_read_is_refused(project: Path, capsys: Any) -> None:
    (project / "history" / "notes.txt").write_text("")
    assert main(grant(project, out="history/notes.txt")) == 2
    assert "is not one of the project's history files" in capsys.readouterr().err
    assert (project / "history" / "notes.txt").read_text() == ""


def test_a_new_file_in_a_subfolder_a_double_star_glob_reads_is_created(project: Path, capsys: Any) -> None:
    config = project / "keytrail.yaml"
    config.write_text(config.read_text().replace("history/*.jsonl", "history/**/*.jsonl"))
    (project / "history" / "2026").mkdir()
    assert main(grant(project, out="history/2026/06.jsonl")) == 0
    assert (project / "history" / "2026" / "06.jsonl").is_file()
    assert main(grant(project, out="history/2027/01.jsonl")) == 2  # no such folder: not created
    assert "its folder does not exist" in capsys.readouterr().err


def test_a_hard_linked_history_file_is_not_appended_to(project: Path, tmp_path: Path, capsys: Any) -> None:
    # A second name for the history file (elsewhere, outside the project) would get the event too.
    outside = tmp_path / "elsewhere.jsonl"
    os.link(project / "history" / "h.jsonl", outside)
    before = outside.read_bytes()
    assert main(grant(project)) == 2
    err = capsys.readouterr().err
    assert "the file has 2 hard links" in err and "nothing was written" in err
    assert outside.read_bytes() == before


def test_a_history_file_with_one_name_is_appended_to(project: Path, tmp_path: Path, capsys: Any) -> None:
    # Near miss: a copy elsewhere is not a link; the record goes to the project's file only.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((project / "history" / "h.jsonl").read_bytes())
    assert main(grant(project)) == 0
    assert len((project / "history" / "h.jsonl").read_text().splitlines()) == 2
    assert copy.read_bytes() == (project / "history" / "h.jsonl").read_bytes().splitlines(True)[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_put_in_place_of_the_history_file_fails_at_once(tmp_path: Path) -> None:
    # The name was checked as a plain file; a FIFO put there since must not block the pipeline.
    from keytrail.errors import UsageError
    from keytrail.recording.append import append

    fifo = tmp_path / "h.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="nothing was written"):
        append(fifo, b"{}")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2**64, -2**63 - 1])
def test_an_attribute_json_cannot_hold_is_refused_not_changed(project: Path, value: Any) -> None:
    # NaN and infinity would be written as null (another value, silently); a huge integer
    # crashed the encoder.
    import keytrail
    from keytrail.errors import UsageError

    before = (project / "history" / "h.jsonl").read_bytes()
    with pytest.raises(UsageError, match="attribute= level: .* cannot be written as a JSON number"):
        keytrail.record("join", dir=project, out=project / "history" / "h.jsonl", subject="user:zed",
                        actor="svc:terraform", key="pk-tf", attributes={"level": value})
    assert (project / "history" / "h.jsonl").read_bytes() == before


@pytest.mark.parametrize("value", [1.5, 2**63 - 1, -2**63, True, "7"])
def test_finite_numbers_booleans_and_text_are_recorded_as_given(project: Path, value: Any) -> None:
    import keytrail

    event = keytrail.record("join", dir=project, out=project / "history" / "h.jsonl", subject="user:zed",
                            actor="svc:terraform", key="pk-tf", attributes={"level": value})
    written = json.loads((project / "history" / "h.jsonl").read_text().splitlines()[-1])
    assert written["attributes"] == {"level": value} == event["attributes"]
