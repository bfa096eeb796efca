// The desk: login, logout and the state loaded over REST.
import { closeWs, connectWs } from './desk.js';
import { renderList, selectInteraction } from './list.js';
import { addOffer, removeOffer } from './offers.js';
import { renderMe } from './status.js';
import { T, renderConversation } from './transcript.js';
import { api } from '../lib/api.js';
import { emit } from '../lib/bus.js';
import { $ } from '../lib/dom.js';
import { S, TOKEN_KEY, customerName, myPart } from '../lib/store.js';
import { forgetReplay } from '../lib/ws.js';
import { resetViewers } from './viewers.js';

// ---------- login / logout ----------

export function showLogin(message) {
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

export function resetState() {
  S.me = null;
  S.interactions.clear();
  S.offers.clear();
  S.messages.clear();
  for (const u of S.media.values()) if (u.startsWith && u.startsWith('blob:')) URL.revokeObjectURL(u);
  S.media.clear();
  S.earlyUpdates.clear();
  S.selected = null;
  resetViewers();
  forgetReplay();
  $('offers').replaceChildren();
  $('interaction-list').replaceChildren();
}

export async function start() {
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
  emit('signedIn', S.me); // the router checks the route against the role
}

// ---------- state from REST ----------

export async function loadState() {
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

export function offerFor(it) {
  if (!S.me) return null;
  if (it.state === 'offered' && it.offer && it.offer.agent_id === S.me.id) return it.offer;
  const c = it.conference;
  if (c && c.offer && c.offer.agent_id === S.me.id) return c.offer;
  return null;
}

export function offerFromInteraction(it) {
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

export function belongsInList(it) {
  // My own part decides: after a transfer the interaction may be queued or offered elsewhere
  // while I still owe its wrap-up.
  const p = myPart(it);
  if (p && p.state === 'wrap_up') return true;
  if (it.state === 'done' || it.state === 'queued') return false;
  return !!p && p.state === 'active';
}
