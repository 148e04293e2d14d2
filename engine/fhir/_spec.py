"""What the Da Vinci specifications say, transcribed once: URLs, the value sets our output draws from, and
the coverage-information invariants crd-ci-q1..q9 word for word.

Sources (read from the specifications' own repositories, not from memory):
  - CRD: HL7/davinci-crd at 2bfabc1, input/fsh/extensions/CoverageInformation.fsh (the extension, its
    invariants), input/fsh/valuesets/CoverageInformationValuesets.fsh (the value sets),
    input/fsh/codesystems/CoverageInformationCodes.fsh and CRDTempCodes.fsh (the codes), input/pagecontent/
    cards.md (the Coverage Information and Propose Alternate Request response types),
    input/resources/structuredefinition-CRDHooksResponse-*.xml (crd-respci1, crd-respar-1).
  - PAS: HL7/davinci-pas at 46be73e, input/fsh/ClaimResponse.fsh (profile-claimresponse, the reviewAction,
    itemAuthorizedProvider, itemAuthorizedDetail and claimResponseReviewer extensions), Quantity.fsh,
    Terminology.fsh (the X12 code systems).
  - CDS Hooks: cds-hooks/docs at 462a38f, docs/specification/current.md (discovery, cards, feedback).
"""
from __future__ import annotations

FHIR_VERSION = "4.0.1"       # what CRD and PAS are written against (StructureDefinition.fhirVersion)
MODELS = "fhir.resources.R4B"   # what validates our output: see docs/fhir.md ("Which FHIR version")

CRD = "http://hl7.org/fhir/us/davinci-crd"
PAS = "http://hl7.org/fhir/us/davinci-pas"
COVERAGE_INFORMATION = f"{CRD}/StructureDefinition/ext-coverage-information"
CRD_SERVICE_REQUEST = f"{CRD}/StructureDefinition/profile-servicerequest"
PAS_CLAIM_RESPONSE = f"{PAS}/StructureDefinition/profile-claimresponse"
REVIEW_ACTION = f"{PAS}/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE = f"{PAS}/StructureDefinition/extension-reviewActionCode"
ITEM_AUTHORIZED_PROVIDER = f"{PAS}/StructureDefinition/extension-itemAuthorizedProvider"
ITEM_AUTHORIZED_DETAIL = f"{PAS}/StructureDefinition/extension-itemAuthorizedDetail"
CLAIM_RESPONSE_REVIEWER = f"{PAS}/StructureDefinition/extension-claimResponseReviewer"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# CRD code systems
COVERAGE_CODES = f"{CRD}/CodeSystem/coverage-information-codes"
CRD_TEMP = f"{CRD}/CodeSystem/temp"
COVERAGE_DETAIL = "http://terminology.hl7.org/CodeSystem/crd-coverage-detail"   # THO; was CRD_TEMP
CARD_TYPE = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"

# CRD value sets (required bindings of the extension's parts)
COVERED = ("not-covered", "covered", "conditional", "indeterminate")                               # CRDCoveredInfo
PA_NEEDED = ("no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate")     # CRDCoveragePaDetail
DOC_NEEDED = ("clinical", "admin", "patient", "conditional", "indeterminate")                        # CRDAdditionalDoc
DOC_PURPOSE = ("withpa", "withclaim", "withorder", "retain-doc", "OTH")                              # CRDDocReason
INFO_NEEDED = ("performer", "location", "timeframe", "contract-window", "detail-code", "OTH")        # CRDInformationNeeded
DETAIL_CATEGORY = ("cat-limitation", "cat-decisional", "cat-other")                                  # CRDCoverageDetailCategories
# CRDCoverageAssertionReasons (id coverageAssertionReasons): what crd-ci-q7's memberOf() tests
ASSERTION_REASONS_VS = f"{CRD}/ValueSet/coverageAssertionReasons"
ASSERTION_REASONS = {(CRD_TEMP, c) for c in ("gold-card", "no-member-found", "no-active-coverage",
                                             "coverage-not-found", "auth-out-network", "technical")}

