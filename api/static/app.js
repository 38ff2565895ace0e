// Verity web page: asks /v1/ask, drafts with /v1/reply-drafts, checks replies with /v1/check, rates with
// /v1/feedback.
// Every string from the server (answers, card titles, snippets, error details) is user content and is
// written with textContent or as a text node, never parsed as HTML.

const GROUP_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const KEY_STORAGE = "verity.accessKey"; // sessionStorage: gone when the tab closes
const GROUPS_STORAGE = "verity.groups"; // localStorage: not a secret
const TIMEOUT_MS = 90_000;
const FEEDBACK_LIMITS = { question: 4000, answer: 20_000, comment: 2000, cards: 50 };
const SOON_DAYS = 14;
const DAY_MS = 86_400_000;
const languageNames = new Intl.DisplayNames(["en"], { type: "language" });
const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

// a short title for each reason; the server's message under it explains it and says what to do
const REASONS = {
  no_evidence: "No verified card you may see covers this",
  only_unverified: "The only cards on this topic have never been verified",
  only_expired: "The cards on this topic have expired",
  internal_only: "Only internal notes cover this request",
};

// ---------- small DOM helpers (text only) ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const ICONS = {
  check: ["M20 6 9 17l-5-5"],
  clock: ["M12 7v5l3 2", "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z"],
  cross: ["M18 6 6 18", "M6 6l12 12"],
  alert: ["M12 9v4", "M12 17h.01", "M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"],
  lock: ["M7 11V7a5 5 0 0 1 10 0v4", "M5 11h14v10H5z"],
  up: ["M7 10v11", "M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 7A2 2 0 0 1 17.5 21H7V10l4-8a3 3 0 0 1 4 3.9z"],
  down: ["M17 14V3", "M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-7A2 2 0 0 1 6.5 3H17v11l-4 8a3 3 0 0 1-4-3.9z"],
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
};

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2.2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

function time(iso) {
  return el("time", { datetime: iso, text: formatDate(iso) });
}

/** Only http(s) links: a card's url is user content and could say javascript:. */
function safeUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function languageName(code) {
  try {
    return languageNames.of(code) || code;
  } catch {
    return code;
  }
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// ---------- identity ----------

const identity = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  groups: parseGroups(localStorage.getItem(GROUPS_STORAGE) || "").groups,
};

function parseGroups(text) {
  const names = text.split(",").map((g) => g.trim().toLowerCase()).filter(Boolean);
  const bad = names.filter((g) => !GROUP_PATTERN.test(g));
  return { groups: [...new Set(names)], bad };
}

function showIdentity() {
  // with a key and no groups stated, the server uses the key's groups; groups stated narrow them
  const groups = identity.groups.join(", ");
  const who = identity.key ? ["access key", groups].filter(Boolean).join(" · ") : groups || "public cards only";
  document.getElementById("identity-name").textContent = who;
  document.getElementById("access-key").value = identity.key;
  document.getElementById("groups").value = identity.groups.join(", ");
}

function setUpIdentity() {
  const details = document.getElementById("identity");
  const form = document.getElementById("identity-form");
  const groupsInput = document.getElementById("groups");
  const error = document.getElementById("groups-error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { groups, bad } = parseGroups(groupsInput.value);
    if (bad.length) {
      error.textContent = `Not a group name: ${bad.join(", ")}. Use lowercase letters, digits, dots, dashes or underscores.`;
      error.hidden = false;
      groupsInput.setAttribute("aria-invalid", "true");
      groupsInput.focus();
      return;
    }
    error.hidden = true;
    groupsInput.removeAttribute("aria-invalid");
    identity.key = document.getElementById("access-key").value.trim();
    identity.groups = groups;
    if (identity.key) sessionStorage.setItem(KEY_STORAGE, identity.key);
    else sessionStorage.removeItem(KEY_STORAGE);
    localStorage.setItem(GROUPS_STORAGE, groups.join(","));
    showIdentity();
    details.open = false;
    details.querySelector("summary").focus();
  });
  document.getElementById("identity-clear").addEventListener("click", () => {
    identity.key = "";
    identity.groups = [];
    sessionStorage.removeItem(KEY_STORAGE);
    localStorage.removeItem(GROUPS_STORAGE);
    error.hidden = true;
    showIdentity();
  });
  document.addEventListener("click", (event) => {
    if (details.open && !details.contains(event.target)) details.open = false; // a click elsewhere closes it
  });
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      details.querySelector("summary").focus();
    }
  });
  showIdentity();
}

