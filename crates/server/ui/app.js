// Switchboard agent desktop. Plain JS, no build step: REST under /api/v1 and one websocket.
'use strict';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'switchboard.token';
const PAGE = 200; // messages per transcript page

const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  interactions: new Map(), // id -> interaction (the ones in the list)
  offers: new Map(), // interaction id -> offer data
  messages: new Map(), // interaction id -> {list: [], nextBefore} (its transcript, R-3.6)
  drafts: new Map(), // interaction id -> text typed and not sent yet
  windowClosed: new Map(), // interaction id -> window_expires_at the server refused a send with
  focusBeforeOffer: null,
  notifications: new Map(), // interaction id -> desktop Notification of its offer
  audio: null,
  media: new Map(), // message id -> blob URL | 'loading' | 'failed'
  earlyUpdates: new Map(), // message id -> message.updated data that came before the message
  selected: null,
  lastSeq: null,
  ws: null,
  wsRetry: 0,
  wsTimer: null,
  wrapFor: null,
  targetMode: 'transfer',
  directory: null,
};

// ---------- helpers ----------

class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (S.token) opts.headers.Authorization = `Bearer ${S.token}`;
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && path !== '/api/v1/auth/login') {
      sessionStorage.removeItem(TOKEN_KEY);
      S.token = null;
      showLogin('Your session has ended. Please log in again.');
    }
    throw new ApiError(resp.status, err.code || 'error', err.message || `HTTP ${resp.status}`, err);
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const bytes = (s) => new TextEncoder().encode(s).length;
const parseTs = (s) => (s ? Date.parse(s) : null);
const fmtNum = (n) => (n ? `+${String(n).replace(/^\+/, '')}` : '—');

