// ptcheck page: builds a case (ptcheck/case@1) from the form, or takes pasted YAML/JSON, posts it to
// /v1/check and shows the decision. Plain DOM, no build step, no outside requests. Case text is only ever
// put into the page with textContent (never parsed as HTML).
"use strict";

// The case format's choices, from the engine's own tables: the server puts them in the page
// (engine/web/_app.py `vocabulary`: the services, the body regions, and the documentation flags of
// engine/core/_documentation.py with the words a form shows).
const VOCABULARY = JSON.parse(document.getElementById("vocabulary").textContent);
const SERVICES = VOCABULARY.services;
const REGIONS = VOCABULARY.regions;
const FLAGS = VOCABULARY.flags;
const SURGERY_KINDS = ["acl_repair", "arthroscopic_shoulder", "bankart", "carpal_tunnel_release", "cubital_tunnel_release", "disc_arthroplasty", "discectomy_laminectomy", "fusion", "knee_arthroplasty", "meniscectomy", "open_shoulder", "rotator_cuff_repair", "shoulder_arthroplasty"];
const OUTCOME_WORDS = {certify: "CERTIFY", modify: "MODIFY", non_certify: "NON-CERTIFY", pend: "PEND"};

let uid = 0;
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const words = (s) => String(s).replace(/_/g, " ");

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// -- form building blocks: every control gets an id and a <label for>

function textField(label, key, opts = {}) {
  const id = `f${++uid}`;
  const input = el("input", {id, type: opts.type || "text", "data-key": key, autocomplete: "off",
    inputmode: opts.inputmode, min: opts.min, list: opts.list, placeholder: opts.placeholder});
  return el("div", {class: "field" + (opts.cls ? " " + opts.cls : "")}, el("label", {for: id, text: label}), input);
}

function selectField(label, key, values, opts = {}) {
  const id = `f${++uid}`;
  const sel = el("select", {id, "data-key": key});
  if (opts.blank) sel.append(el("option", {value: "", text: opts.blank}));
  for (const v of values) sel.append(el("option", {value: v, text: words(v)}));
  if (opts.value) sel.value = opts.value;
  return el("div", {class: "field" + (opts.cls ? " " + opts.cls : "")}, el("label", {for: id, text: label}), sel);
}

function regionsField(legend) {
  const boxes = el("div", {class: "boxes"});
  for (const r of REGIONS) {
    const id = `f${++uid}`;
    boxes.append(el("span", {}, el("input", {type: "checkbox", id, value: r}), " ", el("label", {for: id, text: words(r)})));
  }
  return el("fieldset", {class: "regions", "data-key": "body_regions"}, el("legend", {text: legend}), boxes);
}

function rowShell(kind, title, ...fields) {
  const remove = el("button", {type: "button", class: "remove", text: `Remove this ${kind}`});
  const row = el("div", {class: "row", "data-kind": kind},
    el("div", {class: "row-head"}, el("h3", {text: title}), remove), el("div", {class: "grid"}, ...fields));
  remove.addEventListener("click", () => {
    const list = row.parentElement;
    row.remove();
    renumber(list);
    scheduleValidate();
    const next = $("button.add", list.parentElement);
    if (next) next.focus();
  });
  return row;
}

function renumber(list) {
  $$(".row", list).forEach((row, i) => {
    const h = $(".row-head h3", row);
    h.textContent = h.textContent.replace(/\d+$/, String(i + 1));
  });
}

