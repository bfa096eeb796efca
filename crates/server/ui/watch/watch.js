// A supervisor's silent watch: a list of every live interaction beside the desk's
// own, and a read-only view of the one opened — its transcript kept live from the websocket, a
// banner saying the agent does not see the watcher, who else has it open, and the supervisor's
// actions on it (whisper to the agents, take over). No compose box, no accept/end/wrap-up, and
// nothing here marks anything read: the agent's unread count and WhatsApp's read receipts stay as
// they are. Mounted with the desk; active for supervisors and admins only.
import { applyInteraction } from '../desk/events.js';
import { renderList, selectInteraction } from '../desk/list.js';
import { messageNode, renderConversation } from '../desk/transcript.js';
import { renderViewers, setViewers } from '../desk/viewers.js';
import { api } from '../lib/api.js';
import { on } from '../lib/bus.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtNum } from '../lib/format.js';
import { S, customerName } from '../lib/store.js';

const W = {
  floor: new Map(), // id -> every live interaction (supervisors' floor stream keeps it current)
  watched: null, // the interaction watched, or null
  messages: [], // its transcript, id order
  offs: [],
  built: false,
};

const LIVE = new Set(['queued', 'offered', 'active', 'wrap_up']);
const STATES = { queued: 'Waiting', offered: 'Offered', active: 'Active', wrap_up: 'In wrap-up' };
const enc = encodeURIComponent;
const isSupervisor = () => !!S.me && (S.me.role === 'supervisor' || S.me.role === 'admin');

function agentOf(it) {
  const p = (it.participants || []).find((x) => x.agent_id === it.owner_id);
  return (p && p.display_name) || null;
}

// ---------- the page's parts ----------

function build() {
  if (W.built) return;
  W.built = true;
  // Beside the desk's own list, in one column, but outside its "Interactions" landmark: these are
  // not the supervisor's interactions.
  const pane = document.querySelector('.list-pane');
  const column = el('div', { class: 'list-column' });
  pane.replaceWith(column);
  column.append(pane,
    el('nav', { id: 'floor', class: 'floor', 'aria-label': 'Floor' },
      el('h2', { class: 'pane-title', id: 'floor-title' }, 'Live interactions'),
      el('ul', { id: 'floor-list', class: 'interaction-list', 'aria-label': 'Live interactions' }),
      el('p', { id: 'floor-empty', class: 'muted empty' }, 'No live interactions.')));
  document.querySelector('.conv-pane').append(
    el('section', { id: 'watch-view', class: 'watch-view', 'aria-labelledby': 'watch-title', hidden: true },
      el('div', { class: 'banner watching', role: 'status' },
        el('strong', null, 'Watching — the agent does not see you.'),
        el('span', null, ' Read-only: nothing you do here marks messages read.')),
      el('header', { class: 'conv-head' },
        el('div', { class: 'conv-who' },
          el('h2', { id: 'watch-title' }),
          el('p', { id: 'watch-sub', class: 'muted' })),
        el('p', { id: 'watch-state', class: 'conv-state', role: 'status' }),
        el('p', { id: 'watch-viewers', class: 'conv-viewers', role: 'status', 'aria-label': 'Also viewing', hidden: true }),
        el('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Supervisor actions' },
          el('button', { id: 'watch-take-over', type: 'button', onclick: takeOver }, 'Take over'),
          el('button', { id: 'watch-stop', type: 'button', onclick: () => stopWatching() }, 'Stop watching'))),
      el('ol', { id: 'watch-transcript', class: 'transcript', tabindex: '-1', 'aria-label': 'Watched transcript' }),
      el('form', { id: 'watch-whisper', class: 'compose whisper-form', onsubmit: whisper },
        el('label', { for: 'watch-whisper-text' }, 'Whisper to the agents'),
        el('div', { class: 'compose-row' },
          el('input', { id: 'watch-whisper-text', type: 'text', autocomplete: 'off', placeholder: 'Only the agents see this; never sent to the customer' }),
          el('button', { type: 'submit', class: 'primary' }, 'Whisper')),
        el('p', { id: 'watch-error', class: 'error', role: 'alert' }))));
}