# The invariants of ext-coverage-information, exactly as CoverageInformation.fsh states them (Severity: #error)
INVARIANTS = {
    "crd-ci-q1": ("Questionnaire is only allowed when doc-needed exists",
                  "extension.where(url='questionnaire').exists() implies extension.where(url = 'doc-needed').exists()"),
    "crd-ci-q2": ("If covered is set to 'not-covered', then 'pa-needed' must not exist.",
                  "extension.where(url = 'covered' and value = 'not-covered').exists() implies "
                  "extension.where(url = 'pa-needed').exists().not()"),
    "crd-ci-q3": ("'info-needed' SHALL exist if and only if at least one of 'covered', 'pa-needed', or 'doc-needed' "
                  "is set to 'conditional'.",
                  "extension.where((url = 'covered' or url = 'pa-needed' or url = 'doc-needed') and value = "
                  "'conditional').count() >= 1 implies extension.where(url = 'info-needed').exists()"),
    "crd-ci-q4": ("If 'pa-needed' is 'satisfied', 'noauth', or 'not-covered', then 'Doc-purpose' cannot be 'withpa'.",
                  "extension.where(url = 'pa-needed' and (value = 'satisfied' or value = 'noauth' or value = "
                  "'not-covered')) and extension.where(url = 'doc-purpose').exists() implies "
                  "extension.where(url = 'doc-purpose').all(value != 'withpa')"),
    "crd-ci-q5": ("'satisfied-pa-id' must exist if and only if 'pa-needed' is set to 'satisfied'.",
                  "extension.where(url = 'pa-needed' and value = 'satisfied').exists() = "
                  "extension.where(url = 'satisfied-pa-id').exists()"),
    "crd-ci-q6": ("If 'info-needed' is OTH, then reason must be specified",
                  "extension.where(url = 'info-needed' and value = 'OTH').exists() implies "
                  "extension.where(url = 'reason').exists()"),
    "crd-ci-q7": ("If reason.coding is present and is not from the extensible value set, then reason.text must be "
                  "present",
                  "extension.where(url = 'reason').empty() or extension.where(url = 'reason').value.text.exists() or "
                  "extension.where(url = 'reason').value.memberOf('http://hl7.org/fhir/us/davinci-crd/ValueSet/"
                  "coverageAssertionReasons')"),
    "crd-ci-q8": ("If doc-purpose is present with a value other than 'conditional', then reason must be present",
                  "extension.where(url = 'doc-purpose' and value != 'conditional').exists() implies "
                  "extension.where(url = 'reason').exists()"),
    "crd-ci-q9": ("If any of 'covered', 'pa-needed', or 'doc-needed' is set to 'indeterminate', then reason must be "
                  "present to explain the issue that is preventing the payer from making a coverage determination.",
                  "extension.where((url = 'covered' or url = 'pa-needed' or url = 'doc-needed') and value = "
                  "'indeterminate').count() >= 1 implies extension.where(url = 'reason').exists()"),
}
# the Coverage Information response type: every updated resource carries the extension (crd-respci1)
RESPCI1 = f"extension('{COVERAGE_INFORMATION}').exists()"
# the Propose Alternate Request response type: each suggestion is one update, or one delete and one create
RESPAR1 = ("(actions.count()=1 and actions.all(type='update')) or (actions.count()=2 and "
           "actions.exists(type='create') and actions.exists(type='delete') and "
           "actions.where(type='create').all(resource.exists() and resourceId.empty()) and "
           "actions.where(type='delete').all(resource.empty() and resourceId.exists()))")

# PAS / X12 code systems (X12 codes as PAS's examples write them)
X12_306 = "https://codesystem.x12.org/005010/306"      # HCR01 review action: Healthcare Services Outcome
X12_98 = "https://codesystem.x12.org/005010/98"        # entity identifier (authorized provider type)
X12_1365 = "https://codesystem.x12.org/005010/1365"    # service type
X12_673 = "https://codesystem.x12.org/005010/673"      # HSD01 quantity qualifier (PASQuantity.code)
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
REVIEW_ACTIONS = {"A1": "Certified in total", "A3": "Not Certified", "A4": "Pended", "A6": "Modified"}


def member_of(codings: list, value_set: str) -> list[bool]:
    """FHIRPath memberOf() for the one value set the invariants name (fhirpathpy has no terminology service):
    true when a Coding (or a CodeableConcept's coding) is in CRDCoverageAssertionReasons."""
    if value_set != ASSERTION_REASONS_VS:
        raise ValueError(f"memberOf: no local expansion of {value_set}")
    found = False
    for c in codings:
        if not isinstance(c, dict):
            continue
        for coding in c.get("coding", [c]):
            found = found or (coding.get("system"), coding.get("code")) in ASSERTION_REASONS
    return [found]


def invariant_problems(extension: dict) -> list[str]:
    """The crd-ci-q1..q9 invariants an ext-coverage-information instance breaks, evaluated with fhirpathpy
    (FHIR R4 model), as 'crd-ci-qN: <human text>'. Empty when it satisfies them all."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models
    table = {"memberOf": {"fn": member_of, "arity": {1: ["String"]}}}
    out = []
    for key, (human, expression) in INVARIANTS.items():
        result = evaluate(extension, expression, {}, models["r4"], {"userInvocationTable": table})
        if result != [True]:
            out.append(f"{key}: {human}")
    return out


def holds(resource: dict, expression: str) -> bool:
    """One FHIRPath expression over a resource or CDS Hooks object (R4 model): true when it gives [true]."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models
    return evaluate(resource, expression, {}, models["r4"]) == [True]
