/* Supervisor page for the churn-risk service.
 *
 * Plain browser JavaScript, no build step and no external assets: the page talks to the
 * service's JSON endpoints (/version, /score, /explain, /call_list) on its own origin and
 * renders what a supervisor needs: the chance of leaving, the model's band next to the
 * documented rule indicator, the drivers in plain words, the suggested action and a bar
 * chart of what moves the score.
 */
"use strict";

const BAND_LABELS = {
  high: "High risk",
  dynamic: "Dynamic risk",
  no_threat: "No threat",
};

// Plain-language names for the snapshot columns (features/catalog.py); unknown names fall
// back to the column name with spaces, so a new feature still shows up readably.
const FEATURE_LABELS = {
  category: "Client category",
  segment: "Segment",
  service_mode: "Service mode",
  region: "Region",
  monthly_fee_rub: "Monthly fee, RUB",
  tenure_days: "Days as a client",
  first_advance_months: "First advance, months",
  n_users: "Registered users",
  logins_7d: "Logins, last 7 days",
  logins_30d: "Logins, last 30 days",
  logins_90d: "Logins, last 90 days",
  login_trend: "Login trend (last month vs before)",
  active_users_30d: "Active users, last 30 days",
  training_coverage: "Share of users trained",
  training_norm_met: "Training norm met",
  key_user_trained: "Key user trained",
  days_since_training: "Days since last training",
  webinars_180d: "Webinars, last 6 months",
  cabinet_requests_90d: "Personal cabinet requests, 3 months",
  hotline_requests_60d: "Hotline requests, 2 months",
  consultation_requests_60d: "Consultation requests, 2 months",
  newsletter_clicks_30d: "Newsletter clicks, 30 days",
  newsletter_clicks_90d: "Newsletter clicks, 90 days",
  newsletter_bounce_share_90d: "Newsletter bounce share",
  video_clicks_90d: "VideoConsultant clicks, 90 days",
  kit_updates_90d: "Kit updates, 90 days",
  open_debt_rub: "Open debt, RUB",
  overdue_debt_rub: "Overdue debt, RUB",
  days_overdue: "Days overdue",
  renewal_period_arrived: "Renewal period arrived",
  competitor_present: "Competitor present",
  days_since_competitor_check: "Days since competitor check",
  key_user_changed_180d: "Key user changed, 6 months",
  decision_maker_changed_180d: "Decision maker changed, 6 months",
  days_since_contact: "Days since last contact",
  contact_index: "Contact-necessity index",
  training_indicator: "Training sub-indicator",
  webinar_indicator: "Webinar sub-indicator",
  cabinet_indicator: "Personal cabinet sub-indicator",
};

const SUB_INDICATOR_LABELS = {
  training_indicator: "Training",
  training: "Training",
  webinar_indicator: "Webinars (6 months)",
  webinars: "Webinars (6 months)",
  webinar: "Webinars (6 months)",
  cabinet_indicator: "Personal cabinet (3 months)",
  cabinet: "Personal cabinet (3 months)",
};

// Conditions of the contact-necessity index (seed 004), as the rule's weights name them.
const CONDITION_LABELS = {
  renewal_period_arrived: "renewal period has arrived",
  has_overdue_debt: "overdue debt",
  no_kit_updates: "no kit updates",
  neither_hotline_nor_lk: "neither hotline nor personal cabinet used",
  training_norm_not_met: "training norm not met",
  has_unreturned_acts: "unreturned acts",
  systems_use: "systems use",
};

const CHART_BARS = 10;
const state = { horizonDays: 90, ruleBands: { high: 0.34, dynamic: 0.3 } };

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function featureLabel(name) {
  return FEATURE_LABELS[name] || String(name).replace(/_/g, " ");
}

function bandLabel(band) {
  return BAND_LABELS[band] || (band ? String(band).replace(/_/g, " ") : "—");
}

function bandBadge(node, band) {
  node.textContent = bandLabel(band);
  node.className = `band band-${band || "unknown"}`;
  node.dataset.band = band || "";
}

function percent(p) {
  if (p === null || p === undefined || Number.isNaN(Number(p))) return "—";
  return `${(Number(p) * 100).toFixed(1)} %`;
}

function formatValue(value) {
  if (value === null || value === undefined || value === "") return "unknown";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return "unknown";
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return Math.abs(value) >= 100
      ? Math.round(value).toLocaleString("en-US")
      : value.toFixed(2);
  }
  return String(value).replace(/_/g, " ");
}

function money(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return `${Math.round(Number(value)).toLocaleString("en-US")} ₽`;
}

function dateOnly(asOf) {
  return asOf ? String(asOf).slice(0, 10) : "—";
}

function ruleBandOf(x) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return null;
  if (x >= state.ruleBands.high) return "high";
  if (x >= state.ruleBands.dynamic) return "dynamic";
  return "no_threat";
}