function openIdentity(event) {
  if (event) event.stopPropagation(); // the click must not reach the listener that closes it again
  const details = document.getElementById("identity");
  details.open = true;
  document.getElementById("access-key").focus();
}

// ---------- HTTP ----------

class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

async function api(path, body, signal) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (identity.key) headers.Authorization = `Bearer ${identity.key}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "The Verity server could not be reached. Check your connection and try again.");
  }
  let data = null;
  if ((response.headers.get("content-type") || "").includes("json")) {
    data = await response.json().catch(() => null);
  }
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : response.statusText || "no details given";
    throw new ApiError(response.status, (data && data.code) || "http_error", detail);
  }
  if (!data) throw new ApiError(response.status, "bad_response", "The server sent a response this page cannot read.");
  return data;
}

/** One request per view at a time: a new one cancels the previous; a slow one times out. */
function requester() {
  let current = null;
  return async (path, body) => {
    if (current) current.abort();
    const controller = new AbortController();
    current = controller;
    const timer = setTimeout(() => controller.abort("timeout"), TIMEOUT_MS);
    try {
      return await api(path, body, controller.signal);
    } catch (error) {
      if (error.name === "AbortError" && controller.signal.reason === "timeout") {
        throw new ApiError(0, "timeout", `Verity did not answer within ${TIMEOUT_MS / 1000} seconds. Try again.`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      if (current === controller) current = null;
    }
  };
}

const ERROR_TITLES = {
  0: "Verity could not be reached",
  400: "The request could not be read",
  401: "Your access key was not accepted",
  403: "You may not do this",
  404: "Not found",
  413: "The text is too long",
  422: "Please check what you entered",
  429: "Too many requests",
  503: "Verity is temporarily unavailable",
};

function errorNotice(error) {
  const title = ERROR_TITLES[error.status] || `Something went wrong (HTTP ${error.status})`;
  const status = error.status ? `HTTP ${error.status} · ${error.code}` : error.code;
  const notice = el(
    "div",
    { class: "notice bad", role: "alert" },
    el("h3", {}, icon("alert"), title),
    el("p", { class: "error-detail", text: error.detail }),
    el("p", { class: "meta", text: status }),
  );
  if (error.status === 401 || error.status === 403) {
    notice.append(
      el("p", { text: "Set your access key (and groups) under “Signed in as” at the top of the page." }),
      el("button", { type: "button", class: "button", onclick: openIdentity, text: "Open “Signed in as”" }),
    );
  } else if (error.status === 503 || error.status === 0 || error.status === 429) {
    notice.append(el("p", { text: "Try again in a moment; if it keeps happening, tell whoever runs Verity." }));
  }
  return notice;
}

function loading(text) {
  return el("p", { class: "loading" }, el("span", { class: "spinner", "aria-hidden": "true" }), text);
}

// ---------- cards and badges ----------

/** A badge says the state in words and with an icon; colour only repeats it. */
function trustBadge(status, verifiedUntil, asOf) {
  if (status === "verified") {
    if (!verifiedUntil) return el("span", { class: "badge verified" }, icon("check"), "Verified · does not expire");
    const left = Math.floor((new Date(verifiedUntil) - new Date(asOf || Date.now())) / DAY_MS);
    const soon = left >= 0 && left < SOON_DAYS ? ` (${left === 0 ? "expires today" : `expires in ${plural(left, "day", "days")}`})` : "";
    return el("span", { class: "badge verified" }, icon("check"), "Verified until ", time(verifiedUntil), soon);
  }
  if (status === "expired") {
    return verifiedUntil
      ? el("span", { class: "badge expired" }, icon("clock"), "Expired on ", time(verifiedUntil))
      : el("span", { class: "badge expired" }, icon("clock"), "Expired");
  }
  return el("span", { class: "badge unverified" }, icon("cross"), "Unverified · never checked");
}

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [name, value] of pairs) {
    if (value) list.append(el("div", {}, el("dt", { text: name }), el("dd", {}, value)));
  }
  return list;
}

function titleOf(card) {
  const href = safeUrl(card.url);
  const title = el("h4", { class: "card-title" });
  title.append(href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: card.title }) : card.title);
  return title;
}

function citedCard(citation, asOf, idPrefix) {
  const badges = el("div", { class: "badges" }, trustBadge("verified", citation.verified_until, asOf));
  if (citation.internal_only) {
    badges.append(el("span", { class: "badge internal" }, icon("lock"), "Internal note · never quote to customers"));
  }
  return el(
    "li",
    { class: "card", id: `${idPrefix}-${citation.marker}`, tabindex: "-1", "data-card-id": citation.card_id },
    el("div", { class: "card-head" }, el("span", { class: "marker", "aria-label": `Source ${citation.marker}`, text: String(citation.marker) }), titleOf(citation)),
    badges,
    facts([
      ["Collection", citation.collection],
      ["Verifier", citation.verifier],
      ["Verified on", citation.verified_at ? time(citation.verified_at) : null],
    ]),
    citation.snippet ? el("blockquote", { class: "snippet", text: citation.snippet }) : null,
  );
}

function askToVerify(card) {
  const who = card.verifier || card.owner;
  if (!who) return el("p", { class: "ask-to-verify", text: "Nobody is named to verify this card: ask your lead." });
  const line = el("p", { class: "ask-to-verify" }, "Ask ");
  const address = /^([^\s@]+)@([^\s@]+)$/.exec(who);
  if (address) {
    // each part encoded on its own, so that a "?" or "&" in the text cannot add headers to the mail
    const to = `${encodeURIComponent(address[1])}@${encodeURIComponent(address[2])}`;
    const subject = encodeURIComponent(`Please verify the card “${card.title}”`);
    line.append(el("a", { href: `mailto:${to}?subject=${subject}`, text: who }));
  } else {
    line.append(el("strong", { text: who }));
  }
  line.append(card.status === "expired" ? " to re-verify it." : " to verify it.");
  return line;
}

function candidateCard(card, asOf) {
  return el(
    "li",
    { class: "card", "data-card-id": card.card_id },
    el("div", { class: "card-head" }, titleOf(card)),
    el("div", { class: "badges" }, trustBadge(card.status, card.verified_until, asOf)),
    facts([
      ["Collection", card.collection],
      ["Owner", card.owner],
      ["Verifier", card.verifier],
    ]),
    askToVerify(card),
  );
}

function droppedList(dropped) {
  if (!dropped || !dropped.length) return null;
  return el(
    "details",
    { class: "dropped" },
    el("summary", { text: `${plural(dropped.length, "sentence was", "sentences were")} removed by the citation guard` }),
    el("ul", {}, dropped.map((d) => el("li", {}, el("q", { text: d.text }), ` (${d.problem}: ${d.detail})`))),
  );
}

/** Answer text with its [n] markers turned into links to the cited card. */
function answerText(text, idPrefix) {
  const paragraph = el("p", { class: "answer-text" });
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    paragraph.append(text.slice(last, match.index));
    const target = `${idPrefix}-${match[1]}`;
    paragraph.append(
      el("a", {
        class: "cite",
        href: `#${target}`,
        "aria-label": `source ${match[1]}`,
        text: `[${match[1]}]`,
        onclick: (event) => {
          const card = document.getElementById(target);
          if (!card) return;
          event.preventDefault();
          card.scrollIntoView({ block: "nearest", behavior: "smooth" });
          card.focus({ preventScroll: true });
          card.classList.add("highlight");
          setTimeout(() => card.classList.remove("highlight"), 1600);
        },
      }),
    );
    last = match.index + match[0].length;
  }
  paragraph.append(text.slice(last));
  return paragraph;
}

