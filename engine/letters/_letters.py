"""Import decision letters (California IMR by MAXIMUS, Texas IRO) as cases in the public format.

The importer reads the text of one letter and keeps only what the letter states. A fact the letter does
not give is left out of the case and named in a TODO for a person to fill in from the records. The
reviewer's own findings ("there is no documentation of objective improvement") are never copied into the
history as facts: they say what the file lacked, not what the records show.

Pure functions: no printing, no files, no network. Standard library and PyYAML only (the request-line
visit shorthand is read by the engine's own parser, engine/core/_visits.py, so both read it the same way).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Iterable, Iterator

import yaml

from ..core._visits import VisitTextError, parse_visits
from ._letter_patterns import *  # noqa: F403  (compiled patterns and word lists; its __all__ names them)

__all__ = ["ImportedCase", "import_letter", "render_case_yaml"]

CASE_FORMAT = "ptcheck/case@1"

# ---------------------------------------------------------------------------------------------
# result


@dataclass
class ImportedCase:
    """One imported letter: the case (public format, documented key order) and what it lacks."""

    case: dict
    todos: list[str] = field(default_factory=list)
    source: str = ""



def import_letter(text: str, *, source: str = "", case_id: str | None = None) -> ImportedCase:
    """Read one IMR (California, MAXIMUS) or IRO (Texas) letter into a case and a list of TODOs.

    ``source`` names the letter (a file name or path) for the rendered header; ``case_id`` is the case
    id to use (e.g. "seed-001"). Without ``case_id`` the id is the slug of the source's file name, or
    "letter-" and a hash of the text when there is no source. Nothing the letter does not state is put in
    the case: each such gap is a TODO naming the case field.
    """
    letter = _read_structure(text)
    todos: list[str] = []
    case: dict = {"format": CASE_FORMAT, "id": case_id or _case_id(text, source)}
    _put(case, "jurisdiction", _jurisdiction(letter, todos))
    case["review"] = _review(letter, todos)
    _put(case, "patient", _patient(letter, todos))
    _put(case, "injury_date", _injury_date(letter, todos))
    _put(case, "diagnoses", _diagnoses(letter, todos))
    requests = _requests(letter, todos)
    _put(case, "requests", requests)
    _put(case, "history", _history(letter, requests or [], todos))
    return ImportedCase(case=case, todos=todos, source=source)


def render_case_yaml(imported: ImportedCase) -> str:
    """YAML text of the case: a header naming the source letter, the TODOs as comments, then the case.

    The text loads with yaml.safe_load to exactly ``imported.case``.
    """
    lines = [
        f"# Imported from letter: {_one_line(imported.source) or '<text>'}",
        "# Check each value against the letter; a TODO names a fact the letter does not give.",
    ]
    lines += [f"# TODO {_one_line(todo)}" for todo in imported.todos]
    body = yaml.dump(imported.case, Dumper=_CaseDumper, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body


class _CaseDumper(yaml.SafeDumper):
    """Block style, except short mappings and lists of plain values on one line, as in the format's docs."""


def _represent_mapping(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data.values()) and len(repr(data)) < 90
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_CaseDumper.add_representer(dict, _represent_mapping)
_CaseDumper.add_representer(list, _represent_list)


# ---------------------------------------------------------------------------------------------
# structure


@dataclass
class _Item:
    text: str
    outcome: str
    redacted: bool = False


@dataclass
class _Letter:
    kind: str | None                 # "imr" | "iro" | None
    flat: str                        # the whole letter, whitespace collapsed
    summary: str                     # the clinical summary (facts about the claim)
    narrative: str                   # summary and rationales: what the records are said to show
    items: list[_Item]


def _read_structure(text: str) -> _Letter:
    flat = _flatten(text)
    if _IMR_MARK.search(text):
        return _read_imr(text, flat)
    if _IRO_MARK.search(text):
        return _read_iro(text, flat)
    return _Letter(None, flat, flat, flat, [])


