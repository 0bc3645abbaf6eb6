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
#: Code (fenced blocks, inline spans): its text is shown, never a link, so it is left alone.
_CODE = re.compile(r"^(`{3,}|~{3,}).*?^\1|`+[^`\n]*`+", re.S | re.M)
#: A link with a scheme, other than to the web or mail: `javascript:`, `file:`, `data:`.
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", re.M)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(os.path.normpath(os.path.abspath(config["docs_dir"])))
    repo = docs.parent
    source = (docs / page.file.src_path).parent
    base = (config.get("repo_url") or "").rstrip("/")
    branch = config.get("extra", {}).get("branch", "main")

    def fix(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if target.lower().startswith(("http://", "https://", "mailto:", "#")):
            return match.group(0)
        if _SCHEME.match(target) or target.startswith("//"):
            # A page may link to the web, to mail, to itself or into the repository: a
            # `javascript:` or `file:` link would run or open something on the reader's side.
            raise PluginError(f"{page.file.src_path}: link to {target!r}: only http(s), mailto and "
                              "repository links are allowed")
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

    def fix_text(text: str) -> str:
        for ref in _REFERENCE.finditer(text):  # `[name]: target` definitions link as well
            target = ref.group(1).strip("<>")
            if _SCHEME.match(target) and not target.lower().startswith(("http://", "https://", "mailto:")):
                raise PluginError(f"{page.file.src_path}: link to {target!r}: only http(s), mailto and "
                                  "repository links are allowed")
        return _LINK.sub(fix, text)

    out, last = [], 0
    for code in _CODE.finditer(markdown):
        out += [fix_text(markdown[last:code.start()]), code.group()]
        last = code.end()
    return "".join(out) + fix_text(markdown[last:])