const ROWS = {
  diagnosis: (n) => rowShell("diagnosis", `Diagnosis ${n}`,
    textField("Diagnosis text", "text", {cls: "wide"}),
    textField("ICD-9-CM code", "icd9", {cls: "narrow", placeholder: "729.1"}),
    textField("ICD-10-CM code", "icd10", {cls: "narrow", placeholder: "M79.18"}),
    selectField("Region", "region", REGIONS, {blank: "(not given)"})),
  request: (n) => rowShell("item", `Item ${n}`,
    textField("Request text, verbatim", "text", {cls: "wide", placeholder: "PT 2x4 weeks for the low back"}),
    textField("Item id", "id", {cls: "narrow"}),
    selectField("Service", "service", SERVICES, {value: "physical_therapy"}),
    textField("Visits per week", "frequency_per_week", {type: "number", min: 0, cls: "narrow", inputmode: "numeric"}),
    textField("Weeks", "duration_weeks", {type: "number", min: 0, cls: "narrow", inputmode: "numeric"}),
    textField("Visits (total)", "visits", {type: "number", min: 0, cls: "narrow", inputmode: "numeric"}),
    regionsField("Body regions")),
  course: (n) => rowShell("course", `Course ${n}`,
    selectField("Service", "service", SERVICES, {value: "physical_therapy"}),
    textField("Visits completed (blank: not given)", "visits_completed", {type: "number", min: 0, inputmode: "numeric"}),
    textField("Start date", "start_date", {type: "date"}),
    textField("End date", "end_date", {type: "date"}),
    regionsField("Body regions")),
  surgery: (n) => rowShell("surgery", `Surgery ${n}`,
    textField("Procedure", "procedure", {cls: "wide"}),
    textField("Kind", "kind", {list: "surgery-kinds"}),
    selectField("Region", "region", REGIONS, {blank: "(not given)"}),
    textField("Date", "date", {type: "date"})),
  injection: (n) => rowShell("injection", `Injection ${n}`,
    textField("Kind", "kind", {placeholder: "epidural_steroid"}),
    selectField("Region", "region", REGIONS, {blank: "(not given)"}),
    textField("Date", "date", {type: "date"}),
    textField("Pain relief (%)", "pain_relief_percent", {type: "number", min: 0, cls: "narrow"}),
    textField("Relief (weeks)", "relief_weeks", {type: "number", min: 0, cls: "narrow"})),
};
const LISTS = {diagnosis: "#diagnoses", request: "#requests", course: "#therapy", surgery: "#surgeries", injection: "#injections"};

function addRow(kind, focus = true) {
  const list = $(`${LISTS[kind]} .rows`);
  const row = ROWS[kind](list.children.length + 1);
  if (kind === "request") $('[data-key="id"]', row).value = String(list.children.length + 1);
  list.append(row);
  if (kind === "course") $("#therapy-listed").checked = true;
  if (focus) $("input, select", row).focus();
  return row;
}

function buildFlags() {
  const box = $("#documentation .flags");
  for (const [key, text] of FLAGS) {
    const fs = el("fieldset", {class: "tri", "data-flag": key}, el("legend", {text}));
    for (const [value, label] of [["yes", "yes"], ["no", "no"], ["", "not documented"]]) {
      const id = `f${++uid}`;
      fs.append(el("span", {}, el("input", {type: "radio", name: `doc-${key}`, id, value, checked: value === ""}),
        " ", el("label", {for: id, text: label})));
    }
    box.append(fs);
  }
}

// -- the case from the form; sets data-path on each control to the field path the engine reports

function val(row, key) {
  const e = $(`[data-key="${key}"]`, row);
  return e ? e.value.trim() : "";
}

function put(obj, key, value, kind = "text") {
  if (value === "") return;
  if (kind === "number") {
    const n = Number(value);
    obj[key] = Number.isFinite(n) && String(value).trim() !== "" ? n : value;
  } else obj[key] = value;
}

function regions(row) {
  return $$('[data-key="body_regions"] input:checked', row).map((b) => b.value);
}

function mark(row, base) {
  row.dataset.path = base;
  for (const e of $$("[data-key]", row)) e.dataset.path = `${base}.${e.dataset.key}`;
}

function rowsOf(kind) {
  return $$(`${LISTS[kind]} .rows > .row`);
}

function collect(kind, base, build) {
  const out = [];
  for (const row of rowsOf(kind)) {
    delete row.dataset.path;
    for (const e of $$("[data-key]", row)) delete e.dataset.path;
    const obj = build(row);
    if (obj === null) continue;
    mark(row, `${base}[${out.length}]`);
    out.push(obj);
  }
  return out;
}