def _read_imr(text: str, flat: str) -> _Letter:
    m = _IMR_SUMMARY.search(text)
    summary = _flatten(_SUMMARY_PREAMBLE.sub("", m.group("body"))) if m else flat
    issues = _IMR_ISSUES.search(text)
    items, rationales = _imr_items(issues.group("body").splitlines() if issues else [])
    return _Letter("imr", flat, summary, " ".join([summary, *rationales]), items)


def _imr_items(lines: list[str]) -> tuple[list[_Item], list[str]]:
    """Disputed items ("<request>: Upheld") and each item's decision rationale, in letter order."""
    items: list[_Item] = []
    rationales: list[str] = []
    in_rationale = False
    for raw in lines:
        line = raw.strip()
        m = _ITEM_LINE.match(line)
        if m and not _NOT_ITEM.match(line):
            items.append(_Item(_flatten(m.group("text")), _OUTCOMES[m.group("outcome").lower()]))
            rationales.append("")
            in_rationale = False
        elif _RATIONALE_START.match(line) and rationales:
            in_rationale = True
            rationales[-1] = _RATIONALE_START.sub("", line)
        elif in_rationale and line:
            rationales[-1] += " " + line
    return items, [_flatten(r) for r in rationales]


def _read_iro(text: str, flat: str) -> _Letter:
    m = _IRO_SUMMARY.search(text)
    summary = _flatten(m.group("body")) if m else flat
    outcome = _IRO_OUTCOME.search(flat)
    items: list[_Item] = []
    description = _IRO_DESCRIPTION.search(text)
    desc_text = _flatten(description.group("text")) if description else ""
    if outcome:
        item_text, redacted = desc_text, False
        if _REDACTED.match(item_text):
            said = _IRO_OUTCOME_SENTENCE.match(flat[outcome.end():])
            item_text, redacted = (said.group("text").strip() if said else ""), True
        if item_text:
            items.append(_Item(item_text, _OUTCOMES[outcome.group("outcome").lower()], redacted))
    return _Letter("iro", flat, summary, summary, items)


# ---------------------------------------------------------------------------------------------
# top-level fields


def _jurisdiction(letter: _Letter, todos: list[str]) -> str | None:
    if letter.kind == "imr":
        return "CA"
    if letter.kind == "iro":
        return "TX"
    todos.append("jurisdiction: the letter is neither a MAXIMUS IMR nor a Texas IRO decision; give CA or TX")
    return None


def _review(letter: _Letter, todos: list[str]) -> dict:
    review: dict = {"kind": letter.kind or "ur"}
    when = _review_date(letter)
    if when:
        review["date"] = when
    elif letter.kind == "iro":
        todos.append("review.date: the letter does not give the date the notice was sent (redacted or missing)")
    else:
        todos.append("review.date: the letter does not give the date of the utilization review being challenged")
    return review


def _review_date(letter: _Letter) -> date | None:
    if letter.kind == "iro":
        m = _REVIEW_DATE_IRO.search(letter.flat)
        if m and (found := _parse_date(m.group("date"))):
            return found
    for pattern in _REVIEW_DATE_IMR:
        for m in pattern.finditer(letter.flat):
            if found := _parse_date(m.group("date")):
                return found
    return None


def _patient(letter: _Letter, todos: list[str]) -> dict | None:
    m = _AGE_SEX.search(letter.summary) or _AGE_SEX.search(letter.flat)
    patient: dict = {}
    if m:
        patient["age"] = int(m.group("age"))
        if m.group("sex"):
            patient["sex"] = _SEX_WORDS[m.group("sex").lower()]
    if "age" not in patient:
        todos.append("patient.age: the letter does not give the patient's age")
    if "sex" not in patient:
        todos.append("patient.sex: the letter does not give the patient's sex")
    return patient or None


def _injury_date(letter: _Letter, todos: list[str]) -> date | None:
    for pattern in _INJURY_DATE:
        for m in pattern.finditer(letter.summary):
            if found := _parse_date(m.group("date")):
                return found
    todos.append("injury_date: the letter does not give the date of injury")
    return None


