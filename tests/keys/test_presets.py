"""``keytrail import ... --key-preset NAME``: the real fields that carry a key, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.importers.presets import PRESETS, preset
from keytrail.importers.runner import mapping_from
from tests.conftest import SHARED_DATA

NO_OPTIONS = {f"{n}_{p}": None for n in ("key", "ticket", "reason") for p in ("from", "pattern")}
CLOUDTRAIL = SHARED_DATA / "invictus-ir-aws_dataset" / "CloudTrail"


def test_every_preset_is_documented_on_its_importers_page() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "import"
    pages = {"cloudtrail": "cloudtrail.md", "entra": "entra.md", "okta": "okta.md", "github": "github.md"}
    for name, p in PRESETS.items():
        text = (docs / pages[p.format]).read_text(encoding="utf-8")
        assert f"`{name}`" in text, f"docs/import/{pages[p.format]} does not document --key-preset {name}"
        for source in p.fields.values():
            assert f"`{source.paths[0]}`" in text


def test_the_entra_preset_reads_the_justification_in_either_envelope() -> None:
    mapping = mapping_from(NO_OPTIONS, None, preset("entra-pim", "entra"))
    graph = {"additionalDetails": [{"key": "Justification", "value": "rollout, key=pk-2026-7"},
                                   {"key": "TicketNumber", "value": "CHG-9"}]}
    monitor = {"properties": graph}
    for record in (graph, monitor):
        assert mapping.apply(record, {}) == {"key": "pk-2026-7", "ticket": "CHG-9"}
    # A justification naming no key maps no key (never the whole text).
    assert mapping.apply({"additionalDetails": [{"key": "Justification", "value": "rollout"}]}, {}) == {}


def test_explicit_options_win_over_the_preset() -> None:
    options = dict(NO_OPTIONS, key_pattern=r"detonation_(\w+)")
    mapping = mapping_from(options, None, preset("stratus-red-team", "cloudtrail"))
    assert mapping.key.path == "userAgent" and mapping.key.pattern is not None
    assert mapping.key.pattern.pattern == r"detonation_(\w+)"
    mapping = mapping_from(dict(NO_OPTIONS, key_from="userIdentity.arn"), None, preset("stratus-red-team", "cloudtrail"))
    assert (mapping.key.path, mapping.key.pattern) == ("userIdentity.arn", None)


@pytest.mark.parametrize("args, says", [
    (["--key-preset", "okta-api"], "no such preset (did you mean \"okta-api-token\"?) (for okta: okta-api-token)"),
    (["--key-preset", "github-token"], "a preset for github records, not okta (for okta: okta-api-token)"),
])
def test_a_wrong_preset_is_a_usage_error(tmp_path: Path, args: list[str], says: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "okta", str(tmp_path), "--out", str(tmp_path / "o.jsonl"), *args]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.skipif(not CLOUDTRAIL.is_dir(), reason="the shared CloudTrail sample is absent")
def test_the_stratus_preset_is_the_documented_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "cloudtrail", str(CLOUDTRAIL), "--out", str(tmp_path / "a.jsonl"),
                 "--key-from", "userAgent", "--key-pattern", "stratus-red-team_([0-9a-f-]+)"]) == 0
    assert main(["import", "cloudtrail", str(CLOUDTRAIL), "--out", str(tmp_path / "b.jsonl"),
                 "--key-preset", "stratus-red-team"]) == 0
    assert "keyed 74 of 134 converted changes" in capsys.readouterr().err
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