function fmtDuration(ms) {
  const t = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
const fmtTime = (s) => new Date(s).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const fmtDate = (s) => new Date(s).toLocaleDateString([], { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });

function initials(name) {
  const parts = String(name || '?').replace(/[^\p{L}\p{N} ]/gu, ' ').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '#';
  return ((parts[0][0] || '') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

let toastTimer = null;
function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

const myPart = (it) => {
  if (!S.me || !it.participants) return null;
  const mine = it.participants.filter((p) => p.agent_id === S.me.id);
  return mine.length ? mine[mine.length - 1] : null;
};
const customerName = (it) => it.customer_display_name || (it.customer && (it.customer.name || it.customer.wa_id)) || 'Customer';

// ---------- login / logout ----------

function showLogin(message) {
  closeWs();
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  $('login-username').focus();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  $('login-error').textContent = '';
  if (!username || !password) {
    $('login-error').textContent = 'Enter your username and password.';
    return;
  }
  try {
    const r = await api('POST', '/api/v1/auth/login', { username, password });
    S.token = r.token;
    sessionStorage.setItem(TOKEN_KEY, r.token);
    $('login-password').value = '';
    await start();
  } catch (e) {
    $('login-error').textContent = e.message;
  }
});

$('logout').addEventListener('click', async () => {
  try { await api('POST', '/api/v1/auth/logout'); } catch { /* logged out anyway */ }
  sessionStorage.removeItem(TOKEN_KEY);
  S.token = null;
  resetState();
  showLogin('You are logged out.');
});

function resetState() {
  S.me = null;
  S.interactions.clear();
  S.offers.clear();
  S.messages.clear();
  for (const u of S.media.values()) if (u.startsWith && u.startsWith('blob:')) URL.revokeObjectURL(u);
  S.media.clear();
  S.earlyUpdates.clear();
  S.selected = null;
  S.lastSeq = null;
  $('offers').replaceChildren();
  $('interaction-list').replaceChildren();
}

async function start() {
  resetState();
  try {
    S.me = await api('GET', '/api/v1/me');
  } catch (e) {
    if (e.status !== 401) showLogin(e.message);
    return;
  }
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  renderMe();
  await loadState();
  connectWs();
}

// ---------- state from REST ----------

async function loadState() {
  const [me, list] = await Promise.all([api('GET', '/api/v1/me'), api('GET', '/api/v1/interactions')]);
  S.me = me;
  renderMe();
  S.interactions.clear();
  const offerIds = new Set();
  for (const it of list) {
    if (offerFor(it)) {
      offerIds.add(it.id);
      addOffer(offerFromInteraction(it), false);
    } else if (belongsInList(it)) {
      S.interactions.set(it.id, it);
    }
  }
  for (const id of [...S.offers.keys()]) if (!offerIds.has(id)) removeOffer(id);
  if (S.selected && !S.interactions.has(S.selected)) S.selected = null;
  renderList();
  if (S.selected) {
    S.messages.delete(S.selected);
    T.id = null;
    await selectInteraction(S.selected, false);
  } else {
    renderConversation();
  }
}

function offerFor(it) {
  if (!S.me) return null;
  if (it.state === 'offered' && it.offer && it.offer.agent_id === S.me.id) return it.offer;
  const c = it.conference;
  if (c && c.offer && c.offer.agent_id === S.me.id) return c.offer;
  return null;
}

function offerFromInteraction(it) {
  return {
    interaction_id: it.id,
    customer_name: customerName(it),
    customer_number: it.customer && it.customer.wa_id,
    source_number: it.source_number,
    queue_name: it.queue_name,
    first_message: it.first_message,
    waiting_since: it.waiting_since,
    offer: offerFor(it),
    interaction: it,
  };
}

function belongsInList(it) {
  // My own part decides: after a transfer the interaction may be queued or offered elsewhere
  // while I still owe its wrap-up.
  const p = myPart(it);
  if (p && p.state === 'wrap_up') return true;
  if (it.state === 'done' || it.state === 'queued') return false;
  return !!p && p.state === 'active';
}

// ---------- header: me, presence, stop-new ----------

function renderMe() {
  const me = S.me;
  if (!me) return;
  $('me-name').textContent = me.display_name || me.username || '';
  const sel = $('status-select');
  const rona = me.presence === 'rona';
  sel.querySelector('option[value="rona"]').hidden = !rona;
  sel.value = me.presence;
  $('presence-dot').className = `dot ${me.presence}`;
  // After a reject the presence says so (R-2.8): "Rejected offer", else "Missed offer".
  const rejected = me.break_reason === 'Rejected offer';
  sel.querySelector('option[value="rona"]').textContent = rejected ? 'Rejected offer (RONA)' : 'Missed offer (RONA)';
  $('rona-title').textContent = rejected ? 'RONA — you rejected an offer.' : 'RONA — you missed an offer.';
  const reasons = [...(me.break_reasons || [])];
  // A break the server chose (after a missed or rejected offer) shows its reason too.
  if (me.presence === 'on_break' && me.break_reason && !reasons.includes(me.break_reason)) reasons.push(me.break_reason);
  const rsel = $('break-reason');
  const current = [...rsel.options].map((o) => o.value).join('\n');
  if (current !== reasons.join('\n')) {
    rsel.replaceChildren(...reasons.map((r) => el('option', { value: r, text: r, disabled: !(me.break_reasons || []).includes(r) })));
  }
  if (me.break_reason) rsel.value = me.break_reason;
  $('break-reason-wrap').hidden = me.presence !== 'on_break' || reasons.length === 0;
  $('rona-banner').hidden = !rona;
  const sn = $('stop-new');
  sn.setAttribute('aria-pressed', me.stop_new ? 'true' : 'false');
  sn.textContent = me.stop_new ? 'Stop new: on' : 'Stop new';
  sn.classList.toggle('active', !!me.stop_new);
  $('load').textContent = `Load ${me.load ?? 0}/${me.capacity ?? 0}`;
  $('load').title = 'Interactions held / capacity';
  renderActivity();
  updateEmptyList();
  for (const b of document.querySelectorAll('.offer .reject')) applyRejectPermission(b);
}

/**
 * "Post processing" with its countdown while the agent only wraps up (R-3.12), as the server's
 * `activity` says; the countdown runs to the last of the agent's wrap-up deadlines.
 */
function renderActivity() {
  const box = $('activity');
  const post = !!S.me && S.me.activity === 'post_processing';
  if (!post) { box.hidden = true; box.replaceChildren(); return; }
  const deadlines = [...S.interactions.values()]
    .map((it) => myPart(it))
    .filter((p) => p && p.state === 'wrap_up' && p.wrap_up_deadline)
    .map((p) => p.wrap_up_deadline)
    .sort((a, b) => parseTs(a) - parseTs(b));
  const last = deadlines[deadlines.length - 1];
  if (box.hidden || box.dataset.until !== (last || '')) {
    box.dataset.until = last || '';
    box.replaceChildren('Post processing',
      last ? el('span', null, ' ', el('span', { class: 'countdown-inline', dataset: { deadline: last } }, '')) : '');
  }
  box.hidden = false;
  tick();
}

async function setPresence(presence, reason) {
  const body = { presence };
  if (presence === 'on_break') {
    const reasons = S.me.break_reasons || [];
    body.reason = reason || $('break-reason').value || reasons[0];
  }
  try {
    const keep = { break_reasons: S.me.break_reasons, max_text_message_size: S.me.max_text_message_size };
    S.me = { ...keep, ...(await api('PUT', '/api/v1/me/presence', body)) };
  } catch (e) {
    toast(`Could not change status: ${e.message}`);
  }
  renderMe();
}

$('status-select').addEventListener('change', (e) => {
  const v = e.target.value;
  if (v === 'available') prepareAlerts();
  if (v === 'on_break') $('break-reason-wrap').hidden = false;
  setPresence(v);
});
$('break-reason').addEventListener('change', (e) => {
  if (S.me && S.me.presence === 'on_break') setPresence('on_break', e.target.value);
});
$('rona-back').addEventListener('click', () => { prepareAlerts(); setPresence('available'); $('status-select').focus(); });
$('stop-new').addEventListener('click', async () => {
  try {
    const keep = { break_reasons: S.me.break_reasons, max_text_message_size: S.me.max_text_message_size };
    S.me = { ...keep, ...(await api('PUT', '/api/v1/me/stop-new', { stop_new: !S.me.stop_new })) };
  } catch (e) {
    toast(`Could not change "Stop new": ${e.message}`);
  }
  renderMe();
});

// ---------- offers ----------

function applyRejectPermission(btn) {
  const allowed = !!(S.me && S.me.can_reject);
  btn.disabled = !allowed;
  const reason = btn.parentElement.querySelector('.reject-reason');
  if (reason) reason.hidden = allowed;
}

function addOffer(o, focus = true) {
  const id = o.interaction_id;
  const existing = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  if (existing) existing.remove();
  S.offers.set(id, o);
  const kind = o.offer && o.offer.kind;
  const via = o.offer && o.offer.transferred_via;
  // Who handed it over: the inviting or transferring agent, or the owner who sent it to the queue.
  const by = o.offer && (o.offer.transferred_by_name || o.offer.from_agent_name);
  const from = by ? `${by}${via === 'queue' && o.queue_name ? ` via queue ${o.queue_name}` : ''}` : '';
  const title = kind === 'conference' ? 'Conference invitation' : via ? 'Transferred conversation' : 'New conversation';
  // The customer's wait: a transfer does not restart it (R-2.6).
  const waitingSince = (o.offer && o.offer.customer_waiting_since) || o.customer_waiting_since || o.waiting_since || '';
  const titleId = `offer-title-${id}`;
  const acceptBtn = el('button', { type: 'button', class: 'primary accept', onclick: () => acceptOffer(id) }, 'Accept');
  const rejectBtn = el('button', { type: 'button', class: 'reject', 'aria-describedby': `offer-rr-${id}`, onclick: () => rejectOffer(id) }, 'Reject');
  const card = el('article', { class: 'offer card', dataset: { id }, 'aria-labelledby': titleId },
    el('h2', { id: titleId }, `${title}${from ? ` from ${from}` : ''}: ${o.customer_name || o.customer_number}`),
    el('dl', { class: 'offer-facts' },
      el('dt', null, 'Customer'), el('dd', null, o.customer_name || '—'),
      el('dt', null, 'Number'), el('dd', null, fmtNum(o.customer_number)),
      el('dt', null, 'To'), el('dd', null, fmtNum(o.source_number)),
      el('dt', null, 'Queue'), el('dd', null, o.queue_name || '—'),
      el('dt', null, 'Waiting'), el('dd', null, el('span', { class: 'elapsed', dataset: { since: waitingSince } }, ''))),
    o.first_message ? el('blockquote', { class: 'first-message' }, o.first_message) : null,
    o.offer && o.offer.deadline ? el('p', { class: 'muted small' }, 'Answer within ', el('span', { class: 'countdown-inline', dataset: { deadline: o.offer.deadline } }, '')) : null,
    el('div', { class: 'offer-buttons' }, acceptBtn, rejectBtn,
      el('span', { id: `offer-rr-${id}`, class: 'reject-reason muted small' }, 'You may not reject offers (no permission).')),
    el('p', { class: 'error small', role: 'alert' }));
  $('offers').append(card);
  runHook('offerShown', card, o); // hook: crm.js adds the contact lookup's match count
  applyRejectPermission(rejectBtn);
  tick();
  if (focus) focusOffer(acceptBtn);
  if (focus) alertInBackground(o, title, from);
}

/** Whether the agent is in the middle of typing (focus would take their keystrokes away). */
function typing() {
  const a = document.activeElement;
  return !!a && (a.tagName === 'TEXTAREA' || (a.tagName === 'INPUT' && a.type !== 'file')) && a.value !== '' && !$('offers').contains(a);
}

/**
 * Focus moves to a new offer's Accept (R-10.6), except from a half-typed text, where the offer is
 * announced (the region is live) and Tab reaches it. Where focus was is remembered for later.
 */
function focusOffer(acceptBtn) {
  if (typing()) return;
  const a = document.activeElement;
  if (a && a !== document.body && !$('offers').contains(a)) S.focusBeforeOffer = a;
  acceptBtn.focus();
}

/** After an offer left: the next offer's Accept, else where focus was before the offers came. */
function restoreFocusAfterOffer(fallback) {
  const next = document.querySelector('.offer .accept:not(:disabled)');
  if (next) { next.focus(); return; }
  const back = S.focusBeforeOffer;
  S.focusBeforeOffer = null;
  if (back && back.isConnected && !back.disabled && back.offsetParent !== null) back.focus();
  else (fallback || $('status-select')).focus();
}

function removeOffer(id) {
  S.offers.delete(id);
  const n = S.notifications.get(id);
  if (n) { S.notifications.delete(id); try { n.close(); } catch { /* already gone */ } }
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  if (card) {
    const hadFocus = card.contains(document.activeElement) || document.activeElement === document.body;
    card.remove();
    if (hadFocus) restoreFocusAfterOffer();
  }
}

// ---------- desktop notification and sound (offers while the tab is in the background) ----------

/**
 * Asked when the agent chooses Available: a moment they expect offers, and a user gesture (which
 * the browser requires for the permission prompt and to allow sound).
 */
function prepareAlerts() {
  if ('Notification' in window && Notification.permission === 'default') {
    try { Notification.requestPermission().catch(() => {}); } catch { /* old browsers: callback form */ }
  }
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx && !S.audio) S.audio = new Ctx();
    if (S.audio && S.audio.state === 'suspended') S.audio.resume().catch(() => {});
  } catch { /* no sound */ }
}

