"""mkdocs hooks: links from the documentation to repository files outside ``docs/``.

The site is built from ``docs/``; a page may link to a file elsewhere in the repository
(``../examples/acme/README.md``, ``../benchmarks/README.md``). mkdocs cannot resolve those
and would fail a strict build, and silently dropping them would hide a broken one. So each
such link is checked here: the target must exist in the repository (else the build fails,
naming page and link), and the link is rewritten to the file on the repository's web view
when ``repo_url`` is set, or to its path as code otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(os.path.normpath(os.path.abspath(config["docs_dir"])))
    repo = docs.parent
    source = (docs / page.file.src_path).parent
    base = (config.get("repo_url") or "").rstrip("/")
    branch = config.get("extra", {}).get("branch", "main")

    def fix(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if "://" in target or target.startswith(("#", "mailto:")):
            return match.group(0)
        path, _, anchor = target.partition("#")
        # Lexically: a link names a place in the repository, wherever a link on disk points.
        resolved = Path(os.path.normpath(source / path))
        if resolved == docs or docs in resolved.parents:
            return match.group(0)  # inside docs/: mkdocs checks it
        if repo not in resolved.parents or not resolved.exists():
            raise PluginError(f"{page.file.src_path}: link to {target!r}: no such file in the repository")
        rel = resolved.relative_to(repo).as_posix()
        if base:
            return f"[{text}]({base}/blob/{branch}/{rel}{'#' + anchor if anchor else ''})"
        return f"{text} (`{rel}` in the repository)"

    return _LINK.sub(fix, markdown)