def _diagnoses(letter: _Letter, todos: list[str]) -> list[dict] | None:
    out: list[dict] = []
    redacted = False
    for phrase in _diagnosis_phrases(letter.summary):
        redacted |= bool(_REDACTION_TOKEN.search(phrase))
        for part in _split_diagnoses(phrase):
            dx = _diagnosis(part)
            if dx and dx not in out:
                out.append(dx)
    if not out:
        todos.append("diagnoses: the letter names no diagnosis")
    elif redacted:
        todos.append("diagnoses: part of the diagnosis is redacted in the letter (\"X\"); complete the text")
    return out or None


def _diagnosis_phrases(summary: str) -> Iterator[str]:
    for pattern in _DIAGNOSIS:
        for m in pattern.finditer(summary):
            yield m.group("dx")


def _split_diagnoses(phrase: str) -> Iterator[str]:
    """Split a list of diagnoses at commas and semicolons, and at "and" after a diagnosis noun
    ("... without myelopathy and lumbar neuritis"), never inside a procedure ("decompression and fusion")."""
    for part in _DX_LIST.split(phrase):
        start = 0
        for m in _DX_AND.finditer(part):
            left = part[start: m.start()]
            if _DX_HEAD_END.search(left) and len(left.split()) >= 2:
                yield left
                start = m.end()
        yield part[start:]


def _diagnosis(part: str) -> dict | None:
    """One diagnosis: its text without codes or redactions, its ICD codes, and its region when only one."""
    text = _REDACTION_TOKEN.sub(" ", part)
    codes = {key: m.group("code") for key, m in (("icd10", _ICD10.search(text)), ("icd9", _ICD9.search(text))) if m}
    text = _EMPTY_PARENS.sub("", _ICD9.sub("", _ICD10.sub("", text)))
    text = _DX_PREFIX.sub("", _flatten(text).strip(" .,;:()"))
    dx = ({"text": text} if len(text) >= 3 else {}) | codes
    regions = _regions(text)
    if dx and len(regions) == 1:
        dx["region"] = regions[0]
    return dx or None


# ---------------------------------------------------------------------------------------------
# requests


def _requests(letter: _Letter, todos: list[str]) -> list[dict] | None:
    if not letter.items:
        todos.append("requests: the letter does not list the disputed items")
        return None
    return [_request(str(i), item, letter, todos) for i, item in enumerate(letter.items, start=1)]


def _request(rid: str, item: _Item, letter: _Letter, todos: list[str]) -> dict:
    path = f"requests[{int(rid) - 1}]"
    req: dict = {"id": rid, "text": item.text}
    service = _service_of_request(item.text)
    if service:
        req["service"] = service
    else:
        todos.append(f"{path}.service: the letter does not make the kind of service clear ({item.text!r})")
    regions = _regions(item.text)
    if regions:
        req["body_regions"] = regions
    elif service != "medication":
        todos.append(f"{path}.body_regions: the request line names no body region")
    if service in _THERAPY_SERVICES:
        req.update(_visit_fields(item, path, todos))
    elif service == "medication":
        req.update(_medication_fields(item.text, path, todos))
    elif service == "office_visit":
        req.update(_office_visit_fields(item.text, letter, path, todos))
    elif service == "injection":
        req.update(_injection_fields(item.text, path, todos))
    req["actual"] = item.outcome
    return req


def _service_of_request(text: str) -> str | None:
    for service, pattern in _REQUEST_SERVICES:
        if pattern.search(text):
            return service
    if _KNOWN_DRUGS.search(text) or _MEDICATION_HINT.search(text):
        return "medication"
    return None


