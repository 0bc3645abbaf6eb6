"""The engine: run every rule, stamp its findings, apply waivers, sort.

Checks and rule kinds yield bare :class:`~keytrail.model.Finding` objects;
the engine stamps the rule id, check, category and severity (the rule's
override or the check's default), computes the fingerprint, and attaches the
waiver in force, if any. Fingerprints hash the rule, check, subject, target,
resource and the finding's own ``ident`` (an event id, never a count or a
message), so they stay stable across runs and unrelated changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from keytrail import checks, kinds, progress
from keytrail.errors import PolicyError, Problem
from keytrail.lookalike import IdNote, project_notes
from keytrail.model import CATEGORIES, SEVERITY_RANK, Finding, Policy, Reported, Rule, Waiver
from keytrail.selectors import glob_match
from keytrail.view import View

if TYPE_CHECKING:
    from keytrail.project import Project
    from keytrail.spool import Spool

#: The implicit rule that reports expired waivers when no policy names it.
EXPIRED_WAIVER = Rule(id="policy.expired-waiver", kind="use", check="policy.expired-waiver",
                      severity=None, description="Expired waivers no longer waive and are reported.",
                      policy="keytrail")


@dataclass
class Report:
    """The result of one evaluation, from which every output format is rendered."""

    as_of: int
    since: int | None
    rules: list[Rule]
    findings: Sequence[Reported]
    view: View
    notes: list[str] = field(default_factory=list)
    #: Lookalike and mixed-script identifiers (keytrail.lookalike): warnings, never failures.
    id_notes: list[IdNote] = field(default_factory=list)
    #: Fingerprints of a baseline (``--baseline``); None when no baseline was given.
    baseline: frozenset[str] | None = None
    #: Where the findings went when they were not held (``evaluate(spool=True)``); then
    #: ``findings`` is a :class:`~keytrail.spool.Spooled` that only counts them.
    spool: Spool | None = None

    def known(self, item: Reported) -> bool:
        """Whether ``item`` is in the baseline."""
        return self.baseline is not None and item.fingerprint in self.baseline

    def fails_any(self, threshold: str) -> bool:
        """Whether any finding fails the run at ``threshold`` (:meth:`fails`)."""
        if self.spool is not None:
            return self.spool.failing(threshold) > 0
        rank = SEVERITY_RANK[threshold]
        return any(self.fails(f, rank) for f in self.findings)

    def failing(self, threshold: str) -> list[Reported]:
        """Findings that fail the run (:meth:`fails`)."""
        rank = SEVERITY_RANK[threshold]
        return [f for f in self.findings if self.fails(f, rank)]

    def fails(self, item: Reported, rank: int) -> bool:
        """Whether ``item`` fails the run at severity rank ``rank``: unwaived, at or above it,
        not in the baseline."""
        return item.waived is None and SEVERITY_RANK[item.severity] >= rank and not self.known(item)


def implementation(rule: Rule) -> ModuleType:
    """The module that evaluates ``rule``."""
    return checks.get(rule.check) if rule.kind == "use" else kinds.get(rule.kind)


def category_of(rule: Rule) -> str:
    return checks.category(rule.check) if rule.kind == "use" else "policy"


def digester(rule: Rule) -> Callable[[Finding], bytes]:
    """A finding's stable identity for one rule's findings: the SHA-256 of rule, check,
    subject, target, resource and the finding's ident joined by U+001F (the fingerprint is
    ``"sha256:"`` and its hex). The rule's part of the text is encoded once, and each
    finding's hash is of that prefix and its own part."""
    prefix = f"{rule.id}\x1f{rule.check}\x1f".encode()
    sha256 = hashlib.sha256

    def digest_of(finding: Finding) -> bytes:
        ident = finding.ident
        if ident:
            own = "\x1f".join([finding.subject or "", finding.target or "", finding.resource, *ident])
        else:
            own = f"{finding.subject or ''}\x1f{finding.target or ''}\x1f{finding.resource}"
        return sha256(prefix + own.encode("utf-8")).digest()

    return digest_of


def covers(w: Waiver, finding: Finding) -> bool:
    """Whether waiver ``w``'s subject, target and resource globs match ``finding`` (its rule aside)."""
    if w.subject is not None and not glob_match(w.subject, finding.subject or ""):
        return False
    if w.target is not None and not any(glob_match(w.target, t) for t in (finding.target or "", *finding.also)):
        return False
    return w.resource is None or glob_match(w.resource, finding.resource)


