// Slack-like console: polls /console/state, renders Block Kit, sends staff actions to the emulator,
// which signs them and POSTs them to the bot like Slack does.
"use strict";

const ui = {
  user: localStorage.getItem("emu.user") || "",
  channel: localStorage.getItem("emu.channel") || "",
  tab: "channel", // "channel" | "home"
  version: null,
  state: null,
  collapsed: new Set(),
  modalKey: "",
};
const $ = (id) => document.getElementById(id);
const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", rotating_light: "🚨",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", package: "📦", truck: "🚚", memo: "📝",
  bell: "🔔", key: "🔑", lock: "🔒", no_entry: "⛔", arrows_counterclockwise: "🔄",
  information_source: "ℹ️", bar_chart: "📊", calendar: "📅", moneybag: "💰", tada: "🎉",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", eyes: "👀", wrench: "🔧",
  question: "❓", exclamation: "❗", shopping_trolley: "🛒", clipboard: "📋", inbox_tray: "📥",
};

// ---- helpers -----------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
  .replace(/"/g, "&quot;");
const unslack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
const userName = (id) => (ui.state?.users || []).find((u) => u.id === id)?.name
  || (id === ui.state?.bot?.user_id ? ui.state.bot.name : id);
const plain = (obj) => (obj && typeof obj === "object" ? obj.text || "" : String(obj || ""));
const emoji = (s) => s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);

function linkHtml(inner) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) return `<span class="mention">@${esc(label || userName(target.slice(1)))}</span>`;
  if (target.startsWith("#")) return `<span class="mention">#${esc(label || target.slice(1))}</span>`;
  if (target.startsWith("!subteam^")) return `<span class="mention">${esc(label || "@group")}</span>`;
  if (target.startsWith("!date^")) return esc(label || target);
  if (target.startsWith("!")) return `<span class="mention">@${esc(target.slice(1))}</span>`;
  const permalink = /^https:\/\/slack\.com\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})$/.exec(target);
  if (permalink) {  // a Slack permalink to a message of this workspace: jump to it here
    const [, channel, secs, micros] = permalink;
    return `<a href="#" class="permalink" data-channel="${esc(channel)}" data-target-ts="${secs}.${micros}">${esc(unslack(label || target))}</a>`;
  }
  if (/^(https?:|mailto:)/i.test(target)) {
    const href = unslack(target);
    return `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(unslack(label || target))}</a>`;
  }
  return esc(unslack(inner));
}

