/* Supervisor page for the churn-risk service.
 *
 * Plain browser JavaScript, no build step and no external assets (the box has no internet
 * and the page must work offline): it talks to the service's JSON endpoints (/version,
 * /score, /explain, /history, /call_list) on its own origin and renders what a supervisor
 * needs: the chance of leaving, the model's band next to the documented rule indicator,
 * the drivers in plain words, the score trend over the stored weeks, what changed since
 * last week, the calls recorded and their outcomes, and a bar chart of what moves the score.
 *
 * Language: Russian by default (the specialists' language), English with ?lang=en; without
 * ?lang the page follows the service's `language` from /version when it says one. Every
 * label lives in the I18N dictionary below; sentences about a client come from the service
 * in the same language (the page sends `lang` to /explain).
 *
 * Access: every data endpoint needs an API key. The page asks for one once, keeps it in
 * sessionStorage (this tab only) and sends it as `Authorization: Bearer KEY`; a 401 or 403
 * forgets it, says why in the page's language and asks again.
 */
"use strict";

const LANGUAGES = ["ru", "en"];
const DEFAULT_LANGUAGE = "ru";
const KEY_STORAGE = "churn.apiKey";
const HISTORY_WEEKS = 26;
const CHART_BARS = 10;

const I18N = {
  ru: {
    title: "Риск ухода клиентов — страница руководителя",
    connecting: "Подключение к сервису оценки…",
    change_key: "Сменить ключ",
    auth_title: "Вход по API-ключу",
    auth_key_label: "API-ключ",
    auth_submit: "Войти",
    auth_hint:
      "Ключ выдаёт администратор (churn keys add --role supervisor); он хранится только в этой вкладке браузера.",
    auth_prompt: "Введите API-ключ, чтобы увидеть данные клиентов.",
    auth_empty: "Введите ключ: поле пустое.",
    auth_unknown: "Ключ не принят (неизвестный или отозванный ключ). Введите действующий API-ключ.",
    auth_forbidden:
      "У этого ключа нет прав на страницу руководителя (нужна роль supervisor или admin). Введите другой ключ.",
    auth_needed: "Нужен действующий API-ключ (см. форму вверху страницы).",
    call_list_title: "Список звонков на эту неделю",
    call_list_hint:
      "Кому звонить в первую очередь: вверху — больше всего денег под риском. Нажмите на строку, чтобы увидеть причины.",
    how_many: "Сколько звонков",
    segment: "Сегмент",
    service_mode: "Форма сопровождения",
    all: "все",
    show_list: "Показать список",
    th_client: "Клиент",
    th_chance: "Вероятность ухода",
    th_model: "Модель",
    th_rule: "Правило",
    th_money: "Ожидаемые потери за {days} дн., ₽",
    th_money_title: "вероятность ухода за {days} дней × абонентская плата за эти {days} дней",
    th_reason: "Главная причина и что сделать",
    lookup_title: "Найти клиента",
    client_id: "Номер или название клиента",
    client_id_placeholder: "например, 1042 или «Строй»",
    name_none: "Нет клиента, в названии которого есть «{text}».",
    name_many: "Под «{text}» подходят несколько клиентов — выберите (до {n}):",
    find_failed: "Не удалось найти «{text}»: {message}",
    explain: "Объяснить",
    label_client: "Клиент",
    chance_within: "Вероятность ухода в течение {days} дней",
    model_risk: "Риск по модели",
    data_as_of: "Данные на",
    evidence_limited: "ограниченные данные",
    evidence_limited_title:
      "Меньше 90 дней истории или нет данных из части таблиц: оценка опирается в основном на значения по умолчанию.",
    trend_title: "Риск по неделям",
    trend_aria: "Вероятность ухода по неделям: {points}",
    trend_none: "Для этого клиента в хранилище нет сохранённых недель.",
    trend_error: "История недоступна: {message}",
    changes_title: "Что изменилось с прошлой недели",
    changes_summary: "{before_date}: {before} ({before_band}) → {after_date}: {after} ({after_band})",
    changes_none: "Предыдущей недели нет: сравнивать не с чем.",
    changes_same: "Показатели клиента с прошлой недели не изменились.",
    outcomes_title: "Звонки и их итоги",
    th_called_on: "Дата звонка",
    th_reached: "Дозвонились",
    th_result: "Итог",
    th_note: "Комментарий",
    no_outcomes: "Звонков этому клиенту не записано.",
    yes: "да",
    no: "нет",
    rule_vs_model: "Правило и модель",
    rule_box: "Документированное правило (показатель необходимости контакта)",
    model_box: "Модель (обучена на прошлых уходах)",
    why: "Почему — простыми словами",
    moves: "Что двигает оценку",
    raises: "повышает риск",
    lowers: "снижает риск",
    bar_hint: "— чем длиннее полоса, тем сильнее влияние.",
    model_meta: "Модель {name}, версия {version}{alias} · оценки на {as_of}",
    recalibrated: "вероятности перекалиброваны {date}",
    model_unavailable: "Сведения о модели недоступны: {message}",
    unreachable: "Сервис оценки недоступен. Он запущен?",
    loading_list: "Загрузка списка звонков…",
    list_loaded: "Клиентов к звонку: {n}, данные на {as_of}.",
    list_empty: "Нет клиентов под эти фильтры.",
    list_failed: "Не удалось загрузить список звонков: {message}",
    row_title: "Нажмите, чтобы увидеть причины",
    row_also: "Также: {rest}",
    row_fee: "абонентская плата {fee}",
    type_id: "Сначала введите номер клиента.",
    looking_up: "Ищем клиента {id}…",
    not_found: "{message} — проверьте номер или выберите клиента из списка звонков.",
    explain_failed: "Не удалось объяснить клиента {id}: {message}",
    no_factor: "Ни один фактор не выделяется для этого клиента.",
    first_step: "Первый шаг: {action}{group}.",
    keeps: "Что удерживает клиента: {list}.",
    conditions_met: "Выполненные условия: {list}.",
    no_conditions: "Ни одно условие правила не выполнено: только базовое значение.",
    agree_attention: "Правило и модель согласны: клиенту нужно внимание.",
    agree_fine: "Правило и модель согласны: угрозы сейчас нет.",
    model_only: "Модель видит риск, который правило пропускает, — см. причины ниже.",
    rule_only: "Правило отмечает клиента, но по прошлым уходам риск низкий.",
    bar_title: "{direction} на {amount} (лог-шансы)",
    unknown: "нет данных",
  },
  en: {
    title: "Churn risk — supervisor view",
    connecting: "Connecting to the scoring service…",
    change_key: "Change key",
    auth_title: "Sign in with an API key",
    auth_key_label: "API key",
    auth_submit: "Sign in",
    auth_hint:
      "An administrator issues keys (churn keys add --role supervisor); the key is kept in this browser tab only.",
    auth_prompt: "Enter an API key to see client data.",
    auth_empty: "Enter a key: the field is empty.",
    auth_unknown: "Key not accepted (unknown or revoked). Enter a valid API key.",
    auth_forbidden:
      "This key may not use the supervisor page (it needs the supervisor or admin role). Enter another key.",
    auth_needed: "A valid API key is needed (see the form at the top of the page).",
    call_list_title: "This week's call list",
    call_list_hint:
      "The clients to call first, most money at risk at the top. Click a row to see why a client is on the list.",
    how_many: "How many calls",
    segment: "Segment",
    service_mode: "Service",
    all: "all",
    show_list: "Show list",
    th_client: "Client",
    th_chance: "Chance of leaving",
    th_model: "Model",
    th_rule: "Rule",
    th_money: "Expected loss over {days} days, RUB",
    th_money_title: "chance of leaving within {days} days × the fee for those {days} days",
    th_reason: "Main reason and suggested action",
    lookup_title: "Look up a client",
    client_id: "Client id or name",
    client_id_placeholder: "e.g. 1042 or \"Stroy\"",
    name_none: "No client has \"{text}\" in its name.",
    name_many: "Several clients match \"{text}\": choose one (up to {n} shown):",
    find_failed: "Could not look up \"{text}\": {message}",
    explain: "Explain",
    label_client: "Client",
    chance_within: "Chance of leaving within {days} days",
    model_risk: "Model risk",
    data_as_of: "Data as of",
    evidence_limited: "limited evidence",
    evidence_limited_title:
      "Under 90 days of history or no data from some tables: the score rests mostly on defaults.",
    trend_title: "Risk week by week",
    trend_aria: "Chance of leaving by week: {points}",
    trend_none: "The store holds no scored weeks for this client.",
    trend_error: "History unavailable: {message}",
    changes_title: "What changed since last week",
    changes_summary: "{before_date}: {before} ({before_band}) → {after_date}: {after} ({after_band})",
    changes_none: "No previous week to compare with.",
    changes_same: "None of the client's signals changed since last week.",
    outcomes_title: "Calls and their outcomes",
    th_called_on: "Called on",
    th_reached: "Reached",
    th_result: "Result",
    th_note: "Note",
    no_outcomes: "No calls recorded for this client.",
    yes: "yes",
    no: "no",
    rule_vs_model: "Rule versus model",
    rule_box: "Documented rule (contact-necessity index)",
    model_box: "Model (learned from past churn)",
    why: "Why — in plain words",
    moves: "What moves the score",
    raises: "raises risk",
    lowers: "lowers risk",
    bar_hint: "— longer bar, stronger effect.",
    model_meta: "Model {name} version {version}{alias} · scores as of {as_of}",
    recalibrated: "probabilities recalibrated on {date}",
    model_unavailable: "Model information unavailable: {message}",
    unreachable: "The scoring service cannot be reached. Is it running?",
    loading_list: "Loading the call list…",
    list_loaded: "{n} clients to call, data as of {as_of}.",
    list_empty: "No clients match these filters.",
    list_failed: "Could not load the call list: {message}",
    row_title: "Click to see why",
    row_also: "Also: {rest}",
    row_fee: "monthly fee {fee}",
    type_id: "Type a client id first.",
    looking_up: "Looking up client {id}…",
    not_found: "{message} — check the id or pick a client from the call list.",
    explain_failed: "Could not explain client {id}: {message}",
    no_factor: "No single factor stands out for this client.",
    first_step: "Suggested first step: {action}{group}.",
    keeps: "What keeps this client: {list}.",
    conditions_met: "Conditions met: {list}.",
    no_conditions: "None of the rule's conditions apply: base value only.",
    agree_attention: "Rule and model agree: this client needs attention.",
    agree_fine: "Rule and model agree: no threat right now.",
    model_only: "The model sees a risk the rule misses — read the reasons below.",
    rule_only: "The rule flags this client, but past churn suggests the risk is low.",
    bar_title: "{direction} by {amount} (log-odds)",
    unknown: "unknown",
  },
};

