"""A small organisation with a commented key registry, for the key commands' tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

NOW = "2026-09-30T12:00:00Z"

DIRECTORY = {
    "principals": [
        {"id": "user:alice", "status": "active"},
        {"id": "user:bob", "status": "active"},
        {"id": "user:carol", "status": "active"},
        {"id": "user:mallory", "status": "terminated", "terminated_at": "2026-05-31T17:00:00Z"},
        {"id": "svc:deployer", "status": "active", "owner": "user:alice"},
    ],
    "roles": [{"id": "role:prod-admin", "owner": "user:carol"}, {"id": "role:prod-read", "owner": "user:carol"}],
    "groups": [{"id": "group:eng", "owner": "user:bob"}],
}

#: Comments, blank lines, a quoted value, a flow list and a section header: all must survive.
KEYS_YAML = """\
# Key registry: changes go through the security board (SEC tickets).

keys:
  # --- Deployments -----------------------------------------------------------
  - id: pk-1
    holder: svc:deployer        # the pipeline
    owner: user:alice
    purpose: "Deploys: production IAM"
    ticket: SEC-1
    approved_by: user:bob
    scope: [role:prod-*, group:eng]
    not_before: 2026-01-01T00:00:00Z
    expires: 2026-12-31T23:59:59Z
    revoked_at: null

  # --- People ----------------------------------------------------------------
  - id: pk-2
    holder: user:carol
    owner: user:carol
    purpose: Break-glass
    ticket: SEC-2
    approved_by: user:bob
    scope: [role:prod-admin]
    not_before: 2026-02-01T00:00:00Z
    expires: 2026-11-30T00:00:00Z
"""

EVENTS = [
    {"id": "ev-1", "time": "2026-03-01T10:00:00Z", "action": "grant", "subject": "user:bob",
     "target": "role:prod-read", "resource": "aws:1", "actor": "svc:deployer", "key": "pk-1",
     "approver": "user:alice", "ticket": "CHG-1", "reason": "on-call",
     "source": {"format": "otlp", "file": "otel.json", "id": "rec-1",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7"}},
    {"id": "ev-2", "time": "2026-04-01T10:00:00Z", "action": "grant", "subject": "user:alice",
     "target": "role:prod-admin", "resource": "aws:1", "actor": "user:mallory", "key": "pk-1",
     "ticket": "CHG-2",
     "source": {"format": "cloudtrail", "file": "ct.json", "id": "ct-9",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}},
    {"id": "ev-3", "time": "2026-05-01T10:00:00Z", "action": "grant", "subject": "user:carol",
     "target": "group:eng", "actor": "svc:ci", "key": "pk-ghost", "ticket": "CHG-3"},
]

POLICY = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "keys"},
          "rules": [{"id": "misuse", "use": "unexplained.key-misuse"},
                    {"id": "unknown-key", "use": "unexplained.unknown-key"}]}


def write_org(root: Path, keys_yaml: str = KEYS_YAML, events: list[dict[str, Any]] | None = None,
              policy: dict[str, Any] | None = POLICY) -> Path:
    """A project folder: directory, the commented registry, one history file, one policy."""
    (root / "history").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "directory.yaml").write_text(yaml.safe_dump(DIRECTORY, sort_keys=False), encoding="utf-8")
    (root / "keys.yaml").write_text(keys_yaml, encoding="utf-8")
    (root / "history" / "h.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in (EVENTS if events is None else events)), encoding="utf-8")
    if policy is not None:
        (root / "policies" / "keys.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    (root / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                        "history: [history/*.jsonl]\npolicies: [policies/]\n", encoding="utf-8")
    return root


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The organisation, with the clock fixed at :data:`NOW`."""
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    return write_org(tmp_path / "org")
