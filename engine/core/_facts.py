"""Facts: what the rules reason about, derived from a case for one requested item.

Every fact has a type. Values are normalised before they reach durable_rules (no mixed types):
  int / num  numbers; a number the records do not give is left out (rules see it as `unknown`)
  str        lower-case words; left out when not known
  tri        'true' | 'false' | 'unknown' (documentation the records may not address)
  list       list of words (a sentinel item is added at assert time; see _expr.LIST_SENTINEL)
  date       day number (days since 1970-01-01); date literals in rules are written 'YYYY-MM-DD'
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from . import _documentation, _dx
from ._cases import Case, Request

EPOCH = dt.date(1970, 1, 1)

# name -> (type, meaning). This table is the vocabulary of rule conditions; lint checks against it.
FACTS: dict[str, tuple[str, str]] = {
    "jurisdiction": ("str", "CA or TX, lower-case ('ca', 'tx')"),
    "review_kind": ("str", "ur, imr or iro"),
    "review_date": ("date", "date of the request or UR decision"),
    "service": ("str", "requested service, e.g. physical_therapy"),
    "regions": ("list", "body regions of the request"),
    "request_visits": ("int", "visits requested (from visits, frequency x weeks, or the request text)"),
    "request_frequency": ("int", "visits per week requested"),
    "request_weeks": ("int", "weeks requested"),
    "completed_visits": ("int", "visits completed in prior courses of the same kind of therapy for an "
                                "overlapping region; unknown if any such course has no count"),
    "total_visits": ("int", "completed_visits + request_visits (unknown if either is)"),
    "service_visits_per_injury": ("int", "visits of this same service completed for this injury, any region "
                                         "(Labor Code 4604.5 counts per service)"),
    "service_visits_outside_postsurgical": ("int", "service_visits_per_injury less the visits of courses in a "
                                                   "postsurgical period (dated on or after a surgery on their "
                                                   "region and within POSTSURGICAL_MONTHS of it): the visits "
                                                   "Labor Code 4604.5's cap counts"),
    "visits_since_surgery": ("int", "visits of the same kind of therapy for an overlapping region in courses "
                                    "that ended on or after the date of the most recent such surgery"),
    "postsurgical_total_visits": ("int", "visits_since_surgery + request_visits"),
    "prior_therapy": ("tri", "a prior course of the same kind of therapy for an overlapping region is "
                             "documented (unknown when the history does not address therapy); a course "
                             "recorded with 0 visits is no prior care"),
    "prior_courses": ("int", "number of such prior courses"),
    "prior_pt_trial": ("tri", "for work conditioning / hardening: a prior course of physical, occupational or "
                              "aquatic therapy for an overlapping region is documented (unknown when the "
                              "history does not address prior therapy)"),
    "request_hours": ("int", "hours requested (work conditioning / hardening: '80 hours')"),
    "dx_categories": ("list", "guideline diagnosis categories of the diagnoses for the request's regions"),
    "dx_groups": ("list", "coarser diagnosis groups (myalgia, radicular, crps, disc, sprain_strain, ...)"),
    "dx_count": ("int", "diagnoses that apply to the request's regions"),
    "dx_unmapped_count": ("int", "applicable diagnoses that map to no guideline category"),
    "surgery": ("tri", "a surgery on an overlapping region is documented on or before the review date"),
    "surgery_kind": ("str", "kind of the most recent such surgery (e.g. discectomy_laminectomy)"),
    "surgery_region": ("str", "region of that surgery"),
    "surgery_date": ("date", "date of that surgery"),
    "days_since_surgery": ("int", "days from that surgery to the review date"),
    "weeks_since_surgery": ("int", "whole weeks from that surgery to the review date"),
    "months_since_surgery": ("num", "months (days / 30.44) from that surgery to the review date"),
    "injury_date": ("date", "date of injury"),
    "months_since_injury": ("num", "months (days / 30.44) from the injury to the review date"),
    "age": ("int", "patient age"),
    "sex": ("str", "patient sex"),
    "drug": ("str", "requested drug, generic name, lower-case (Soma -> carisoprodol)"),
    "drug_quantity": ("int", "quantity requested"),
    "drug_in_use": ("tri", "the records show the patient already taking the requested drug"),
    "purpose": ("str", "purpose of an office visit, e.g. repeat_epidural_steroid_injection"),
    "specialty": ("str", "specialty of an office visit"),
    "injection_kind": ("str", "kind of injection requested"),
    "prior_esi": ("tri", "a prior epidural steroid injection for an overlapping region is documented"),
    "esi_relief_percent": ("num", "pain relief (%) after the most recent such injection"),
    "esi_relief_weeks": ("num", "weeks that relief lasted"),
    "esi_blocks_last_year": ("int", "epidural injections for an overlapping region in the 365 days before review"),
    # documentation flags (history.documentation), tri-state: engine/core/_documentation.py
    **{d.id: ("tri", d.fact) for d in _documentation.TABLE if d.flag},
}
FACT_TYPES = {k: v[0] for k, v in FACTS.items()}

# Services whose prior visits count together toward a course of physical medicine.
FAMILIES = {
    "physical_therapy": "therapy", "occupational_therapy": "therapy", "aquatic_therapy": "therapy",
    "chiropractic": "chiropractic", "acupuncture": "acupuncture", "massage": "massage",
    "work_conditioning": "work_rehab", "work_hardening": "work_rehab",
}
_CONTAINS = {"upper_extremity": {"shoulder", "elbow", "wrist", "hand"},
             "lower_extremity": {"hip", "knee", "ankle", "foot"}}
_NEIGHBOURS = [{"wrist", "hand"}]
DRUG_NAMES = {"soma": "carisoprodol", "norco": "hydrocodone/acetaminophen", "flexeril": "cyclobenzaprine",
              "ultram": "tramadol", "motrin": "ibuprofen", "naprosyn": "naproxen", "neurontin": "gabapentin",
              "lyrica": "pregabalin", "skelaxin": "metaxalone", "zanaflex": "tizanidine"}


def regions_overlap(a, b) -> bool:
    """True when two region lists share a region (upper/lower extremity contain their joints)."""
    return _overlap(tuple(a), tuple(b))


@functools.lru_cache(maxsize=4096)     # called per course, surgery and reading of every item (hot path)
def _overlap(a: tuple, b: tuple) -> bool:
    ea, eb = _expand(a), _expand(b)
    return bool(ea & eb) or any(ea & n and eb & n for n in _NEIGHBOURS)


def may_overlap(a, b) -> bool:
    """Regions that may be the same: a list left empty names no region and so excludes none."""
    return not a or not b or regions_overlap(a, b)


def _expand(regions) -> set[str]:
    """The regions and the joints they contain (an extremity contains its joints). Never the parent of a
    joint: the shoulder and the wrist are both in the upper extremity, but they do not overlap."""
    out = set()
    for r in regions:
        out.add(r)
        out |= _CONTAINS.get(r, set())
    return out


def day_number(d: dt.date | None) -> int | None:
    return None if d is None else (d - EPOCH).days


def tri(v: bool | None) -> str:
    return "unknown" if v is None else ("true" if v else "false")


@dataclass(frozen=True)
class Course:
    """A prior therapy course as the facts read it: a recorded TherapyCourse, or one a reading fills in
    (engine/core/_readings.py), with the same attribute names."""
    service: str
    body_regions: tuple[str, ...] = ()
    visits_completed: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


# the facts that depend on the prior therapy and on the number of visits requested: what a reading of an
# unknown changes (history_facts derives them; everything else is derived once per item)
HISTORY_FACTS = frozenset({"request_visits", "prior_therapy", "prior_pt_trial", "prior_courses", "completed_visits",
                           "total_visits", "service_visits_per_injury", "service_visits_outside_postsurgical",
                           "visits_since_surgery", "postsurgical_total_visits"})


@dataclass
class ItemFacts:
    """Facts for one request item, plus notes on how they were derived (for the rationale)."""
    values: dict
    notes: list[str]

    @property
    def base(self) -> dict:
        """The facts no reading changes (HISTORY_FACTS left out): a reading's facts are these updated with
        its own history_facts."""
        return {k: v for k, v in self.values.items() if k not in HISTORY_FACTS}


def derive(case: Case, req: Request, regions: list[str] | tuple[str, ...] | None = None,
           dx: "_dx.DxTable | None" = None) -> ItemFacts:
    """The facts of one item. regions: the request's regions (default: its own); dx: the library's
    diagnosis table (default: the default rules folder's)."""
    f: dict = {}
    notes: list[str] = []
    review = case.review.date
    regions = list(req.body_regions if regions is None else regions)

    def put(name, value):
        if value is not None:
            f[name] = value

    put("jurisdiction", case.jurisdiction.lower())
    put("review_kind", case.review.kind)
    put("review_date", day_number(review))
    put("service", req.service)
    f["regions"] = regions
    if getattr(req, "reading", None):          # which words or fields gave the count (--facts)
        notes.append(f"visits requested: {req.reading}")
    for note in getattr(req, "text_notes", ()) or ():
        notes.append(f"request text: {note}")
    put("request_frequency", req.frequency_per_week)
    put("request_weeks", req.duration_weeks)
    put("request_hours", getattr(req, "hours", None))
    put("age", case.patient.age)
    put("sex", case.patient.sex)
    put("injury_date", day_number(case.injury_date))
    if case.injury_date and review:
        put("months_since_injury", round((review - case.injury_date).days / 30.44, 1))
    therapy_notes: list[str] = []
    if req.visits is not None:
        f["request_visits"] = req.visits
    _therapy_facts(case, req.service, req.visits, regions, case.history.therapy, f, therapy_notes)
    notes += therapy_notes
    _dx_facts(case, regions, f, notes, dx or _dx.default_table())
    _surgery_facts(case, regions, review, f)
    _esi_facts(case, regions, review, f)
    if req.drug:
        name = req.drug.strip().lower()
        drug = DRUG_NAMES.get(name, name)
        put("drug", drug)
        used = {DRUG_NAMES.get(m.name.strip().lower(), m.name.strip().lower()) for m in case.history.medications}
        f["drug_in_use"] = "true" if drug in used else "unknown"
    put("drug_quantity", req.quantity)
    put("purpose", req.purpose)
    put("specialty", req.specialty.lower() if req.specialty else None)
    put("injection_kind", req.kind)
    doc = case.history.documentation
    for name in _documentation.FLAGS:
        f[name] = tri(getattr(doc, name))
    _postsurgical_visits(req.service, req.visits, regions, case.history.therapy, f, f, notes)
    return ItemFacts(f, notes)


def history_facts(case: Case, service: str, visits: int | None, regions: list[str], courses, base: dict,
                  notes: list[str] | None = None) -> dict:
    """The HISTORY_FACTS of an item from its prior courses (None: the records do not address therapy) and
    the visits requested; `base` gives the surgery facts they are counted against. Notes (how a fact could
    not be derived) are appended to `notes` when it is given."""
    f: dict = {}
    if visits is not None:
        f["request_visits"] = visits
    _therapy_facts(case, service, visits, regions, courses, f, notes)
    _postsurgical_visits(service, visits, regions, courses, base, f, notes)
    return f


def _therapy_facts(case, service, visits, regions, courses, f, notes):
    family = FAMILIES.get(service)
    if courses is None or family is None:
        f["prior_therapy"] = "unknown"
        if family == "work_rehab":
            f["prior_pt_trial"] = "unknown"
        if family is not None and notes is not None:
            notes.append("the history does not address prior therapy: prior visits are unknown")
        return
    if family == "work_rehab":       # the adequate trial of therapy that work rehabilitation follows
        f["prior_pt_trial"] = tri(any(FAMILIES.get(c.service) == "therapy" and c.visits_completed != 0
                                      and may_overlap(c.body_regions, regions) for c in courses))
    same = [c for c in courses if FAMILIES.get(c.service) == family and c.visits_completed != 0
            and may_overlap(c.body_regions, regions)]
    f["prior_therapy"] = "true" if same else "false"
    f["prior_courses"] = len(same)
    if all(c.visits_completed is not None for c in same):
        f["completed_visits"] = sum(c.visits_completed for c in same)
        if visits is not None:
            f["total_visits"] = f["completed_visits"] + visits
    elif notes is not None:
        notes.append("a prior course has no visit count: completed visits are unknown")
    per_service = [c for c in courses if c.service == service]
    if all(c.visits_completed is not None for c in per_service):
        f["service_visits_per_injury"] = sum(c.visits_completed for c in per_service)
        surgeries = tuple((s.region, s.date) for s in case.history.surgeries)
        inside = [_in_window(c.end_date or c.start_date, tuple(c.body_regions), surgeries) for c in per_service]
        if None not in inside:
            f["service_visits_outside_postsurgical"] = sum(
                c.visits_completed for c, ins in zip(per_service, inside) if not ins)


# The postsurgical physical medicine period taken for the Labor Code 4604.5 exemption: 8 CCR 9792.24.3
# gives each surgery its own period; six months is its period for surgeries it does not list ([C1],
# guidelines.md corrections) and the longest of the listed periods we hold, so no postsurgical visit is
# counted against the cap (a course up to six months after a surgery with a shorter period is exempted too).
POSTSURGICAL_MONTHS = 6


@functools.lru_cache(maxsize=8192)     # the same course is asked about for every reading of an item
def _in_window(when: dt.date | None, regions: tuple[str, ...], surgeries: tuple) -> bool | None:
    """True when a course dated `when` on these regions is on or after a surgery ((region, date) pairs) on
    its region and within POSTSURGICAL_MONTHS of it; None when that depends on dates the records do not
    give."""
    relevant = [(r, d) for r, d in surgeries if r is None or not regions or regions_overlap([r], regions)]
    if not relevant:
        return False
    if when is None or any(d is None for _, d in relevant):
        return None
    return any(d <= when <= d + dt.timedelta(days=round(POSTSURGICAL_MONTHS * 30.44)) for _, d in relevant)


def _dx_facts(case, regions, f, notes, table):
    cats, groups, unmapped, count = [], [], [], 0
    for d in case.diagnoses:
        r = table.classify(icd9=d.icd9, icd10=d.icd10, text=d.text, region=d.region)
        if regions and r.region and not regions_overlap([r.region], regions):
            continue
        count += 1
        if r.category is None:
            unmapped.append(r.code or (d.text or "?"))
            continue
        if r.category not in cats:
            cats.append(r.category)
        groups += [g for g in r.groups if g not in groups]
        notes.append(f"diagnosis {d.text or r.code!r} -> {r.category} ({r.via})")
    for u in unmapped:
        notes.append(f"diagnosis {u!r} maps to no guideline category")
    f["dx_categories"], f["dx_groups"] = cats, groups
    f["dx_count"], f["dx_unmapped_count"] = count, len(unmapped)


def dx_regions(case: Case, table: "_dx.DxTable | None" = None) -> list[str]:
    """The regions of a case's diagnoses (for a request that names none)."""
    table = table or _dx.default_table()
    out: list[str] = []
    for d in case.diagnoses:
        r = d.region or table.classify(icd9=d.icd9, icd10=d.icd10, text=d.text).region
        if r and r not in out:
            out.append(r)
    return out


def _surgery_facts(case, regions, review, f):
    cands = [s for s in case.history.surgeries
             if (s.region is None or not regions or regions_overlap([s.region], regions))
             and (s.date is None or review is None or s.date <= review)]
    if not cands:
        f["surgery"] = "false"
        return
    f["surgery"] = "true"
    s = max(cands, key=lambda s: s.date or dt.date.min)
    if s.kind:
        f["surgery_kind"] = s.kind
    if s.region:
        f["surgery_region"] = s.region
    if s.date:
        f["surgery_date"] = day_number(s.date)
        if review:
            days = (review - s.date).days
            f["days_since_surgery"] = days
            f["weeks_since_surgery"] = days // 7
            f["months_since_surgery"] = round(days / 30.44, 1)


def _postsurgical_visits(service, visits, regions, courses, base, f, notes):
    """Visits since the surgery: courses that ended (or started) on or after the surgery date."""
    family = FAMILIES.get(service)
    if base.get("surgery") != "true" or "surgery_date" not in base or family is None or courses is None:
        return
    sdate = EPOCH + dt.timedelta(days=base["surgery_date"])
    after, unknown = [], False
    for c in courses:
        if FAMILIES.get(c.service) != family or not may_overlap(c.body_regions, regions):
            continue
        when = c.end_date or c.start_date
        if when is None:
            unknown = True
        elif when >= sdate:
            after.append(c)
    if unknown:
        if notes is not None:
            notes.append("a prior course has no dates: visits since surgery are unknown")
        return
    if all(c.visits_completed is not None for c in after):
        f["visits_since_surgery"] = sum(c.visits_completed for c in after)
        if visits is not None:
            f["postsurgical_total_visits"] = f["visits_since_surgery"] + visits


def _esi_facts(case, regions, review, f):
    esis = [i for i in case.history.injections if i.kind == "epidural_steroid"
            and (i.region is None or not regions or regions_overlap([i.region], regions))]
    f["prior_esi"] = "true" if esis else "false"
    if not esis:
        return
    last = max(esis, key=lambda i: i.date or dt.date.min)
    if last.pain_relief_percent is not None:
        f["esi_relief_percent"] = last.pain_relief_percent
    if last.relief_weeks is not None:
        f["esi_relief_weeks"] = last.relief_weeks
    if review and all(i.date for i in esis):
        f["esi_blocks_last_year"] = sum(1 for i in esis if 0 <= (review - i.date).days <= 365)
