"""The vocabulary of decision letters: compiled patterns and word lists that engine/letters/_letters.py
reads letters with (dates, outcomes, services, counts, procedures, injections, documentation cues)."""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "_DATE_TEXT",
    "_NUMERIC_DATE",
    "_WORD_DATE",
    "_MONTHS",
    "_REGIONS",
    "_REQUEST_SERVICES",
    "_THERAPY_SERVICES",
    "_HISTORY_SERVICES",
    "_SERVICE_WORDS",
    "_SERVICE_OF",
    "_ANY_SERVICE",
    "_KNOWN_DRUGS",
    "_SPECIALTIES",
    "_SURGERY_KINDS",
    "_NEGATION",
    "_GUIDELINE",
    "_REVIEWER",
    "_SENTENCE_BREAK",
    "_THIS_FILE",
    "_REDACTED",
    "_REDACTION_TOKEN",
    "_IMR_MARK",
    "_IRO_MARK",
    "_ITEM_LINE",
    "_NOT_ITEM",
    "_RATIONALE_START",
    "_OUTCOMES",
    "_IMR_SUMMARY",
    "_IMR_ISSUES",
    "_SUMMARY_PREAMBLE",
    "_IRO_SUMMARY",
    "_IRO_DESCRIPTION",
    "_IRO_OUTCOME",
    "_IRO_OUTCOME_SENTENCE",
    "_REVIEW_DATE_IMR",
    "_REVIEW_DATE_IRO",
    "_AGE_SEX",
    "_SEX_WORDS",
    "_INJURY_DATE",
    "_DIAGNOSIS",
    "_DX_HEAD",
    "_DX_LIST",
    "_DX_AND",
    "_DX_HEAD_END",
    "_ICD10",
    "_ICD9",
    "_EMPTY_PARENS",
    "_DX_PREFIX",
    "_N_WORDS",
    "_N_WORD_WITH_DIGITS",
    "_N_WORD",
    "_MODIFIERS",
    "_UNIT",
    "_PRIOR_COUNTS",
    "_COUNT_NOT_DONE",
    "_COUNT_REQUESTED",
    "_COUNT_INEXACT",
    "_PRIOR_MENTIONS",
    "_PHRASE_END",
    "_TREATED_FOR",
    "_AFTER_SERVICE",
    "_LEVEL",
    "_PROCEDURE",
    "_PROCEDURE_GUARD",
    "_DATE_AFTER",
    "_ESI",
    "_ESI_PLANNED",
    "_ESI_GUARD",
    "_RELIEF",
    "_VAGUE_RELIEF",
    "_AT_LEAST",
    "_RELIEF_WEEKS",
    "_MEDICATION_CUE",
    "_PURPOSE",
    "_MEDICATION_LINE",
    "_MEDICATION_HINT",
    "_EPIDURAL",
    "_QUANTITY",
    "_DocRule",
    "_rx",
    "_DOC_RULES",
]

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