/** A short two-note chime (WebAudio, no file to load). */
function chime() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!S.audio) S.audio = new Ctx();
    const ctx = S.audio;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t = ctx.currentTime;
    [[880, 0], [1175, 0.16]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + at);
      gain.gain.exponentialRampToValueAtTime(0.25, t + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.3);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + at);
      osc.stop(t + at + 0.32);
    });
  } catch { /* no sound */ }
}

function alertInBackground(o, title, from) {
  if (!document.hidden) return;
  chime();
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const id = o.interaction_id;
  const who = o.customer_name || fmtNum(o.customer_number);
  const body = [o.first_message, [o.queue_name, fmtNum(o.customer_number)].filter(Boolean).join(' · ')].filter(Boolean).join('\n');
  try {
    const n = new Notification(`${title}${from ? ` from ${from}` : ''}: ${who}`, { body, tag: `offer-${id}`, requireInteraction: true });
    n.onclick = () => {
      window.focus();
      const btn = document.querySelector(`.offer[data-id="${CSS.escape(id)}"] .accept`);
      if (btn) btn.focus();
      n.close();
    };
    S.notifications.set(id, n);
  } catch { /* notifications unavailable (e.g. some mobile browsers) */ }
}

async function acceptOffer(id) {
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  for (const b of card ? card.querySelectorAll('button') : []) b.disabled = true;
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/accept`);
    S.focusBeforeOffer = null;
    removeOffer(id);
    if (it && it.id && belongsInList(it)) {
      S.interactions.set(it.id, it);
      renderList();
      await selectInteraction(it.id, true, true);
    }
  } catch (e) {
    if (card && card.isConnected) {
      card.querySelector('.error').textContent = e.code === 'offer_not_pending' ? 'This offer is no longer available.' : e.message;
      setTimeout(() => removeOffer(id), 3000);
    } else {
      toast(e.message);
    }
  }
}

async function rejectOffer(id) {
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  try {
    await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/reject`);
    removeOffer(id);
  } catch (e) {
    if (card) card.querySelector('.error').textContent = e.message;
  }
}

// ---------- interaction list ----------

/**
 * Whether the 24-hour window is closed (R-3.5): by the page's clock, or because the server refused
 * a send with `template_required` (its clock decides) and the customer has not written since.
 */
function outsideWindow(it) {
  const refused = S.windowClosed.get(it.id);
  if (refused !== undefined && refused === (it.window_expires_at || null)) return true;
  const expires = parseTs(it.window_expires_at);
  return expires !== null && expires <= Date.now();
}

/** Past the queue's response target (R-3.3): the server said so, or the page's clock says so. */
function pastSla(it, now = Date.now()) {
  const p = myPart(it);
  if (p && p.state === 'wrap_up') return false;
  if (it.past_sla) return true;
  const since = parseTs(it.awaiting_reply_since);
  return it.state === 'active' && since !== null && !!it.sla_response_s && now - since > it.sla_response_s * 1000;
}

function sortedInteractions() {
  const key = (it) => {
    const p = myPart(it);
    return parseTs((p && p.joined_at) || it.accepted_at || it.created_at) || 0;
  };
  return [...S.interactions.values()].sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : 1));
}

function updateEmptyList() {
  $('list-empty').textContent = S.me && S.me.presence === 'available' && !S.me.stop_new
    ? 'No interactions yet. Offers appear above as customers write.'
    : 'No interactions yet. Set your status to Available to receive offers.';
}

function renderList() {
  const ul = $('interaction-list');
  const items = sortedInteractions();
  $('list-empty').hidden = items.length > 0;
  updateEmptyList();
  const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest('.item')
    ? document.activeElement.closest('.item').dataset.id : null;
  ul.replaceChildren(...items.map((it) => {
    const p = myPart(it);
    const wrap = p && p.state === 'wrap_up';
    const badges = [];
    const sla = pastSla(it);
    it.past_sla_shown = sla;
    // The interaction on screen is being read: no badge for it while the tab is visible.
    const onScreen = it.id === S.selected && !document.hidden;
    if (it.unread > 0 && !wrap && !onScreen) badges.push(el('span', { class: 'badge unread', title: 'Unread customer messages since your last reply' }, `${it.unread}`, el('span', { class: 'sr-only' }, ' unread')));
    if (sla) badges.push(el('span', { class: 'badge sla', title: 'Waiting longer than the queue\'s response target' }, 'Past SLA'));
    if (it.last_outbound_failed) badges.push(el('span', { class: 'badge failed' }, '⚠ Failed delivery'));
    if (it.conference_status === 'requested') badges.push(el('span', { class: 'badge conf' }, 'Conference requested'));
    if (it.conference_status === 'active') badges.push(el('span', { class: 'badge conf' }, 'Conference'));
    if (wrap) {
      badges.push(el('span', { class: 'badge wrap' }, 'Wrap-up ',
        p.wrap_up_deadline ? el('span', { class: 'countdown-inline', dataset: { deadline: p.wrap_up_deadline } }, '') : null));
    }
    const btn = el('button', {
      type: 'button',
      class: `item${it.id === S.selected ? ' selected' : ''}${sla ? ' past-sla' : ''}${wrap ? ' wrapping' : ''}`,
      dataset: { id: it.id },
      'aria-current': it.id === S.selected ? 'true' : null,
      onclick: () => selectInteraction(it.id, true, true),
    },
    el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(customerName(it))),
    el('span', { class: 'item-main' },
      el('span', { class: 'item-name' }, customerName(it)),
      el('span', { class: 'item-sub' }, `${it.queue_name || ''}${it.customer && it.customer.wa_id ? ` · ${fmtNum(it.customer.wa_id)}` : ''}`),
      el('span', { class: 'badges' }, badges)));
    runHook('listItem', btn, it); // hook: crm.js marks the avatar with the match count
    return el('li', null, btn);
  }));
  if (focusedId) {
    const again = ul.querySelector(`.item[data-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
  renderActivity();
  tick();
}

// Arrow keys move through the list.
$('interaction-list').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const items = [...document.querySelectorAll('#interaction-list .item')];
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const next = items[Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
  next.focus();
});

/** Keeps what was typed per interaction: switching never loses a draft. */
function saveDraft() {
  if (S.selected) {
    const v = $('compose-text').value;
    if (v) S.drafts.set(S.selected, v); else S.drafts.delete(S.selected);
  }
}

async function selectInteraction(id, markRead, focusCompose = false) {
  if (S.selected !== id) {
    if (A.file) closeAttachPreview(false);
    saveDraft();
    $('compose-text').value = S.drafts.get(id) || '';
    $('compose-error').textContent = '';
    T.id = null; // the transcript shown belongs to another interaction
  }
  S.selected = id;
  renderList();
  renderConversation();
  if (focusCompose) {
    const box = $('compose-text');
    (box.disabled ? $('transcript') : box).focus();
  }
  if (markRead) {
    const it = S.interactions.get(id);
    if (it && it.unread > 0) {
      it.unread = 0;
      renderList();
    }
    api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/read`).then((v) => {
      if (v && v.id && S.interactions.has(v.id)) {
        S.interactions.set(v.id, v);
        renderList();
      }
    }).catch(() => {});
  }
  if (!S.messages.has(id)) {
    // Live messages that arrive while the page loads are kept and merged in.
    const data = { list: [], nextBefore: null, loading: true };
    S.messages.set(id, data);
    try {
      const r = await api('GET', `/api/v1/interactions/${encodeURIComponent(id)}/messages?scope=transcript&limit=${PAGE}`);
      const live = new Map(data.list.map((m) => [m.id, m]));
      const list = (r.messages || []).map((m) => (live.has(m.id) ? { ...m, ...live.get(m.id) } : m));
      const known = new Set(list.map((m) => m.id));
      for (const m of data.list) if (!known.has(m.id)) list.push(m);
      list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      data.list = list;
      data.nextBefore = r.next_before;
      data.loading = false;
    } catch (e) {
      if (S.messages.get(id) === data) S.messages.delete(id);
      toast(`Could not load messages: ${e.message}`);
      return;
    }
  }
  if (S.selected === id && T.id !== id && !S.messages.get(id).loading) renderTranscript(true);
}