/** POST/GET JSON; throw an Error carrying the service's own message on a non-2xx answer. */
async function api(path, body) {
  const init = body === undefined
    ? { method: "GET" }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(new URL(path, window.location.origin), init);
  } catch (err) {
    throw new Error("The scoring service cannot be reached. Is it running?");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const message = errorMessage(data) || text || response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

function errorMessage(data) {
  if (!data) return "";
  if (typeof data === "string") return data;
  for (const key of ["error", "detail", "message"]) {
    const value = data[key];
    if (typeof value === "string") return value;
    if (Array.isArray(value) && value.length) {
      return value.map((v) => (typeof v === "string" ? v : v.msg || JSON.stringify(v))).join("; ");
    }
  }
  return JSON.stringify(data);
}

function showMessage(node, text, kind = "error") {
  node.textContent = text;
  node.className = text ? `message ${kind}` : "message";
}

/* ---------------------------------------------------------------- model header -- */

async function loadVersion() {
  try {
    const v = await api("/version");
    if (v.horizon_days) state.horizonDays = v.horizon_days;
    const parts = [
      `Model ${v.model_name || "churn-risk"} version ${v.model_version ?? "?"}`,
      v.alias ? `(${v.alias})` : "",
      `· scores as of ${dateOnly(v.as_of)}`,
    ];
    $("#model-meta").textContent = parts.filter(Boolean).join(" ");
  } catch (err) {
    $("#model-meta").textContent = `Model information unavailable: ${err.message}`;
  }
}

/* ------------------------------------------------------------------- call list -- */

function reasonText(reason) {
  if (reason === null || reason === undefined) return "";
  if (typeof reason === "string") return reason;
  return reason.text || reason.reason_group || reason.feature || "";
}

/** A call-list row's reasons: a list (`reasons` / `drivers`) or flat `reason_1..3` columns. */
function rowReasons(row) {
  if (Array.isArray(row.reasons)) return row.reasons;
  if (Array.isArray(row.drivers)) return row.drivers;
  const flat = [];
  for (let i = 1; row[`reason_${i}`] !== undefined; i += 1) {
    if (row[`reason_${i}`]) {
      flat.push({
        text: row[`reason_${i}`],
        reason_group: row[`reason_group_${i}`],
        action: row[`action_${i}`],
      });
    }
  }
  return flat;
}

function firstAction(row) {
  const reasons = rowReasons(row);
  const withAction = reasons.find((r) => r && typeof r === "object" && r.action);
  if (withAction) return withAction.action;
  if (row.action) return String(row.action).split(" | ")[0];
  return row.suggested_action || "";
}

function callListBody() {
  const body = { capacity: Number($("#capacity").value) || 25 };
  const segment = $("#segment").value;
  const mode = $("#service-mode").value;
  if (segment) body.segment = segment;
  if (mode) body.service_mode = mode;
  return body;
}

async function loadCallList(event) {
  if (event) event.preventDefault();
  const message = $("#call-list-message");
  const tbody = $("#call-list tbody");
  showMessage(message, "Loading the call list…", "info");
  try {
    const data = await api("/call_list", callListBody());
    tbody.replaceChildren();
    const clients = data.clients || [];
    clients.forEach((row, i) => tbody.append(callListRow(row, i)));
    showMessage(
      message,
      clients.length
        ? `${clients.length} clients to call, data as of ${dateOnly(data.as_of)}.`
        : "No clients match these filters.",
      "info",
    );
  } catch (err) {
    tbody.replaceChildren();
    showMessage(message, `Could not load the call list: ${err.message}`);
  }
}

function callListRow(row, i) {
  const reasons = rowReasons(row);
  const main = reasons.length ? reasonText(reasons[0]) : "";
  const rest = reasons.slice(1).map(reasonText).filter(Boolean);
  const risk = el("span");
  bandBadge(risk, row.risk_band);
  const rule = el("span");
  bandBadge(rule, row.rule_band || ruleBandOf(row.contact_index));
  const tr = el(
    "tr",
    { "data-client-id": String(row.client_id), tabindex: "0", title: "Click to see why" },
    el("td", {}, row.rank ?? i + 1),
    el("td", { class: "id" }, row.client_id),
    el("td", { class: "num" }, percent(row.probability)),
    el("td", {}, risk),
    el("td", {}, rule),
    el(
      "td",
      { class: "num", title: `monthly fee ${money(row.monthly_fee_rub)}` },
      money(row.expected_loss_rub ?? row.expected_loss),
    ),
    el(
      "td",
      { class: "reason", title: rest.length ? `Also: ${rest.join("; ")}` : "" },
      el("div", {}, main || "—"),
      firstAction(row) ? el("div", { class: "todo" }, `→ ${firstAction(row)}`) : null,
    ),
  );
  const open = () => {
    $("#client-id").value = String(row.client_id);
    explainClient(row.client_id);
  };
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (e) => {
    if (e.key === "Enter") open();
  });
  return tr;
}