// Names the page shows for codes the service sends; per language, unknown codes fall back
// to the code with spaces, so a new one still shows up readably.
const CODES = {
  ru: {
    band: { high: "высокий риск", dynamic: "динамический риск", no_threat: "нет угрозы" },
    result: {
      retained: "остаётся",
      declined: "отказался",
      callback: "просил перезвонить",
      churned: "ушёл",
      no_answer: "не ответил",
    },
    value: {
      yes: "да",
      no: "нет",
      unknown: "неизвестно",
      small_medium: "малый / средний",
      large: "крупный",
      remote: "дистанционное (ДС)",
      in_person: "личное (СИО)",
    },
    sub: {
      training_indicator: "Обучение",
      training: "Обучение",
      webinar_indicator: "Вебинары (6 месяцев)",
      webinars: "Вебинары (6 месяцев)",
      webinar: "Вебинары (6 месяцев)",
      cabinet_indicator: "Личный кабинет (3 месяца)",
      cabinet: "Личный кабинет (3 месяца)",
    },
    condition: {
      renewal_period_arrived: "наступил период продления",
      has_overdue_debt: "просроченный долг",
      no_kit_updates: "нет обновлений комплекта",
      neither_hotline_nor_lk: "не обращается ни на горячую линию, ни через ЛК",
      training_norm_not_met: "норма обученности не выполнена",
      has_unreturned_acts: "невозвращённые акты",
      systems_use: "использование систем",
    },
  },
  en: {
    band: { high: "High risk", dynamic: "Dynamic risk", no_threat: "No threat" },
    result: {
      retained: "retained",
      declined: "declined",
      callback: "asked for a callback",
      churned: "churned",
      no_answer: "no answer",
    },
    value: {
      yes: "yes",
      no: "no",
      small_medium: "small / medium",
      large: "large",
      remote: "remote",
      in_person: "in person (engineer)",
    },
    sub: {
      training_indicator: "Training",
      training: "Training",
      webinar_indicator: "Webinars (6 months)",
      webinars: "Webinars (6 months)",
      webinar: "Webinars (6 months)",
      cabinet_indicator: "Personal cabinet (3 months)",
      cabinet: "Personal cabinet (3 months)",
    },
    // conditions of the contact-necessity index (seed 004), as the rule's weights name them
    condition: {
      renewal_period_arrived: "renewal period has arrived",
      has_overdue_debt: "overdue debt",
      no_kit_updates: "no kit updates",
      neither_hotline_nor_lk: "neither hotline nor personal cabinet used",
      training_norm_not_met: "training norm not met",
      has_unreturned_acts: "unreturned acts",
      systems_use: "systems use",
    },
  },
};