// ---------- feedback ----------

function feedbackWidget(prefix, what, rated) {
  const status = el("p", { class: "status-text", role: "status" });
  const commentId = `${prefix}-feedback-comment`;
  const comment = el("input", {
    id: commentId,
    type: "text",
    maxlength: FEEDBACK_LIMITS.comment,
    autocomplete: "off",
    placeholder: "Add a comment (optional)",
  });
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault(); // a verdict button sends; Enter alone must not
  });
  const buttons = [];
  const send = async (verdict, button) => {
    for (const b of buttons) b.disabled = true;
    status.classList.remove("error");
    status.textContent = "Saving…";
    try {
      const stored = await api("/v1/feedback", { ...rated, verdict, comment: comment.value.trim() || null, groups: identity.groups });
      button.setAttribute("aria-pressed", "true");
      comment.disabled = true;
      status.textContent = `Thanks: your feedback was saved (#${stored.id}).`;
    } catch (error) {
      for (const b of buttons) b.disabled = false;
      status.classList.add("error");
      status.textContent = `Not saved: ${error.detail || error.message}`;
    }
  };
  for (const [verdict, label, name] of [["up", "Helpful", "up"], ["down", "Not helpful", "down"]]) {
    const button = el("button", { type: "button", class: "button", "aria-pressed": "false", "data-verdict": verdict }, icon(name), label);
    button.addEventListener("click", () => send(verdict, button));
    buttons.push(button);
  }
  return el(
    "div",
    { class: "feedback" },
    el(
      "fieldset",
      {},
      el("legend", { text: `Was this ${what} helpful?` }),
      el("span", { class: "comment" }, el("label", { for: commentId, class: "sr-only", text: "Comment (optional)" }), comment),
      buttons,
    ),
    status,
  );
}