/* ---------------------------------------------------------------------- client -- */

function parseClientId(raw) {
  const text = String(raw).trim();
  if (!text) return { error: "Type a client id first." };
  if (!/^-?\d+$/.test(text)) return { error: `"${text}" is not a client id: use digits only.` };
  return { id: Number(text) };
}

async function explainClient(rawId) {
  const message = $("#client-message");
  const card = $("#client-card");
  const parsed = parseClientId(rawId);
  if (parsed.error) {
    card.hidden = true;
    showMessage(message, parsed.error);
    return;
  }
  showMessage(message, `Looking up client ${parsed.id}…`, "info");
  try {
    const [explanation, scored] = await Promise.all([
      api("/explain", { client_id: parsed.id, top_k: 5 }),
      api("/score", { client_ids: [parsed.id] }).catch(() => null),
    ]);
    const score = scored && scored.scores && scored.scores.length ? scored.scores[0] : {};
    renderClient(explanation, score);
    showMessage(message, "");
    card.hidden = false;
    highlightRow(parsed.id);
  } catch (err) {
    card.hidden = true;
    const plain = err.message.replace(/^[a-z_]+: /, "");
    const text = err.status === 404
      ? `${plain.charAt(0).toUpperCase()}${plain.slice(1)} — check the id or pick a client from the call list.`
      : `Could not explain client ${parsed.id}: ${err.message}`;
    showMessage(message, text);
  }
}

function highlightRow(clientId) {
  document.querySelectorAll("#call-list tbody tr").forEach((tr) => {
    tr.classList.toggle("selected", tr.dataset.clientId === String(clientId));
  });
}

function renderClient(ex, score) {
  const rule = ex.rule || {};
  const riskBand = ex.risk_band || score.risk_band;
  const contactIndex = rule.contact_index ?? score.contact_index;
  const ruleBand = rule.rule_band || score.rule_band || ruleBandOf(contactIndex);
  const probability = ex.probability ?? score.probability;

  $("#card-client-id").textContent = String(ex.client_id);
  $("#card-probability").textContent = percent(probability);
  $("#card-horizon").textContent = `${ex.horizon_days || state.horizonDays} days`;
  $("#card-as-of").textContent = dateOnly(ex.as_of);
  bandBadge($("#card-risk-band"), riskBand);

  $("#rule-index").textContent = contactIndex === undefined ? "—" : Number(contactIndex).toFixed(2);
  bandBadge($("#rule-band"), ruleBand);
  renderSubIndicators(rule);
  renderConditions(rule.conditions);
  $("#model-prob").textContent = percent(probability);
  bandBadge($("#model-band"), riskBand);
  $("#agreement").textContent = agreement(ruleBand, riskBand);

  renderDrivers(ex.drivers || []);
  renderKeeps(ex.contributions || [], ex.protective || []);
  renderChart(ex.contributions || []);
}

function agreement(ruleBand, modelBand) {
  const flagged = (b) => b === "high" || b === "dynamic";
  if (!ruleBand || !modelBand) return "";
  if (flagged(ruleBand) && flagged(modelBand)) {
    return "Rule and model agree: this client needs attention.";
  }
  if (!flagged(ruleBand) && !flagged(modelBand)) {
    return "Rule and model agree: no threat right now.";
  }
  if (flagged(modelBand)) {
    return "The model sees a risk the rule misses — read the reasons below.";
  }
  return "The rule flags this client, but past churn suggests the risk is low.";
}

/** Sub-indicators arrive as a list of {name, value, band} or as a mapping; accept both. */
function subIndicatorEntries(rule) {
  const source = rule.sub_indicators || rule.subindicators || rule.indicators;
  const entries = [];
  const push = (name, item) => {
    if (item && typeof item === "object") {
      const value = item.value ?? item.indicator ?? null;
      entries.push({ name: item.name || item.label || name, value, band: item.band || ruleBandOf(value) });
    } else if (typeof item === "number" || item === null) {
      entries.push({ name, value: item, band: ruleBandOf(item) });
    } else if (typeof item === "string") {
      entries.push({ name, value: null, band: item });
    }
  };
  if (Array.isArray(source)) {
    source.forEach((item) => push(item.name || item.feature || item.indicator_name, item));
  } else if (source && typeof source === "object") {
    Object.entries(source).forEach(([name, item]) => push(name, item));
  } else {
    Object.entries(rule)
      .filter(([name]) => !["contact_index", "rule_band", "bands"].includes(name))
      .forEach(([name, item]) => push(name, item));
  }
  return entries;
}