def _visit_fields(item: _Item, path: str, todos: list[str]) -> dict:
    """visits, frequency_per_week and duration_weeks as the line states them (consistent by construction)."""
    try:
        parsed = parse_visits(item.text)
    except VisitTextError as e:
        todos.append(f"{path}.visits: the request line contradicts itself ({e}); give the number of visits")
        return {}
    fields: dict = {}
    if parsed.visits is not None:
        fields["visits"] = parsed.visits
    if parsed.frequency_per_week is not None:
        fields["frequency_per_week"] = parsed.frequency_per_week
    if parsed.duration_weeks is not None:
        fields["duration_weeks"] = parsed.duration_weeks
    if "visits" not in fields:
        why = " (redacted in the letter)" if item.redacted else ""
        todos.append(f"{path}.visits: the letter does not give the number of visits requested{why}")
    return fields


def _medication_fields(text: str, path: str, todos: list[str]) -> dict:
    m = _MEDICATION_LINE.match(text.strip())
    fields: dict = {}
    if not m:
        todos.append(f"{path}.drug: the request line does not name the drug plainly")
        return fields
    fields["drug"] = m.group("drug")
    if m.group("strength"):
        fields["strength"] = m.group("strength").strip()
    rest = m.group("rest")
    q = _QUANTITY.search(rest)
    if q:
        fields["quantity"] = int(q.group("n") or q.group("q"))
        rest = rest[: q.start()] + rest[q.end():]
    else:
        todos.append(f"{path}.quantity: the request line does not give the quantity")
    sig = _flatten(rest).strip(" ,;")
    if sig:
        fields["sig"] = sig
    return fields


def _office_visit_fields(text: str, letter: _Letter, path: str, todos: list[str]) -> dict:
    fields: dict = {}
    specialty = next((name for name, p in _SPECIALTIES if p.search(text)), None)
    if specialty:
        fields["specialty"] = specialty
    else:
        todos.append(f"{path}.specialty: the request line does not name the specialty")
    visits = [i for i in letter.items if _service_of_request(i.text) == "office_visit"]
    m = _PURPOSE.search(letter.narrative) if len(visits) == 1 else None
    if m:
        fields["purpose"] = _slug(m.group("purpose"), "_")
    else:
        todos.append(f"{path}.purpose: the letter does not say what the visit is for")
    return fields


def _injection_fields(text: str, path: str, todos: list[str]) -> dict:
    if _EPIDURAL.search(text):
        return {"kind": "epidural_steroid"}
    todos.append(f"{path}.kind: the request line does not say which injection")
    return {}


# ---------------------------------------------------------------------------------------------
# history


def _history(letter: _Letter, requests: list[dict], todos: list[str]) -> dict | None:
    sentences = _sentences(letter.narrative)
    history: dict = {}
    _put(history, "therapy", _therapy(sentences, todos))
    _put(history, "surgeries", _surgeries(sentences, todos))
    _put(history, "injections", _injections(sentences, todos))
    _put(history, "medications", _medications(sentences, requests, todos))
    _put(history, "documentation", _documentation(sentences, history, requests, todos))
    return history or None


def _therapy(sentences: list[str], todos: list[str]) -> list[dict] | None:
    courses: dict[str, dict] = {}
    counts: dict[str, set[int]] = {}
    for sentence in sentences:
        for service, n, regions in _prior_counts(sentence):
            course = courses.setdefault(service, {"service": service, "body_regions": []})
            _add_regions(course, regions)
            counts.setdefault(service, set()).add(n)
        for service, regions in _prior_mentions(sentence):
            _add_regions(courses.setdefault(service, {"service": service, "body_regions": []}), regions)
    if not courses:
        todos.append("history.therapy: the letter does not describe prior courses of therapy; add any the "
                     "records show")
        return None
    out = []
    for i, (service, course) in enumerate(courses.items()):
        path = f"history.therapy[{i}]"
        words = service.replace("_", " ")
        if not course["body_regions"]:
            del course["body_regions"]
            todos.append(f"{path}.body_regions: the letter does not say which body region the prior {words} "
                         f"treated")
        found = sorted(counts.get(service, ()))
        if len(found) == 1:
            course["visits_completed"] = found[0]
        elif found:
            todos.append(f"{path}.visits_completed: the letter gives several counts of prior {words} visits "
                         f"({', '.join(map(str, found))})")
        else:
            todos.append(f"{path}.visits_completed: the letter does not give the number of prior {words} visits")
        out.append(course)
    return out