function buildCase() {
  const c = {format: "ptcheck/case@1", id: $("#case-id").value.trim(), jurisdiction: $("#jurisdiction").value};
  c.review = {kind: $("#review-kind").value};
  put(c.review, "date", $("#review-date").value);
  const age = $("#patient-age").value.trim();
  if (age !== "") c.patient = {age: Number(age)};
  put(c, "injury_date", $("#injury-date").value);
  c.diagnoses = collect("diagnosis", "diagnoses", (row) => {
    const d = {};
    for (const k of ["text", "icd9", "icd10", "region"]) put(d, k, val(row, k));
    return Object.keys(d).length ? d : null;
  });
  c.requests = collect("request", "requests", (row) => {
    const r = {id: val(row, "id"), service: val(row, "service")};
    put(r, "text", val(row, "text"));
    const b = regions(row);
    if (b.length) r.body_regions = b;
    for (const k of ["frequency_per_week", "duration_weeks", "visits"]) put(r, k, val(row, k), "number");
    return r;
  });
  const history = {};
  const state = $('input[name="therapy-state"]:checked').value;
  const courses = collect("course", "history.therapy", (row) => {
    const t = {service: val(row, "service")};
    const b = regions(row);
    if (b.length) t.body_regions = b;
    put(t, "visits_completed", val(row, "visits_completed"), "number");
    put(t, "start_date", val(row, "start_date"));
    put(t, "end_date", val(row, "end_date"));
    return t;
  });
  if (state === "none") history.therapy = [];
  else if (state === "listed") history.therapy = courses;
  const surgeries = collect("surgery", "history.surgeries", (row) => {
    const s = {};
    for (const k of ["procedure", "kind", "region", "date"]) put(s, k, val(row, k));
    return Object.keys(s).length ? s : null;
  });
  if (surgeries.length) history.surgeries = surgeries;
  const injections = collect("injection", "history.injections", (row) => {
    const i = {};
    for (const k of ["kind", "region", "date"]) put(i, k, val(row, k));
    for (const k of ["pain_relief_percent", "relief_weeks"]) put(i, k, val(row, k), "number");
    return Object.keys(i).length ? i : null;
  });
  if (injections.length) history.injections = injections;
  const doc = {};
  for (const [key] of FLAGS) {
    const fs = $(`[data-flag="${key}"]`);
    fs.dataset.path = `history.documentation.${key}`;
    const v = $(`input[name="doc-${key}"]:checked`).value;
    if (v) doc[key] = v === "yes";
  }
  if (Object.keys(doc).length) history.documentation = doc;
  if (Object.keys(history).length) c.history = history;
  return c;
}

// -- a small YAML writer for the download (block style; strings double-quoted, which YAML reads as JSON does)

function yamlScalar(v) {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function toYaml(v, indent = "") {
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    return v.map((x) => {
      if (x !== null && typeof x === "object" && !Array.isArray(x) && Object.keys(x).length) {
        const inner = toYaml(x, indent + "  ");
        return `${indent}- ${inner.slice(indent.length + 2)}`;
      }
      return `${indent}- ${x !== null && typeof x === "object" ? toYaml(x, indent + "  ") : yamlScalar(x)}`;
    }).join("\n");
  }
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (!keys.length) return "{}";
    return keys.map((k) => {
      const x = v[k];
      if (x !== null && typeof x === "object" && (Array.isArray(x) ? x.length : Object.keys(x).length)) {
        return `${indent}${k}:\n${toYaml(x, indent + "  ")}`;
      }
      return `${indent}${k}: ${x !== null && typeof x === "object" ? toYaml(x) : yamlScalar(x)}`;
    }).join("\n");
  }
  return yamlScalar(v);
}

// -- problems (the 422 body): a list beside the form, and a message under each field it names

function clearProblems(box, form) {
  box.hidden = true;
  box.replaceChildren();
  for (const e of $$(".field-error", form)) e.remove();
  for (const e of $$('[aria-invalid="true"]', form)) {
    e.removeAttribute("aria-invalid");
    e.removeAttribute("aria-describedby");
  }
}

function findField(form, path) {
  let p = path || "";
  while (p) {
    const hit = form.querySelector(`[data-path="${CSS.escape(p)}"]`);
    if (hit) return hit;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return null;
}

function problemText(p) {
  const where = [];
  if (p.line) where.push(`line ${p.line}` + (p.column ? `, column ${p.column}` : ""));
  if (p.path) where.push(p.path);
  return `${where.length ? where.join(", ") + ": " : ""}${p.message}${p.suggestion ? " " + p.suggestion : ""} [${p.code}]`;
}

function showProblems(box, form, problems, heading) {
  clearProblems(box, form);
  const ul = el("ul");
  for (const p of problems) {
    const target = findField(form, p.path);
    const li = el("li");
    if (target) {
      const control = target.matches("input, select, textarea") ? target : $("input, select, textarea", target);
      const link = el("a", {href: "#", text: problemText(p)});
      link.addEventListener("click", (ev) => { ev.preventDefault(); (control || target).focus(); });
      li.append(link);
      const id = `err${++uid}`;
      const msg = el("p", {class: "field-error", id, text: `${p.message}${p.suggestion ? " " + p.suggestion : ""}`});
      if (target.matches("input, select, textarea")) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", id);
        target.insertAdjacentElement("afterend", msg);
      } else {
        target.append(msg);
      }
    } else {
      li.textContent = problemText(p);
    }
    ul.append(li);
  }
  box.append(el("h3", {text: heading}), ul);
  box.hidden = false;
}