$('older').addEventListener('click', async () => {
  const id = S.selected;
  const m = S.messages.get(id);
  if (!m || !m.nextBefore) return;
  try {
    const r = await api('GET', `/api/v1/interactions/${encodeURIComponent(id)}/messages?scope=transcript&limit=${PAGE}&before=${encodeURIComponent(m.nextBefore)}`);
    const known = new Set(m.list.map((x) => x.id));
    const older = (r.messages || []).filter((x) => !known.has(x.id));
    m.nextBefore = r.next_before;
    m.list = [...older, ...m.list];
    if (S.selected !== id) return;
    prependTranscript(older);
    $('older').hidden = !m.nextBefore;
    if (!m.nextBefore) $('transcript').focus();
  } catch (e) {
    toast(e.message);
  }
});

// ---------- conversation ----------

function renderConversation() {
  const it = S.selected ? S.interactions.get(S.selected) : null;
  $('conv-empty').hidden = !!it;
  $('conv').hidden = !it;
  Panels.render(it);
  if (!it) { T.id = null; return; }
  $('conv-title').textContent = customerName(it);
  const parts = [];
  if (it.customer && it.customer.wa_id) parts.push(fmtNum(it.customer.wa_id));
  if (it.source_number) parts.push(`to ${fmtNum(it.source_number)}`);
  if (it.queue_name) parts.push(`queue ${it.queue_name}`);
  $('conv-sub').textContent = parts.join(' · ');
  const p = myPart(it);
  const owner = it.owner_id === S.me.id;
  const active = it.state === 'active' && p && p.state === 'active';
  const wrap = p && p.state === 'wrap_up';
  let stateText = '';
  if (wrap) stateText = 'In wrap-up';
  else if (it.conference_status === 'requested') stateText = 'Conference requested';
  else if (it.conference_status === 'active') stateText = 'Conference';
  else if (active) stateText = 'Active';
  $('conv-state').replaceChildren(stateText,
    wrap && p.wrap_up_deadline ? el('span', null, ' — ', el('span', { class: 'countdown-inline', dataset: { deadline: p.wrap_up_deadline } }, ''), ' left') : '');
  const show = (b, visible, enabled = visible) => { b.hidden = !visible; b.disabled = !enabled; };
  show($('btn-transfer'), !wrap, active && owner && it.conference_status === 'none');
  show($('btn-conference'), !wrap && owner, active && owner && it.conference_status === 'none');
  show($('btn-end-conference'), !wrap && it.conference_status !== 'none', active);
  show($('btn-end'), !wrap, active && owner);
  show($('btn-wrapup'), !!wrap);
  // Compose box
  const outside = outsideWindow(it);
  $('window-notice').hidden = !outside;
  const canWrite = active && !outside;
  $('compose-text').disabled = !canWrite;
  $('send').disabled = !canWrite;
  $('compose-file').disabled = !canWrite;
  $('compose').classList.toggle('disabled', !canWrite);
  $('compose-text').placeholder = outside ? 'A template is needed: the 24-hour window has closed.'
    : wrap ? 'This interaction is in wrap-up.'
      : 'Type a message — Enter sends, Shift+Enter for a new line';
  updateCounter();
  tick();
}

const TICKS = {
  queued: ['sending', '🕓', 'Sending'],
  accepted: ['sending', '🕓', 'Sending'],
  sending: ['sending', '🕓', 'Sending'],
  sent: ['sent', '✓', 'Sent'],
  delivered: ['delivered', '✓✓', 'Delivered'],
  read: ['read', '✓✓', 'Read'],
  failed: ['failed', '⚠', 'Failed'],
};

/** A customer's reaction `m`: the wamid of the message it is on and its emoji (null: removed). */
function reactionOf(m) {
  if (m.type !== 'reaction') return null;
  const target = findKey(m.payload, 'message_id');
  return target ? { target, emoji: findKey(m.payload, 'emoji') || null } : null;
}

/** Reactions of `list`: wamid -> the latest emoji on it, and the wamids the list holds. */
function reactionIndex(list) {
  const reactions = new Map();
  const waIds = new Set();
  for (const m of list) {
    if (m.wa_message_id) waIds.add(m.wa_message_id);
    const r = reactionOf(m);
    if (r && r.emoji) reactions.set(r.target, r.emoji);
    else if (r) reactions.delete(r.target);
  }
  return { reactions, waIds };
}

/**
 * The node of message `m`. With `ctx` (the transcript's reaction index), a reaction to a message
 * shown is drawn on that message (R-7.2) and its own node stays hidden.
 */
