// Switchboard agent desktop. Plain JS, no build step: REST under /api/v1 and one websocket.
'use strict';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'switchboard.token';

const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  interactions: new Map(), // id -> interaction (the ones in the list)
  offers: new Map(), // interaction id -> offer data
  messages: new Map(), // interaction id -> {list: [], nextBefore}
  media: new Map(), // message id -> blob URL | 'loading' | 'failed'
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
  const reasons = me.break_reasons || [];
  const rsel = $('break-reason');
  const current = [...rsel.options].map((o) => o.value).join('\n');
  if (current !== reasons.join('\n')) {
    rsel.replaceChildren(...reasons.map((r) => el('option', { value: r, text: r })));
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
  for (const b of document.querySelectorAll('.offer .reject')) applyRejectPermission(b);
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
  if (v === 'on_break') $('break-reason-wrap').hidden = false;
  setPresence(v);
});
$('break-reason').addEventListener('change', (e) => {
  if (S.me && S.me.presence === 'on_break') setPresence('on_break', e.target.value);
});
$('rona-back').addEventListener('click', () => setPresence('available'));
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
  const from = o.offer && o.offer.from_agent_name;
  const title = kind === 'conference' ? 'Conference invitation' : kind === 'transfer' ? 'Transferred conversation' : 'New conversation';
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
      el('dt', null, 'Waiting'), el('dd', null, el('span', { class: 'elapsed', dataset: { since: o.waiting_since || '' } }, ''))),
    o.first_message ? el('blockquote', { class: 'first-message' }, o.first_message) : null,
    o.offer && o.offer.deadline ? el('p', { class: 'muted small' }, 'Answer within ', el('span', { class: 'countdown-inline', dataset: { deadline: o.offer.deadline } }, '')) : null,
    el('div', { class: 'offer-buttons' }, acceptBtn, rejectBtn,
      el('span', { id: `offer-rr-${id}`, class: 'reject-reason muted small' }, 'You may not reject offers (no permission).')),
    el('p', { class: 'error small', role: 'alert' }));
  $('offers').append(card);
  applyRejectPermission(rejectBtn);
  tick();
  if (focus) acceptBtn.focus();
}

function removeOffer(id) {
  S.offers.delete(id);
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  if (card) {
    const hadFocus = card.contains(document.activeElement);
    card.remove();
    if (hadFocus) {
      const next = document.querySelector('.offer .accept');
      (next || $('compose-text')).focus();
    }
  }
}