const urlLanguage = (() => {
  const asked = new URLSearchParams(window.location.search).get("lang");
  return LANGUAGES.includes(asked) ? asked : null;
})();

const state = {
  lang: urlLanguage || DEFAULT_LANGUAGE,
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  horizonDays: 90,
  ruleBands: null, // the rule's bands (configs/rules.yaml), from /catalog
  // whether the source has the documented rule indicator, and why not ({ru, en}), from /catalog
  rule: { available: true, reason: null },
  catalog: null, // the signals' labels and the reason groups' words, from /catalog
  riskThresholds: null, // the model's own band edges, from /version
  lastClient: null, // the client shown, re-opened after a new key is entered
  // answers arrive in any order: only the latest request's answer is drawn
  callListAsked: 0,
  clientAsked: 0,
};

const $ = (sel) => document.querySelector(sel);

/* ---------------------------------------------------------------- language -- */

/** The page's text for `key`, with {name} placeholders filled from `params`. */
function t(key, params = {}) {
  const table = I18N[state.lang] || I18N[DEFAULT_LANGUAGE];
  const template = table[key] ?? I18N.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

/** The name of a code (`kind`: band, result, value, group, sub, condition, feature). */
function code(kind, value) {
  if (value === null || value === undefined || value === "") return null;
  const names = (CODES[state.lang] || CODES[DEFAULT_LANGUAGE])[kind] || {};
  return names[value] || String(value).replace(/_/g, " ");
}

/** Every static label of the page in the current language (data-i18n attributes). */
function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  const days = { days: state.horizonDays }; // the label horizon, from /version
  document.querySelectorAll("[data-i18n]").forEach((node) => {
    node.textContent = t(node.dataset.i18n, days);
  });
  document.querySelectorAll("[data-i18n-title]").forEach((node) => {
    node.title = t(node.dataset.i18nTitle, days);
  });
  document.querySelectorAll("option[data-code]").forEach((node) => {
    node.textContent = code(node.dataset.code, node.value);
  });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  });
  document.querySelectorAll("[data-lang]").forEach((link) => {
    const params = new URLSearchParams(window.location.search);
    params.set("lang", link.dataset.lang);
    link.href = `?${params}`;
    link.classList.toggle("current", link.dataset.lang === state.lang);
  });
  $("#card-horizon").textContent = t("chance_within", { days: state.horizonDays });
}