def waiver_for(waivers: list[Waiver], rule: Rule, finding: Finding, as_of: int) -> Waiver | None:
    """The first waiver in force that covers ``finding``; expired waivers never waive."""
    for w in waivers:
        if w.rule == rule.id and w.expires > as_of and covers(w, finding):
            return w
    return None


def unused_waivers(report: Report) -> list[Waiver]:
    """Waivers in force that match no finding of their rule, in policy order.

    A misspelt subject (``user:olivia.benett``) waives nothing and says nothing;
    listing it is how the author finds out. Expired waivers are not listed:
    ``policy.expired-waiver`` reports them.
    """
    if not report.view.waivers:
        return []
    if report.spool is not None:
        return report.spool.unused(report)
    by_rule: dict[str, list[Finding]] = {}
    for item in report.findings:
        by_rule.setdefault(item.rule, []).append(item.finding)
    return [w for w in report.view.waivers if w.expires > report.as_of
            and not any(covers(w, f) for f in by_rule.get(w.rule, ()))]


def no_rules(policies: list[Policy]) -> str | None:
    """Why ``policies`` enable no rule, or None when some rule is enabled.

    The implicit ``policy.expired-waiver`` rule does not count: on its own it
    checks the waivers, not the access.
    """
    rules = [r for p in policies for r in p.rules]
    if any(r.enabled for r in rules):
        return None
    if not policies:
        why = "keytrail.yaml names no policies"
    elif not rules:
        why = f"the policies loaded ({', '.join(p.file for p in policies)}) have no rules"
    else:
        why = f"every rule of the policies loaded is disabled (`enabled: false`: {len(rules)} rules)"
    return (f"no rule to evaluate: {why}, so nothing would be checked. Enable the default pack of "
            "built-in checks with `policies: [keytrail:default]` in keytrail.yaml (or add your own "
            "policy files)")


def require_rules(project: Project) -> None:
    """Refuse a project whose policies enable no rule: a run that checks nothing must not pass."""
    why = no_rules(project.policies)
    if why is not None:
        raise PolicyError("no rule to evaluate", [Problem("keytrail.yaml", 0, 0, "", why)])


def active_rules(view: View) -> list[Rule]:
    """The enabled rules of every policy, plus the implicit expired-waiver rule when needed."""
    rules = [r for p in view.policies for r in p.rules if r.enabled]
    if not any(r.check == "policy.expired-waiver" for r in rules):
        rules.append(EXPIRED_WAIVER)
    return rules


def evaluate(view: View, rules: list[Rule] | None = None, *, spool: bool = False,
             baseline: frozenset[str] | None = None) -> Report:
    """Run ``rules`` (default: every enabled rule) and return the sorted report.

    ``spool``: write the findings to a :class:`~keytrail.spool.Spool` in report order as
    each rule finishes, instead of holding them (for a run whose only output is the findings
    JSON; ``baseline`` is then given here, since each finding's line says whether it is
    known). Rules given by hand that share an id under two severities are held as before.
    """
    rules = active_rules(view) if rules is None else rules
    report = Report(view.as_of, view.since, rules, [], view, id_notes=project_notes(view.project),
                    baseline=baseline)
    order = _rule_order(rules) if spool else None
    if order is not None:
        _spool_findings(report, order)
        return report
    # Findings are kept per rule: a fingerprint hashes the rule id, so a duplicate can only
    # come from the same rule, and each rule's set of fingerprints is dropped when it is done
    # (a large organisation has millions of findings: no table of all of them is held).
    by_rule: dict[str, tuple[Rule, list[Reported]]] = {}
    total = 0
    for n, rule in enumerate(rules, 1):
        _, bucket = by_rule.setdefault(rule.id, (rule, []))
        before = len(bucket)
        progress.stage(f"checking rule {n} of {len(rules)} ({rule.id})", unit="findings so far",
                       count=_counter(total - before, bucket))
        bucket.extend(_stamped(view, rule, {item.digest for item in bucket}))
        total += len(bucket) - before
    progress.stage(f"sorting {total:,} findings")
    report.findings = sort_findings(by_rule)
    return report