function messageNode(m, it, ctx = null) {
  const reaction = ctx && reactionOf(m);
  if (reaction && ctx.waIds.has(reaction.target)) {
    return el('li', { class: 'msg reaction-ref', hidden: true, dataset: { id: m.id } });
  }
  const dir = m.direction === 'in' ? 'in' : m.direction === 'out' ? 'out' : 'system';
  if (dir === 'system') {
    return el('li', { class: 'msg system', dataset: { id: m.id } },
      el('span', { class: 'bubble' }, m.text || m.type, ' ', el('time', { datetime: m.created_at }, fmtTime(m.created_at))));
  }
  const content = [];
  const media = m.payload && m.payload.media;
  if (m.type === 'image' || m.type === 'sticker') {
    content.push(imageNode(m));
  } else if (media || ['document', 'video', 'audio'].includes(m.type)) {
    const name = (media && (media.filename || media.mime_type)) || m.type;
    content.push(el('button', { type: 'button', class: 'link', onclick: () => openMedia(m) }, `📎 ${name}`));
  }
  const text = m.text || (m.payload && m.payload.caption);
  if (text) content.push(el('p', { class: 'text' }, text));
  if (!content.length && m.type === 'reaction') {
    const emoji = findKey(m.payload, 'emoji');
    content.push(el('p', { class: 'text muted' }, emoji ? `Reacted ${emoji}${ctx ? ' to an earlier message' : ''}` : 'Removed a reaction'));
  }
  if (!content.length) content.push(el('p', { class: 'text muted' }, `[${m.type}]`));
  runHook('messageContent', m, it, content); // hook: crm.js draws templates and button taps
  const meta = [el('time', { datetime: m.created_at }, fmtTime(m.created_at))];
  if (dir === 'out') {
    const [cls, sym, label] = TICKS[m.status] || ['sending', '🕓', m.status || 'Sending'];
    meta.push(el('span', { class: `tick ${cls}`, title: label, 'aria-label': label }, sym));
    if (m.status === 'failed') meta.push(el('span', { class: 'fail-reason' }, `Not delivered: ${failureReason(m.error)}`));
  }
  let author = null;
  if (dir === 'out' && m.author_id && m.author_id !== S.me.id) {
    const p = it && it.participants && it.participants.find((x) => x.agent_id === m.author_id);
    author = el('span', { class: 'author' }, (p && p.display_name) || m.author_name || 'Agent');
  }
  const onIt = ctx && m.wa_message_id ? ctx.reactions.get(m.wa_message_id) : null;
  return el('li', { class: `msg ${dir}${onIt ? ' has-reaction' : ''}`, dataset: { id: m.id } },
    dir === 'in' ? el('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(it ? customerName(it) : '?')) : null,
    el('div', { class: 'bubble' },
      dir === 'in' ? el('span', { class: 'sr-only' }, 'Customer: ') : el('span', { class: 'sr-only' }, 'Agent: '),
      author, content, el('span', { class: 'meta' }, meta)),
    onIt ? el('span', { class: 'reactions', role: 'img', 'aria-label': `Customer reacted ${onIt}` }, onIt) : null);
}

function findKey(v, key, depth = 0) {
  if (!v || typeof v !== 'object' || depth > 4) return null;
  if (typeof v[key] === 'string') return v[key];
  for (const x of Object.values(v)) {
    const r = findKey(x, key, depth + 1);
    if (r) return r;
  }
  return null;
}

function imageNode(m) {
  const img = el('img', { alt: (m.payload && m.payload.caption) || 'Image', class: 'media-img' });
  const cached = S.media.get(m.id);
  if (cached && cached.startsWith('blob:')) {
    img.src = cached;
    return el('button', { type: 'button', class: 'img-btn', title: 'Open image', onclick: () => window.open(cached, '_blank', 'noopener') }, img);
  }
  const holder = el('span', { class: 'media-placeholder muted', dataset: { media: m.id } }, '🖼 Loading image…');
  if (cached === 'failed') holder.textContent = '🖼 Image not available yet';
  else if (cached !== 'loading') loadMedia(m);
  return holder;
}

async function fetchMedia(id) {
  const resp = await fetch(`/api/v1/messages/${encodeURIComponent(id)}/media`, { headers: { Authorization: `Bearer ${S.token}` } });
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return URL.createObjectURL(await resp.blob());
}

async function loadMedia(m) {
  S.media.set(m.id, 'loading');
  try {
    S.media.set(m.id, await fetchMedia(m.id));
  } catch {
    S.media.set(m.id, 'failed');
    for (const h of document.querySelectorAll(`[data-media="${CSS.escape(m.id)}"]`)) h.textContent = '🖼 Image not available yet';
    return;
  }
  for (const h of document.querySelectorAll(`[data-media="${CSS.escape(m.id)}"]`)) h.replaceWith(imageNode(m));
}

async function openMedia(m) {
  try {
    const url = S.media.get(m.id)?.startsWith?.('blob:') ? S.media.get(m.id) : await fetchMedia(m.id);
    S.media.set(m.id, url);
    window.open(url, '_blank', 'noopener');
  } catch (e) {
    toast(`File not available: ${e.message}`);
  }
}

// The transcript is drawn once per selection and then changed in place: a new message appends one
// node, a status change replaces one node, an older page is inserted above. Nothing re-renders the
// whole list per message, so a 1,000-message transcript stays cheap.
// The interaction shown; message id -> its <li>; whether the view follows the newest message
// (kept by the scroll listener, so appending never has to measure the layout).
const T = { id: null, nodes: new Map(), stick: true, scrollQueued: false, ctx: null };

/** The separator to draw before `m` when `prev` comes right before it (R-3.2), or null. */
function separatorBefore(prev, m) {
  const day = new Date(m.created_at).toDateString();
  const newSession = !prev || (m.interaction_id && prev.interaction_id && m.interaction_id !== prev.interaction_id);
  if (!newSession && new Date(prev.created_at).toDateString() === day) return null;
  const earlier = m.interaction_id && m.interaction_id !== S.selected;
  const label = newSession
    ? `${earlier ? 'Earlier interaction' : 'This interaction'} · ${fmtDate(m.created_at)}`
    : fmtDate(m.created_at);
  return el('li', { class: `day${newSession ? ' session' : ''}`, dataset: { sepFor: m.id } }, el('span', null, label));
}

/** Nodes for `list`, whose first message follows `prev` (or starts the transcript). */
function transcriptNodes(list, prev, it) {
  const nodes = [];
  for (const m of list) {
    const node = messageNode(m, it, T.ctx);
    T.nodes.set(m.id, node);
    if (node.hidden) { nodes.push(node); continue; } // a reaction drawn on its message
    const sep = separatorBefore(prev, m);
    if (sep) nodes.push(sep);
    nodes.push(node);
    prev = m;
  }
  return nodes;
}

const nearBottom = (ol) => ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;

/** Scrolls to the newest message once per frame, however many arrive in it. */
function scrollToEnd() {
  if (T.scrollQueued) return;
  T.scrollQueued = true;
  requestAnimationFrame(() => {
    T.scrollQueued = false;
    const ol = $('transcript');
    ol.scrollTop = ol.scrollHeight;
    T.stick = true;
  });
}
$('transcript').addEventListener('scroll', () => {
  if (!T.scrollQueued) T.stick = nearBottom($('transcript'));
}, { passive: true });

function renderTranscript(toEnd) {
  const id = S.selected;
  const it = S.interactions.get(id);
  const data = S.messages.get(id);
  const ol = $('transcript');
  T.nodes.clear();
  if (!data) { T.id = null; ol.replaceChildren(); return; }
  const follow = toEnd || T.stick;
  T.id = id;
  T.ctx = reactionIndex(data.list);
  ol.replaceChildren(...transcriptNodes(data.list, null, it));
  $('older').hidden = !data.nextBefore;
  if (follow) {
    ol.scrollTop = ol.scrollHeight;
    T.stick = true;
  }
}

/** Older messages above what is shown, keeping what the agent looks at in place. */
function prependTranscript(older) {
  if (!older.length || T.id !== S.selected) return;
  const ol = $('transcript');
  const it = S.interactions.get(S.selected);
  const data = S.messages.get(S.selected);
  const firstShown = data.list[older.length];
  const before = reactionIndex(data.list);
  if ([...before.reactions.keys()].some((w) => !T.ctx.reactions.has(w) || !T.ctx.waIds.has(w))) {
    // The older page holds a message that a shown reaction is on: draw again, in place.
    const keep = ol.scrollHeight - ol.scrollTop;
    renderTranscript(false);
    ol.scrollTop = ol.scrollHeight - keep;
    return;
  }
  const nodes = transcriptNodes(older, null, it);
  // The separator above the formerly first message may no longer be needed (or needs a new label).
  if (firstShown) {
    const oldSep = ol.querySelector(`li.day[data-sep-for="${CSS.escape(firstShown.id)}"]`);
    if (oldSep) oldSep.remove();
    const sep = separatorBefore(older[older.length - 1], firstShown);
    if (sep) nodes.push(sep);
  }
  const height = ol.scrollHeight;
  ol.prepend(...nodes);
  ol.scrollTop += ol.scrollHeight - height;
}

/** Adds `m` at its place (normally the end) or replaces its node; returns nothing. */
function showMessage(m, isNew) {
  if (T.id !== m.interaction_id || T.id !== S.selected) return;
  if (S.messages.get(S.selected).loading) return;
  const ol = $('transcript');
  const it = S.interactions.get(S.selected);
  const data = S.messages.get(S.selected);
  const reaction = reactionOf(m) || (m.wa_message_id && !T.ctx.waIds.has(m.wa_message_id) ? {} : null);
  if (reaction) {
    // A reaction (or a message that reactions may be on, once WhatsApp named it) changes what
    // other nodes show: redraw the message it is on.
    const was = T.ctx;
    T.ctx = reactionIndex(data.list);
    for (const x of data.list) {
      const w = x.wa_message_id;
      if (w && x.id !== m.id && (was.reactions.get(w) !== T.ctx.reactions.get(w)) && T.nodes.has(x.id)) {
        const node = messageNode(x, it, T.ctx);
        T.nodes.get(x.id).replaceWith(node);
        T.nodes.set(x.id, node);
      }
    }
  }
  const old = T.nodes.get(m.id);
  if (old) {
    const node = messageNode(m, it, T.ctx);
    T.nodes.set(m.id, node);
    old.replaceWith(node);
    return;
  }
  const i = data.list.indexOf(m);
  if (i !== data.list.length - 1) { renderTranscript(false); return; } // out of order: rare
  ol.append(...transcriptNodes([m], data.list[i - 1] || null, it));
  if (isNew && (m.direction === 'out' || T.stick)) scrollToEnd();
}

/** A delivery error as a sentence: WhatsApp's title and details, with the code. */
function failureReason(err) {
  if (!err) return 'unknown error';
  if (typeof err === 'string') return err;
  const text = [err.title, err.details].filter(Boolean).join(': ') || err.message || 'unknown error';
  return err.code ? `${text} (#${err.code})` : text;
}

/** Delivery states in order; a message never moves back (failed is final). */
const STATUS_RANK = { queued: 0, accepted: 1, sent: 2, delivered: 3, read: 4, played: 5, failed: 9 };

function upsertMessage(m) {
  const id = m.interaction_id;
  const data = S.messages.get(id);
  if (!data) return;
  const i = data.list.findIndex((x) => x.id === m.id);
  if (i >= 0) {
    const old = data.list[i];
    const merged = { ...old, ...m };
    // An answer or event that arrives late must not undo a later state.
    const rank = (s) => (s in STATUS_RANK ? STATUS_RANK[s] : 0);
    if (m.status && old.status && rank(m.status) < rank(old.status)) {
      merged.status = old.status;
      merged.error = old.error;
    }
    // Nor forget WhatsApp's id of the message (reactions and replies point at it).
    if (!merged.wa_message_id && old.wa_message_id) merged.wa_message_id = old.wa_message_id;
    data.list[i] = merged;
    showMessage(merged, false);
  } else {
    const early = S.earlyUpdates.get(m.id);
    if (early) {
      S.earlyUpdates.delete(m.id);
      const rank = (s) => (s in STATUS_RANK ? STATUS_RANK[s] : 0);
      m = { ...m, ...early, ...(rank(m.status) > rank(early.status) ? { status: m.status, error: m.error } : {}) };
    }
    // Keep the list in id (time) order.
    let j = data.list.length;
    while (j > 0 && data.list[j - 1].id > m.id) j -= 1;
    data.list.splice(j, 0, m);
    showMessage(m, true);
  }
}

// ---------- compose ----------

function updateCounter() {
  const max = (S.me && S.me.max_text_message_size) || 4096;
  const n = bytes($('compose-text').value);
  const c = $('byte-count');
  c.textContent = `${n} / ${max} bytes`;
  c.classList.toggle('over', n > max);
  return { n, max };
}

$('compose-text').addEventListener('input', () => {
  const { n, max } = updateCounter();
  if (n <= max && $('compose-error').dataset.kind === 'size') $('compose-error').textContent = '';
});
$('compose-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendText();
  }
});
$('compose').addEventListener('submit', (e) => {
  e.preventDefault();
  sendText();
});