// -- talking to the API

async function post(path, body, type) {
  const res = await fetch(path, {method: "POST", headers: {"content-type": type}, body});
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = null; }
  return {status: res.status, text, data, assertions: (res.headers.get("ptcheck-assertion-id") || "").split(/,\s*/).filter(Boolean)};
}

let validateTimer = null;
let validateSeq = 0;
function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, 400);
}

async function validateNow() {
  const seq = ++validateSeq;
  const form = $("#case-form");
  const res = await post("/v1/validate", JSON.stringify(buildCase()), "application/json").catch(() => null);
  if (!res || seq !== validateSeq) return;              // a newer edit is on its way
  if (res.status === 422 && res.data) showProblems($("#problems"), form, res.data.problems, "Please correct:");
  else if (res.status === 200) clearProblems($("#problems"), form);
}

async function check(body, type, download, box, form, status) {
  status.textContent = "Checking…";
  const res = await post("/v1/check", body, type).catch((e) => ({status: 0, text: String(e), data: null}));
  status.textContent = "";
  if (res.status === 200) {
    clearProblems(box, form);
    const decisions = res.text.startsWith("{\n") ? [res.data] : res.text.trim().split("\n").map((l) => JSON.parse(l));
    renderAnswer(decisions, res.text, download, res.assertions);
    return;
  }
  if (res.status === 422 && res.data) {
    showProblems(box, form, res.data.problems, "The case was not checked. Please correct:");
    const first = $("a", box);
    if (first) first.focus();
  } else {
    clearProblems(box, form);
    const detail = res.data && res.data.detail ? res.data.detail : `the server answered ${res.status || "nothing"}`;
    box.append(el("h3", {text: "The case was not checked"}), el("p", {text: detail}));
    box.hidden = false;
  }
}

// -- the answer

function certifiedLine(item) {
  const req = item.requested_visits;
  let n = item.certified_visits;
  if (n === null || n === undefined) n = item.outcome === "certify" ? req : item.outcome === "non_certify" ? 0 : null;
  if (n === null || n === undefined) return el("div", {class: "visits"}, el("span", {class: "num", text: "–"}),
    ` no visits decided${req !== null && req !== undefined ? ` (${req} requested)` : ""}`);
  return el("div", {class: "visits"}, el("span", {class: "num", "data-test": "certified", text: String(n)}),
    req !== null && req !== undefined ? ` of ${req} requested visits certified` : " certified");
}

function reviewName(kind) {
  return kind === "imr" ? "IMR" : kind === "iro" ? "IRO" : "IMR/IRO";
}

