"""A decision as stable JSON, and as rich renderables for the terminal (the CLI prints them)."""
from __future__ import annotations

import json

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._decide import CaseDecision, ItemDecision

_STYLE = {"certify": "bold green", "modify": "bold yellow", "non_certify": "bold red", "pend": "bold blue"}
_EFFECT_STYLE = {"certify": "green", "limit": "yellow", "non_certify": "red", "pend": "blue",
                 "derive": "dim", "note": "cyan"}


def decision_dict(d: CaseDecision) -> dict:
    return d.model_dump(mode="json")


def to_json(d: CaseDecision, *, indent: int | None = 2) -> str:
    """Byte-identical for the same case and the same rule versions (no clocks, no hashing order)."""
    return json.dumps(decision_dict(d), indent=indent, ensure_ascii=False)


def agrees(item: ItemDecision) -> bool | None:
    """Does the prediction match the item's actual outcome? None when there is no actual outcome."""
    if item.actual is None:
        return None
    if item.actual in ("upheld", "overturned", "partially_overturned"):
        return item.review_outcome == item.actual or (
            item.review_outcome is None and _REVIEW.get(item.outcome) == item.actual)
    return item.outcome == item.actual


_REVIEW = {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "partially_overturned"}


def render_case(d: CaseDecision, *, show_derive: bool = True, show_facts: bool = False) -> Group:
    head = Text.assemble((f"Case {d.case}", "bold"),
                         f"  {d.jurisdiction} {d.review_kind.upper()} review",
                         f" of {d.review_date}" if d.review_date else " (no review date)")
    parts: list[Text | Panel] = [head]
    if d.rulesets:
        parts.append(Text("rule sets: " + ", ".join(f"{r.id}@{r.version} ({r.sha256[:10]})" for r in d.rulesets),
                          style="dim"))
    for n in d.notes:
        parts.append(Text(f"note: {n}", style="cyan"))
    for item in d.items:
        parts.append(render_item(item, show_derive=show_derive, show_facts=show_facts))
    return Group(*parts)


def render_item(item: ItemDecision, *, show_derive: bool = True, show_facts: bool = False) -> Panel:
    outcome = item.outcome.replace("_", "-").upper()
    if item.outcome == "modify":
        outcome += f" to {item.certified_visits} visits"
    title = Text.assemble((outcome, _STYLE[item.outcome]))
    if item.review_outcome:
        title.append(f"   predicted review: {item.review_outcome.replace('_', ' ')}")
        if item.outcome == "modify" and item.review_outcome == "upheld":
            title.append(" (an IMR answers the request as made: part of it is not necessary)", style="dim")
    ok = agrees(item)
    if ok is not None:
        title.append(f"   actual: {(item.actual or '').replace('_', ' ')} ", style="dim")
        title.append("agrees" if ok else "DISAGREES", style="green" if ok else "bold red")
    table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    table.add_column("effect", no_wrap=True)
    table.add_column("rule and reason", ratio=3, overflow="fold")     # long ids fold, never cut with "…"
    table.add_column("citation", ratio=2, overflow="fold")
    # A pend beside a decided answer is an open question the answer does not turn on (a decisive finding
    # outranks it): listed last, marked, and said so below the table.
    open_questions = [f for f in item.findings if f.effect == "pend"] if item.outcome != "pend" else []
    for f in [f for f in item.findings if f not in open_questions] + open_questions:
        if f.effect == "derive" and not show_derive:
            continue
        eff = f.effect + (f" {f.limit}" if f.effect == "limit" else "") + ("*" if f in open_questions else "")
        table.add_row(Text(eff, style="dim" if f in open_questions else _EFFECT_STYLE.get(f.effect, "")),
                      Text.assemble((f.rule, "bold"), f" ({f.ruleset}@{f.version})\n", f.message),
                      Text(f.citation, style="dim"))
    body: list[Text | Table] = [Text(f"{item.request}: {item.text or item.service}", style="bold"), table]
    if open_questions:
        body.append(Text(f"* an open question that does not change this answer: the {item.outcome.replace('_', '-')} "
                         "stands whatever it turns out to be", style="dim"))
    if item.missing:
        body.append(Text("Documentation the answer waits for:" if item.outcome == "pend"
                         else "Documentation that would change the answer:", style="bold"))
        body += [Text(f"  - {m}", overflow="fold") for m in item.missing]
    if show_facts and item.facts:
        body += [Text(f"  fact: {n}", style="dim", overflow="fold") for n in item.facts]
    else:      # a diagnosis read from its words (not a code) is a reading the reviewer should see
        body += [Text(f"  read: {n}", style="dim", overflow="fold") for n in item.facts
                 if n.startswith("diagnosis ") and " (text '" in n]
    return Panel(Group(*body), title=title, title_align="left")