/** The refusal notice for a text over the byte limit (R-3.4); the text stays in the box. */
function sizeNotice(n, max) {
  const errEl = $('compose-error');
  errEl.dataset.kind = 'size';
  errEl.textContent = `Not sent: the message is ${n} bytes, the limit is ${max} bytes. Shorten it — your text is kept.`;
}

/** The server refused a send because the 24-hour window closed (its clock decides). */
function windowRefused(id) {
  const it = S.interactions.get(id);
  if (it) S.windowClosed.set(id, it.window_expires_at || null);
  const errEl = $('compose-error');
  errEl.dataset.kind = 'window';
  errEl.textContent = 'Not sent: more than 24 hours have passed since the customer\'s last message, so only a template can be sent. Your text is kept.';
  renderConversation();
}

async function sendText() {
  const id = S.selected;
  const it = S.interactions.get(id);
  if (!it) return;
  const box = $('compose-text');
  const text = box.value;
  const errEl = $('compose-error');
  errEl.textContent = '';
  errEl.dataset.kind = '';
  if (!text.trim()) return;
  const { n, max } = updateCounter();
  if (n > max) {
    sizeNotice(n, max);
    return;
  }
  if (outsideWindow(it)) {
    windowRefused(id);
    return;
  }
  $('send').disabled = true;
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, { text });
    if (S.selected === id && box.value === text) box.value = '';
    S.drafts.delete(id);
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (e) {
    if (S.selected !== id) {
      toast(`Not sent: ${e.message}`);
    } else if (e.code === 'text_too_long' && typeof e.data.limit === 'number' && /bytes/.test(e.message)) {
      // The limit changed since the page loaded: the server's answer is the one that counts.
      S.me.max_text_message_size = e.data.limit;
      const c = updateCounter();
      sizeNotice(c.n, c.max);
    } else if (e.code === 'template_required') {
      windowRefused(id);
    } else {
      errEl.textContent = `Not sent: ${e.message}. Your text is kept.`;
    }
  } finally {
    renderConversation();
    if (!box.disabled) box.focus();
  }
}

// Choosing a file shows it first (R-3.4): an image with the typed text as its editable caption,
// sent only with "Send"; "Cancel" drops the file and keeps the text.
const A = { file: null, url: null, interaction: null };

function closeAttachPreview(focusBack = true) {
  if (A.url) URL.revokeObjectURL(A.url);
  A.file = null; A.url = null; A.interaction = null;
  $('attach-preview').hidden = true;
  $('attach-error').textContent = '';
  if (focusBack && !$('compose-text').disabled) $('compose-text').focus();
}

$('compose-file').addEventListener('change', (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || !S.selected) return;
  closeAttachPreview(false);
  const image = f.type.startsWith('image/');
  A.file = f;
  A.interaction = S.selected;
  A.url = image ? URL.createObjectURL(f) : null;
  $('attach-thumb').replaceChildren(image
    ? el('img', { class: 'media-img', src: A.url, alt: `Preview of ${f.name}` })
    : el('span', { class: 'attach-doc' }, `📎 ${f.name}`));
  $('attach-caption-wrap').hidden = !image;
  $('attach-caption').value = image ? $('compose-text').value.trim() : '';
  $('attach-send').textContent = image ? 'Send image' : 'Send file';
  $('attach-error').textContent = '';
  $('compose-error').textContent = '';
  $('attach-preview').hidden = false;
  (image ? $('attach-caption') : $('attach-send')).focus();
});

$('attach-cancel').addEventListener('click', () => closeAttachPreview());
$('attach-preview').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { e.preventDefault(); closeAttachPreview(); }
  if (e.key === 'Enter' && e.target === $('attach-caption')) { e.preventDefault(); $('attach-send').click(); }
});

