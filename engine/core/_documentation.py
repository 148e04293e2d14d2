"""The documentation vocabulary: every kind of documentation a rule can ask for, in one table.

Each entry has an id, the words shown to a reviewer, and where the requirement comes from. Entries marked
`flag` are also documentation flags of the case format (history.documentation.<id>: yes / no / not
documented): this table generates the case model's Documentation fields (engine/core/_cases.py), their
facts (engine/core/_facts.py, tri-state) and the web form's flags (through the case JSON Schema). A rule's
`missing:` list names ids of this table (a rule file naming another id does not load: R107 with "did you
mean"); "what would change the answer" sets each flag the rules read and the case does not document.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._errors import did_you_mean


@dataclass(frozen=True)
class Doc:
    id: str
    words: str                       # as a reviewer reads it in "missing" / "what would change the answer"
    source: str                      # where the requirement comes from (for the schema and the fact table)
    flag: bool = False               # a documentation flag of the case format (a tri-state fact)
    fact: str = ""                   # for a flag: what the fact means (the fact table's words)


FI = "8 CCR 9792.20 (functional improvement); ODG Preface (six-visit clinical trial)"
TABLE: tuple[Doc, ...] = (
    # --- documentation flags (history.documentation) ---
    Doc("functional_improvement", "documented objective functional improvement from the prior treatment", FI, True,
        "objective functional improvement from prior treatment (8 CCR 9792.20)"),
    Doc("objective_functional_deficits", "documented measurable functional deficits that therapy is to address",
        "MTUS CPMTG pp. 98-99; ODG Preface", True, "measurable deficits that therapy is meant to fix"),
    Doc("home_exercise_program", "a documented home exercise program", "MTUS CPMTG pp. 98-99; ODG Preface", True,
        "already instructed in / doing a home exercise program"),
    Doc("unable_to_do_home_exercise", "a documented reason a home program cannot replace supervised therapy",
        "MTUS CPMTG pp. 98-99 (fading to a self-directed home program); ODG Preface", True,
        "a documented reason a home program cannot replace supervised therapy"),
    Doc("new_injury_or_flare", "a documented new injury, re-injury or flare-up since the last course",
        "MTUS CPMTG; ODG Preface (flare-ups)", True, "new injury, re-injury or flare-up since the last course"),
    Doc("exceptional_factors", "a documented statement of exceptional factors justifying care beyond the guideline",
        "ODG Preface (exceptional factors)", True, "a statement of factors justifying care beyond the guideline"),
    Doc("medication_reduction", "documented reduction of medication after treatment", "8 CCR 9792.20; ODG", True,
        "reduced use of medications after treatment"),
    Doc("equipment_described", "a description of the equipment's contents", "ODG (home exercise kits)", True,
        "for equipment and kits: the contents are specified"),
    Doc("therapy_plateau", "documented improvement in physical or occupational therapy followed by a plateau",
        "MTUS CPMTG p. 125; ODG (work conditioning / hardening admission)", True,
        "physical / occupational therapy improved the worker and then reached a plateau (work conditioning / "
        "hardening admission)"),
    # --- documentation the rules ask for that no flag records ---
    Doc("prior_visits", "the number of visits of this therapy already completed for the injury, with their dates",
        "guideline visit counts (the course already given counts against them)"),
    Doc("prior_program", "prior work conditioning or hardening programs for this injury",
        "MTUS CPMTG p. 125; ODG (work conditioning / hardening)"),
    Doc("prior_therapy_trial", "a trial of physical or occupational therapy for this region",
        "MTUS CPMTG p. 125; ODG (work conditioning / hardening admission)"),
    Doc("exceptional_factors_review", "a physician review of the documented exceptional factors",
        "ODG Preface (exceptional factors)"),
    Doc("return_to_work_after_course", "whether the patient returned to work after the prior course",
        "MTUS CPMTG manual therapy (maintenance care); ODG chiropractic"),
    Doc("active_treatment", "the active treatment (e.g. an exercise program) that the massage would accompany",
        "MTUS CPMTG p. 60; ODG (massage as an adjunct)"),
    Doc("corrected_injury_date", "a corrected date of injury, if the one on record is wrong",
        "ODG (work conditioning / hardening: time since injury)"),
    Doc("program_length", "a program that completes in 4 consecutive weeks or less",
        "MTUS CPMTG p. 125 (work conditioning / hardening)"),
    Doc("program_schedule", "the program's schedule: sessions, hours a day and weeks",
        "MTUS CPMTG p. 125; ODG (work conditioning / hardening)"),
    Doc("program_gains", "measurable functional gains and compliance in the program so far",
        "MTUS CPMTG p. 125; ODG (work conditioning / hardening)"),
    Doc("program_continuation", "whether the request continues the current program (dates, weeks used) or starts "
        "a new one", "MTUS CPMTG p. 125; ODG (work conditioning / hardening)"),
    Doc("job_demand_limitations", "objective functional limitations that prevent safely meeting the job's demands "
        "(an FCE may be needed)", "MTUS CPMTG p. 125; ODG (work conditioning / hardening admission)"),
    Doc("injury_date", "the date of injury", "case record"),
    Doc("surgery_date", "the date of the surgery", "8 CCR 9792.24.3 (postsurgical period); ODG post-surgical rows"),
    Doc("surgery_kind", "the kind of surgery, to place the request under a postsurgical row",
        "8 CCR 9792.24.3; ODG post-surgical rows"),
    Doc("further_improvement_achievable", "documentation that further functional improvement is achievable within "
        "the postsurgical period", "8 CCR 9792.24.3(c)"),
    Doc("employer_authorization", "the employer's written authorization of additional visits",
        "Labor Code 4604.5(c)(1)"),
    Doc("diagnosis_for_row", "a diagnosis (ICD-9-CM or ICD-10-CM) that places the request under a guideline row",
        "guideline PT tables (rows by diagnosis)"),
    Doc("injection_date", "the date of the epidural injection the visits follow",
        "ODG Low Back (post-injection treatment)"),
    Doc("prior_injection", "the prior epidural steroid injection (date, level) and its result",
        "MTUS / ODG epidural steroid injections (repeat blocks)"),
    Doc("injection_relief", "the percent pain relief after the last injection and how many weeks it lasted",
        "MTUS / ODG epidural steroid injections (repeat blocks)"),
    Doc("last_manipulation_date", "the date of the last manipulation visit", "ODG chiropractic (time to produce effect)"),
    Doc("manipulation_region", "a request limited to a region where manipulation is recommended (e.g. the low back)",
        "MTUS CPMTG manual therapy"),
    Doc("visit_reason", "the clinical reason for the visit (symptoms, clinical stability, medications to monitor)",
        "ODG office visits"),
    Doc("acoem_recommendation", "the ACOEM (MTUS) recommendation for this service and diagnosis, for a reviewer to "
        "apply (not held in these rules)", "MTUS (ACOEM-based guidelines, from 2017-12-01)"),
    Doc("reviewer_judgement", "a reviewer's judgement where the guideline gives no number for the request",
        "the guideline in force (no number stated)"),
    Doc("guideline_for_service", "a guideline that addresses this service", "ptcheck engine (no guideline)"),
    Doc("guideline_row", "documentation that places the request under a guideline row (diagnosis, prior visits)",
        "ptcheck engine (no guideline)"),
)

BY_ID: dict[str, Doc] = {d.id: d for d in TABLE}
FLAGS: tuple[str, ...] = tuple(d.id for d in TABLE if d.flag)


def words(doc_id: str) -> str:
    return BY_ID[doc_id].words


UNKNOWN = "unknown documentation id"


def check_id(doc_id: str) -> str:
    """A documentation id of the table, or ValueError (R107 in a rule file) with 'did you mean'."""
    if doc_id in BY_ID:
        return doc_id
    hint = did_you_mean(doc_id, BY_ID)
    raise ValueError(f"{UNKNOWN} '{doc_id}' in missing: name ids of engine/core/_documentation.py"
                     + (f"; {hint}" if hint else ""))


__all__ = ["Doc", "TABLE", "BY_ID", "FLAGS", "UNKNOWN", "words", "check_id"]