function clip(text, limit) {
  return text && text.length > limit ? text.slice(0, limit) : text;
}

// ---------- ask ----------

function renderAnswer(data) {
  const prefix = "ask-cite";
  const rated = {
    question: clip(data.question, FEEDBACK_LIMITS.question),
    answer: clip(data.answer, FEEDBACK_LIMITS.answer),
    cited_card_ids: data.citations.map((c) => c.card_id).slice(0, FEEDBACK_LIMITS.cards),
    outcome: "answered",
    reason: null,
  };
  return el(
    "article",
    { class: "panel-box answer", "aria-label": "Answer" },
    el("h2", { class: "outcome ok" }, icon("check"), `Answered from ${plural(data.citations.length, "verified card", "verified cards")}`),
    answerText(data.answer, prefix),
    droppedList(data.dropped),
    el("h3", { class: "section-title", text: "Sources" }),
    el("ol", { class: "cards" }, data.citations.map((c) => citedCard(c, data.as_of, prefix))),
    el("p", { class: "meta" }, "Verification checked as of ", time(data.as_of)),
    feedbackWidget("ask", "answer", rated),
  );
}

function renderRefusal(data) {
  const refusal = data.refusal;
  const candidates = refusal.candidates || [];
  const rated = {
    question: clip(data.question, FEEDBACK_LIMITS.question),
    answer: null,
    cited_card_ids: candidates.map((c) => c.card_id).slice(0, FEEDBACK_LIMITS.cards),
    outcome: "refused",
    reason: refusal.reason,
  };
  return el(
    "article",
    { class: "panel-box refusal", "aria-label": "Refusal", "data-reason": refusal.reason },
    el("h2", { class: "outcome warn" }, icon("alert"), "Verity did not answer"),
    el(
      "div",
      { class: "notice warn" },
      el("p", { class: "plain-reason", text: REASONS[refusal.reason] || `Reason: ${refusal.reason}` }),
      el("p", { class: "server-message", text: refusal.message }),
    ),
    droppedList(data.dropped),
    candidates.length
      ? [
          el("h3", { class: "section-title", text: "Cards that looked relevant: ask for them to be verified" }),
          el("ol", { class: "cards" }, candidates.map((c) => candidateCard(c, data.as_of))),
        ]
      : el("p", { text: "No card covers this yet. Ask your lead, then write a card so the next person gets an answer." }),
    el("p", { class: "meta" }, "Verification checked as of ", time(data.as_of)),
    feedbackWidget("ask", "response", rated),
  );
}

/** Wires a form to one endpoint: a required field, a loading state, the rendered result or a problem in words. */
function setUpForm({ form, field, result, submit, empty, waiting, send }) {
  const request = requester();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = field.value.trim();
    if (!text) {
      result.replaceChildren(el("div", { class: "notice info", role: "alert" }, el("p", { text: empty })));
      field.focus();
      return;
    }
    result.setAttribute("aria-busy", "true");
    result.replaceChildren(loading(waiting));
    submit.disabled = true;
    try {
      result.replaceChildren(await send(request, text));
    } catch (error) {
      if (error.name === "AbortError") return; // a newer request replaced this one
      result.replaceChildren(errorNotice(error));
    } finally {
      submit.disabled = false;
      result.removeAttribute("aria-busy");
    }
  });
}

function setUpAsk() {
  const form = document.getElementById("ask-form");
  const question = document.getElementById("question");
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  setUpForm({
    form,
    field: question,
    result: document.getElementById("ask-result"),
    submit: document.getElementById("ask-submit"),
    empty: "Type a question first.",
    waiting: "Looking through verified cards…",
    send: async (request, text) => {
      const data = await request("/v1/ask", { question: text, groups: identity.groups });
      return data.outcome === "answered" ? renderAnswer(data) : renderRefusal(data);
    },
  });
}

// ---------- draft reply ----------