function renderFloor() {
  const ul = $('floor-list');
  if (!ul) return;
  const items = [...W.floor.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  $('floor-empty').hidden = items.length > 0;
  ul.replaceChildren(...items.map((it) => {
    const agent = agentOf(it);
    const current = it.id === W.watched;
    return el('li', null, el('button', {
      type: 'button',
      class: `item${current ? ' selected' : ''}`,
      'aria-current': current ? 'true' : null,
      dataset: { id: it.id },
      onclick: () => watch(it.id),
    },
    el('span', { class: 'item-main' },
      el('span', { class: 'item-name' }, `Watch ${customerName(it)}`),
      el('span', { class: 'item-sub' }, [STATES[it.state] || it.state, it.queue_name, agent ? `with ${agent}` : null].filter(Boolean).join(' · ')))));
  }));
}

function renderHeader() {
  const it = W.watched && W.floor.get(W.watched);
  if (!it) return;
  $('watch-title').textContent = customerName(it);
  const parts = [];
  if (it.customer && it.customer.wa_id) parts.push(fmtNum(it.customer.wa_id));
  if (it.queue_name) parts.push(`queue ${it.queue_name}`);
  const agent = agentOf(it);
  parts.push(agent ? `agent ${agent}` : 'no agent yet');
  $('watch-sub').textContent = parts.join(' · ');
  $('watch-state').textContent = STATES[it.state] || it.state;
  $('watch-take-over').disabled = it.state !== 'active' || it.owner_id === S.me.id;
  $('watch-whisper').hidden = !(it.state === 'active' || it.state === 'wrap_up');
  renderViewers($('watch-viewers'), it.id);
}

function renderMessages(toEnd) {
  const it = W.floor.get(W.watched);
  const ol = $('watch-transcript');
  ol.replaceChildren(...W.messages.map((m) => messageNode(m, it)));
  if (toEnd) ol.scrollTop = ol.scrollHeight;
}

function upsert(m) {
  const i = W.messages.findIndex((x) => x.id === m.id);
  if (i >= 0) W.messages[i] = { ...W.messages[i], ...m };
  else {
    W.messages.push(m);
    W.messages.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  const ol = $('watch-transcript');
  const stick = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;
  renderMessages(stick);
}

function showView(on) {
  $('watch-view').hidden = !on;
  document.querySelector('.conv-pane').classList.toggle('watching', on);
}

// ---------- watching ----------

/** Opens `id` read-only: leaves the desk's selection, registers as a (silent) viewer. */
export async function watch(id) {
  if (W.watched && W.watched !== id) await stopWatching(false);
  S.selected = null; // the desk's own interaction is left (its viewing ends)
  renderList();
  renderConversation();
  W.watched = id;
  W.messages = [];
  $('watch-error').textContent = '';
  showView(true);
  renderFloor();
  try {
    const w = await api('POST', `/api/v1/interactions/${enc(id)}/watch`);
    if (W.watched !== id) return;
    W.floor.set(id, w.interaction);
    setViewers(id, w.viewers || []);
    renderHeader();
    const r = await api('GET', `/api/v1/interactions/${enc(id)}/messages?scope=transcript&limit=200`);
    if (W.watched !== id) return;
    for (const m of r.messages || []) if (!W.messages.some((x) => x.id === m.id)) W.messages.push(m);
    W.messages.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    renderMessages(true);
    $('watch-transcript').focus();
  } catch (e) {
    toast(`Cannot watch: ${e.message}`);
    stopWatching(false);
  }
}

/** Stops watching (and tells the server, unless `tell` is false because it already knows). */
export async function stopWatching(tell = true) {
  const id = W.watched;
  if (!id) return;
  W.watched = null;
  W.messages = [];
  showView(false);
  renderFloor();
  renderConversation();
  if (tell) await api('DELETE', `/api/v1/interactions/${enc(id)}/watch`).catch(() => {});
}

async function takeOver() {
  const id = W.watched;
  try {
    const it = await api('POST', `/api/v1/interactions/${enc(id)}/take-over`);
    // Still registered as a viewer: from now on as one taking part (agents see them).
    await stopWatching(false);
    applyInteraction(it);
    await selectInteraction(id, true, true);
  } catch (e) {
    $('watch-error').textContent = e.message;
  }
}

async function whisper(ev) {
  ev.preventDefault();
  const box = $('watch-whisper-text');
  const text = box.value.trim();
  if (!text || !W.watched) return;
  $('watch-error').textContent = '';
  try {
    const m = await api('POST', `/api/v1/interactions/${enc(W.watched)}/whisper`, { text });
    box.value = '';
    upsert(m);
  } catch (e) {
    $('watch-error').textContent = e.message;
  }
}

// ---------- live ----------

async function loadFloor() {
  try {
    const list = await api('GET', '/api/v1/interactions?all=true&limit=1000');
    W.floor.clear();
    for (const it of list) if (LIVE.has(it.state)) W.floor.set(it.id, it);
    renderFloor();
    renderHeader();
  } catch (e) {
    toast(e.message);
  }
}

function onFrame(f) {
  if (!isSupervisor()) return;
  const d = f.data || {};
  switch (f.type) {
    case 'hello':
      // A new socket: the floor may have changed meanwhile, and the watch ended with the old one.
      loadFloor();
      if (W.watched) api('POST', `/api/v1/interactions/${enc(W.watched)}/watch`).then((w) => setViewers(w.interaction.id, w.viewers || [])).catch(() => {});
      break;
    case 'resync':
      loadFloor();
      break;
    case 'interaction.updated':
      if (LIVE.has(d.state)) W.floor.set(d.id, d);
      else W.floor.delete(d.id);
      renderFloor();
      if (d.id === W.watched) {
        if (!LIVE.has(d.state)) {
          toast(`${customerName(d)}: the interaction has ended.`);
          stopWatching();
        } else renderHeader();
      }
      break;
    case 'message.created':
    case 'message.updated':
      if (W.watched && d.interaction_id === W.watched) upsert(d);
      break;
    case 'interaction.viewers':
      if (d.interaction_id === W.watched) renderViewers($('watch-viewers'), W.watched);
      break;
    default:
      break;
  }
}

// ---------- mount / unmount ----------

function start() {
  if (!isSupervisor()) {
    // Another user signed in on this page: nothing of the watch stays.
    W.watched = null;
    W.floor.clear();
    if (W.built) { showView(false); $('floor').hidden = true; }
    return;
  }
  build();
  $('floor').hidden = false;
  loadFloor();
}

/** Adds the floor list and the watch view for supervisors once the user is known. */
export function mount() {
  W.offs.push(on('signedIn', start));
  W.offs.push(on('event', onFrame));
  W.offs.push(on('selected', () => { if (W.watched) stopWatching(); }));
  W.offs.push(on('sessionEnded', () => { W.watched = null; W.floor.clear(); if (W.built) { showView(false); $('floor').hidden = true; } }));
  if (S.me) start();
}

export function unmount() {
  for (const off of W.offs.splice(0)) off();
  if (W.watched) stopWatching();
  if (W.built) $('floor').hidden = true;
}

