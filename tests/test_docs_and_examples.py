"""The shipped documentation, default pack and example organisation say what the code does."""

from __future__ import annotations

import json

import pytest

from keytrail import checks, kinds
from keytrail.catalogue import catalogue_markdown
from keytrail.cli import main
from keytrail.yamlload import load_yaml
from tests.conftest import AS_OF, REPO

ACME = REPO / "examples" / "acme"


def test_docs_checks_md_is_generated_from_the_code() -> None:
    """docs/checks.md must be regenerated (`keytrail checks --format markdown`) when a check changes."""
    assert (REPO / "docs" / "checks.md").read_text(encoding="utf-8") == catalogue_markdown()


def test_policies_default_is_the_packaged_pack() -> None:
    packaged = REPO / "src" / "keytrail" / "packs" / "default.yaml"
    assert (REPO / "policies" / "default.yaml").read_bytes() == packaged.read_bytes()


def test_default_pack_enables_every_built_in_check() -> None:
    data, _ = load_yaml((REPO / "policies" / "default.yaml").read_text(), "default.yaml")
    used = {rule["use"] for rule in data["rules"]}
    assert used == set(checks.REGISTRY)
    assert all(rule.get("description") for rule in data["rules"])


def test_default_pack_loads_from_a_project(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project()
    config = (root / "keytrail.yaml").read_text().replace("- policies/", "- keytrail:default")
    (root / "keytrail.yaml").write_text(config)
    assert main(["check", str(root), "--as-of", AS_OF]) == 0


def _acme_findings(capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["check", str(ACME), "--as-of", AS_OF, "--format", "json"])
    assert code == 1
    return json.loads(capsys.readouterr().out)


def test_every_check_and_rule_kind_fires_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/acme is the tour: each built-in check and each rule kind fires at least once."""
    report = _acme_findings(capsys)
    fired = {f["check"] for f in report["findings"]}
    expected = set(checks.REGISTRY) | {kinds.get(k).CHECK for k in kinds.REGISTRY}
    assert expected - fired == set()
    assert any(f["waived"] for f in report["findings"])


def test_example_findings_are_the_ones_its_readme_walks_through(capsys: pytest.CaptureFixture[str]) -> None:
    report = _acme_findings(capsys)
    pairs = {(f["check"], f["subject"], f["target"]) for f in report["findings"]}
    for expected in [
        ("orphaned.inactive-principal", "user:dmitri.volkov", "group:payments-eng"),
        ("sprawl.privilege-creep", "user:sofia.marino", "group:payments-approvers"),
        ("unexplained.key-misuse", "group:sre", "role:prod-readonly"),
        ("unexplained.self-grant", "user:omar.farouk", "role:prod-admin"),
        ("unexplained.drift-extra", "user:elena.popescu", "role:prod-admin"),
        ("forbid", "user:kenji.mori", "role:prod-admin"),
    ]:
        assert expected in pairs
    # The key hygiene checks, each on the key the README tells the story of.
    keyed = {(f["check"], f["subject"], f["key"]) for f in report["findings"]}
    for expected in [
        ("orphaned.key-holder-inactive", "user:dmitri.volkov", "pk-2026-0006"),
        ("orphaned.key-without-owner", "svc:ci-deployer", "pk-2026-0021"),
        ("unexplained.self-approved-key", "user:raj.patel", "pk-2026-0016"),
        ("unexplained.shared-key", "svc:terraform", "pk-2026-0014"),
        ("sprawl.unused-key", "svc:okta-sync", "pk-2025-0002"),
        ("sprawl.long-lived-key", "svc:ci-deployer", "pk-2026-0021"),
        ("sprawl.overbroad-key", "svc:ci-deployer", "pk-2026-0021"),
        ("sprawl.duplicate-key", "svc:access-bot", "pk-2026-0008"),
    ]:
        assert expected in keyed
    readme = (ACME / "README.md").read_text(encoding="utf-8")
    for check_id in checks.REGISTRY:
        assert check_id in readme, f"examples/acme/README.md does not walk through {check_id}"


def test_example_output_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        main(["check", str(ACME), "--as-of", AS_OF])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "51 findings" in outputs[0]


def test_readme_names_every_check_format() -> None:
    """The README's `--format` list once omitted html and github: it must name every format."""
    from keytrail.render import FORMATS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    options = readme[readme.index("- `--format FORMAT`"):readme.index("- `--output FILE`")]
    missing = [fmt for fmt in FORMATS if f"`{fmt}`" not in options]
    assert not missing, f"README.md's --format list omits {missing}"
    assert "github" in FORMATS and "html" in FORMATS  # the list compared against is the real one


def test_readme_commands_are_real() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[test]'" in readme
    assert "keytrail check examples/acme --as-of 2026-09-30T23:59:59Z" in readme
    assert "python -m pytest" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci


def test_the_package_declares_its_licence_as_an_spdx_expression() -> None:
    """A licence table (`license = {text = ...}`) stops building with setuptools after
    2027-02-18: the installed metadata must carry the SPDX expression and the licence file."""
    import importlib.metadata

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in text and 'license-files = ["LICENSE"]' in text
    assert "license = {" not in text
    assert (REPO / "LICENSE").is_file()
    meta = importlib.metadata.metadata("keytrail")
    assert meta.get("License-Expression") == "Apache-2.0"
    assert any(name.endswith("LICENSE") for name in meta.get_all("License-File") or [])
