// The desk applies websocket events and REST answers to the store and the page.
import { closeWrapDialog, updateWrapCountdown } from './actions.js';
import { renderList, selectInteraction } from './list.js';
import { addOffer, removeOffer } from './offers.js';
import { belongsInList, loadState, offerFor } from './session.js';
import { renderMe } from './status.js';
import { renderConversation, upsertMessage } from './transcript.js';
import { api } from '../lib/api.js';
import { $, toast } from '../lib/dom.js';
import { S, myPart } from '../lib/store.js';
import { emit } from '../lib/bus.js';
import { reannounce, setViewers } from './viewers.js';

// ---------- applying changes ----------

export function applyInteraction(it) {
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
export let meTimer = null;
export function refreshMe() {
  clearTimeout(meTimer);
  meTimer = setTimeout(async () => {
    if (!S.token || !S.me) return;
    try {
      S.me = await api('GET', '/api/v1/me');
      renderMe();
    } catch { /* shown elsewhere */ }
  }, 250);
}

export let readTimer = null;
export function onEvent(f) {
  const d = f.data || {};
  switch (f.type) {
    case 'hello':
      reannounce();
      break;
    case 'interaction.viewers':
      setViewers(d.interaction_id, d.viewers || []);
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
        const { changed_by: by, ...agent } = d;
        S.me = { ...S.me, ...agent };
        renderMe();
        showPresenceNotice(by);
      }
      break;
    default:
      break;
  }
  emit('event', f); // other screens (the watch, the board) follow the same stream
}

/**
 * when someone else (a supervisor) set my presence, a notice says who and stays until
 * dismissed or until I change it myself; it is often read only when the agent is back.
 */
function showPresenceNotice(by) {
  const box = $('presence-notice');
  if (!box) return;
  if (!by || by.id === S.me.id) {
    box.hidden = true;
    return;
  }
  const option = document.querySelector(`#status-select option[value="${CSS.escape(S.me.presence)}"]`);
  const label = option ? option.textContent : S.me.presence;
  $('presence-notice-text').textContent = `Your status was set to ${label} by ${by.name || 'a supervisor'}.`;
  $('presence-notice-close').onclick = () => { box.hidden = true; };
  box.hidden = false;
}