function renderItem(d, item) {
  const art = el("article", {class: `item o-${item.outcome}`, "data-request": item.request});
  const title = `Item ${item.request}: ${words(item.service)}`;
  art.append(el("h3", {text: item.text ? `${title}: “${item.text}”` : title}));
  const verdict = el("div", {class: "verdict"},
    el("div", {class: "outcome", "data-test": "outcome", text: OUTCOME_WORDS[item.outcome] || item.outcome}),
    certifiedLine(item));
  art.append(verdict);
  if (item.review_outcome) {
    art.append(el("p", {class: "review"}, `Predicted ${reviewName(d.review_kind)} result: `,
      el("strong", {"data-test": "review", text: words(item.review_outcome)})));
  }
  if (item.actual) art.append(el("p", {text: `Actual outcome in the case: ${words(item.actual)}`}));

  art.append(el("h4", {text: "Why (rules that fired, with their citations)"}));
  const ol = el("ol", {class: "findings"});
  for (const f of item.findings) {
    ol.append(el("li", {class: f.effect},
      el("span", {class: "effect", text: words(f.effect === "derive" ? "context" : f.effect)}),
      el("span", {class: "msg", text: f.message}),
      el("span", {class: "src"}, el("code", {text: f.rule}), ` (${f.ruleset}@${f.version}) · `, el("cite", {text: f.citation})),
      (f.missing || []).length ? el("span", {class: "src"}, `The records do not show: ${f.missing.join("; ")}`) : null));
  }
  if (!item.findings.length) ol.append(el("li", {text: "No rule fired."}));
  art.append(ol);

  art.append(el("h4", {text: "What would change the answer"}));
  const changes = el("ul", {class: "changes"});
  for (const w of item.would_change || []) {
    const to = w.outcome === "modify" && w.certified_visits !== null ? `modify to ${w.certified_visits} visits` : words(w.outcome);
    changes.append(el("li", {}, `Documenting ${w.documentation}: `, el("strong", {text: to})));
  }
  if (!(item.would_change || []).length) {
    changes.append(el("li", {text: "Nothing the records leave undocumented changes this answer."}));
  }
  art.append(changes);
  if ((item.missing || []).length) {
    art.append(el("h4", {text: "Documentation the rules ask for"}));
    const ul = el("ul", {class: "missing"});
    for (const m of item.missing) ul.append(el("li", {text: m}));
    art.append(ul);
  }
  const details = el("details", {}, el("summary", {text: "How the facts were read, and the rule sets run"}));
  const facts = el("ul");
  for (const f of item.facts || []) facts.append(el("li", {text: f}));
  for (const r of item.rulesets_run || []) facts.append(el("li", {text: `rule set run: ${r}`}));
  details.append(facts);
  art.append(details);
  return art;
}

// -- the reviewer's disposition: accept the suggestion, or override it with a published reason
// (POST /v1/dispositions against the decision the server logged; its id is the Ptcheck-Assertion-Id header)

let overrideReasons = null;
async function reasons() {
  if (overrideReasons === null) {
    const res = await fetch("/v1/override-reasons").catch(() => null);
    overrideReasons = res && res.ok ? (await res.json()).reasons : [];
  }
  return overrideReasons;
}

function reviewerField() {
  const input = el("input", {id: "reviewer-id", type: "text", autocomplete: "off", value: sessionStorage.getItem("ptcheck-reviewer") || ""});
  input.addEventListener("change", () => sessionStorage.setItem("ptcheck-reviewer", input.value.trim()));
  return el("div", {class: "field reviewer"}, el("label", {for: "reviewer-id", text: "Reviewer id (for accept / override)"}), input);
}

function dispositionBox(aid, item) {
  const box = el("fieldset", {class: "disposition", "data-test": "disposition"}, el("legend", {text: "Your disposition of this suggestion"}));
  const status = el("p", {class: "disposition-status", role: "status", "data-test": "disposition-status"});
  const accept = el("button", {type: "button", class: "accept", text: "Accept the suggestion"});
  const override = el("button", {type: "button", class: "override", text: "Override…"});
  const sid = `f${++uid}`, cid = `f${++uid}`;
  const select = el("select", {id: sid}, el("option", {value: "", text: "Choose a reason"}));
  const comment = el("textarea", {id: cid, rows: 2, maxlength: 4000});
  const record = el("button", {type: "button", class: "record", text: "Record the override"});
  const more = el("div", {class: "override-form", hidden: true},
    el("div", {class: "field"}, el("label", {for: sid, text: "Override reason"}), select),
    el("div", {class: "field"}, el("label", {for: cid, text: "Comment (optional)"}), comment), record);
  reasons().then((list) => { for (const r of list) select.append(el("option", {value: r.code, text: r.display})); });
  const send = async (disposition) => {
    const reviewer = ($("#reviewer-id").value || "").trim();
    if (!reviewer) { status.textContent = "Enter your reviewer id above first."; $("#reviewer-id").focus(); return; }
    const body = {assertion_id: aid, request: item.request, disposition, reviewer};
    if (disposition === "overridden") {
      if (!select.value) { status.textContent = "Choose why you override it."; select.focus(); return; }
      body.reason = select.value;
      if (comment.value.trim()) body.comment = comment.value.trim();
    }
    const res = await post("/v1/dispositions", JSON.stringify(body), "application/json").catch(() => ({status: 0}));
    if (res.status === 201) {
      status.textContent = disposition === "accepted" ? "Recorded: accepted." : `Recorded: overridden (${select.value}).`;
      more.hidden = true;
    } else {
      const p = res.data && res.data.problems ? res.data.problems.map(problemText).join("; ") : (res.data && res.data.detail) || `the server answered ${res.status || "nothing"}`;
      status.textContent = `Not recorded: ${p}`;
    }
  };
  accept.addEventListener("click", () => send("accepted"));
  override.addEventListener("click", () => { more.hidden = false; select.focus(); });
  record.addEventListener("click", () => send("overridden"));
  box.append(el("div", {class: "buttons"}, accept, override), more, status);
  return box;
}