async function acceptOffer(id) {
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  for (const b of card ? card.querySelectorAll('button') : []) b.disabled = true;
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/accept`);
    removeOffer(id);
    if (it && it.id && belongsInList(it)) {
      S.interactions.set(it.id, it);
      renderList();
      await selectInteraction(it.id, true);
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

function sortedInteractions() {
  const key = (it) => {
    const p = myPart(it);
    return parseTs((p && p.joined_at) || it.accepted_at || it.created_at) || 0;
  };
  return [...S.interactions.values()].sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : 1));
}

function renderList() {
  const ul = $('interaction-list');
  const items = sortedInteractions();
  $('list-empty').hidden = items.length > 0;
  const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest('.item')
    ? document.activeElement.closest('.item').dataset.id : null;
  ul.replaceChildren(...items.map((it) => {
    const p = myPart(it);
    const wrap = p && p.state === 'wrap_up';
    const badges = [];
    if (it.unread > 0 && !wrap) badges.push(el('span', { class: 'badge unread', title: 'Unread customer messages' }, `${it.unread}`, el('span', { class: 'sr-only' }, ' unread')));
    if (it.past_sla && !wrap) badges.push(el('span', { class: 'badge sla' }, 'Past SLA'));
    if (it.last_outbound_failed) badges.push(el('span', { class: 'badge failed' }, '⚠ Failed delivery'));
    if (it.conference_status === 'requested') badges.push(el('span', { class: 'badge conf' }, 'Conference requested'));
    if (it.conference_status === 'active') badges.push(el('span', { class: 'badge conf' }, 'Conference'));
    if (wrap) {
      badges.push(el('span', { class: 'badge wrap' }, 'Wrap-up ',
        p.wrap_up_deadline ? el('span', { class: 'countdown-inline', dataset: { deadline: p.wrap_up_deadline } }, '') : null));
    }
    const btn = el('button', {
      type: 'button',
      class: `item${it.id === S.selected ? ' selected' : ''}${it.past_sla && !wrap ? ' past-sla' : ''}${wrap ? ' wrapping' : ''}`,
      dataset: { id: it.id },
      'aria-current': it.id === S.selected ? 'true' : null,
      onclick: () => selectInteraction(it.id, true),
    },
    el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(customerName(it))),
    el('span', { class: 'item-main' },
      el('span', { class: 'item-name' }, customerName(it)),
      el('span', { class: 'item-sub' }, `${it.queue_name || ''}${it.customer && it.customer.wa_id ? ` · ${fmtNum(it.customer.wa_id)}` : ''}`),
      el('span', { class: 'badges' }, badges)));
    return el('li', null, btn);
  }));
  if (focusedId) {
    const again = ul.querySelector(`.item[data-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
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

async function selectInteraction(id, markRead) {
  S.selected = id;
  renderList();
  renderConversation();
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
    try {
      const r = await api('GET', `/api/v1/interactions/${encodeURIComponent(id)}/messages?limit=100`);
      S.messages.set(id, { list: r.messages || [], nextBefore: r.next_before });
    } catch (e) {
      toast(`Could not load messages: ${e.message}`);
      return;
    }
  }
  if (S.selected === id) renderTranscript(true);
}

$('older').addEventListener('click', async () => {
  const id = S.selected;
  const m = S.messages.get(id);
  if (!m || !m.nextBefore) return;
  try {
    const r = await api('GET', `/api/v1/interactions/${encodeURIComponent(id)}/messages?limit=100&before=${encodeURIComponent(m.nextBefore)}`);
    m.list = [...(r.messages || []), ...m.list];
    m.nextBefore = r.next_before;
    renderTranscript(false);
  } catch (e) {
    toast(e.message);
  }
});

// ---------- conversation ----------

function renderConversation() {
  const it = S.selected ? S.interactions.get(S.selected) : null;
  $('conv-empty').hidden = !!it;
  $('conv').hidden = !it;
  if (!it) return;
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
  const expires = parseTs(it.window_expires_at);
  const outside = expires !== null && expires <= Date.now();
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

function messageNode(m, it) {
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
    content.push(el('p', { class: 'text muted' }, emoji ? `Reacted ${emoji}` : 'Removed a reaction'));
  }
  if (!content.length) content.push(el('p', { class: 'text muted' }, `[${m.type}]`));
  const meta = [el('time', { datetime: m.created_at }, fmtTime(m.created_at))];
  if (dir === 'out') {
    const [cls, sym, label] = TICKS[m.status] || ['sending', '🕓', m.status || 'Sending'];
    meta.push(el('span', { class: `tick ${cls}`, title: label, 'aria-label': label }, sym));
    if (m.status === 'failed') meta.push(el('span', { class: 'fail-reason' }, `Not delivered: ${failureReason(m.error)}`));
  }
  let author = null;
  if (dir === 'out' && m.author_id && m.author_id !== S.me.id) {
    const p = it && it.participants && it.participants.find((x) => x.agent_id === m.author_id);
    author = el('span', { class: 'author' }, (p && p.display_name) || 'Agent');
  }
  return el('li', { class: `msg ${dir}`, dataset: { id: m.id } },
    dir === 'in' ? el('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(it ? customerName(it) : '?')) : null,
    el('div', { class: 'bubble' },
      dir === 'in' ? el('span', { class: 'sr-only' }, 'Customer: ') : el('span', { class: 'sr-only' }, 'Agent: '),
      author, content, el('span', { class: 'meta' }, meta)));
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

function renderTranscript(scrollToEnd) {
  const id = S.selected;
  const it = S.interactions.get(id);
  const data = S.messages.get(id);
  const ol = $('transcript');
  if (!data) { ol.replaceChildren(); return; }
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  const nodes = [];
  let lastDay = null;
  for (const m of data.list) {
    const day = new Date(m.created_at).toDateString();
    if (day !== lastDay) {
      nodes.push(el('li', { class: 'day' }, el('span', null, fmtDate(m.created_at))));
      lastDay = day;
    }
    nodes.push(messageNode(m, it));
  }
  ol.replaceChildren(...nodes);
  $('older').hidden = !data.nextBefore;
  if (scrollToEnd || atBottom) ol.scrollTop = ol.scrollHeight;
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
    data.list[i] = merged;
  } else data.list.push(m);
  if (id === S.selected) renderTranscript(m.direction === 'out');
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
    errEl.dataset.kind = 'size';
    errEl.textContent = `Not sent: the message is ${n} bytes, the limit is ${max} bytes. Shorten it — your text is kept.`;
    return;
  }
  const expires = parseTs(it.window_expires_at);
  if (expires !== null && expires <= Date.now()) {
    errEl.textContent = 'Not sent: the 24-hour window has closed; a template is needed.';
    return;
  }
  $('send').disabled = true;
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, { text });
    if (box.value === text) box.value = '';
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (e) {
    errEl.textContent = e.code === 'text_too_long' ? `Not sent: ${e.message}. Your text is kept.` : `Not sent: ${e.message}`;
  } finally {
    $('send').disabled = false;
    box.focus();
  }
}

$('compose-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  const id = S.selected;
  e.target.value = '';
  if (!f || !id) return;
  const fd = new FormData();
  fd.append('file', f, f.name);
  const caption = $('compose-text').value.trim();
  if (caption && f.type.startsWith('image/')) fd.append('caption', caption);
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, fd);
    if (caption && f.type.startsWith('image/')) $('compose-text').value = '';
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (err) {
    $('compose-error').textContent = `File not sent: ${err.message}`;
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
  dsel.required = required;
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
$('wrap-dialog').addEventListener('keydown', (e) => { if (e.key === 'Escape') closeWrapDialog(); });
$('wrap-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = S.wrapFor;
  const code = $('wrap-disposition').value;
  const it = S.interactions.get(id);
  if (it && it.disposition_required && !code) {
    $('wrap-error').textContent = 'Choose a disposition: this queue requires one.';
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
      if (data) {
        const m = data.list.find((x) => x.id === d.id);
        if (m) {
          Object.assign(m, d);
          if (S.media.get(d.id) === 'failed') S.media.delete(d.id);
          if (d.interaction_id === S.selected) renderTranscript(false);
        }
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
  if (it) {
    const expires = parseTs(it.window_expires_at);
    const outside = expires !== null && expires <= now;
    if (outside === $('window-notice').hidden) renderConversation();
  }
}
setInterval(tick, 1000);

// Esc closes dialogs natively; keep focus sensible after they close.
$('target-dialog').addEventListener('close', () => { const b = $('btn-transfer'); if (!b.hidden && !b.disabled) b.focus(); });
$('wrap-dialog').addEventListener('close', () => { S.wrapFor = null; });

// ---------- boot ----------

if (S.token) start(); else showLogin('');