// Slack mrkdwn → HTML. Links and code are held aside so formatting never reaches inside them.
function mrkdwn(text) {
  const held = [];
  const hold = (html) => `\u0001${held.push(html) - 1}\u0001`;
  let s = String(text ?? "").replace(/<([^<>\n]+)>/g, (_, inner) => hold(linkHtml(inner)));
  s = esc(unslack(s));
  s = s.replace(/```\n?([\s\S]*?)```/g, (_, code) => hold(`<pre>${code}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  s = emoji(s);
  s = s.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/g, "$1<b>$2</b>");
  s = s.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?![\w_])/g, "$1<i>$2</i>");
  s = s.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g, "$1<s>$2</s>");
  s = s.replace(/^&gt; ?(.*)$/gm, "<blockquote>$1</blockquote>");
  s = s.replace(/\n/g, "<br>");
  while (/\u0001\d+\u0001/.test(s)) s = s.replace(/\u0001(\d+)\u0001/g, (_, i) => held[+i]);
  return s;
}
const textHtml = (obj) => (obj?.type === "plain_text" ? esc(emoji(obj.text || "")).replace(/\n/g, "<br>")
  : mrkdwn(plain(obj)));

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function status(message, isError = false) {
  $("status").textContent = message;
  $("status").className = isError ? "status error" : "status";
}
function reportResult(label, result) {
  if (result.hint) return status(result.hint, true);
  const ok = result.status >= 200 && result.status < 300;
  status(`${label} → ${result.status === 0 ? result.body : `HTTP ${result.status}`}`, !ok);
}

// ---- Block Kit ---------------------------------------------------------------------------
// ctx: {channel, ts} for messages, {view_id} for modals and the Home tab.
function button(element, blockId, ctx) {
  const classes = ["btn", element.style].filter(Boolean).join(" ");
  return el("button", {
    type: "button", class: classes, "data-testid": `button-${element.action_id}`,
    "data-action-id": element.action_id, "data-value": element.value ?? "",
    onclick: (ev) => clickButton(ev.currentTarget, element, blockId, ctx),
  }, emoji(plain(element.text)));
}

async function clickButton(node, element, blockId, ctx) {
  if (element.confirm) {
    const c = element.confirm;
    if (!window.confirm(`${plain(c.title)}\n\n${plain(c.text)}`)) return;
  }
  if (element.url) window.open(element.url, "_blank", "noopener");
  node.disabled = true;
  try {
    const result = await api("/console/click", {
      user: ui.user, action_id: element.action_id, block_id: blockId || "",
      value: element.value || "", ...ctx,
    });
    reportResult(`ボタン「${plain(element.text)}」`, result);
  } catch (err) {
    status(`ボタン: ${err.message}`, true);
  } finally {
    node.disabled = false;
    refresh();
  }
}

function elementNode(element, blockId, ctx) {
  if (!element) return null;
  if (element.type === "button") return button(element, blockId, ctx);
  if (element.type === "image") return el("span", { class: "image-alt" }, `[画像: ${element.alt_text || ""}]`);
  if (element.type === "mrkdwn" || element.type === "plain_text") return el("span", { html: textHtml(element) });
  return el("span", { class: "unknown" }, `[${element.type}]`);
}

function blockNode(block, index, ctx, fallbackText) {
  const bid = block.block_id || "";
  const wrap = (cls, ...kids) => el("div", { class: `block ${cls}`, "data-block-id": bid || `b${index}` }, ...kids);
  switch (block.type) {
    case "header": return wrap("block-header", el("span", { html: textHtml(block.text) }));
    case "divider": return el("hr", { class: "divider" });
    case "section": return wrap("section",
      el("div", { class: "text" },
        block.text ? el("div", { html: textHtml(block.text) }) : null,
        block.fields ? el("div", { class: "fields" },
          block.fields.map((f) => el("div", { html: textHtml(f) }))) : null),
      elementNode(block.accessory, bid, ctx));
    case "context": return wrap("context", (block.elements || []).map((e) => elementNode(e, bid, ctx)));
    case "actions": return wrap("actions", (block.elements || []).map((e) => elementNode(e, bid, ctx)));
    case "image": return wrap("image", el("span", { class: "image-alt" }, `[画像: ${block.alt_text || ""}]`));
    case "markdown": return wrap("markdown", el("div", { html: mrkdwn(block.text) }));
    case "rich_text": return wrap("rich-text", el("div", { html: mrkdwn(fallbackText || "") }));
    default: return wrap("unknown", `[${block.type}]`);
  }
}

function blocksNode(blocks, text, ctx) {
  if (!blocks || !blocks.length) return el("div", { class: "block", html: mrkdwn(text) });
  return el("div", {}, blocks.map((b, i) => blockNode(b, i, ctx, text)));
}

// ---- messages ----------------------------------------------------------------------------
const clock = (ts) => new Date(parseFloat(ts) * 1000).toLocaleTimeString("ja-JP",
  { hour: "2-digit", minute: "2-digit" });

function messageNode(msg, channel) {
  const name = msg.user_name || userName(msg.user);
  const node = el("div", { class: "message", "data-testid": "message", "data-ts": msg.ts },
    el("div", { class: `avatar ${msg.is_bot ? "bot" : ""}` }, name.slice(0, 1)),
    el("div", { class: "content" },
      el("div", { class: "meta" }, el("span", { class: "name" }, name),
        msg.is_bot ? el("span", { class: "app-tag" }, "アプリ") : null,
        el("span", { class: "time" }, clock(msg.ts)),
        msg.edited ? el("span", { class: "edited", "data-testid": "edited" }, "(編集済み)") : null),
      blocksNode(msg.blocks, msg.text, { channel, message_ts: msg.ts }),
      threadNode(msg, channel)));
  return node;
}

function threadNode(msg, channel) {
  if (!msg.replies || !msg.replies.length) return null;
  const open = !ui.collapsed.has(msg.ts);
  const toggle = el("button", {
    type: "button", class: "thread-toggle", "data-testid": "thread-toggle",
    onclick: () => { open ? ui.collapsed.add(msg.ts) : ui.collapsed.delete(msg.ts); render(); },
  }, `${open ? "▾" : "▸"} ${msg.replies.length}件の返信`);
  return el("div", {}, toggle, open ? el("div", { class: "thread", "data-testid": "thread" },
    msg.replies.map((r) => messageNode(r, channel))) : null);
}

function ephemeralNode(eph) {
  return el("div", { class: "message ephemeral", "data-testid": "ephemeral", "data-ts": eph.ts },
    el("div", { class: "avatar bot" }, "r"),
    el("div", { class: "content" },
      el("div", { class: "meta" }, el("span", { class: "name" }, ui.state.bot.name),
        el("span", { class: "app-tag" }, "アプリ"), el("span", { class: "time" }, clock(eph.ts))),
      el("div", { class: "ephemeral-note" }, "👁 あなただけに表示されています (only visible to you)"),
      blocksNode(eph.blocks, eph.text, { channel: eph.channel, message_ts: eph.ts })));
}

// ---- rendering ---------------------------------------------------------------------------
function renderSidebar(state) {
  const users = $("user");
  if (users.options.length !== state.users.length) {
    users.replaceChildren(...state.users.map((u) => el("option", { value: u.id }, `${u.name} (${u.id})`)));
  }
  users.value = ui.user;
  $("channels").replaceChildren(...state.channels.map((c) => el("li", {},
    el("button", {
      type: "button", class: `nav ${ui.tab === "channel" && c.id === ui.channel ? "active" : ""}`,
      "data-testid": `channel-${c.id}`, onclick: () => selectChannel(c.id),
    }, el("span", {}, `# ${c.name}`), el("span", { class: "count" }, c.count || "")))));
  $("home-tab").classList.toggle("active", ui.tab === "home");
  $("bot-url").textContent = state.bot.url ? `bot: ${state.bot.url}` : "bot: (未設定)";
}

function render() {
  const state = ui.state;
  if (!state) return;
  renderSidebar(state);
  const list = $("list");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (ui.tab === "home") {
    $("title").textContent = "🏠 rms-bot ホーム";
    list.replaceChildren(state.home
      ? el("div", { class: "home", "data-testid": "home" },
        blocksNode(state.home.view.blocks, "", { view_id: state.home.id }))
      : el("div", { class: "empty" }, "ホームタブはまだ公開されていません。"));
  } else {
    const channel = state.channels.find((c) => c.id === ui.channel);
    $("title").textContent = `# ${channel ? channel.name : ui.channel}`;
    const items = [
      ...state.messages.map((m) => ({ ts: m.ts, node: () => messageNode(m, ui.channel) })),
      ...state.ephemerals.map((e) => ({ ts: e.ts, node: () => ephemeralNode(e) })),
    ].sort((a, b) => a.ts.localeCompare(b.ts));
    list.replaceChildren(...(items.length ? items.map((i) => i.node())
      : [el("div", { class: "empty" }, "まだメッセージはありません。/rms help を試してください。")]));
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
  renderModal(state.modal);
}

// ---- modals ------------------------------------------------------------------------------
function inputElement(element, bid, saved) {
  const testid = `modal-input-${bid}`;
  const attrs = { "data-testid": testid, "data-block-id": bid, "data-action-id": element.action_id };
  const value = saved?.value ?? element.initial_value ?? "";
  switch (element.type) {
    case "static_select": {
      const chosen = saved?.selected_option?.value ?? element.initial_option?.value ?? "";
      return el("select", attrs, el("option", { value: "" }, plain(element.placeholder) || "選択してください"),
        (element.options || []).map((o) => el("option", { value: o.value, selected: o.value === chosen }, plain(o.text))));
    }
    case "checkboxes":
    case "radio_buttons": {
      const kind = element.type === "checkboxes" ? "checkbox" : "radio";
      const picked = new Set((saved?.selected_options || (saved?.selected_option ? [saved.selected_option] : null)
        || element.initial_options || (element.initial_option ? [element.initial_option] : [])).map((o) => o.value));
      return el("div", attrs, (element.options || []).map((o) => el("label", {},
        el("input", { type: kind, name: bid, value: o.value, checked: picked.has(o.value) }), " ", plain(o.text))));
    }
    case "datepicker": return el("input", { ...attrs, type: "date", value: saved?.selected_date ?? element.initial_date ?? "" });
    case "number_input": return el("input", { ...attrs, type: "number", value });
    default:
      if (element.multiline) return el("textarea", { ...attrs, placeholder: plain(element.placeholder) }, value);
      return el("input", { ...attrs, type: "text", value, placeholder: plain(element.placeholder) });
  }
}

function readInput(block, node) {
  const element = block.element || {};
  const type = element.type || "plain_text_input";
  const options = element.options || [];
  const option = (v) => options.find((o) => o.value === v) || null;
  if (type === "static_select") return { type, selected_option: option(node.value) };
  if (type === "checkboxes") {
    return { type, selected_options: [...node.querySelectorAll("input:checked")].map((i) => option(i.value)) };
  }
  if (type === "radio_buttons") return { type, selected_option: option(node.querySelector("input:checked")?.value) };
  if (type === "datepicker") return { type, selected_date: node.value || null };
  return { type, value: node.value === "" ? null : node.value };
}

const isEmpty = (v) => v.value === null || v.selected_option === null || v.selected_date === null
  || (Array.isArray(v.selected_options) && !v.selected_options.length);

function collectValues(view) {
  const values = {};
  const missing = [];
  view.view.blocks.forEach((block, i) => {
    if (block.type !== "input") return;
    const bid = block.block_id || `b${i}`;
    const node = document.querySelector(`[data-testid="modal-input-${CSS.escape(bid)}"]`);
    if (!node) return;
    const value = readInput(block, node);
    values[bid] = { [block.element?.action_id || "input"]: value };
    if (!block.optional && isEmpty(value)) missing.push(bid);
  });
  return { values, missing };
}

function renderModal(modal) {
  const root = $("modal-root");
  const key = modal ? `${modal.id}:${modal.hash}:${JSON.stringify(modal.errors)}` : "";
  if (key === ui.modalKey) return;
  const shown = root.querySelector(".modal");
  const typed = modal && shown?.dataset.viewId === modal.id ? collectValues(modal).values : modal?.values || {};
  ui.modalKey = key;
  if (!modal) { root.replaceChildren(); return; }
  const view = modal.view;
  const body = view.blocks.map((block, i) => {
    if (block.type !== "input") return blockNode(block, i, { view_id: modal.id }, "");
    const bid = block.block_id || `b${i}`;
    const saved = Object.values(typed[bid] || {})[0];
    const error = modal.errors[bid];
    return el("div", { class: `input-block ${error ? "has-error" : ""}` },
      el("label", {}, plain(block.label), block.optional ? el("span", { class: "optional" }, "（任意）") : null),
      inputElement(block.element || {}, bid, saved),
      block.hint ? el("div", { class: "hint" }, plain(block.hint)) : null,
      el("div", { class: "input-error", "data-testid": `modal-error-${bid}` }, error || ""));
  });
  const hasInputs = view.blocks.some((b) => b.type === "input");
  root.replaceChildren(el("div", { class: "overlay" },
    el("div", { class: "modal", role: "dialog", "data-testid": "modal", "data-view-id": modal.id,
      "data-callback-id": view.callback_id || "" },
      el("div", { class: "modal-title", "data-testid": "modal-title" }, plain(view.title)),
      el("div", { class: "modal-body" },
        modal.errors[""] ? el("div", { class: "modal-notice" }, modal.errors[""]) : null, body),
      el("div", { class: "modal-footer" },
        el("button", { type: "button", class: "btn", "data-testid": "modal-close", onclick: () => closeModal(modal) },
          plain(view.close) || "キャンセル"),
        view.submit || hasInputs ? el("button", {
          type: "button", class: "btn primary", "data-testid": "modal-submit", onclick: () => submitModal(modal),
        }, plain(view.submit) || "送信") : null))));
}

async function submitModal(modal) {
  const { values, missing } = collectValues(modal);
  for (const bid of missing) {
    const node = document.querySelector(`[data-testid="modal-error-${CSS.escape(bid)}"]`);
    if (node) node.textContent = "この項目は必須です";
  }
  if (missing.length) return;
  try {
    reportResult("送信", await api("/console/submit", { user: ui.user, view_id: modal.id, values }));
  } catch (err) {
    status(`送信: ${err.message}`, true);
  }
  refresh();
}

async function closeModal(modal) {
  await api("/console/close", { user: ui.user, view_id: modal.id }).catch(() => {});
  refresh();
}

// ---- navigation, composer, polling -------------------------------------------------------
function selectChannel(id) {
  ui.tab = "channel";
  ui.channel = id;
  localStorage.setItem("emu.channel", id);
  refresh(true);
}

async function openHome() {
  ui.tab = "home";
  render();
  try {
    reportResult("ホームを開く (app_home_opened)", await api("/console/home", { user: ui.user }));
  } catch (err) {
    status(`ホーム: ${err.message}`, true);
  }
  refresh(true);
}

async function sendComposer(ev) {
  ev.preventDefault();
  const input = $("input");
  const text = input.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    status("スラッシュコマンドを入力してください（例: /rms-status all, /confirm 注文番号, /rms help）", true);
    return;
  }
  input.value = "";
  status(`${text.split(/\s/)[0]} を送信中…`);
  try {
    reportResult(text.split(/\s/)[0], await api("/console/command", { user: ui.user, channel: ui.channel, text }));
  } catch (err) {
    status(`${text}: ${err.message}`, true);
  }
  refresh(true);
}

let polling = null;
async function refresh(force = false) {
  const query = new URLSearchParams({ user: ui.user, channel: ui.channel });
  if (!force && ui.version !== null) query.set("since", ui.version);
  try {
    const state = await api(`/console/state?${query}`);
    if (state.unchanged) return;
    ui.version = state.version;
    if (!ui.user || !state.users.some((u) => u.id === ui.user)) ui.user = state.users[0]?.id || "";
    if (!state.channels.some((c) => c.id === ui.channel)) {
      ui.channel = state.channels[0]?.id || "";
      return refresh(true);
    }
    ui.state = state;
    render();
  } catch (err) {
    status(`エミュレーターに接続できません: ${err.message}`, true);
  }
}

function jumpTo(ev) {
  const link = ev.target.closest("a.permalink");
  if (!link) return;
  ev.preventDefault();
  const ts = link.dataset.targetTs;
  const show = () => {
    const node = document.querySelector(`[data-testid="message"][data-ts="${ts}"]`);
    if (!node) return false;
    node.scrollIntoView({ block: "center" });
    node.classList.add("highlight");
    setTimeout(() => node.classList.remove("highlight"), 2000);
    return true;
  };
  if (ui.channel !== link.dataset.channel) {
    selectChannel(link.dataset.channel);
    setTimeout(show, 300);
  } else {
    show();
  }
}

function start() {
  document.addEventListener("click", jumpTo);
  $("composer").addEventListener("submit", sendComposer);
  $("home-tab").addEventListener("click", openHome);
  $("user").addEventListener("change", (ev) => {
    ui.user = ev.target.value;
    localStorage.setItem("emu.user", ui.user);
    ui.modalKey = "\u0000";
    if (ui.tab === "home") openHome(); else refresh(true);
  });
  refresh(true);
  polling = setInterval(() => refresh(), 1000);
}

document.addEventListener("DOMContentLoaded", start);
window.emulatorConsole = { ui, refresh, mrkdwn, stop: () => clearInterval(polling) };
