// The desk's offers: cards with Accept/Reject, focus rules, desktop notification and chime.
import { tick } from './desk.js';
import { emit } from '../lib/bus.js';
import { renderList, selectInteraction } from './list.js';
import { belongsInList } from './session.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtNum } from '../lib/format.js';
import { S } from '../lib/store.js';

// ---------- offers ----------

export function applyRejectPermission(btn) {
  const allowed = !!(S.me && S.me.can_reject);
  btn.disabled = !allowed;
  const reason = btn.parentElement.querySelector('.reject-reason');
  if (reason) reason.hidden = allowed;
}

export function addOffer(o, focus = true) {
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
  emit('offerShown', card, o); // the CRM adds the contact lookup's match count
  applyRejectPermission(rejectBtn);
  tick();
  if (focus) focusOffer(acceptBtn);
  if (focus) alertInBackground(o, title, from);
}

/** Whether the agent is in the middle of typing (focus would take their keystrokes away). */
export function typing() {
  const a = document.activeElement;
  return !!a && (a.tagName === 'TEXTAREA' || (a.tagName === 'INPUT' && a.type !== 'file')) && a.value !== '' && !$('offers').contains(a);
}

/**
 * Focus moves to a new offer's Accept (R-10.6), except from a half-typed text, where the offer is
 * announced (the region is live) and Tab reaches it. Where focus was is remembered for later.
 */
export function focusOffer(acceptBtn) {
  if (typing()) return;
  const a = document.activeElement;
  if (a && a !== document.body && !$('offers').contains(a)) S.focusBeforeOffer = a;
  acceptBtn.focus();
}

/** After an offer left: the next offer's Accept, else where focus was before the offers came. */
export function restoreFocusAfterOffer(fallback) {
  const next = document.querySelector('.offer .accept:not(:disabled)');
  if (next) { next.focus(); return; }
  const back = S.focusBeforeOffer;
  S.focusBeforeOffer = null;
  if (back && back.isConnected && !back.disabled && back.offsetParent !== null) back.focus();
  else (fallback || $('status-select')).focus();
}

export function removeOffer(id) {
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
export function prepareAlerts() {
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
export function chime() {
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

export function alertInBackground(o, title, from) {
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

export async function acceptOffer(id) {
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

export async function rejectOffer(id) {
  const card = document.querySelector(`.offer[data-id="${CSS.escape(id)}"]`);
  try {
    await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/reject`);
    removeOffer(id);
  } catch (e) {
    if (card) card.querySelector('.error').textContent = e.message;
  }
}