$('attach-send').addEventListener('click', async () => {
  const { file, interaction: id } = A;
  if (!file || !id) return;
  const image = file.type.startsWith('image/');
  const caption = image ? $('attach-caption').value.trim() : '';
  const fd = new FormData();
  fd.append('file', file, file.name);
  if (caption) fd.append('caption', caption);
  $('attach-send').disabled = true;
  $('attach-error').textContent = '';
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, fd);
    // The caption came from the compose box: it went out, so the box is cleared.
    if (caption && S.selected === id && $('compose-text').value.trim() === caption) {
      $('compose-text').value = '';
      S.drafts.delete(id);
    }
    closeAttachPreview();
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (err) {
    if (err.code === 'template_required') { closeAttachPreview(); windowRefused(id); }
    else $('attach-error').textContent = `Not sent: ${err.message}`;
  } finally {
    $('attach-send').disabled = false;
  }
});

// ---------- transfer / conference ----------

function openTargetDialog(mode) {
  S.targetMode = mode;
  $('target-title').textContent = mode === 'transfer' ? 'Transfer to a queue or an agent' : 'Invite to a conference';
  $('target-error').textContent = '';
  $('target-search').value = '';
  $('target-dialog').showModal();
  $('target-search').focus();
  loadDirectory();
}

async function loadDirectory() {
  try {
    S.directory = await api('GET', '/api/v1/directory');
    renderDirectory();
  } catch (e) {
    $('target-error').textContent = e.message;
  }
}

function renderDirectory() {
  const d = S.directory || { queues: [], agents: [] };
  const q = $('target-search').value.trim().toLowerCase();
  const match = (s) => !q || String(s || '').toLowerCase().includes(q);
  const verb = S.targetMode === 'transfer' ? 'Transfer to' : 'Invite';
  const queues = d.queues.filter((x) => match(x.name));
  const agents = d.agents.filter((a) => a.available && match(a.display_name));
  $('target-queues').replaceChildren(...(queues.length ? queues.map((x) => el('li', null,
    el('button', { type: 'button', class: 'target', onclick: () => pickTarget({ queue_id: x.id }) },
      `${verb} queue ${x.name}`, el('span', { class: 'muted small' }, ` (${x.waiting} waiting)`)))) : [el('li', { class: 'muted' }, 'No matching queue.')]));
  $('target-agents').replaceChildren(...(agents.length ? agents.map((a) => el('li', null,
    el('button', { type: 'button', class: 'target', onclick: () => pickTarget({ agent_id: a.id }) },
      `${verb} ${a.display_name}`, el('span', { class: 'muted small' }, ` (${a.load}/${a.capacity})`)))) : [el('li', { class: 'muted' }, 'No available agent matches.')]));
}

async function pickTarget(target) {
  const id = S.selected;
  const path = S.targetMode === 'transfer' ? 'transfer' : 'conference';
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/${path}`, target);
    $('target-dialog').close();
    applyInteraction(it);
  } catch (e) {
    $('target-error').textContent = e.message;
  }
}

$('target-search').addEventListener('input', renderDirectory);
$('target-refresh').addEventListener('click', loadDirectory);
$('btn-transfer').addEventListener('click', () => openTargetDialog('transfer'));
$('btn-conference').addEventListener('click', () => openTargetDialog('conference'));
$('btn-end-conference').addEventListener('click', async () => {
  try {
    applyInteraction(await api('POST', `/api/v1/interactions/${encodeURIComponent(S.selected)}/conference/end`));
  } catch (e) { toast(e.message); }
});

// ---------- end / wrap-up ----------

$('btn-end').addEventListener('click', async () => {
  const id = S.selected;
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/end`);
    applyInteraction(it);
    openWrapDialog(id);
  } catch (e) { toast(e.message); }
});
$('btn-wrapup').addEventListener('click', () => openWrapDialog(S.selected));

function openWrapDialog(id) {
  const it = S.interactions.get(id);
  if (!it) return;
  S.wrapFor = id;
  const dsel = $('wrap-disposition');
  const required = !!it.disposition_required;
  const opts = (it.dispositions || []).map((d) => el('option', { value: d.code, text: d.label || d.code }));
  dsel.replaceChildren(el('option', { value: '', text: required ? '— choose a disposition —' : '— none —' }), ...opts);
  dsel.required = required; // for assistive technology; the form itself is novalidate
  dsel.setAttribute('aria-required', required ? 'true' : 'false');
  dsel.removeAttribute('aria-invalid');
  dsel.disabled = opts.length === 0;
  $('wrap-disposition').previousElementSibling.textContent = required ? 'Disposition (required)' : 'Disposition (optional)';
  $('wrap-note').value = '';
  $('wrap-error').textContent = '';
  $('wrap-title').textContent = `Wrap-up: ${customerName(it)}`;
  updateWrapCountdown();
  // Not modal: offers stay answerable while the agent wraps up.
  if (!$('wrap-dialog').open) $('wrap-dialog').show();
  (opts.length ? dsel : $('wrap-note')).focus();
}

function updateWrapCountdown() {
  const it = S.wrapFor && S.interactions.get(S.wrapFor);
  const p = it && myPart(it);
  const c = $('wrap-countdown');
  if (p && p.wrap_up_deadline) {
    c.replaceChildren('Completes on its own in ', el('span', { class: 'countdown-inline', dataset: { deadline: p.wrap_up_deadline } }, ''));
  } else {
    c.textContent = 'No time limit.';
  }
  tick();
}

function closeWrapDialog() {
  S.wrapFor = null;
  if ($('wrap-dialog').open) $('wrap-dialog').close();
}