def _stamped(view: View, rule: Rule, seen: set[bytes]) -> Iterator[Reported]:
    """``rule``'s findings, stamped, fingerprinted and waived, those in ``seen`` left out
    (``seen`` gains every fingerprint yielded)."""
    module = implementation(rule)
    severity = rule.severity or module.SEVERITY
    category = category_of(rule)
    params: Any = dict(rule.params) if rule.kind == "use" else rule.params
    # The rule's waivers, in policy order, found once instead of tested per finding.
    own_waivers = [w for w in view.waivers if w.rule == rule.id]
    digest_of = digester(rule)
    # A policy rule's finding with no event behind it (a conflict of duties, a limit)
    # points at the rule that states the policy.
    rule_location = rule.location if rule.kind != "use" else None
    rule_id, check, controls, as_of = rule.id, rule.check, rule.controls, view.as_of
    remember = seen.add
    for finding in module.check(view, params):
        fp = digest_of(finding)
        if fp in seen:
            continue
        remember(fp)
        if rule_location is not None and finding.location is None:
            finding = replace(finding, location=rule_location)
        yield Reported(rule_id, check, category, severity, finding, fp,
                       waiver_for(own_waivers, rule, finding, as_of) if own_waivers else None, controls)


def _rule_order(rules: list[Rule]) -> list[list[Rule]] | None:
    """The rules grouped by id, the groups in report order (severity, category, id), or
    None when one id has rules of two severities or categories (then only the findings
    themselves can be sorted)."""
    groups: dict[str, list[Rule]] = {}
    stamps: dict[str, set[tuple[str, str]]] = {}
    for rule in rules:
        groups.setdefault(rule.id, []).append(rule)
        stamps.setdefault(rule.id, set()).add((rule.severity or implementation(rule).SEVERITY,
                                               category_of(rule)))
    if any(len(s) > 1 for s in stamps.values()):
        return None

    def rank(rule_id: str) -> tuple[int, int, str]:
        ((severity, category),) = stamps[rule_id]
        return -SEVERITY_RANK[severity], CATEGORIES.index(category), rule_id

    return [groups[rule_id] for rule_id in sorted(groups, key=rank)]


def _spool_findings(report: Report, order: list[list[Rule]]) -> None:
    """Each group of rules run in report order, its findings given to the report's spool."""
    from functools import partial

    from keytrail.report import finding_data
    from keytrail.spool import Spool, Spooled

    view = report.view
    spool = Spool(partial(finding_data, report), report.known)
    report.spool, report.findings = spool, Spooled(spool)
    n, total = 0, len(report.rules)
    for group in order:
        seen: set[bytes] = set()
        in_force = [w for w in view.waivers if w.rule == group[0].id and w.expires > view.as_of]

        def findings(group: list[Rule] = group, seen: set[bytes] = seen) -> Iterator[Reported]:
            nonlocal n
            for rule in group:
                n += 1
                progress.stage(f"checking rule {n} of {total} ({rule.id})", unit="findings so far",
                               count=lambda: spool.taken)
                yield from _stamped(view, rule, seen)

        spool.add_rule(findings(), in_force)


def _counter(base: int, bucket: list[Reported]) -> Callable[[], int]:
    """How many findings so far, read when the progress line is painted."""
    return lambda: base + len(bucket)


def sort_findings(by_rule: dict[str, tuple[Rule, list[Reported]]]) -> list[Reported]:
    """Every rule's findings in report order (:meth:`Reported.sort_key`), sorted a rule at a time.

    Severity, category and rule id are the same for all of one rule's findings, so the
    rules are put in that order and each rule's findings sorted by the rest of the key:
    the same order as sorting everything by the whole key, with one rule's sort keys held
    at a time instead of a key for every finding of the run.
    """
    def rank(item: tuple[Rule, list[Reported]]) -> tuple[int, int, str]:
        rule, bucket = item
        first = bucket[0]
        return -SEVERITY_RANK[first.severity], CATEGORIES.index(first.category), rule.id

    buckets = [item for item in by_rule.values() if item[1]]
    if any(len({(i.severity, i.category) for i in bucket}) > 1 for _, bucket in buckets):
        # One rule id under two severities (rules passed in by hand): sort by the whole key.
        return sorted((i for _, bucket in buckets for i in bucket), key=Reported.sort_key)
    out: list[Reported] = []
    for _, bucket in sorted(buckets, key=rank):
        bucket.sort(key=within_rule)
        out.extend(bucket)
        bucket.clear()
    return out


def within_rule(item: Reported) -> tuple[str, str, str, str, bytes]:
    """The report order of one rule's findings: subject, target, resource, event, digest."""
    f = item.finding
    return (f.subject or "", f.target or "", f.resource, f.event.id if f.event else "", item.digest)
