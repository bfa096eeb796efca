// The desk's interaction list: sorting, SLA marks, selection, drafts, older pages.
import { A, closeAttachPreview } from './compose.js';
import { tick } from './desk.js';
import { emit } from '../lib/bus.js';
import { renderActivity } from './status.js';
import { PAGE, T, prependTranscript, renderConversation, renderTranscript } from './transcript.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtNum, initials, parseTs } from '../lib/format.js';
import { S, customerName, myPart } from '../lib/store.js';

// ---------- interaction list ----------

/**
 * Whether the 24-hour window is closed (R-3.5): by the page's clock, or because the server refused
 * a send with `template_required` (its clock decides) and the customer has not written since.
 */
export function outsideWindow(it) {
  const refused = S.windowClosed.get(it.id);
  if (refused !== undefined && refused === (it.window_expires_at || null)) return true;
  const expires = parseTs(it.window_expires_at);
  return expires !== null && expires <= Date.now();
}

/** Past the queue's response target (R-3.3): the server said so, or the page's clock says so. */
export function pastSla(it, now = Date.now()) {
  const p = myPart(it);
  if (p && p.state === 'wrap_up') return false;
  if (it.past_sla) return true;
  const since = parseTs(it.awaiting_reply_since);
  return it.state === 'active' && since !== null && !!it.sla_response_s && now - since > it.sla_response_s * 1000;
}

export function sortedInteractions() {
  const key = (it) => {
    const p = myPart(it);
    return parseTs((p && p.joined_at) || it.accepted_at || it.created_at) || 0;
  };
  return [...S.interactions.values()].sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : 1));
}

export function updateEmptyList() {
  $('list-empty').textContent = S.me && S.me.presence === 'available' && !S.me.stop_new
    ? 'No interactions yet. Offers appear above as customers write.'
    : 'No interactions yet. Set your status to Available to receive offers.';
}

export function renderList() {
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
    emit('listItem', btn, it); // the CRM marks the avatar with the match count
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
export function saveDraft() {
  if (S.selected) {
    const v = $('compose-text').value;
    if (v) S.drafts.set(S.selected, v); else S.drafts.delete(S.selected);
  }
}

export async function selectInteraction(id, markRead, focusCompose = false) {
  if (S.selected !== id) {
    if (A.file) closeAttachPreview(false);
    saveDraft();
    $('compose-text').value = S.drafts.get(id) || '';
    $('compose-error').textContent = '';
    T.id = null; // the transcript shown belongs to another interaction
  }
  S.selected = id;
  emit('selected', id); // the supervisor's watch gives way to the desk
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