function renderConditions(conditions) {
  const node = $("#rule-conditions");
  if (!Array.isArray(conditions)) {
    node.textContent = "";
    return;
  }
  const parts = conditions.map((c) => {
    const name = typeof c === "string" ? c : c.name;
    const weight = typeof c === "object" && typeof c.weight === "number" ? ` (+${c.weight.toFixed(2)})` : "";
    return `${CONDITION_LABELS[name] || String(name).replace(/_/g, " ")}${weight}`;
  });
  node.textContent = parts.length
    ? `Conditions met: ${parts.join(", ")}.`
    : "None of the rule's conditions apply: base value only.";
}

function renderSubIndicators(rule) {
  const tbody = document.querySelector("[data-testid=sub-indicators] tbody");
  tbody.replaceChildren();
  for (const entry of subIndicatorEntries(rule)) {
    const badge = el("span");
    bandBadge(badge, entry.band);
    tbody.append(
      el(
        "tr",
        { "data-testid": "sub-indicator" },
        el("td", {}, SUB_INDICATOR_LABELS[entry.name] || featureLabel(entry.name)),
        el("td", { class: "num" }, entry.value === null ? "" : Number(entry.value).toFixed(2)),
        el("td", {}, badge),
      ),
    );
  }
}

function renderDrivers(drivers) {
  const list = $("#drivers");
  list.replaceChildren();
  for (const d of drivers) {
    const text = typeof d === "string" ? d : d.text;
    const group = d && d.reason_group ? el("span", { class: "group" }, d.reason_group.replace(/_/g, " ")) : null;
    const action = d && d.action ? el("div", { class: "todo" }, `→ ${d.action}`) : null;
    const up = d && typeof d.contribution === "number" ? d.contribution > 0 : /raises/i.test(text);
    list.append(el("li", { "data-testid": "driver", class: up ? "up" : "down" }, el("span", {}, text), group, action));
  }
  if (!drivers.length) list.append(el("li", {}, "No single factor stands out for this client."));
  const firstUp = drivers.find((d) => d && d.action && (d.contribution === undefined || d.contribution > 0));
  const main = firstUp || drivers.find((d) => d && d.action);
  $("#action").textContent = main
    ? `Suggested first step: ${main.action}${main.reason_group ? ` (${main.reason_group.replace(/_/g, " ")})` : ""}.`
    : "";
}

/** The strongest signals that lower this client's risk: what the specialist can build on. */
function renderKeeps(contributions, protective) {
  const keeps = (protective && protective.length
    ? protective.map((d) => d.text)
    : contributions
        .filter((c) => Number(c.contribution) < 0)
        .sort((a, b) => a.contribution - b.contribution)
        .slice(0, 3)
        .map((c) => `${featureLabel(c.feature)} = ${formatValue(c.value)}`));
  $("#keeps").textContent = keeps.length ? `What keeps this client: ${keeps.join("; ")}.` : "";
}

/** A diverging bar chart of SHAP contributions: red to the right raises risk, green lowers it. */
function renderChart(contributions) {
  const chart = $("#chart");
  chart.replaceChildren();
  const top = [...contributions]
    .filter((c) => Number.isFinite(Number(c.contribution)))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, CHART_BARS);
  const scale = Math.max(...top.map((c) => Math.abs(c.contribution)), 1e-9);
  for (const c of top) {
    const width = (Math.abs(c.contribution) / scale) * 50;
    const up = c.contribution > 0;
    const bar = el("div", {
      class: `bar ${up ? "up" : "down"}`,
      "data-testid": "shap-bar",
      "data-feature": c.feature,
      style: `width:${width.toFixed(2)}%;${up ? "left:50%" : `right:50%`}`,
      title: `${up ? "raises" : "lowers"} risk by ${Math.abs(c.contribution).toFixed(3)} (log-odds)`,
    });
    chart.append(
      el(
        "div",
        { class: "row" },
        el("div", { class: "name" }, featureLabel(c.feature), el("span", { class: "value" }, ` = ${formatValue(c.value)}`)),
        el("div", { class: "track" }, el("div", { class: "axis" }), bar),
        el("div", { class: `amount ${up ? "up" : "down"}` }, `${up ? "+" : "−"}${Math.abs(c.contribution).toFixed(2)}`),
      ),
    );
  }
}

/* ------------------------------------------------------------------------ wiring -- */

document.addEventListener("DOMContentLoaded", () => {
  $("#call-list-form").addEventListener("submit", loadCallList);
  $("#client-form").addEventListener("submit", (e) => {
    e.preventDefault();
    explainClient($("#client-id").value);
  });
  loadVersion();
  loadCallList(); // the list is what a supervisor opens the page for
  const fromUrl = new URLSearchParams(window.location.search).get("client");
  if (fromUrl) {
    $("#client-id").value = fromUrl;
    explainClient(fromUrl);
  }
});