function locale() {
  return state.lang === "ru" ? "ru-RU" : "en-US";
}

/* ---------------------------------------------------------------- formatting -- */

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
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

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A signal's label in the page's language, from the signal spec (GET /catalog). */
function featureLabel(name) {
  const signal = state.catalog && state.catalog.signals.find((s) => s.name === name);
  if (signal && signal.label) return signal.label[state.lang] || signal.label.en || name;
  return String(name).replace(/_/g, " ");
}

function bandLabel(band) {
  return code("band", band) || "—";
}

function bandBadge(node, band) {
  node.textContent = bandLabel(band);
  node.className = `band band-${band || "unknown"}`;
  node.dataset.band = band || "";
}

function isNumber(x) {
  return x !== null && x !== undefined && x !== "" && Number.isFinite(Number(x));
}

/** 12.3 % (en) / 12,3 % (ru): one decimal, the language's decimal mark. */
function percent(p) {
  if (!isNumber(p)) return "—";
  const text = (Number(p) * 100).toFixed(1);
  return `${state.lang === "ru" ? text.replace(".", ",") : text} %`;
}

function decimal(x, digits = 2) {
  const text = Number(x).toFixed(digits);
  return state.lang === "ru" ? text.replace(".", ",") : text;
}

function formatValue(value) {
  if (value === null || value === undefined || value === "") return t("unknown");
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return t("unknown");
    if (Number.isInteger(value)) return value.toLocaleString(locale());
    return Math.abs(value) >= 100 ? Math.round(value).toLocaleString(locale()) : decimal(value);
  }
  return code("value", value);
}

function money(value) {
  if (!isNumber(value)) return "—";
  return `${Math.round(Number(value)).toLocaleString(locale())} ₽`;
}

/** The date part of an ISO date or timestamp: 2025-06-01 (en) / 01.06.2025 (ru). */
function formatDate(asOf) {
  if (!asOf) return "—";
  const iso = String(asOf).slice(0, 10);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  return state.lang === "ru" ? `${m[3]}.${m[2]}.${m[1]}` : iso;
}

function ruleBandOf(x) {
  if (!isNumber(x) || !state.ruleBands) return null;
  if (x >= state.ruleBands.high) return "high";
  if (x >= state.ruleBands.dynamic) return "dynamic";
  return "no_threat";
}

function showMessage(node, text, kind = "error") {
  node.textContent = text;
  node.className = text ? `message ${kind}` : "message";
}

/* ------------------------------------------------------------------ API + auth -- */

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }

  get auth() {
    return this.status === 401 || this.status === 403;
  }
}

/** POST/GET JSON with the key; throw an ApiError carrying the service's own message on a
 * non-2xx answer. A 401/403 also forgets the key and asks for another one. */