def _prior_counts(sentence: str) -> Iterator[tuple[str, int, list[str]]]:
    """(service, visits completed, regions) for each count of prior visits the sentence states."""
    if _GUIDELINE.search(sentence):
        return
    work = _numbers_as_digits(sentence)
    used: list[range] = []
    for pattern in _PRIOR_COUNTS:
        for m in pattern.finditer(work):
            if any(m.start("n") in r for r in used) or not _count_is_done(work, m):
                continue
            used.append(range(m.start(), m.end()))
            svc_word = m.groupdict().get("svc1") or m.groupdict().get("svc2")
            service = _history_service(svc_word) if svc_word else _first_service(sentence)
            if service:
                yield service, int(m.group("n")), _regions_near(work, m)


def _count_is_done(work: str, m: re.Match[str]) -> bool:
    """Not visits left, requested or authorized, and not a bound ("more than 12")."""
    before = work[max(0, m.start() - 30): m.start("n")]
    return not (_COUNT_NOT_DONE.match(work[m.end():]) or _COUNT_INEXACT.search(before)
                or _COUNT_REQUESTED.search(before))


def _prior_mentions(sentence: str) -> Iterator[tuple[str, list[str]]]:
    """(service, regions) for each prior course of therapy the sentence states without a number."""
    if _GUIDELINE.search(sentence) or _NEGATION.search(sentence):
        return
    for pattern in _PRIOR_MENTIONS:
        for m in pattern.finditer(sentence):
            service = _history_service(m.group("svc"))
            if service:
                yield service, _regions_near(sentence, m, group="svc")


def _regions_near(sentence: str, m: re.Match[str], group: str | None = None) -> list[str]:
    """Regions named in the match itself, just after it ("for the lumbar spine"), or as 'treated for the ...'."""
    span = m.group(group) if group else m.group(0)
    after = _AFTER_SERVICE.match(sentence[m.end(group) if group else m.end():])
    treated = _TREATED_FOR.search(sentence)
    words = " ".join([span, after.group("what") if after else "", treated.group("what") if treated else ""])
    return _regions(words)


def _history_service(word: str) -> str | None:
    return next((name for name, p in _SERVICE_OF if p.match(word.strip())), None)


def _first_service(sentence: str) -> str | None:
    m = _ANY_SERVICE.search(sentence)
    return _history_service(m.group(0)) if m else None


def _surgeries(sentences: list[str], todos: list[str]) -> list[dict] | None:
    found: list[dict] = []
    for sentence in sentences:
        if _GUIDELINE.search(sentence):
            continue
        for m in _PROCEDURE.finditer(sentence):
            if _NEGATION.search(_clause_before(sentence, m.start())) or \
                    _PROCEDURE_GUARD.search(_clause_before(sentence, m.start())):
                continue
            surgery = _surgery(m.group("proc"), sentence[m.end():])
            _merge_surgery(found, surgery)
    for i, surgery in enumerate(found):
        if "kind" not in surgery:
            todos.append(f"history.surgeries[{i}].kind: give the kind of {surgery['procedure']!r}")
        if "date" not in surgery:
            todos.append(f"history.surgeries[{i}].date: the letter does not give the date of the "
                         f"{surgery['procedure']}")
    return found or None


def _surgery(procedure: str, after: str) -> dict:
    surgery: dict = {"procedure": procedure.strip()}
    kind = next((name for name, p in _SURGERY_KINDS if p.search(procedure)), None)
    if kind:
        surgery["kind"] = kind
    regions = _regions(procedure)
    if len(regions) == 1:
        surgery["region"] = regions[0]
    d = _DATE_AFTER.match(after)
    if d and (when := _parse_date(d.group("date"))):
        surgery["date"] = when
    return surgery


def _merge_surgery(found: list[dict], surgery: dict) -> None:
    for known in found:
        a, b = known["procedure"].lower(), surgery["procedure"].lower()
        same = a in b or b in a or ("kind" in known and known.get("kind") == surgery.get("kind")
                                    and known.get("region") == surgery.get("region"))
        if same and _compatible(known, surgery, "date"):
            for key, value in surgery.items():
                known.setdefault(key, value)
            return
    found.append(surgery)