async function copyText(textarea, status) {
  status.classList.remove("error");
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard API");
    await navigator.clipboard.writeText(textarea.value);
    status.textContent = "Copied to the clipboard.";
    return;
  } catch {
    // fall back to selecting the text and the old copy command
  }
  textarea.focus();
  textarea.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  if (copied) {
    status.textContent = "Copied to the clipboard.";
  } else {
    status.classList.add("error");
    status.textContent = "Could not copy automatically: the reply is selected, press Ctrl+C (⌘C on a Mac).";
  }
}

function renderDraft(data, message) {
  const needs = data.needs_human;
  const rated = {
    question: clip(message, FEEDBACK_LIMITS.question),
    answer: clip(data.reply, FEEDBACK_LIMITS.answer),
    cited_card_ids: (needs ? needs.cards : data.cards).map((c) => c.card_id).slice(0, FEEDBACK_LIMITS.cards),
    outcome: data.outcome,
    reason: needs ? needs.reason : null,
  };
  const replyBox = el("textarea", { id: "draft-reply", class: "reply-box", rows: Math.min(18, data.reply.split("\n").length + 2), spellcheck: "true" });
  replyBox.value = data.reply;
  const copyStatus = el("p", { class: "status-text", role: "status", id: "copy-status" });
  const copyButton = el("button", { type: "button", class: "button primary", id: "copy-reply" }, icon("copy"), "Copy reply");
  copyButton.addEventListener("click", () => copyText(replyBox, copyStatus));
  replyBox.addEventListener("input", () => {
    copyStatus.textContent = "";
  });

  const heading = needs
    ? el("h2", { class: "outcome warn" }, icon("alert"), "A person must decide before this is answered")
    : el("h2", { class: "outcome ok" }, icon("check"), `Reply ready from ${plural(data.cards.length, "verified card", "verified cards")}`);
  return el(
    "article",
    { class: "panel-box draft", "aria-label": "Reply draft", "data-outcome": data.outcome },
    heading,
    needs
      ? el(
          "div",
          { class: "notice warn" },
          el("h3", { class: "plain-reason", text: REASONS[needs.reason] || `Reason: ${needs.reason}` }),
          el("p", { class: "decision", text: needs.message }),
        )
      : null,
    el("label", { for: "draft-reply" }, needs ? "Holding reply for the customer " : "Reply for the customer ", el("span", { class: "hint", text: `(in ${languageName(data.language)}; you can edit it before copying)` })),
    replyBox,
    el("div", { class: "button-row" }, copyButton, copyStatus),
    data.notes.length ? [el("h3", { class: "section-title", text: "Notes for you (not sent)" }), el("ul", { class: "notes" }, data.notes.map((n) => el("li", { text: n })))] : null,
    droppedList(data.dropped),
    data.cards.length
      ? [el("h3", { class: "section-title", text: "Cards the reply rests on" }), el("ol", { class: "cards" }, data.cards.map((c) => citedCard(c, null, "draft-card")))]
      : null,
    needs && needs.cards.length
      ? [el("h3", { class: "section-title", text: "Whom to ask" }), el("ol", { class: "cards" }, needs.cards.map((c) => candidateCard(c, null)))]
      : null,
    feedbackWidget("draft", "draft", rated),
  );
}

function setUpDraft() {
  const form = document.getElementById("draft-form");
  const message = document.getElementById("message");
  const context = document.getElementById("context");
  for (const field of [message, context]) {
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }
  setUpForm({
    form,
    field: message,
    result: document.getElementById("draft-result"),
    submit: document.getElementById("draft-submit"),
    empty: "Paste the customer's message first.",
    waiting: "Drafting from verified cards…",
    send: async (request, text) => {
      const body = { message: text, context: context.value.trim() || null, groups: identity.groups };
      return renderDraft(await request("/v1/reply-drafts", body), text);
    },
  });
}

// ---------- check a reply ----------

// each status in words with an icon; colour only repeats it
const CHECK_STATUSES = {
  supported: { label: "Supported", icon: "check", tone: "ok" },
  not_supported: { label: "Not supported", icon: "cross", tone: "bad" },
  not_covered: { label: "Not covered", icon: "alert", tone: "warn" },
};
// the guard's codes in words; a code this page does not know is shown as it is
const CHECK_REASONS = {
  unsupported_fact: "A number or code in it is not in the verified cards",
  unsupported: "No sentence of the verified cards says this",
  negation_mismatch: "The verified cards say the opposite",
  unsupported_name: "A name in it is not in the verified cards",
  unsupported_clause: "Part of it is not in the verified cards",
  unsupported_words: "Most of its words are not in the verified cards",
  wrong_citation: "Another card says this, not the one cited",
  not_quoted: "The model could not quote the verified cards for it",
  quote_not_in_evidence: "The words the model quoted are not in the verified cards",
};

