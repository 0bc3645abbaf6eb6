"""``keytrail key issue|rotate|revoke``: edits that keep the registry's comments and order,
refused with every reason (and nothing written) on bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from keytrail.cli import main
from tests.keys.conftest import KEYS_YAML

ISSUE = ["key", "issue", "pk-3", "--holder", "user:alice", "--owner", "user:alice", "--purpose",
         "Payments administration", "--ticket", "SEC-9", "--approved-by", "user:bob",
         "--scope", "role:prod-read", "--scope", "group:eng", "--expires", "2027-03-31T00:00:00Z"]


def _issue(org: Path, *extra: str) -> list[str]:
    return [*ISSUE, "--dir", str(org), *extra]


def test_issue_appends_the_entry_and_keeps_every_comment_and_the_order(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_issue(org)) == 0
    text = (org / "keys.yaml").read_text(encoding="utf-8")
    # Everything that was there is there, byte for byte, in front of the new entry.
    assert text.startswith(KEYS_YAML)
    assert text[len(KEYS_YAML):] == (
        "\n"
        "  - id: pk-3\n"
        "    holder: user:alice\n"
        "    owner: user:alice\n"
        "    purpose: Payments administration\n"
        "    ticket: SEC-9\n"
        "    approved_by: user:bob\n"
        "    scope: [role:prod-read, group:eng]\n"
        "    not_before: 2026-09-30T12:00:00Z\n"
        "    expires: 2027-03-31T00:00:00Z\n"
        "    revoked_at: null\n")
    out = capsys.readouterr().out
    assert "keys.yaml: issued pk-3 to user:alice (owner user:alice), valid 2026-09-30T12:00:00Z to " \
           "2027-03-31T00:00:00Z" in out
    assert main(["lint", str(org), "--as-of", "2026-09-30T12:00:00Z"]) == 0


def test_issue_keeps_the_file_permissions(org: Path) -> None:
    os.chmod(org / "keys.yaml", 0o640)
    assert main(_issue(org)) == 0
    assert (org / "keys.yaml").stat().st_mode & 0o777 == 0o640
    assert not list(org.glob(".keys.yaml*"))  # no temporary left behind


def test_rotate_links_the_successor_and_revokes_the_old_key_when_it_starts(org: Path) -> None:
    assert main(["key", "rotate", "pk-1", "pk-1b", "--not-before", "2026-10-01T00:00:00Z",
                 "--expires", "2027-09-30T00:00:00Z", "--dir", str(org)]) == 0
    text = (org / "keys.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("  # --- People")
    # The successor sits after the key it replaces, before the next section's comment.
    assert head.endswith(
        "    revoked_at: 2026-10-01T00:00:00Z\n"
        "\n"
        "  - id: pk-1b\n"
        "    replaces: pk-1\n"
        "    holder: svc:deployer\n"
        "    owner: user:alice\n"
        "    purpose: 'Deploys: production IAM'\n"
        "    ticket: SEC-1\n"
        "    approved_by: user:bob\n"
        "    scope: [role:prod-*, group:eng]\n"
        "    not_before: 2026-10-01T00:00:00Z\n"
        "    expires: 2027-09-30T00:00:00Z\n"
        "    revoked_at: null\n"
        "\n")
    assert "    holder: svc:deployer        # the pipeline\n" in head
    assert rest == KEYS_YAML.partition("  # --- People")[2]
    keys = {k["id"]: k for k in yaml.safe_load(text)["keys"]}
    assert keys["pk-1b"]["replaces"] == "pk-1"


def test_rotate_copies_the_old_lifetime_within_the_policy_bound(org: Path) -> None:
    # pk-2 was valid 302 days; the successor starting now gets as long.
    assert main(["key", "rotate", "pk-2", "pk-2b", "--dir", str(org)]) == 0
    entry = {k["id"]: k for k in yaml.safe_load((org / "keys.yaml").read_text())["keys"]}["pk-2b"]
    assert str(entry["not_before"]).startswith("2026-09-30 12:00:00")
    assert str(entry["expires"]).startswith("2027-07-29 12:00:00")


def test_revoke_sets_revoked_at_in_place_and_records_the_reason(org: Path) -> None:
    assert main(["key", "revoke", "pk-1", "--at", "2026-09-01T00:00:00Z", "--reason", "Pipeline retired",
                 "--dir", str(org)]) == 0
    text = (org / "keys.yaml").read_text(encoding="utf-8")
    assert text == KEYS_YAML.replace(
        "    revoked_at: null\n",
        "    revoked_at: 2026-09-01T00:00:00Z\n"
        "    notes: 'Revoked 2026-09-01T00:00:00Z: Pipeline retired'\n")


def test_revoke_adds_revoked_at_to_an_entry_without_one(org: Path) -> None:
    assert main(["key", "revoke", "pk-2", "--dir", str(org)]) == 0
    assert (org / "keys.yaml").read_text() == KEYS_YAML + "    revoked_at: 2026-09-30T12:00:00Z\n"


def test_dry_run_prints_the_diff_and_writes_nothing(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key", "revoke", "pk-2", "--dry-run", "--dir", str(org)]) == 0
    out = capsys.readouterr().out
    assert "+    revoked_at: 2026-09-30T12:00:00Z\n" in out and "(dry run, not written) revoked pk-2" in out
    assert (org / "keys.yaml").read_text() == KEYS_YAML


@pytest.mark.parametrize("change, says", [
    ({"id": "pk-1"}, "key id 'pk-1' is already in the registry (keys.yaml:5:5); key ids are never reused"),
    ({"id": "pk 3"}, "key id 'pk 3': 1 to 128 letters"),
    ({"holder": "user:nobody"}, "holder 'user:nobody' is not in the directory"),
    ({"holder": "user:mallory"}, "holder 'user:mallory' is terminated; a key needs active people behind it"),
    ({"holder": "group:eng"}, "holder 'group:eng': expected user:NAME or svc:NAME"),
    ({"owner": "svc:deployer"}, "owner 'svc:deployer': expected user:NAME"),
    ({"approved-by": "user:alice"}, "approver 'user:alice' is the key's holder; a key is approved by someone else"),
    ({"scope": "prod-*"}, "scope 'prod-*' names no kind: ids are KIND:NAME"),
    ({"scope": "user:alice"}, "scope 'user:alice' is a user, which can never stand here"),
    ({"scope": "role:prod\u200b-*"}, "scope 'role:prod\\u200b-*' contains"),
    ({"purpose": " "}, "--purpose is empty"),
    ({"ticket": "SEC-9\n::error::x"}, "--ticket 'SEC-9\\n::error::x' holds a control or invisible character"),
    ({"expires": "2026-09-01T00:00:00Z"}, "expires 2026-09-01T00:00:00Z is not after not_before"),
    ({"expires": "2028-01-01T00:00:00Z"}, "longer than the 365 days allowed by keytrail's default"),
])
def test_issue_refuses_bad_input_and_writes_nothing(org: Path, change: dict[str, str], says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    args = _issue(org)
    for option, value in change.items():
        if option == "id":
            args[2] = value
        elif option == "scope":
            args[args.index("--scope") + 1] = value
        else:
            args[args.index(f"--{option}") + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.rstrip().endswith("; nothing was written")
    assert (org / "keys.yaml").read_text() == KEYS_YAML
    assert not list(org.glob(".keys.yaml*"))


def test_issue_lists_every_problem_at_once(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _issue(org)
    args[args.index("--holder") + 1] = "user:nobody"
    args[args.index("--approved-by") + 1] = "user:alice"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holder 'user:nobody'" in err and "approver 'user:alice' is the key's owner" in err
    assert "keytrail: 2 errors; nothing was written" in err


def test_the_validity_bound_comes_from_the_long_lived_key_rule(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = org / "policies" / "keys.yaml"
    data = yaml.safe_load(policy.read_text())
    data["rules"].append({"id": "short-keys", "use": "sprawl.long-lived-key", "with": {"max_validity": "90d"}})
    policy.write_text(yaml.safe_dump(data))
    from keytrail.checks import REGISTRY

    if "sprawl.long-lived-key" not in REGISTRY:
        pytest.skip("the sprawl.long-lived-key check is not in this tree")
    assert main(_issue(org)) == 2
    assert "longer than the 90 days allowed by rule short-keys" in capsys.readouterr().err
    # A key within the bound is accepted.
    args = _issue(org)
    args[args.index("--expires") + 1] = "2026-12-01T00:00:00Z"
    assert main(args) == 0


@pytest.mark.parametrize("args, says", [
    (["rotate", "pk-9", "pk-10"], "no key 'pk-9' in the registry"),
    (["rotate", "pk-1", "pk-2"], "key id 'pk-2' is already in the registry"),
    (["rotate", "pk-1", "pk-1b", "--not-before", "2025-12-01T00:00:00Z"], "before pk-1 does"),
    (["revoke", "pk-9"], "no key 'pk-9' in the registry"),
    (["revoke", "pk-1", "--reason", "\x1b[2J"], "--reason '\\x1b[2J' holds a control"),
])
def test_rotate_and_revoke_refuse_bad_input_and_write_nothing(org: Path, args: list[str], says: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key", *args, "--dir", str(org)]) == 2
    assert says in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML


def test_a_revoked_key_is_neither_revoked_again_nor_rotated(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key", "revoke", "pk-2", "--at", "2026-09-01T00:00:00Z", "--dir", str(org)]) == 0
    after = (org / "keys.yaml").read_text()
    assert main(["key", "revoke", "pk-2", "--dir", str(org)]) == 2
    assert "pk-2 already has revoked_at 2026-09-01T00:00:00Z" in capsys.readouterr().err
    assert main(["key", "rotate", "pk-2", "pk-2b", "--dir", str(org)]) == 2
    assert "issue a new key with `keytrail key issue` instead" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == after


def test_a_symlinked_registry_is_refused(org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(KEYS_YAML)
    (org / "keys.yaml").unlink()
    (org / "keys.yaml").symlink_to(outside)
    assert main(_issue(org)) == 2
    assert "resolves outside the project folder" in capsys.readouterr().err
    assert outside.read_text() == KEYS_YAML
    # A link inside the project is refused too: replacing it would cut the link.
    inside = org / "registry.yaml"
    inside.write_text(KEYS_YAML)
    (org / "keys.yaml").unlink()
    (org / "keys.yaml").symlink_to(inside)
    assert main(_issue(org)) == 2
    assert "is a symbolic link; keytrail edits only a regular file" in capsys.readouterr().err
    assert inside.read_text() == KEYS_YAML


def test_a_hard_linked_registry_is_refused(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.link(org / "keys.yaml", org / "copy.yaml")
    assert main(_issue(org)) == 2
    assert "has 2 hard links" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML


def test_a_layout_the_round_trip_would_change_is_refused(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = KEYS_YAML.replace("    scope: [role:prod-*, group:eng]\n", "    scope: [ role:prod-*,   group:eng ]\n")
    (org / "keys.yaml").write_text(odd)
    assert main(_issue(org)) == 2
    assert "its layout near line 11 cannot be kept by an automatic edit" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == odd


def test_windows_line_endings_are_kept(org: Path) -> None:
    (org / "keys.yaml").write_bytes(KEYS_YAML.replace("\n", "\r\n").encode())
    assert main(_issue(org)) == 0
    data = (org / "keys.yaml").read_bytes()
    assert data.startswith(KEYS_YAML.replace("\n", "\r\n").encode())
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_an_empty_registry_gets_its_first_entry(org: Path) -> None:
    (org / "keys.yaml").write_text("keys: []\n")
    assert main(_issue(org)) == 0
    data = yaml.safe_load((org / "keys.yaml").read_text())
    assert [k["id"] for k in data["keys"]] == ["pk-3"]
    assert main(["lint", str(org), "--as-of", "2026-09-30T12:00:00Z"]) == 0


def test_replaces_must_name_a_key_of_the_registry(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML + "    replaces: pk-0\n")
    assert main(["lint", str(org)]) != 0
    assert "keys.yaml:26:5: keys[1].replaces: replaces 'pk-0': no key of the registry has this id" \
        in capsys.readouterr().out
    (org / "keys.yaml").write_text(KEYS_YAML + "    replaces: pk-1\n")
    assert main(["lint", str(org), "--as-of", "2026-09-30T12:00:00Z"]) == 0


def test_max_validity_is_the_tightest_enabled_long_lived_key_rule() -> None:
    from keytrail.keys.rules import DEFAULT_MAX_VALIDITY, max_validity
    from keytrail.model import Policy, Rule

    def rule(ident: str, bound: str, enabled: bool = True) -> Rule:
        return Rule(ident, "use", "sprawl.long-lived-key", None, {"max_validity": bound}, enabled=enabled)

    day = 86_400_000_000
    policies = [Policy("a", "a.yaml", rules=(rule("wide", "180d"), rule("off", "7d", enabled=False))),
                Policy("b", "b.yaml", rules=(rule("tight", "90d"),))]
    assert max_validity(policies) == (90 * day, "rule tight of b.yaml")
    # As the policy loader leaves it: parsed to microseconds.
    loaded = Rule("tight", "use", "sprawl.long-lived-key", None, {"max_validity": 30 * day})
    assert max_validity([*policies, Policy("c", "c.yaml", rules=(loaded,))]) == (30 * day, "rule tight of c.yaml")
    # Without such a rule (or with it disabled), keytrail's default of a year bounds keys.
    assert max_validity([Policy("a", "a.yaml", rules=(rule("off", "7d", enabled=False),))])[0] \
        == DEFAULT_MAX_VALIDITY == 365 * day


def test_a_byte_order_mark_is_kept(org: Path) -> None:
    (org / "keys.yaml").write_bytes(b"\xef\xbb\xbf" + KEYS_YAML.encode())
    assert main(_issue(org)) == 0
    data = (org / "keys.yaml").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + KEYS_YAML.encode()) and data.count(b"\xef\xbb\xbf") == 1


def test_rotating_a_key_without_owner_asks_for_one(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML.replace("    owner: user:alice\n", ""))
    assert main(["key", "rotate", "pk-1", "pk-1b", "--dir", str(org)]) == 2
    assert "no owner: give --owner (user:NAME)" in capsys.readouterr().err
    assert main(["key", "rotate", "pk-1", "pk-1b", "--owner", "user:carol", "--dir", str(org)]) == 0


def test_a_scope_of_every_target_is_written_with_a_warning(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _issue(org)
    args[args.index("--scope") + 1] = "*"
    assert main(args) == 0
    assert "warning: pk-3 has scope `*`: it may change every role and group" in capsys.readouterr().err
    assert "    scope: ['*', group:eng]\n" in (org / "keys.yaml").read_text()
    assert main([*_issue(org)[:2], "pk-4", *_issue(org)[3:]]) == 0  # a narrow scope: no warning
    assert "warning" not in capsys.readouterr().err