$('wrap-later').addEventListener('click', closeWrapDialog);
$('wrap-dialog').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { e.preventDefault(); closeWrapDialog(); }
});
$('wrap-disposition').addEventListener('change', (e) => {
  if (e.target.value) {
    e.target.removeAttribute('aria-invalid');
    if ($('wrap-error').dataset.kind === 'required') $('wrap-error').textContent = '';
  }
});
$('wrap-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = S.wrapFor;
  const code = $('wrap-disposition').value;
  const it = S.interactions.get(id);
  $('wrap-error').dataset.kind = '';
  if (it && it.disposition_required && !code) {
    // Our message, not the browser's validation bubble (the form is novalidate).
    $('wrap-error').dataset.kind = 'required';
    $('wrap-error').textContent = 'Choose a disposition: this queue requires one.';
    $('wrap-disposition').setAttribute('aria-invalid', 'true');
    $('wrap-disposition').focus();
    return;
  }
  const body = {};
  if (code) body.disposition_code = code;
  const note = $('wrap-note').value.trim();
  if (note) body.note = note;
  try {
    const v = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/wrap-up`, body);
    closeWrapDialog();
    applyInteraction(v && v.id ? v : { id, state: 'done' });
  } catch (err) {
    $('wrap-error').textContent = err.message;
  }
});

// ---------- applying changes ----------

function applyInteraction(it) {
  if (!it || !it.id) return;
  if (it.visible === false || !belongsInList(it)) {
    if (S.interactions.delete(it.id)) {
      S.messages.delete(it.id);
      if (S.selected === it.id) S.selected = null;
    }
    if (S.wrapFor === it.id) closeWrapDialog();
  } else {
    S.interactions.set(it.id, it);
    if (S.wrapFor === it.id) {
      const p = myPart(it);
      if (!p || p.state !== 'wrap_up') closeWrapDialog();
      else updateWrapCountdown();
    }
  }
  if (it.participants && !offerFor(it) && S.offers.has(it.id)) removeOffer(it.id);
  renderList();
  renderConversation();
  if (S.selected === it.id && !S.messages.has(it.id)) selectInteraction(it.id, false);
}

// Load (offers, active and wrap-up count) changes with interactions; /me has the number.
let meTimer = null;
function refreshMe() {
  clearTimeout(meTimer);
  meTimer = setTimeout(async () => {
    if (!S.token || !S.me) return;
    try {
      S.me = await api('GET', '/api/v1/me');
      renderMe();
    } catch { /* shown elsewhere */ }
  }, 250);
}

let readTimer = null;
function onEvent(f) {
  const d = f.data || {};
  switch (f.type) {
    case 'hello':
      break;
    case 'resync':
      loadState().catch((e) => toast(e.message));
      break;
    case 'offer.created':
      if (!d.offer || d.offer.agent_id === S.me.id) addOffer(d, true);
      refreshMe();
      break;
    case 'offer.withdrawn':
      if (!d.agent_id || d.agent_id === S.me.id) removeOffer(d.interaction_id);
      refreshMe();
      break;
    case 'interaction.updated':
      applyInteraction(d);
      refreshMe();
      break;
    case 'message.created':
      upsertMessage(d);
      if (d.interaction_id === S.selected && d.direction === 'in' && document.visibilityState === 'visible') {
        clearTimeout(readTimer);
        readTimer = setTimeout(() => api('POST', `/api/v1/interactions/${encodeURIComponent(d.interaction_id)}/read`).catch(() => {}), 300);
      }
      break;
    case 'message.updated': {
      const data = S.messages.get(d.interaction_id);
      if (data && data.list.some((x) => x.id === d.id)) {
        if (S.media.get(d.id) === 'failed') S.media.delete(d.id);
        upsertMessage(d);
      } else if (data) {
        // Before the answer that adds the message (a send's status can overtake it): kept, so
        // what only this update carries (WhatsApp's id) is not lost.
        if (S.earlyUpdates.size > 500) S.earlyUpdates.delete(S.earlyUpdates.keys().next().value);
        S.earlyUpdates.set(d.id, { ...S.earlyUpdates.get(d.id), ...d });
      }
      break;
    }
    case 'presence.changed':
      if (S.me && d.id === S.me.id) {
        S.me = { ...S.me, ...d };
        renderMe();
      }
      break;
    default:
      break;
  }
}

// ---------- websocket ----------

function closeWs() {
  clearTimeout(S.wsTimer);
  if (S.ws) {
    S.ws.onclose = null;
    S.ws.close();
    S.ws = null;
  }
  $('reconnect-banner').hidden = true;
}

function connectWs() {
  if (!S.token) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${proto}//${location.host}/api/v1/ws?token=${encodeURIComponent(S.token)}`;
  const resuming = S.lastSeq !== null;
  if (resuming) url += `&since=${S.lastSeq}`;
  const ws = new WebSocket(url);
  S.ws = ws;
  let pingTimer = null;
  ws.onopen = () => {
    S.wsRetry = 0;
    $('reconnect-banner').hidden = true;
    $('conn').textContent = 'Live';
    $('conn').className = 'conn ok';
    pingTimer = setInterval(() => { if (ws.readyState === 1) ws.send('ping'); }, 25000);
  };
  ws.onmessage = (ev) => {
    if (ev.data === 'pong') return;
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    if (f.type === 'hello') {
      if (S.lastSeq === null) S.lastSeq = f.seq;
      return;
    }
    if (typeof f.seq === 'number') S.lastSeq = f.seq;
    try { onEvent(f); } catch (e) { console.error(e); }
  };
  ws.onclose = (ev) => {
    clearInterval(pingTimer);
    if (S.ws !== ws) return;
    S.ws = null;
    $('conn').textContent = '';
    if (!S.token) return;
    if (ev.code === 1008) {
      // The session ended (logged out elsewhere).
      api('GET', '/api/v1/me').catch(() => {});
    }
    const delay = Math.min(30000, 1000 * 2 ** S.wsRetry) * (0.75 + Math.random() * 0.5);
    S.wsRetry = Math.min(S.wsRetry + 1, 6);
    const banner = $('reconnect-banner');
    banner.hidden = false;
    banner.textContent = `Reconnecting… (next attempt in ${Math.round(delay / 1000)} s)`;
    S.wsTimer = setTimeout(connectWs, delay);
  };
}

// ---------- timers ----------

function tick() {
  const now = Date.now();
  for (const e of document.querySelectorAll('[data-since]')) {
    const t = parseTs(e.dataset.since);
    e.textContent = t ? fmtDuration(now - t) : '';
  }
  for (const e of document.querySelectorAll('[data-deadline]')) {
    const t = parseTs(e.dataset.deadline);
    e.textContent = t ? fmtDuration(t - now) : '';
    e.classList.toggle('urgent', !!t && t - now < 10000);
  }
  // The 24-hour window may close while the interaction is open.
  const it = S.selected && S.interactions.get(S.selected);
  if (it && outsideWindow(it) === $('window-notice').hidden) renderConversation();
  // An unanswered customer may pass the queue's response target while nothing else changes.
  let slaChanged = false;
  for (const x of S.interactions.values()) {
    const v = pastSla(x, now);
    if (v !== !!x.past_sla_shown) slaChanged = true;
  }
  if (slaChanged) renderList();
}
setInterval(tick, 1000);

// Esc closes dialogs natively; keep focus sensible after they close.
$('target-dialog').addEventListener('close', () => { const b = $('btn-transfer'); if (!b.hidden && !b.disabled) b.focus(); });
$('wrap-dialog').addEventListener('close', () => {
  S.wrapFor = null;
  // Back to where the agent works: the interaction's Wrap-up… button, else the list.
  const a = document.activeElement;
  if (a && a !== document.body && !$('wrap-dialog').contains(a)) return;
  const b = $('btn-wrapup');
  if (!$('conv').hidden && !b.hidden) b.focus();
  else (document.querySelector('#interaction-list .item') || $('status-select')).focus();
});

// Back in the foreground: what the agent now sees of the selected interaction is read.
document.addEventListener('visibilitychange', () => {
  if (S.me) renderList();
  if (document.hidden || !S.selected) return;
  const it = S.interactions.get(S.selected);
  if (it && it.unread > 0) api('POST', `/api/v1/interactions/${encodeURIComponent(S.selected)}/read`).catch(() => {});
});

// ---------- side panels ----------

/**
 * The region beside the conversation for panels about the selected interaction (contact/screen
 * pop, history, search, templates). A panel is `{id, title, render(interaction, body)}`; the
 * region shows only while at least one panel is registered.
 */
const Panels = {
  list: [],
  register(panel) {
    this.list.push(panel);
    const body = el('div', { class: 'panel-body' });
    const section = el('section', { class: 'panel', id: `panel-${panel.id}`, 'aria-labelledby': `panel-${panel.id}-title` },
      el('h2', { class: 'pane-title', id: `panel-${panel.id}-title` }, panel.title), body);
    panel.body = body;
    $('side-panel').append(section);
    $('side-panel').hidden = false;
    document.querySelector('.workspace').classList.add('with-side');
  },
  render(it) {
    for (const p of this.list) {
      try { p.render(it || null, p.body); } catch (e) { console.error(e); }
    }
  },
};

// ---------- hooks ----------

/**
 * Extension points for the other scripts of the page (crm.js): each is a function set by that
 * script, called with the node being built; a failing hook never breaks the desktop.
 * - `offerShown(card, offer)`: an offer card was added;
 * - `listItem(button, interaction)`: an item of the interaction list was built;
 * - `messageContent(message, interaction, content)`: may change the nodes of a message's bubble.
 */
const Hooks = { offerShown: null, listItem: null, messageContent: null };
function runHook(name, ...args) {
  const f = Hooks[name];
  if (!f) return;
  try { f(...args); } catch (e) { console.error(e); }
}

// ---------- boot ----------

if (S.token) start(); else showLogin('');
