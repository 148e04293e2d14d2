"""Import decision letters (California IMR by MAXIMUS, Texas IRO) as cases in the public format.

The importer reads the text of one letter and keeps only what the letter states. A fact the letter does
not give is left out of the case and named in a TODO for a person to fill in from the records. The
reviewer's own findings ("there is no documentation of objective improvement") are never copied into the
history as facts: they say what the file lacked, not what the records show.

Pure functions: no printing, no files, no network. Standard library and PyYAML only (the request-line
visit shorthand is read by the engine's own parser, engine/_visits.py, so both read it the same way).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Iterable, Iterator

import yaml

from ._visits import VisitTextError, parse_visits

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


# ---------------------------------------------------------------------------------------------
# vocabulary

_DATE_TEXT = (
    r"(?:\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})(?!\d)"
    r"|(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?\s+\d{1,2},?\s+\d{4})"
)
_NUMERIC_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")
_WORD_DATE = re.compile(r"([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{1,2}),?\s+(\d{4})")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# Canonical order of the format's body regions; bare "back" is read as the low back (ODG's Low Back
# chapter), never when it is the mid or upper back.
_REGIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cervical", re.compile(r"\b(?:cervical|neck|c-spine)\b|\bC[1-7](?:-C?[1-7])\b", re.I)),
    ("thoracic", re.compile(r"\b(?:thoracic|dorsal spine|(?:mid|middle|upper)[- ]back)\b", re.I)),
    ("lumbar", re.compile(
        r"\b(?:lumbar|lumbosacral|sacroiliac|low(?:er)? back)\b|(?<!mid )(?<!middle )(?<!upper )(?<!mid-)"
        r"\bback\b|\bL[1-5](?:-(?:L?[1-5]|S1))?\b", re.I)),
    ("shoulder", re.compile(r"\b(?:shoulders?|rotator cuff|subacromial|acromio\w*)\b", re.I)),
    ("elbow", re.compile(r"\b(?:elbows?|epicondyl\w*)\b", re.I)),
    ("wrist", re.compile(r"\b(?:wrists?|carpal)\b", re.I)),
    ("hand", re.compile(r"\b(?:hands?|fingers?|thumbs?)\b", re.I)),
    ("upper_extremity", re.compile(r"\b(?:upper extremit(?:y|ies)|arms?)\b", re.I)),
    ("hip", re.compile(r"\bhips?\b", re.I)),
    ("knee", re.compile(r"\b(?:knees?|menisc\w*|patell\w*|ACL|anterior cruciate)\b", re.I)),
    ("ankle", re.compile(r"\bankles?\b", re.I)),
    ("foot", re.compile(r"\b(?:foot|feet|heels?|toes?|plantar)\b", re.I)),
    ("lower_extremity", re.compile(r"\b(?:lower extremit(?:y|ies)|legs?)\b", re.I)),
)

# Services of a request line, tried in order (the kit before "exercise", the visit before "injection").
_REQUEST_SERVICES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("home_exercise_kit", re.compile(r"\b(?:home )?exercise kit\b|\bHEP kit\b", re.I)),
    ("work_hardening", re.compile(r"\bwork[- ]hardening\b", re.I)),
    ("work_conditioning", re.compile(r"\bwork[- ]conditioning\b", re.I)),
    ("aquatic_therapy", re.compile(r"\baqua(?:tic)?(?: therapy)?\b|\bpool therapy\b", re.I)),
    ("occupational_therapy", re.compile(r"\boccupational therap(?:y|ies)\b|\bOT\b", re.I)),
    ("chiropractic", re.compile(r"\bchiropract\w*|\bmanipulation\b|\bCMT\b", re.I)),
    ("acupuncture", re.compile(r"\bacupuncture\b", re.I)),
    ("massage", re.compile(r"\bmassage\b", re.I)),
    ("physical_therapy", re.compile(r"\bphysical therap(?:y|ies)\b|\bphysiotherapy\b|\bPT\b", re.I)),
    ("office_visit", re.compile(
        r"\b(?:follow[- ]?up|office) visit\b|\bconsult(?:ation)?\b|\breferral\b|\bvisit with\b", re.I)),
    ("injection", re.compile(r"\binjections?\b|\bESI\b|\bblocks?\b", re.I)),
    ("durable_medical_equipment", re.compile(
        r"\b(?:TENS|DME|brace|cane|walker|wheelchair|cold therapy unit|orthosis|splint|cushion|"
        r"mattress|interferential unit)\b", re.I)),
)
_THERAPY_SERVICES = frozenset({
    "physical_therapy", "occupational_therapy", "chiropractic", "acupuncture", "aquatic_therapy",
    "massage", "work_conditioning", "work_hardening",
})

# The same therapies as words in the narrative ("PT"/"OT" only in capitals: "pt" is often "patient").
_HISTORY_SERVICES: tuple[tuple[str, str], ...] = (
    ("work_hardening", r"work[- ]hardening"),
    ("work_conditioning", r"work[- ]conditioning"),
    ("aquatic_therapy", r"aqua(?:tic)? therapy|pool therapy"),
    ("occupational_therapy", r"occupational therap(?:y|ies)|(?-i:OT)"),
    ("chiropractic", r"chiropractic(?: (?:manipulation|treatments?|therapy|care))?|chiropractor|manipulation"),
    ("acupuncture", r"acupuncture"),
    ("massage", r"massage(?: therapy)?"),
    ("physical_therapy", r"physical therap(?:y|ies)|physiotherapy|(?-i:PT)"),
)
_SERVICE_WORDS = "(?:" + "|".join(p for _, p in _HISTORY_SERVICES) + ")"
_SERVICE_OF = [(name, re.compile(rf"^(?:{pat})$", re.I)) for name, pat in _HISTORY_SERVICES]
_ANY_SERVICE = re.compile(rf"\b{_SERVICE_WORDS}\b", re.I)

_KNOWN_DRUGS = re.compile(
    r"\b(?:Soma|carisoprodol|Norco|Vicodin|hydrocodone|tramadol|Ultram|Ultracet|oxycodone|OxyContin|"
    r"Percocet|gabapentin|Neurontin|Lyrica|pregabalin|cyclobenzaprine|Flexeril|tizanidine|Zanaflex|"
    r"naproxen|Anaprox|ibuprofen|Motrin|meloxicam|Mobic|Celebrex|celecoxib|omeprazole|Prilosec|"
    r"Lidoderm|lidocaine|duloxetine|Cymbalta|amitriptyline|methocarbamol|Robaxin|baclofen|diclofenac|"
    r"Voltaren|Terocin|morphine|fentanyl|methadone|nabumetone|Relafen|zolpidem|Ambien|Toradol|"
    r"ketorolac|Medrol|prednisone|Tylenol|acetaminophen|Butrans|buprenorphine|Nucynta|tapentadol|"
    r"Dilaudid|hydromorphone|orphenadrine|Norflex|etodolac|Skelaxin|metaxalone)\b", re.I)

_SPECIALTIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anesthesiology", re.compile(r"\banesthesiolog\w*", re.I)),
    ("pain_management", re.compile(r"\bpain (?:management|medicine)\b", re.I)),
    ("orthopedic_surgery", re.compile(r"\borthop(?:a)?edi\w*", re.I)),
    ("neurosurgery", re.compile(r"\bneurosurg\w*", re.I)),
    ("neurology", re.compile(r"\bneurolog\w*", re.I)),
    ("physical_medicine_and_rehabilitation", re.compile(r"\bphysiatr\w*|\bphysical medicine\b", re.I)),
    ("psychology", re.compile(r"\bpsycholog\w*", re.I)),
    ("psychiatry", re.compile(r"\bpsychiatr\w*", re.I)),
    ("podiatry", re.compile(r"\bpodiatr\w*", re.I)),
    ("rheumatology", re.compile(r"\brheumatolog\w*", re.I)),
    ("internal_medicine", re.compile(r"\binternist\b|\binternal medicine\b", re.I)),
)

_SURGERY_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fusion", re.compile(r"\bfusion\b|\barthrodesis\b", re.I)),
    ("knee_arthroplasty", re.compile(r"\b(?:knee (?:arthroplasty|replacement)|TKA)\b", re.I)),
    ("acl_repair", re.compile(r"\bACL\b|\banterior cruciate\b", re.I)),
    ("meniscectomy", re.compile(r"\bmeniscectom", re.I)),
    ("rotator_cuff_repair", re.compile(r"\brotator cuff repair\b", re.I)),
    ("carpal_tunnel_release", re.compile(r"\bcarpal tunnel release\b", re.I)),
    ("discectomy_laminectomy", re.compile(
        r"\b(?:micro)?(?:laminectom|laminotom|discectom|hemilaminectom)|\b(?:lumbar|cervical|spinal)"
        r" decompression\b", re.I)),
    ("arthroscopic_shoulder", re.compile(
        r"\bshoulder\b.*\barthroscop|\barthroscop\w*.*\bshoulder\b|\bsubacromial decompression\b|"
        r"\bacromioplasty\b", re.I)),
)

# ---------------------------------------------------------------------------------------------
# sentence cues

_NEGATION = re.compile(
    r"\b(?:no|not|without|never|neither|nor|absence|lack(?:s|ed|ing)?|unclear|fail(?:s|ed)? to)\b|n't\b",
    re.I)
_GUIDELINE = re.compile(
    r"\b(?:guidelines?|MTUS|ODG|ACOEM|recommend\w*|criteria|should|must|allow\w*)\b", re.I)
_REVIEWER = re.compile(
    r"\b(?:documentation|documented|evidence|indication|unclear|submitted|provided for review)\b", re.I)
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?])(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bvs\.)(?<!\bMrs\.)\s*(?=[A-Z(])")
_THIS_FILE = re.compile(r"\bthere (?:is|was|were|are)\b", re.I)
_REDACTED = re.compile(r"^[\sX.,;:]*$")
_REDACTION_TOKEN = re.compile(r"(?<![\w-])X(?![\w-])")

# ---------------------------------------------------------------------------------------------
# letter structure

_IMR_MARK = re.compile(r"\bMAXIMUS\b|IMR ISSUES|\bIndependent Medical Review\b", re.I)
_IRO_MARK = re.compile(r"IRO Reviewer Report|Independent Review Decision|\bIRO Case\b", re.I)
_ITEM_LINE = re.compile(r"^(?P<text>\S.*?)\s*:\s*(?P<outcome>partially overturned|overturned|upheld)\s*\.?$", re.I)
_NOT_ITEM = re.compile(r"^(?:review outcome|claims administrator|maximus guideline|decision rationale)", re.I)
_RATIONALE_START = re.compile(r"^decision rationale\s*:", re.I)
_OUTCOMES = {"upheld": "upheld", "overturned": "overturned", "partially overturned": "partially_overturned"}

_IMR_SUMMARY = re.compile(r"CLINICAL CASE SUMMARY(?P<body>.*?)(?:IMR ISSUES, DECISIONS AND RATIONALES|$)",
                          re.I | re.S)
_IMR_ISSUES = re.compile(r"IMR ISSUES, DECISIONS AND RATIONALES(?P<body>.*)$", re.I | re.S)
_SUMMARY_PREAMBLE = re.compile(
    r"^.*?clinical case summary based on a review of the case file, including all medical records:\s*",
    re.I | re.S)
_IRO_SUMMARY = re.compile(
    r"Patient Clinical History(?: \[Summary\])?:?(?P<body>.*?)(?:A description and the source of the "
    r"screening criteria|$)", re.I | re.S)
_IRO_DESCRIPTION = re.compile(
    r"Description of the service or services in dispute:\s*(?P<text>.*?)\s*"
    r"(?=A description of the qualifications|Review Outcome|$)", re.I | re.S)
_IRO_OUTCOME = re.compile(
    r"\b(?P<outcome>Partially Overturned|Overturned|Upheld)\s*\((?:Agree|Disagree)[^)]*\)", re.I)
_IRO_OUTCOME_SENTENCE = re.compile(
    r"^\s*(?P<text>[A-Z][^.]*?)\s+(?:does not meet|do not meet|meets|meet|is not|is|are not|are)\s+"
    r"(?:established standards of medical necessity|medically necessary)", re.S)

# ---------------------------------------------------------------------------------------------
# facts in the summary

_REVIEW_DATE_IMR = (
    re.compile(rf"utilization review (?:decision |determination )?being challenged is dated\s+(?P<date>{_DATE_TEXT})",
               re.I),
    re.compile(rf"\b(?:utilization review|UR)(?: (?:decision|determination|letter|denial))?\s+(?:was\s+)?"
               rf"(?:dated|of|on)\s+(?P<date>{_DATE_TEXT})", re.I),
)
_REVIEW_DATE_IRO = re.compile(rf"Date Notice Sent to All Parties:\s*(?P<date>{_DATE_TEXT})", re.I)

_AGE_SEX = re.compile(
    r"\b(?P<age>\d{1,3})[- ]years?[- ]old\b,?\s*(?:(?:right|left)-handed\s+)?(?P<sex>male|female|man|"
    r"woman|gentleman|lady)?\b", re.I)
_SEX_WORDS = {"male": "male", "man": "male", "gentleman": "male",
              "female": "female", "woman": "female", "lady": "female"}

_INJURY_DATE = (
    re.compile(rf"\binjury date of\s+(?P<date>{_DATE_TEXT})", re.I),
    re.compile(rf"(?P<date>{_DATE_TEXT})\s+date of injury\b", re.I),
    re.compile(rf"\bdate of injury(?:\s*\(DOI\))?(?:\s+(?:of|was|on|is))?[:,]?\s+(?P<date>{_DATE_TEXT})", re.I),
    re.compile(rf"\bDOI:?\s+(?P<date>{_DATE_TEXT})"),
    re.compile(rf"\binjured\s+(?:at work\s+|on the job\s+|while working\s+)?on\s+(?P<date>{_DATE_TEXT})", re.I),
    re.compile(rf"\bsustained an?\s+(?:\w+[- ])?(?:related\s+)?injury on\s+(?P<date>{_DATE_TEXT})", re.I),
)

_DIAGNOSIS = (
    re.compile(r"\bsubmitted a claim for\s+(?P<dx>.+?)\s+(?:reportedly\s+)?associated with\b", re.I),
    re.compile(r"\bdiagnos(?:is|es)\s*\((?P<dx>[^()]+)\)", re.I),
    re.compile(r"\bdiagnos(?:is|es)\s+(?:is|are|was|were|of|includes?|included|including)\s*:?\s*"
               r"(?P<dx>.+?)(?:\.(?=\s|$)|$)", re.I),
    re.compile(r"\bdiagnos(?:is|es)\s*:\s*(?P<dx>.+?)(?:\.(?=\s|$)|$)", re.I),
    re.compile(r"\bdiagnosed with\s+(?P<dx>.+?)(?:\.(?=\s|$)|$)", re.I),
)
_DX_HEAD = (r"(?:pain|sprain|strain|neuritis|myelopathy|radiculopathy|radiculitis|herniations?|tear|"
            r"tendinitis|tendonitis|syndrome|stenosis|bursitis|myalgia|myositis|spasm|sciatica|contusion|"
            r"impingement|derangement)")
_DX_LIST = re.compile(r"\s*;\s*|,\s*(?:and\s+)?", re.I)
_DX_AND = re.compile(r"\s+and\s+", re.I)
_DX_HEAD_END = re.compile(rf"\b{_DX_HEAD}$", re.I)
_ICD10 = re.compile(r"\b(?P<code>[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?)\b")
_ICD9 = re.compile(r"\b(?P<code>\d{3}\.\d{1,2})\b")
_EMPTY_PARENS = re.compile(r"\(\s*(?:ICD-?(?:9|10)(?:-CM)?:?\s*)?\)")
_DX_PREFIX = re.compile(r"^(?:the patient's |a |an |current |chronic diagnoses of )", re.I)

# ---------------------------------------------------------------------------------------------
# facts in the history

_N_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
            "sixteen": 16, "eighteen": 18, "twenty": 20, "twenty-four": 24, "thirty": 30}
_N_WORD_WITH_DIGITS = re.compile(r"\b(?:" + "|".join(_N_WORDS) + r")\s*\((\d{1,3})\)", re.I)
_N_WORD = re.compile(r"\b(" + "|".join(sorted(_N_WORDS, key=len, reverse=True)) + r")\b(?=\s+\w)", re.I)
_MODIFIERS = (r"(?:(?:prior|previous|previously|post-?operative|postoperative|post-?surgical|additional|"
              r"supervised|formal|completed)\s+)*")
_UNIT = r"(?:visits?|sessions?|treatments?|appointments?)"
_PRIOR_COUNTS = (
    re.compile(rf"\b(?:completed|attended|had|has had|have had|received|underwent|undergone|"
               rf"participated in|finished)\s+(?:a total of\s+)?(?P<n>\d{{1,3}})\s+{_MODIFIERS}"
               rf"(?:(?P<svc1>{_SERVICE_WORDS})\s+)?{_UNIT}\b(?:\s+of\s+{_MODIFIERS}(?P<svc2>{_SERVICE_WORDS}))?",
               re.I),
    re.compile(rf"\b(?P<n>\d{{1,3}})\s+{_MODIFIERS}{_UNIT}\s+of\s+{_MODIFIERS}(?P<svc2>{_SERVICE_WORDS})", re.I),
    re.compile(rf"\b(?P<n>\d{{1,3}})\s+{_MODIFIERS}(?P<svc1>{_SERVICE_WORDS})\s+{_UNIT}\b", re.I),
    re.compile(rf"\b(?P<svc1>{_SERVICE_WORDS})\s*\(\s*(?P<n>\d{{1,3}})\s*{_UNIT}\s*\)", re.I),
)
_COUNT_NOT_DONE = re.compile(
    r"^\s*(?:left|remaining)\b(?!\s+(?:side|shoulder|knee|wrist|hand|elbow|hip|ankle|foot|arm|leg|upper|lower)\b)"
    r"|^\s*(?:\w+\s+){0,2}(?:requested|authorized|certified|approved|pending)\b", re.I)
_COUNT_REQUESTED = re.compile(r"\brequest\w*\s+(?:for\s+)?(?:the\s+)?$", re.I)
_COUNT_INEXACT = re.compile(r"(?:more than|over|at least|approximately|about|up to|nearly)\s*$", re.I)
_PRIOR_MENTIONS = (
    re.compile(rf"\b(?:had|has|have)\s+(?:been\s+)?(?:participated in|undergone|received|attended|completed|"
               rf"tried|failed|treated with|had)\b[^.;]{{0,60}}?\b(?P<svc>{_SERVICE_WORDS})\b", re.I),
    re.compile(rf"\b(?:treatment to date|treatment history|previous treatment|prior treatment|past treatment)"
               rf"\b[^.]{{0,160}}?\b(?P<svc>{_SERVICE_WORDS})\b", re.I),
    re.compile(rf"\b(?:previous|prior|previously|past)\s+(?:courses? of\s+)?(?P<svc>{_SERVICE_WORDS})\b", re.I),
    re.compile(rf"\b(?P<svc>{_SERVICE_WORDS})\s*\((?:unknown|unspecified) (?:amount|number)", re.I),
)
_PHRASE_END = r"(?=\s+(?:and|with|since|after|before|from|due|because|in|at|on|to)\b|[.,;()]|$)"
_TREATED_FOR = re.compile(rf"\btreated for (?:the )?(?P<what>[\w/ -]{{2,40}}?){_PHRASE_END}", re.I)
_AFTER_SERVICE = re.compile(rf"^\s+(?:for|to|of|on)\s+(?:the\s+)?(?P<what>[\w/ -]{{2,40}}?){_PHRASE_END}", re.I)

_LEVEL = r"[LCT]\d(?:-[LCTS]?\d)?"
_PROCEDURE = re.compile(
    r"\b(?P<proc>(?:(?:right|left|bilateral|lumbar|cervical|thoracic|lumbosacral|arthroscopic|open|endoscopic|"
    rf"partial|total|medial|lateral|anterior|posterior|subacromial|shoulder|knee|wrist|spinal|revision|{_LEVEL})"
    r"\s+)*"
    r"(?:(?:micro)?laminectom(?:y|ies)|laminotom(?:y|ies)|hemilaminectomy|(?:micro)?discectom(?:y|ies)|"
    r"decompression|fusion|arthrodesis|meniscectom(?:y|ies)|menisc(?:us|al) repair|ACL (?:reconstruction|repair)|"
    r"anterior cruciate ligament (?:reconstruction|repair)|rotator cuff repair|"
    r"(?:knee )?(?:arthroplasty|replacement)|carpal tunnel release|acromioplasty|"
    r"arthroscop(?:y|ic (?:surgery|debridement|repair)))"
    r"(?:\s+(?:and|with)\s+(?:subacromial decompression|fusion|decompression|discectomy|laminectomy|"
    r"acromioplasty|debridement|distal clavicle (?:excision|resection)))*"
    rf"(?:\s+(?:at|of|on|to)\s+(?:the\s+)?(?:right\s+|left\s+)?(?:{_LEVEL}|lumbar spine|cervical spine|"
    r"knee|shoulder|wrist|hand))?)\b", re.I)
_PROCEDURE_GUARD = re.compile(
    r"\b(?:candidate|consider\w*|plan\w*|request\w*|recommend\w*|scheduled|pending|proposed|authoriz\w*|"
    r"avoid|criteria)\b", re.I)
_DATE_AFTER = re.compile(
    rf"^\s*(?:at\s+{_LEVEL}\s*)?(?:\(|,\s*)?(?:on|dated|performed on|in)?\s*(?P<date>{_DATE_TEXT})", re.I)

_ESI = re.compile(
    rf"\b(?P<pre>(?:(?:previous|prior|repeat|additional|lumbar|cervical|thoracic|caudal|transforaminal|"
    rf"interlaminar|bilateral|right|left|{_LEVEL})\s+)*)(?:epidural steroid injections?|epidural injections?|"
    r"ESIs?)\b", re.I)
_ESI_PLANNED = re.compile(r"\b(?:repeat|additional|further|another)\b", re.I)
_ESI_GUARD = re.compile(r"\b(?:consideration|plan\w*|request\w*|recommend\w*|candidate|criteria|support|"
                        r"guidelines?)\b", re.I)
_RELIEF = re.compile(r"(?<![-\d])(?P<pct>\d{1,3})\s*%\s*(?:pain\s+)?(?:relief|improvement|reduction)", re.I)
_VAGUE_RELIEF = re.compile(r"\b(?:good|some|significant|partial)\s+(?:pain\s+)?relief", re.I)
_AT_LEAST = re.compile(r"\bat least\s*$", re.I)
_RELIEF_WEEKS = re.compile(r"\bfor\s+(?P<weeks>\d{1,2})\s+weeks\b", re.I)

_MEDICATION_CUE = re.compile(
    r"\b(?:takes|taking|is on|currently on|maintained on|prescribed|uses|using|"
    r"medications?\s+(?:include|included|including|are|consist of)|treatment to date)\b", re.I)

_PURPOSE = re.compile(
    r"\b(?:visit|follow[- ]?up|consultation|referral|evaluation)\b[^.]{0,120}?\bfor\s+(?:the\s+)?"
    r"(?:consideration of|possible|evaluation for|discussion of|consideration for)\s+(?:an?\s+|the\s+)?"
    r"(?P<purpose>[a-z][a-z -]+?)(?=\s*(?:[.,;:)]|$)|\s+(?:and|with|at|to|in)\b)", re.I)

_MEDICATION_LINE = re.compile(
    r"^(?P<drug>[A-Za-z][A-Za-z/-]*(?:\s+(?:ER|XR|SR|CR|DR|XL|HCl|[A-Z][a-z]+))?)\s*"
    r"(?P<strength>\d[\d.]*\s*(?:mg|mcg|g|%|ml)?(?:\s*/\s*\d[\d.]*\s*(?:mg|mcg|g|ml)?)?(?![\w/]))?\s*"
    r"(?P<rest>.*)$")
_MEDICATION_HINT = re.compile(r"#\s*\d+|\b\d+\s*mg\b|\bby mouth\b", re.I)
_EPIDURAL = re.compile(r"\bepidural\b|\bESI\b", re.I)
_QUANTITY = re.compile(r"#\s*(?P<n>\d+)|\b(?:quantity|qty)\s*[:.]?\s*(?P<q>\d+)", re.I)


@dataclass(frozen=True)
class _DocRule:
    """How the records are seen to state one history.documentation fact."""

    field: str
    topic: re.Pattern[str]
    true: tuple[re.Pattern[str], ...]
    false: tuple[re.Pattern[str], ...] = ()


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


_DOC_RULES: tuple[_DocRule, ...] = (
    _DocRule(
        "functional_improvement",
        re.compile(r"\bfunctional (?:improvement|benefit|gains?|response)\b|\bobjective improvement\b|"
                   r"\bimprove(?:d|ment) (?:in )?function|\bimprovement\b[^.]{0,30}\b(?:previous|prior)\b", re.I),
        _rx(r"\bimproved (?:functions?|functioning|functional (?:status|capacity|tolerance))\b",
            r"\bfunctional (?:improvement|gains?)\b",
            r"\bimprovement in (?:function|functional|activities of daily living|ADLs|work (?:status|capacity))",
            r"\bincreased (?:function|functional|activity tolerance|ability to)\b"),
        _rx(r"\b(?:reported|reports|noted|notes|had|with|showed|shows|experienced|achieved)\s+(?:no|minimal|"
            r"little|no significant)\s+(?:functional\s+)?(?:improvement|benefit|gains?)\b"),
    ),
    _DocRule(
        "objective_functional_deficits",
        re.compile(r"\bdeficits?\b|\bobjective findings\b", re.I),
        _rx(r"\b(?:objective|measurable) functional deficits?\b",
            r"\bdocumentation of [^.]{0,80}?\bfunctional deficits?\b",
            r"\bdocument(?:s|ed) [^.]{0,80}?\bfunctional deficits?\b"),
    ),
    _DocRule(
        "home_exercise_program",
        re.compile(r"\bhome exercises?\b|\bHEP\b|\bself-directed\b|\bexercises? at home\b|\bhome program\b", re.I),
        _rx(r"\b(?:is|was|has been|continues?|remains?)\s+(?:currently\s+)?(?:doing|performing|participating in|"
            r"compliant with|instructed in|independent (?:with|in))\s+(?:a\s+|an\s+|her\s+|his\s+|the\s+)?"
            r"(?:independent\s+)?(?:home exercises?|HEP)\b",
            r"\b(?:has|had) been (?:instructed|taught) (?:in|on) (?:a\s+)?(?:home exercises?|HEP)\b",
            r"(?<!unable to )(?<!not able to )(?<!cannot )\bperforms? (?:a |an |her |his )?(?:daily )?"
            r"home exercise program\b",
            r"\btreatment to date\b[^.]{0,120}\bhome exercise program\b"),
    ),
    _DocRule(
        "unable_to_do_home_exercise",
        re.compile(r"\b(?:cannot|unable to|not able to|not competent to)\b[^.]{0,40}\b(?:home|HEP|exercises?)\b|"
                   r"\bself-transition\b", re.I),
        _rx(r"\b(?:is unable to|was unable to|cannot|can not|is not able to|is not competent to)\s+(?:perform|do|"
            r"participate in|complete|follow|carry out)\s+(?:a\s+|an\s+|her\s+|his\s+)?(?:independent\s+)?"
            r"(?:home exercises?|HEP|exercises? at home|home program)\b"),
    ),
    _DocRule(
        "new_injury_or_flare",
        re.compile(r"\bnew injury\b|\bflare|\bexacerbation\b|\bre-?injur", re.I),
        _rx(r"\bflare[- ]?ups?\b", r"\bflare of\b", r"\bflared\b", r"\bexacerbation\b", r"\bre-?injur(?:y|ed)\b",
            r"\bnew injury\b", r"\baggravation\b"),
    ),
    _DocRule(
        "exceptional_factors",
        re.compile(r"\bexceptional factors\b", re.I),
        _rx(r"\b(?:provided|documented|submitted|gave|includes?|there is)\s+(?:a\s+)?statement of exceptional "
            r"factors\b"),
    ),
    _DocRule(
        "medication_reduction",
        re.compile(r"\bmedications?\b[^.]{0,20}\b(?:reduc|decreas)|\b(?:reduc|decreas)\w*[^.]{0,30}\bmedication",
                   re.I),
        _rx(r"\b(?:decreased|reduced|less|lower)\s+(?:use of\s+|need for\s+|intake of\s+|reliance on\s+)?"
            r"(?:pain\s+|opioid\s+|narcotic\s+)?medications?\b",
            r"\b(?:reduction|decrease) in (?:the use of\s+)?(?:pain\s+|opioid\s+|narcotic\s+)?medications?\b",
            r"\b(?:weaned|tapered) off\b"),
    ),
    _DocRule(
        "equipment_described",
        re.compile(r"\bcontents?\b[^.]{0,30}\bkit\b|\bkit (?:was|were|is) not (?:described|specified)\b", re.I),
        _rx(r"\bkit (?:includes|consists of|contains|will include)\b",
            r"\b(?:contents|components) of the (?:home exercise )?kit (?:are|were|include)\b"),
    ),
)

# ---------------------------------------------------------------------------------------------
# public functions


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