function checkBadge(status) {
  const known = CHECK_STATUSES[status] || { label: status, icon: "alert", tone: "warn" };
  return el("span", { class: `badge check-${known.tone}` }, icon(known.icon), known.label);
}

function internalMark() {
  return el("span", { class: "badge internal" }, icon("lock"), "Internal only: not for the customer");
}

function checkedCard(card, asOf) {
  const badges = el("div", { class: "badges" }, trustBadge("verified", card.verified_until, asOf));
  if (card.internal_only) badges.append(internalMark());
  return el(
    "li",
    { class: "card", "data-card-id": card.card_id },
    el("div", { class: "card-head" }, titleOf(card)),
    badges,
    facts([
      ["Collection", card.collection],
      ["Verifier", card.verifier],
    ]),
    card.evidence.map((words) => el("blockquote", { class: "snippet evidence", text: words })),
  );
}

function checkedSentence(sentence, asOf) {
  const head = el("div", { class: "badges" }, checkBadge(sentence.status));
  if (sentence.status === "supported" && !sentence.quotable_to_customer) head.append(internalMark());
  let why = null;
  if (sentence.status === "not_supported") {
    const words = CHECK_REASONS[sentence.reason] || `Reason: ${sentence.reason}`;
    why = el("p", { class: "why" }, el("strong", { text: words }), sentence.detail ? ` (${sentence.detail})` : "");
  } else if (sentence.status === "not_covered") {
    why = el("p", { class: "why", text: "No verified card you may see is about this. Do not send it as fact: remove it, or ask the knowledge team." });
  }
  const cardsTitle = sentence.status === "supported" ? "Supported by" : "Checked against";
  return el(
    "li",
    { class: "sentence", "data-status": sentence.status },
    head,
    el("p", { class: "sentence-text", text: sentence.text }),
    why,
    sentence.cards.length
      ? [el("h3", { class: "section-title", text: cardsTitle }), el("ul", { class: "cards" }, sentence.cards.map((c) => checkedCard(c, asOf)))]
      : null,
  );
}

function renderCheck(data) {
  const s = data.summary;
  let heading;
  if (s.quotable) {
    heading = el("h2", { class: "outcome ok" }, icon("check"), `All ${plural(s.sentences, "sentence is", "sentences are")} supported by verified cards`);
  } else if (s.supported === s.sentences) {
    heading = el("h2", { class: "outcome warn" }, icon("lock"), "Supported, but only by internal notes in places: not for the customer as it is");
  } else {
    heading = el("h2", { class: "outcome warn" }, icon("alert"), `${s.supported} of ${plural(s.sentences, "sentence", "sentences")} supported by verified cards`);
  }
  const counts = [
    `${s.supported} supported`,
    `${s.not_supported} not supported`,
    `${s.not_covered} not covered`,
  ].join(" · ");
  return el(
    "article",
    { class: "panel-box check", "aria-label": "Reply check", "data-quotable": String(s.quotable) },
    heading,
    el("p", { class: "check-counts", text: counts }),
    el("ol", { class: "sentences" }, data.sentences.map((sentence) => checkedSentence(sentence, data.as_of))),
    el("p", { class: "meta" }, "Verification checked as of ", time(data.as_of)),
  );
}

function setUpCheck() {
  const form = document.getElementById("check-form");
  const reply = document.getElementById("reply");
  reply.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  setUpForm({
    form,
    field: reply,
    result: document.getElementById("check-result"),
    submit: document.getElementById("check-submit"),
    empty: "Paste your reply first.",
    waiting: "Checking each sentence against verified cards…",
    send: async (request, text) => renderCheck(await request("/v1/check", { text, groups: identity.groups })),
  });
}

// ---------- tabs ----------

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    const panel = document.getElementById(tab.getAttribute("aria-controls"));
    const field = panel.querySelector("textarea");
    if (!focus && field) field.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        select(tabs[(i + step + tabs.length) % tabs.length], true);
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        select(tabs[event.key === "Home" ? 0 : tabs.length - 1], true);
      }
    });
  });
}

setUpIdentity();
setUpTabs();
setUpAsk();
setUpDraft();
setUpCheck();
document.documentElement.dataset.ready = "true";