async function api(path, body, { quiet = false } = {}) {
  const headers = {};
  if (state.key) headers.Authorization = `Bearer ${state.key}`;
  const init = body === undefined
    ? { method: "GET", headers }
    : { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(new URL(path, window.location.origin), init);
  } catch (err) {
    throw new ApiError(t("unreachable"), 0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(errorMessage(data) || text || response.statusText, response.status);
    if (error.auth && !quiet) askForKey(error.status === 403 ? "auth_forbidden" : "auth_unknown");
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

/** Show the key form with a message (a dictionary key); a refused key is forgotten. */
function askForKey(messageKey, kind = "error") {
  if (messageKey !== "auth_prompt") {
    state.key = "";
    sessionStorage.removeItem(KEY_STORAGE);
  }
  const panel = $("#auth-panel");
  panel.hidden = false;
  panel.dataset.reason = messageKey;
  showMessage($("#auth-message"), t(messageKey), kind);
  $("#change-key").hidden = true;
  $("#api-key").focus();
}

function submitKey(event) {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  if (!key) {
    showMessage($("#auth-message"), t("auth_empty"));
    return;
  }
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("#api-key").value = "";
  $("#auth-panel").hidden = true;
  showMessage($("#auth-message"), "");
  $("#change-key").hidden = false;
  start();
}

/** What a failed call says in its panel: the auth form explains a refused key itself. */
function failureText(err, key, params) {
  return err.auth ? t("auth_needed") : t(key, { ...params, message: err.message });
}

/* ---------------------------------------------------------------- model header -- */

async function loadVersion() {
  try {
    const v = await api("/version");
    if (v.horizon_days && v.horizon_days !== state.horizonDays) {
      state.horizonDays = v.horizon_days;
      applyLanguage(); // headers that name the horizon
    }
    if (v.risk_thresholds) state.riskThresholds = v.risk_thresholds;
    if (!urlLanguage && LANGUAGES.includes(v.language) && v.language !== state.lang) {
      state.lang = v.language; // the service's configured language, unless ?lang says otherwise
      applyLanguage();
    }
    $("#card-horizon").textContent = t("chance_within", { days: state.horizonDays });
    $("#model-meta").textContent = t("model_meta", {
      name: v.model_name || "churn-risk",
      version: v.model_version ?? "?",
      alias: v.alias ? ` (${v.alias})` : "",
      as_of: formatDate(v.as_of),
    });
    const calibrated = v.calibration && v.calibration.recalibrated_on;
    const note = $("#model-calibration");
    note.textContent = calibrated ? t("recalibrated", { date: formatDate(calibrated) }) : "";
    note.title = calibrated && v.calibration.description ? v.calibration.description : "";
    return true;
  } catch (err) {
    $("#model-meta").textContent = err.auth ? t("auth_needed") : t("model_unavailable", { message: err.message });
    return !err.auth;
  }
}

/** Labels, units, rule bands and the model's band thresholds: one source, the service. */
async function loadCatalog() {
  try {
    // quiet: a key whose role may not read it (a scheduler's) is not asked for again here
    const c = await api("/catalog", undefined, { quiet: true });
    state.catalog = c;
    state.ruleBands = c.rule_bands;
    state.rule = c.rule_indicator || { available: true, reason: null };
    showRuleParts(ruleAvailable());
    if (c.risk_thresholds) state.riskThresholds = c.risk_thresholds;
  } catch (err) {
    state.catalog = null; // names fall back to the codes; the rest of the page still works
  }
}

/* ------------------------------------------------ a source without the rule -- */

/** False where the source lacks the rule indicator's inputs (/catalog's rule_indicator). */
function ruleAvailable() {
  return !state.rule || state.rule.available !== false;
}

/** The service's sentence saying why there is no rule, in the page's language. */
function ruleNote() {
  const reason = state.rule && state.rule.reason;
  return reason ? reason[state.lang] || reason.en || "" : "";
}

/** Rule columns, boxes and badges shown, or hidden with the sentence in their place. */
function showRuleParts(shown, note) {
  document.querySelectorAll("[data-rule-part]").forEach((node) => {
    node.hidden = !shown;
  });
  document.querySelectorAll("[data-rule-note]").forEach((node) => {
    node.hidden = shown;
    node.textContent = shown ? "" : note || ruleNote();
  });
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
  const ticket = ++state.callListAsked;
  showMessage(message, t("loading_list"), "info");
  try {
    const data = await api("/call_list", callListBody());
    if (ticket !== state.callListAsked) return; // a newer request was made: its answer wins
    tbody.replaceChildren();
    const clients = data.clients || [];
    clients.forEach((row, i) => tbody.append(callListRow(row, i)));
    showMessage(
      message,
      clients.length ? t("list_loaded", { n: clients.length, as_of: formatDate(data.as_of) }) : t("list_empty"),
      "info",
    );
  } catch (err) {
    if (ticket !== state.callListAsked) return;
    tbody.replaceChildren();
    showMessage(message, failureText(err, "list_failed"));
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
  const ruleCell = ruleAvailable() ? el("td", {}, rule) : null; // no empty column
  const action = firstAction(row);
  const tr = el(
    "tr",
    { "data-client-id": String(row.client_id), tabindex: "0", title: t("row_title") },
    el("td", {}, row.rank ?? i + 1),
    el(
      "td",
      { class: "id" },
      row.client_id,
      row.name ? el("div", { class: "client-name", title: row.name }, row.name) : null,
    ),
    el("td", { class: "num" }, percent(row.probability)),
    el("td", {}, risk),
    ruleCell,
    el(
      "td",
      { class: "num", title: t("row_fee", { fee: money(row.monthly_fee_rub) }) },
      money(row.expected_loss_rub ?? row.expected_loss),
    ),
    el(
      "td",
      { class: "reason", title: rest.length ? t("row_also", { rest: rest.join("; ") }) : "" },
      el("div", {}, main || "—"),
      action ? el("div", { class: "todo" }, `→ ${action}`) : null,
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
  if (!text) return { error: t("type_id") };
  if (/^-?\d+$/.test(text)) return { id: Number(text) };
  return { query: text };
}

/* Clients of the served week whose name contains the text (any case; POST /find). */
async function findByName(text) {
  try {
    const found = (await api("/find", { query: text, limit: 10 })).clients || [];
    if (found.length === 1) return { id: Number(found[0].client_id) };
    if (!found.length) return { error: t("name_none", { text }) };
    return { error: t("name_many", { text, n: found.length }), choices: found };
  } catch (err) {
    return { error: failureText(err, "find_failed", { text }) };
  }
}

async function explainClient(rawId) {
  const message = $("#client-message");
  const card = $("#client-card");
  let parsed = parseClientId(rawId);
  if (parsed.query) parsed = await findByName(parsed.query);
  if (parsed.error) {
    card.hidden = true;
    showMessage(message, parsed.error);
    for (const row of parsed.choices || []) {
      const pick = el("button", { type: "button", class: "choice" }, `${row.client_id} — ${row.name}`);
      pick.addEventListener("click", () => {
        $("#client-id").value = String(row.client_id);
        explainClient(row.client_id);
      });
      message.append(" ", pick);
    }
    return;
  }
  state.lastClient = parsed.id;
  const ticket = ++state.clientAsked;
  showMessage(message, t("looking_up", { id: parsed.id }), "info");
  try {
    const [explanation, scored, history] = await Promise.all([
      api("/explain", { client_id: parsed.id, top_k: 5, lang: state.lang }),
      api("/score", { client_ids: [parsed.id] }).catch(() => null),
      api("/history", { client_id: parsed.id, weeks: HISTORY_WEEKS }).catch((err) => ({ error: err })),
    ]);
    if (ticket !== state.clientAsked) return; // another client was asked for meanwhile
    const score = scored && scored.scores && scored.scores.length ? scored.scores[0] : {};
    renderClient(explanation, score);
    renderHistory(history);
    showMessage(message, "");
    card.hidden = false;
    highlightRow(parsed.id);
  } catch (err) {
    if (ticket !== state.clientAsked) return;
    card.hidden = true;
    if (err.status === 404) {
      const plain = err.message.replace(/^[a-z_]+: /, "");
      showMessage(message, t("not_found", { message: `${plain.charAt(0).toUpperCase()}${plain.slice(1)}` }));
    } else {
      showMessage(message, failureText(err, "explain_failed", { id: parsed.id }));
    }
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
  $("#card-client-name").textContent = ex.name || "";
  $("#card-probability").textContent = percent(probability);
  $("#card-horizon").textContent = t("chance_within", { days: ex.horizon_days || state.horizonDays });
  $("#card-as-of").textContent = formatDate(ex.as_of);
  bandBadge($("#card-risk-band"), riskBand);
  const evidence = ex.evidence ?? score.evidence;
  const badge = $("#evidence-badge");
  badge.hidden = evidence !== "limited";
  badge.dataset.evidence = evidence || "";

  // no rule for this source: its box and the agreement line give way to the sentence
  showRuleParts(ex.rule !== null && ruleAvailable(), ex.rule_note);
  $("#rule-index").textContent = isNumber(contactIndex) ? decimal(contactIndex) : "—";
  bandBadge($("#rule-band"), ruleBand);
  renderSubIndicators(rule);
  renderConditions(rule.conditions);
  $("#model-prob").textContent = percent(probability);
  bandBadge($("#model-band"), riskBand);
  $("#agreement").textContent = agreement(ruleBand, riskBand);

  renderChanges(ex.changes);
  renderDrivers(ex.drivers || []);
  renderKeeps(ex.contributions || [], ex.protective || []);
  renderChart(ex.contributions || []);
}

function agreement(ruleBand, modelBand) {
  const flagged = (b) => b === "high" || b === "dynamic";
  if (!ruleBand || !modelBand) return "";
  if (flagged(ruleBand) && flagged(modelBand)) return t("agree_attention");
  if (!flagged(ruleBand) && !flagged(modelBand)) return t("agree_fine");
  return flagged(modelBand) ? t("model_only") : t("rule_only");
}

/* ------------------------------------------------------- history and outcomes -- */

/** The /history answer (or {error}) as the trend chart and the outcomes table. */
function renderHistory(answer) {
  const message = $("#trend-message");
  if (answer && answer.error) {
    renderTrend([]);
    renderOutcomes([]);
    showMessage(message, failureText(answer.error, "trend_error"));
    return;
  }
  const weeks = (answer && answer.history) || [];
  renderTrend(weeks);
  renderOutcomes((answer && answer.outcomes) || []);
  showMessage(message, weeks.length ? "" : t("trend_none"), "info");
}

const TREND = { width: 560, height: 170, left: 52, right: 16, top: 16, bottom: 30 };
const TREND_LABELLED = 8; // up to this many weeks, every point says its value

/** The y axis' top: a round share a little above the highest point (at most 100 %). */
function trendCeiling(values) {
  const highest = Math.max(0, ...values);
  return Math.min(1, Math.max(0.1, Math.ceil(highest * 1.15 * 10) / 10));
}

/** A line chart of the probability over the stored weeks, oldest on the left: one point
 * per week (coloured by its band), the model's band edges dashed, dates under the ends. */
function renderTrend(weeks) {
  const box = $("#trend");
  box.replaceChildren();
  const points = weeks.filter((w) => isNumber(w.probability));
  if (!points.length) return;
  const g = TREND;
  const plotW = g.width - g.left - g.right;
  const plotH = g.height - g.top - g.bottom;
  const yMax = trendCeiling(points.map((w) => Number(w.probability)));
  const times = points.map((w) => Date.parse(String(w.as_of).slice(0, 10)));
  const t0 = Math.min(...times);
  const span = Math.max(...times) - t0;
  const x = (i) => g.left + (span > 0 ? ((times[i] - t0) / span) * plotW : plotW / 2);
  const y = (p) => g.top + plotH - (Math.min(Number(p), yMax) / yMax) * plotH;

  const described = points.map((w) => `${formatDate(w.as_of)} ${percent(w.probability)}`).join(", ");
  const chart = svg("svg", {
    viewBox: `0 0 ${g.width} ${g.height}`,
    class: "trend-chart",
    "data-testid": "trend-chart",
    role: "img",
    "aria-label": t("trend_aria", { points: described }),
  });
  for (const share of [0, yMax / 2, yMax]) {
    chart.append(
      svg("line", { class: "grid", x1: g.left, x2: g.width - g.right, y1: y(share), y2: y(share) }),
      svg("text", { class: "tick", x: g.left - 6, y: y(share) + 4, "text-anchor": "end" }, percent(share)),
    );
  }
  for (const [band, edge] of Object.entries(state.riskThresholds || {})) {
    if (!isNumber(edge) || edge <= 0 || edge >= yMax) continue;
    chart.append(
      svg(
        "line",
        { class: `edge edge-${band}`, x1: g.left, x2: g.width - g.right, y1: y(edge), y2: y(edge) },
        svg("title", {}, `${bandLabel(band)}: ${percent(edge)}`),
      ),
    );
  }
  if (points.length > 1) {
    const path = points.map((w, i) => `${x(i).toFixed(1)},${y(w.probability).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { class: "line", points: path, "data-testid": "trend-line" }));
  }
  points.forEach((w, i) => {
    chart.append(
      svg(
        "circle",
        {
          class: `point band-${w.risk_band || "unknown"}`,
          cx: x(i).toFixed(1),
          cy: y(w.probability).toFixed(1),
          r: 4.5,
          "data-testid": "trend-point",
          "data-as-of": String(w.as_of).slice(0, 10),
          "data-probability": String(w.probability),
          "data-band": w.risk_band || "",
        },
        svg("title", {}, `${formatDate(w.as_of)}: ${percent(w.probability)} (${bandLabel(w.risk_band)})`),
      ),
    );
  });
  // the values themselves beside the points: every week while there are few, else the last
  points.forEach((w, i) => {
    if (points.length > TREND_LABELLED && i < points.length - 1) return;
    const anchor = points.length === 1 ? "middle" : i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
    chart.append(
      svg("text", { class: "value", x: x(i), y: Math.max(g.top + 2, y(w.probability) - 8), "text-anchor": anchor }, percent(w.probability)),
    );
  });
  const first = points[0];
  const last = points[points.length - 1];
  const dateY = g.height - 8;
  chart.append(svg("text", { class: "tick", x: x(0), y: dateY, "text-anchor": points.length > 1 ? "start" : "middle" }, formatDate(first.as_of)));
  if (points.length > 1) {
    chart.append(svg("text", { class: "tick", x: x(points.length - 1), y: dateY, "text-anchor": "end" }, formatDate(last.as_of)));
  }
  box.append(chart);
}

function renderOutcomes(outcomes) {
  const tbody = $("#outcomes tbody");
  tbody.replaceChildren();
  const rows = [...outcomes].sort((a, b) => String(b.called_on).localeCompare(String(a.called_on)));
  for (const o of rows) {
    tbody.append(
      el(
        "tr",
        { "data-testid": "outcome", "data-outcome-id": o.outcome_id, "data-result": o.result },
        el("td", { class: "date" }, formatDate(o.called_on)),
        el("td", {}, o.reached ? t("yes") : t("no")),
        el("td", {}, code("result", o.result) || "—"),
        el("td", { class: "note" }, o.note || ""),
      ),
    );
  }
  $("#outcomes").hidden = rows.length === 0;
  $("#outcomes-empty").hidden = rows.length > 0;
}

/** What changed since the client's previous scored week (`changes` of /explain). */
function renderChanges(changes) {
  const summary = $("#changes-summary");
  const list = $("#changes");
  list.replaceChildren();
  if (!changes) {
    summary.textContent = t("changes_none");
    summary.dataset.state = "none";
    return;
  }
  summary.dataset.state = "changed";
  summary.replaceChildren(
    el("span", { class: "prev" }, `${formatDate(changes.previous_as_of)}: ${percent(changes.previous_probability)} `),
    bandInline(changes.previous_risk_band),
    el("span", { class: "arrow" }, " → "),
    el("span", { class: "now" }, `${formatDate(changes.as_of)}: ${percent(changes.probability)} `),
    bandInline(changes.risk_band),
  );
  const items = changes.items || [];
  for (const item of items) {
    list.append(
      el(
        "li",
        { "data-testid": "change", "data-feature": item.feature, class: item.direction === "raises" ? "up" : "down" },
        el("span", {}, item.text),
      ),
    );
  }
  if (!items.length) list.append(el("li", { class: "same" }, t("changes_same")));
}

function bandInline(band) {
  const node = el("span");
  bandBadge(node, band);
  return node;
}

/* ------------------------------------------------------------ rule and drivers -- */

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
    const weight = typeof c === "object" && typeof c.weight === "number" ? ` (+${decimal(c.weight)})` : "";
    return `${code("condition", name)}${weight}`;
  });
  node.textContent = parts.length ? t("conditions_met", { list: parts.join(", ") }) : t("no_conditions");
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
        el("td", {}, code("sub", entry.name)),
        el("td", { class: "num" }, entry.value === null ? "" : decimal(entry.value)),
        el("td", {}, badge),
      ),
    );
  }
}

/** A reason group's words in the page's language (configs/reasons*.yaml, GET /catalog). */
function groupLabel(group) {
  const words = state.catalog && (state.catalog.groups[state.lang] || state.catalog.groups.en);
  return (words && words[group]) || code("group", group);
}

function renderDrivers(drivers) {
  const list = $("#drivers");
  list.replaceChildren();
  for (const d of drivers) {
    const text = typeof d === "string" ? d : d.text;
    const group = d && d.reason_group ? el("span", { class: "group" }, groupLabel(d.reason_group)) : null;
    const action = d && d.action ? el("div", { class: "todo" }, `→ ${d.action}`) : null;
    const up = d && typeof d.contribution === "number"
      ? d.contribution > 0
      : d && d.direction ? d.direction === "raises" : text.includes(t("raises"));
    list.append(el("li", { "data-testid": "driver", class: up ? "up" : "down" }, el("span", {}, text), group, action));
  }
  if (!drivers.length) list.append(el("li", {}, t("no_factor")));
  const firstUp = drivers.find((d) => d && d.action && (d.contribution === undefined || d.contribution > 0));
  const main = firstUp || drivers.find((d) => d && d.action);
  $("#action").textContent = main
    ? t("first_step", { action: main.action, group: main.reason_group ? ` (${groupLabel(main.reason_group)})` : "" })
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
  $("#keeps").textContent = keeps.length ? t("keeps", { list: keeps.join("; ") }) : "";
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
      style: `width:${width.toFixed(2)}%;${up ? "left:50%" : "right:50%"}`,
      title: t("bar_title", { direction: up ? t("raises") : t("lowers"), amount: decimal(Math.abs(c.contribution), 3) }),
    });
    chart.append(
      el(
        "div",
        { class: "row" },
        el("div", { class: "name" }, featureLabel(c.feature), el("span", { class: "value" }, ` = ${formatValue(c.value)}`)),
        el("div", { class: "track" }, el("div", { class: "axis" }), bar),
        el("div", { class: `amount ${up ? "up" : "down"}` }, `${up ? "+" : "−"}${decimal(Math.abs(c.contribution))}`),
      ),
    );
  }
}

/* ------------------------------------------------------------------------ wiring -- */

/** With a key: the model header (which may switch the language), then the call list and
 * the client asked for (?client=N, or the one shown before the key was replaced). */
async function start() {
  const ok = await loadVersion();
  if (!ok) return; // the key was refused: the form is showing, nothing else would load
  await loadCatalog();
  loadCallList(); // the list is what a supervisor opens the page for
  const fromUrl = new URLSearchParams(window.location.search).get("client");
  const client = state.lastClient ?? fromUrl;
  if (client !== null && client !== undefined && client !== "") {
    $("#client-id").value = String(client);
    explainClient(client);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  $("#auth-form").addEventListener("submit", submitKey);
  $("#change-key").addEventListener("click", () => askForKey("auth_prompt", "info"));
  $("#call-list-form").addEventListener("submit", loadCallList);
  $("#client-form").addEventListener("submit", (e) => {
    e.preventDefault();
    explainClient($("#client-id").value);
  });
  if (state.key) {
    $("#change-key").hidden = false;
    start();
  } else {
    askForKey("auth_prompt", "info");
  }
});
