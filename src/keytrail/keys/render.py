"""``keytrail keys`` as text, JSON, Markdown or CSV; a key's or a trace's timeline as text,
JSON or Markdown.

Every value from input is inert: text and Markdown pass it through
:func:`keytrail.textsafe.inline` (and Markdown escaping), CSV through the
formula-safe :func:`keytrail.formats.csv.sheet`, JSON through
:func:`keytrail.textsafe.json_inert`. Analysis happens in
:mod:`~keytrail.keys.summary` and :mod:`~keytrail.keys.timeline`; these only print.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from keytrail import __version__
from keytrail.keys.summary import STATUSES, KeyRow, row_data
from keytrail.keys.timeline import Entry, entry_data, summary, system
from keytrail.model import SEVERITIES, Key
from keytrail.textsafe import inline
from keytrail.timeutil import format_date, format_time

LIST_FORMATS = ("text", "json", "markdown", "csv")
TIMELINE_FORMATS = ("text", "json", "markdown")

CSV_COLUMNS = ("id", "status", "holder", "owner", "purpose", "ticket", "approved_by", "scope",
               "not_before", "expires", "revoked_at", "replaces", "replaced_by", "changes", "actors",
               "targets", "first_use", "last_use", "findings", "checks")


def _json(data: Any) -> str:
    import orjson

    from keytrail.textsafe import json_inert

    return json_inert(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")) + "\n"


def _head(as_of: int, since: int | None) -> dict[str, Any]:
    return {"tool": {"name": "keytrail", "version": __version__}, "as_of": format_time(as_of),
            "since": format_time(since)}


def _validity(key: Key) -> str:
    start = format_date(key.not_before) or "(no start)"
    end = format_date(key.expires) or "no expiry"
    text = f"{start} to {end}"
    if key.revoked_at is not None:
        text += f", revoked {format_time(key.revoked_at)}"
    return text


def _counts(row: KeyRow) -> str:
    if not row.findings:
        return "none"
    by = Counter(item.severity for item in row.findings)
    checks = Counter(item.check for item in row.findings)
    severities = ", ".join(f"{by[s]} {s}" for s in reversed(SEVERITIES) if by[s])
    named = ", ".join(f"{inline(c)}" + (f" x{n}" if n > 1 else "") for c, n in sorted(checks.items()))
    return f"{len(row.findings)} ({severities}): {named}"


def _use(row: KeyRow) -> str:
    u = row.used
    if not u.events:
        return "not used in the window"
    actors = _some(sorted(u.actors)) or "no actor recorded"
    return (f"{u.events} event{'s' if u.events != 1 else ''} by {actors} on {len(u.targets)} "
            f"target{'s' if len(u.targets) != 1 else ''}, first {format_time(u.first)}, "
            f"last {format_time(u.last)}")


#: How many actors a text or Markdown row names before "and N more" (JSON and CSV list all).
SHOWN_ACTORS = 5


def _some(values: list[str]) -> str:
    shown = ", ".join(inline(v) for v in values[:SHOWN_ACTORS])
    return shown + (f" and {len(values) - SHOWN_ACTORS} more" if len(values) > SHOWN_ACTORS else "")


def render_list(rows: list[KeyRow], fmt: str, as_of: int, since: int | None, note: str | None = None) -> str:
    """The key list in ``fmt`` (one of :data:`LIST_FORMATS`)."""
    if fmt == "json":
        data = _head(as_of, since)
        data["summary"] = {"keys": len(rows), "by_status": dict(sorted(Counter(r.status for r in rows).items())),
                           "findings": sum(len(r.findings) for r in rows)}
        if note:
            data["warning"] = note
        data["keys"] = [row_data(r) for r in rows]
        return _json(data)
    if fmt == "csv":
        from keytrail.formats.csv import sheet

        return sheet(CSV_COLUMNS, (_csv_row(r) for r in rows))
    if fmt == "markdown":
        return _markdown_list(rows, as_of, since, note)
    return _text_list(rows, as_of, since, note)


def _window(as_of: int, since: int | None) -> str:
    return f"as of {format_time(as_of)}" + (f", use since {format_time(since)}" if since is not None else "")


def _text_list(rows: list[KeyRow], as_of: int, since: int | None, note: str | None) -> str:
    by = Counter(r.status for r in rows)
    counts = ", ".join(f"{by[s]} {s}" for s in STATUSES if by[s])
    lines = [f"{len(rows)} key{'s' if len(rows) != 1 else ''} {_window(as_of, since)}"
             + (f": {counts}" if counts else " (the registry is empty and the history uses no key)")]
    if note:
        lines.append(f"warning: {note}")
    for r in rows:
        k = r.key
        lines.append("")
        if k is None:
            lines.append(f"{inline(r.id)}  unknown: not in the key registry "
                         "(`keytrail keys suggest` proposes an entry)")
        else:
            owner = f" (owner {inline(k.owner)})" if k.owner and k.owner != k.holder else ""
            lines.append(f"{inline(r.id)}  {r.status}  held by {inline(k.holder)}{owner}")
            lines.append(f"  purpose:  {inline(k.purpose) or '(none)'}")
            lines.append(f"  ticket:   {inline(k.ticket) or '(none)'}; approved by "
                         f"{inline(k.approved_by or '(nobody)')}")
            lines.append(f"  scope:    {', '.join(inline(s) for s in k.scope)}")
            lines.append(f"  valid:    {_validity(k)}")
            if k.replaces or r.replaced_by:
                links = ([f"replaces {inline(k.replaces)}"] if k.replaces else []) + \
                    [f"replaced by {inline(s)}" for s in r.replaced_by]
                lines.append(f"  rotation: {'; '.join(links)}")
        lines.append(f"  used:     {_use(r)}")
        lines.append(f"  findings: {_counts(r)}")
    return "\n".join(lines) + "\n"


def _markdown_list(rows: list[KeyRow], as_of: int, since: int | None, note: str | None) -> str:
    from keytrail.formats.markdown import escape

    out = [f"## Provisioning keys {_window(as_of, since)}", ""]
    if note:
        out += [f"> **Warning:** {escape(note)}", ""]
    out += ["| key | status | holder | owner | purpose | ticket | scope | validity | changes | actors "
            "| targets | first use | last use | findings |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        k = r.key
        cells = [f"`{r.id}`" if _plain(r.id) else escape(r.id), r.status,
                 escape(k.holder) if k else "", escape(k.owner or "") if k else "",
                 escape(k.purpose) if k else "not in the registry", escape(k.ticket) if k else "",
                 escape(", ".join(k.scope)) if k else "", escape(_validity(k)) if k else "",
                 str(r.used.events), escape(_some(sorted(r.used.actors))), str(len(r.used.targets)),
                 format_time(r.used.first) or "", format_time(r.used.last) or "",
                 escape(_counts(r)) if r.findings else "none"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and "`" not in text and "|" not in text


def _csv_row(r: KeyRow) -> dict[str, object]:
    d = row_data(r)
    return {**{c: d.get(c) or "" for c in CSV_COLUMNS},
            "scope": " ".join(d["scope"]), "replaced_by": " ".join(d["replaced_by"]),
            "actors": " ".join(d["actors"]), "targets": len(d["targets"]), "changes": d["changes"],
            "findings": len(r.findings),
            "checks": " ".join(sorted({item.check for item in r.findings}))}


def render_timeline(entries: list[Entry], fmt: str, as_of: int, since: int | None, keys: dict[str, Key],
                    key: str | None = None, trace: str | None = None, key_row: KeyRow | None = None) -> str:
    """The timeline of one key (``key``, with its row) or one trace, in ``fmt``."""
    if fmt == "json":
        data = _head(as_of, since)
        if key is not None:
            data["key"] = row_data(key_row) if key_row is not None else {"id": key, "status": "unknown"}
        if trace is not None:
            data["trace"] = trace
        data["summary"] = summary(entries)
        data["events"] = [entry_data(e, keys) for e in entries]
        return _json(data)
    lines = _timeline_head(entries, as_of, since, key, trace, key_row)
    markdown = fmt == "markdown"
    if markdown:
        from keytrail.formats.markdown import escape

        lines = [f"## {escape(lines[0])}", ""] + [f"- {escape(line.strip())}" for line in lines[1:]] + [""]
        lines += ["| time | event | action | subject | target | actor | key | approver | ticket | system "
                  "| written at | findings |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in entries:
        lines.extend(_markdown_entry(entry) if markdown else _text_entry(entry, keys, trace is not None))
    if not entries:
        lines.append("" if markdown else "")
        lines.append("no event " + (f"was made under {inline(key)}" if key is not None
                                    else f"carries trace id {inline(trace or '')}")
                     + (" in the window" if since is not None else " up to --as-of"))
    return "\n".join(lines) + "\n"


def _timeline_head(entries: list[Entry], as_of: int, since: int | None, key: str | None,
                   trace: str | None, row: KeyRow | None) -> list[str]:
    s = summary(entries)
    title = (f"key {inline(key)}" if key is not None else f"trace {inline(trace or '')}") + f" {_window(as_of, since)}"
    lines = [title]
    k = row.key if row is not None else None
    if key is not None and k is None:
        lines.append("  status:   unknown: not in the key registry")
    elif k is not None and row is not None:
        lines.append(f"  status:   {row.status}")
        lines.append(f"  holder:   {inline(k.holder)}" + (f", owner {inline(k.owner)}" if k.owner else ""))
        lines.append(f"  purpose:  {inline(k.purpose) or '(none)'}")
        lines.append(f"  ticket:   {inline(k.ticket) or '(none)'}, approved by {inline(k.approved_by or '(nobody)')}")
        lines.append(f"  scope:    {', '.join(inline(x) for x in k.scope)}")
        lines.append(f"  valid:    {_validity(k)}")
        if k.replaces:
            lines.append(f"  replaces: {inline(k.replaces)}")
        for succ in row.replaced_by:
            lines.append(f"  replaced by: {inline(succ)}")
        if k.location is not None:
            lines.append(f"  registry: {inline(str(k.location))}")
        key_findings = [item for item in row.findings if item.finding.event is None]
        for item in key_findings:
            lines.append(f"  finding:  [{item.severity}] {inline(item.check)}: {inline(item.finding.message)}")
    if entries:
        systems = ", ".join(f"{inline(n)} {c}" for n, c in s["systems"].items())
        lines.append(f"  events:   {s['events']} from {len(s['files'])} file{'s' if len(s['files']) != 1 else ''} "
                     f"({systems}), {s['first']} to {s['last']}")
        if trace is not None:
            lines.append(f"  keys:     {', '.join(inline(x) for x in s['keys']) or '(none)'}")
        lines.append(f"  actors:   {', '.join(inline(x) for x in s['actors']) or '(none recorded)'}")
    return lines


def _text_entry(entry: Entry, keys: dict[str, Key], show_key: bool) -> list[str]:
    e = entry.event
    what = f"{e.action} {inline(e.target or '')}"
    if e.subject:
        what += f" {'to' if e.action == 'grant' else 'of' if e.action != 'revoke' else 'from'} {inline(e.subject)}"
    if e.resource:
        what += f" on {inline(e.resource)}"
    out = ["", f"{format_time(e.time)}  {inline(e.id)}  {what}"]
    chain = [f"actor {inline(e.actor or '(none)')}"]
    if show_key:
        chain.append(f"key {inline(e.key or '(none)')}")
        k = keys.get(e.key) if e.key else None
        if k is not None:
            chain.append(f"held by {inline(k.holder)}")
    if e.approver:
        chain.append(f"approved by {inline(e.approver)}")
    if e.ticket:
        chain.append(f"ticket {inline(e.ticket)}")
    out.append("    " + ", ".join(chain))
    if e.reason:
        out.append(f"    reason: {inline(e.reason)}")
    record = entry.source.get("id")
    out.append(f"    from {inline(system(entry.source))}"
               + (f" record {inline(str(record))}" if record else "")
               + f", written at {inline(entry.file)}:{e.line}")
    for item in entry.findings:
        out.append(f"    finding: [{item.severity}] {inline(item.check)}: {inline(item.finding.message)}")
    return out


def _markdown_entry(entry: Entry) -> list[str]:
    from keytrail.formats.markdown import escape

    e = entry.event
    target = (e.target or "") + (f" on {e.resource}" if e.resource else "")
    findings = "; ".join(f"{item.severity} {item.check}" for item in entry.findings) or ""
    cells = [format_time(e.time) or "", escape(e.id), e.action, escape(e.subject or ""), escape(target),
             escape(e.actor or ""), escape(e.key or ""), escape(e.approver or ""), escape(e.ticket or ""),
             escape(system(entry.source)), escape(f"{entry.file}:{e.line}"), escape(findings)]
    return ["| " + " | ".join(cells) + " |"]