def _injections(sentences: list[str], todos: list[str]) -> list[dict] | None:
    found: list[dict] = []
    vague_relief = False
    for sentence in sentences:
        if _GUIDELINE.search(sentence):
            continue
        for m in _ESI.finditer(sentence):
            before = _clause_before(sentence, m.start())
            if _ESI_PLANNED.search(m.group("pre")) or _ESI_GUARD.search(before):
                continue
            injection = _injection(m, sentence)
            vague_relief |= bool(_VAGUE_RELIEF.search(sentence[m.end():]))
            _merge_injection(found, injection)
    for i, injection in enumerate(found):
        if "region" not in injection:
            todos.append(f"history.injections[{i}].region: the letter does not say where the injection was given")
        if "pain_relief_percent" not in injection:
            said = " (it says only \"good pain relief\")" if vague_relief else ""
            todos.append(f"history.injections[{i}].pain_relief_percent: the letter does not give the percent of "
                         f"pain relief{said}")
        if "date" not in injection:
            todos.append(f"history.injections[{i}].date: the letter does not give the date of the injection")
    return found or None


def _injection(m: re.Match[str], sentence: str) -> dict:
    injection: dict = {"kind": "epidural_steroid"}
    after = sentence[m.end():]
    regions = _regions(m.group("pre")) or _regions(after[:25])
    if len(regions) == 1:
        injection["region"] = regions[0]
    d = _DATE_AFTER.match(after)
    if d and (when := _parse_date(d.group("date"))):
        injection["date"] = when
    relief = _RELIEF.search(after[:120])
    if relief and not _AT_LEAST.search(after[: relief.start()]):
        injection["pain_relief_percent"] = int(relief.group("pct"))
        weeks = _RELIEF_WEEKS.search(after[relief.end(): relief.end() + 30])
        if weeks:
            injection["relief_weeks"] = int(weeks.group("weeks"))
    return injection


def _merge_injection(found: list[dict], injection: dict) -> None:
    for known in found:
        if _compatible(known, injection, "region") and _compatible(known, injection, "date"):
            for key, value in injection.items():
                known.setdefault(key, value)
            return
    found.append(injection)


def _compatible(a: dict, b: dict, key: str) -> bool:
    return a.get(key) is None or b.get(key) is None or a[key] == b[key]


def _medications(sentences: list[str], requests: list[dict], todos: list[str]) -> list[dict] | None:
    names: list[str] = []
    reviewer_said: list[str] = []
    for sentence in sentences:
        cue = _MEDICATION_CUE.search(sentence)
        if not cue:
            continue
        drugs = [m.group(0) for m in _KNOWN_DRUGS.finditer(sentence, cue.start())]
        if _NEGATION.search(sentence) or _GUIDELINE.search(sentence):
            reviewer_said += drugs
            continue
        names += [d for d in drugs if d.lower() not in {n.lower() for n in names}]
    for req in requests:
        drug = req.get("drug")
        if req.get("service") == "medication" and drug and drug.lower() not in {n.lower() for n in names}:
            said = " (only the reviewer's finding)" if drug.lower() in {d.lower() for d in reviewer_said} else ""
            todos.append(f"history.medications: the letter does not say whether the patient already takes "
                         f"{drug}{said}")
    return [{"name": n} for n in names] or None


def _documentation(sentences: list[str], history: dict, requests: list[dict], todos: list[str]) -> dict | None:
    doc: dict = {}
    for rule in _DOC_RULES:
        value, finding = _doc_value(rule, sentences)
        if value is not None:
            doc[rule.field] = value
        elif finding:
            todos.append(f"history.documentation.{rule.field}: the letter does not state what the records show; "
                         f"it says \"{finding}\"")
        elif _doc_relevant(rule.field, history, requests):
            todos.append(f"history.documentation.{rule.field}: the letter does not say")
    return doc or None


