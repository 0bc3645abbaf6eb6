"""The text format: what ``keytrail check`` prints on a terminal.

Written in Python rather than as a Jinja2 template: text is the default format of
every pre-commit run, and importing and compiling a template engine cost more than
the rest of a small project's check. It renders the same precomputed context the
human templates get (:func:`keytrail.report.context`) and, like them, prints every
value through :func:`~keytrail.textsafe.inline`, so no value can break or start a
line, or carry an escape sequence or a bidi control, whichever field it comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keytrail.textsafe import inline

if TYPE_CHECKING:
    from keytrail.engine import Report

#: How many findings of each category and severity the text format lists by default.
TEXT_LIMIT = 50


def _v(value: Any) -> str:
    """A printed value: a string inert, anything else (counts, line numbers) as text."""
    return inline(value) if isinstance(value, str) else str(value)


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def render(report: Report, fail_on: str = "high", limit: int | None = TEXT_LIMIT) -> str:
    """The text report (``limit`` caps the findings listed per category and severity)."""
    from keytrail.report import context

    return "".join(lines(context(report, fail_on, limit)))


def lines(ctx: dict[str, Any]) -> list[str]:
    """The text report of a :func:`keytrail.report.context`, in pieces."""
    data = ctx["data"]
    s = data["summary"]
    out = [f"keytrail {_v(data['tool']['version'])}: {_v(ctx['project']['name'])} as of {_v(data['as_of'])}"]
    if data["since"]:
        out.append(f", changes since {_v(data['since'])}")
    out.append(f"\n{_v(ctx['snapshot'])}\n")
    out.extend(f"{_v(note)}\n" for note in ctx.get("usage", ()))  # which usage data was read, or left out
    out.append("\n")
    if not data["findings"]:
        out.append("No findings.\n")
    else:
        out.append(f"{_v(s['findings'])} finding{_plural(s['findings'])}")
        if s["by_severity"]:
            out.append(": " + ", ".join(f"{_v(n)} {_v(sev)}" for sev, n in s["by_severity"].items()))
        if s["waived"]:
            out.append(f" ({_v(s['waived'])} waived)")
        if "known" in s:
            out.append(f"; {_v(s['known'])} known from the baseline (marked =)")
        out.append("\n")
        for group in ctx["groups"]:
            out.append(f"\n{_v(group['category'].upper())} ({_v(group['count'])})\n")
            for sev in group["severities"]:
                out.append(f"  {_v(sev['severity'])} ({_v(sev['count'])})\n")
                for f in sev["findings"]:
                    out.extend(_finding(f))
                if sev["more"]:
                    out.append(f"    … and {_v(sev['more'])} more {_v(sev['severity'])} "
                               f"{_v(group['category'])} finding{_plural(sev['more'])} "
                               "(all of them: --format json, or --limit 0)\n")
    if ctx["anomalies"]:
        out.append(f"\nREPLAY NOTES ({len(ctx['anomalies']) + ctx['anomalies_more']})\n")
        out.extend(f"    {_v(a['location'])}: {_v(a['message'])} (event {_v(a['event'])})\n"
                   for a in ctx["anomalies"])
        if ctx["anomalies_more"]:
            out.append(f"    … and {_v(ctx['anomalies_more'])} more\n")
    if ctx["unused_waivers"]:
        out.append(f"\nUNUSED WAIVERS ({len(ctx['unused_waivers'])}): each matched no finding; fix its "
                   "subject or target, or remove it\n")
        out.extend(f"    {_v(w)}\n" for w in ctx["unused_waivers"])
    if ctx["id_notes"]:
        out.append(f"\nIDENTIFIER NOTES ({len(ctx['id_notes'])})\n")
        for n in ctx["id_notes"]:
            where = _v(n["location"] + ": ") if n["location"] else ""
            event = _v(" (event " + n["event"] + ")") if n["event"] else ""
            out.append(f"    {where}{_v(n['message'])}{event}\n")
    out.append("\n")
    if s["failing"]:
        out.append(f"{_v(s['failing'])} finding{_plural(s['failing'])} at or above {_v(ctx['fail_on'])} "
                   "(marked ✗): failing.\n")
    else:
        out.append(f"Nothing at or above {_v(ctx['fail_on'])}: passing.\n")
    return out


def _finding(f: dict[str, Any]) -> list[str]:
    """One listed finding: its mark, rule and message, then where, the chain, the path and the waiver."""
    mark = "✗" if f["fails"] else ("~" if f["waived"] else ("=" if f["known"] else "·"))
    check = f" [{_v(f['check'])}]" if f["rule"] != f["check"] else ""
    out = [f"    {mark} {_v(f['rule'])}{check}: {_v(f['message'])}\n"]
    location = f["location"]
    if location:
        event = f" (event {_v(f['event'])})" if f["event"] else ""
        out.append(f"        at {_v(location['path'])}:{_v(location['line'])}{event}\n")
    if f["chain_line"]:
        out.append(f"        {_v(f['chain_line'])}\n")
    if f["path_line"]:
        out.append(f"        path: {_v(f['path_line'])}\n")
    waived = f["waived"]
    if waived:
        out.append(f"        waived until {_v(waived['expires'])} by {_v(waived['approved_by'])}: "
                   f"{_v(waived['reason'])}\n")
    return out