function renderAnswer(decisions, raw, download, assertions = []) {
  const body = $("#answer-body");
  body.replaceChildren();
  $("#answer-empty").hidden = true;
  if (assertions.length) body.append(reviewerField());
  decisions.forEach((d, n) => {
    const head = el("div", {class: "case-head"},
      el("p", {}, el("strong", {text: `Case ${d.case}`}),
        ` · ${d.jurisdiction} · ${d.review_kind.toUpperCase()} review${d.review_date ? " of " + d.review_date : ""}`));
    const sets = d.rulesets.map((r) => `${r.id}@${r.version} (${r.sha256.slice(0, 10)})`);
    head.append(el("p", {"data-test": "rulesets", text: `Rule sets used: ${sets.length ? sets.join(", ") : "none"}`}));
    for (const n of d.notes || []) head.append(el("p", {text: `Note: ${n}`}));
    body.append(head);
    for (const item of d.items) {
      const art = renderItem(d, item);
      if (assertions[n]) art.append(dispositionBox(assertions[n], item));
      body.append(art);
    }
  });
  const blob = new Blob([download.text], {type: download.type});
  const link = el("a", {href: URL.createObjectURL(blob), download: download.name, id: "download-case",
    text: `Download this case (${download.name})`});
  body.append(el("div", {class: "reproduce"},
    el("p", {}, link),
    el("p", {}, "Reproduce from the command line: ", el("code", {text: `ptcheck check ${download.name}`})),
    el("details", {}, el("summary", {text: "The decision JSON (as ptcheck check --json prints it)"}),
      el("pre", {class: "json", id: "decision-json", text: raw}))));
  const answer = $("#answer");
  answer.focus();
}

// -- wiring

function safeName(id, ext) {
  const base = (id || "case").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60) || "case";
  return `${base}.${ext}`;
}

document.addEventListener("DOMContentLoaded", () => {
  const dl = el("datalist", {id: "surgery-kinds"});
  for (const k of SURGERY_KINDS) dl.append(el("option", {value: k}));
  document.body.append(dl);
  buildFlags();
  addRow("diagnosis", false);
  addRow("request", false);
  for (const b of $$("button.add")) b.addEventListener("click", () => { addRow(b.dataset.add); scheduleValidate(); });

  const form = $("#case-form");
  form.addEventListener("input", scheduleValidate);
  form.addEventListener("change", scheduleValidate);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(validateTimer);
    validateSeq++;                                           // a pending validation must not overwrite this
    const c = buildCase();
    check(JSON.stringify(c), "application/json",
      {text: toYaml(c) + "\n", type: "application/yaml", name: safeName(c.id, "yaml")},
      $("#problems"), form, $("#form-status"));
  });

  const textForm = $("#text-form");
  const area = $("#case-text");
  const readFile = (file) => file.text().then((t) => { area.value = t; area.dataset.name = file.name; });
  $("#case-file").addEventListener("change", (ev) => { if (ev.target.files[0]) readFile(ev.target.files[0]); });
  area.addEventListener("dragover", (ev) => ev.preventDefault());
  area.addEventListener("drop", (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer.files[0]) readFile(ev.dataTransfer.files[0]);
  });
  textForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = area.value;
    const json = /^\s*[[{]/.test(text);
    const type = json ? "application/json" : "application/yaml";
    const m = /^\s*"?id"?\s*:\s*"?([^"\n,]+)"?/m.exec(text);
    const name = area.dataset.name || safeName(m ? m[1].trim() : "case", json ? "json" : "yaml");
    check(text, type, {text, type, name}, $("#text-problems"), textForm, {set textContent(v) {}});
  });
});