def _doc_value(rule: _DocRule, sentences: list[str]) -> tuple[bool | None, str | None]:
    """(value the records are said to show, or None; the reviewer's sentence on the topic, if any).

    Sentences that quote a guideline never give a value. The reviewer's sentence is the first one on the
    topic that is not guideline text, else the first guideline sentence that speaks of this file
    ("there is no documentation of ...").
    """
    findings: list[tuple[bool, str]] = []
    for sentence in sentences:
        quoting = bool(_GUIDELINE.search(sentence))
        if not quoting:
            for pattern in rule.true:
                m = pattern.search(sentence)
                if m and not _NEGATION.search(sentence[: m.start()] + " " + sentence[m.end():]):
                    return True, None
            if any(p.search(sentence) for p in rule.false) and not _REVIEWER.search(sentence):
                return False, None
        topic = rule.topic.search(sentence)
        if topic and (not quoting or _THIS_FILE.search(sentence)):
            findings.append((quoting, _snippet(sentence, topic)))
    return None, (min(findings, key=lambda f: f[0])[1] if findings else None)


def _doc_relevant(name: str, history: dict, requests: list[dict]) -> bool:
    if name == "functional_improvement":
        return bool(history.get("therapy"))
    if name == "equipment_described":
        return any(r.get("service") in {"home_exercise_kit", "durable_medical_equipment"} for r in requests)
    return False


# ---------------------------------------------------------------------------------------------
# small helpers


def _put(target: dict, key: str, value: object) -> None:
    if value is not None:
        target[key] = value


def _flatten(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip()]


def _clause_before(sentence: str, end: int) -> str:
    """The text of the sentence from the last clause break ("," ";" "(") up to ``end``."""
    head = sentence[:end]
    cut = max(head.rfind(","), head.rfind(";"), head.rfind("("))
    return head[cut + 1:]


def _regions(text: str) -> list[str]:
    return [name for name, pattern in _REGIONS if pattern.search(text)]


def _add_regions(course: dict, regions: Iterable[str]) -> None:
    order = [name for name, _ in _REGIONS]
    merged = set(course["body_regions"]) | set(regions)
    course["body_regions"] = [r for r in order if r in merged]


def _numbers_as_digits(text: str) -> str:
    """'twelve (12) sessions' -> '12 sessions'; 'six visits' -> '6 visits' (for counting only)."""
    text = _N_WORD_WITH_DIGITS.sub(lambda m: m.group(1), text)
    return _N_WORD.sub(lambda m: str(_N_WORDS[m.group(1).lower()]), text)


def _parse_date(text: str) -> date | None:
    """A date from "07/24/14", "6/29/00", "07/15/2011" or "March 9, 2015"; None when it is not a date."""
    try:
        if m := _NUMERIC_DATE.fullmatch(text.strip()):
            month, day, year = (int(g) for g in m.groups())
            if len(m.group(3)) == 2:
                year += 2000 if year < 50 else 1900
            return date(year, month, day)
        if (m := _WORD_DATE.fullmatch(text.strip())) and m.group(1).lower() in _MONTHS:
            return date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    except ValueError:
        return None
    return None


def _case_id(text: str, source: str) -> str:
    if source:
        slug = _slug(PurePath(source).stem, "-")
        if slug:
            return slug
    return "letter-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _slug(text: str, sep: str) -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)


def _snippet(sentence: str, around: re.Match[str], width: int = 110) -> str:
    """The sentence, or ``width`` characters of it centred on the words that matched."""
    if len(sentence) > width:
        start = max(0, min(around.start() - width // 2, len(sentence) - width))
        cut = sentence[start: start + width].strip()
        sentence = ("..." if start else "") + cut + ("..." if start + width < len(sentence) else "")
    return sentence.replace('"', "'")


def _one_line(text: str) -> str:
    """Text fit for one YAML comment line: no line breaks, no characters YAML refuses."""
    return _flatten("".join(ch if ch.isprintable() else " " for ch in text))
