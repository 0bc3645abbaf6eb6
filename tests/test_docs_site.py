"""The documentation site: `mkdocs build --strict` over docs/, and the generated CLI reference."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

mkdocs = pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site),
                           "--config-file", str(root / "mkdocs.yml")],
                          capture_output=True, text=True, check=False, cwd=root)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("mkdocs.yml", "mkdocs_hooks.py"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "docs", root / "docs")
    for name in ("examples", "benchmarks", "reports"):  # what docs/ links to outside itself
        (root / name).symlink_to(REPO / name)
    return root


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = _build(REPO, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    site = tmp_path / "site"
    for page in ("index.html", "cli/index.html", "checks/index.html", "security/index.html",
                 "import/cloudtrail/index.html"):
        assert (site / page).is_file(), page
    # a link out of docs/ becomes the file's repository path, not a dead link
    assert "examples/acme/README.md</code> in the repository" in (site / "index.html").read_text()


@pytest.mark.parametrize(("link", "named"), [("gone.md", "gone.md"),
                                             ("formats.md#no-such-section", "no-such-section")])
def test_a_broken_link_or_anchor_inside_the_docs_fails_the_build(tmp_path: Path, link: str,
                                                                  named: str) -> None:
    root = _copy(tmp_path)
    assert _build(root, tmp_path / "ok").returncode == 0  # near miss: the copy itself builds
    page = root / "docs" / "lint.md"
    page.write_text(page.read_text() + f"\nSee [there]({link}).\n")
    done = _build(root, tmp_path / "site")
    assert done.returncode != 0 and named in done.stderr


def test_a_broken_link_out_of_the_docs_fails_the_build(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    page = root / "docs" / "lint.md"
    page.write_text(page.read_text() + "\nSee [the example](../examples/nowhere/README.md).\n")
    done = _build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "lint.md: link to '../examples/nowhere/README.md': no such file in the repository" in done.stderr


def test_docs_cli_md_is_generated_from_the_parser() -> None:
    """docs/cli.md must be regenerated (`python -m keytrail.authoring.clidoc > docs/cli.md`)
    when a command or option changes."""
    from keytrail.authoring.clidoc import reference
    from keytrail.cli import build_parser

    text = reference()
    assert (REPO / "docs" / "cli.md").read_text(encoding="utf-8") == text
    for action in build_parser()._subparsers._group_actions:  # type: ignore[union-attr]
        for name in action.choices:  # type: ignore[union-attr]
            assert f"## `keytrail {name}`" in text
    assert "## `keytrail review status`" in text and "`--compare-policies` `REF`" in text


@pytest.mark.parametrize("link", ["[run](javascript:alert(1))", "[open](file:///etc/passwd)",
                                  "[x](data:text/html,hi)", "[x](//evil.example/a)",
                                  "[x][r]\n\n[r]: javascript:alert(1)"])
def test_a_link_that_is_neither_web_mail_nor_repository_fails_the_build(tmp_path: Path, link: str) -> None:
    root = _copy(tmp_path)
    page = root / "docs" / "lint.md"
    page.write_text(page.read_text() + f"\nSee {link}\n")
    done = _build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "lint.md: link to " in done.stderr and "only http(s), mailto and repository links" in done.stderr


def test_links_shown_as_code_are_text_and_web_links_stay(tmp_path: Path) -> None:
    # Near miss: a `javascript:` link inside code is an example, not a link; https and mailto pass.
    root = _copy(tmp_path)
    page = root / "docs" / "lint.md"
    page.write_text(page.read_text() + "\nNever `[x](javascript:…)` nor\n\n```\n[y](file:///etc/passwd)\n```\n\n"
                    "See [the site](https://example.org/) or [mail](mailto:security@example.org).\n")
    done = _build(root, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "lint" / "index.html").read_text()
    assert "[x](javascript:…)" in html and 'href="javascript' not in html
