// The desk's conversation: header, buttons, the transcript drawn in place, media.
import { updateCounter } from './compose.js';
import { Panels, tick } from './desk.js';
import { emit } from '../lib/bus.js';
import { outsideWindow } from './list.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { fmtDate, fmtNum, fmtTime, initials } from '../lib/format.js';
import { S, customerName, myPart } from '../lib/store.js';
import { renderViewers, syncViewing } from './viewers.js';

export const PAGE = 200; // messages per transcript page

// ---------- conversation ----------

export function renderConversation() {
  const it = S.selected ? S.interactions.get(S.selected) : null;
  $('conv-empty').hidden = !!it;
  $('conv').hidden = !it;
  Panels.render(it);
  syncViewing();
  if (!it) { T.id = null; return; }
  renderViewers($('conv-viewers'), it.id);
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

export const TICKS = {
  queued: ['sending', '🕓', 'Sending'],
  accepted: ['sending', '🕓', 'Sending'],
  sending: ['sending', '🕓', 'Sending'],
  sent: ['sent', '✓', 'Sent'],
  delivered: ['delivered', '✓✓', 'Delivered'],
  read: ['read', '✓✓', 'Read'],
  failed: ['failed', '⚠', 'Failed'],
};

/** A customer's reaction `m`: the wamid of the message it is on and its emoji (null: removed). */
export function reactionOf(m) {
  if (m.type !== 'reaction') return null;
  const target = findKey(m.payload, 'message_id');
  return target ? { target, emoji: findKey(m.payload, 'emoji') || null } : null;
}

/** Reactions of `list`: wamid -> the latest emoji on it, and the wamids the list holds. */
export function reactionIndex(list) {
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
 * shown is drawn on that message and its own node stays hidden.
 */
export function messageNode(m, it, ctx = null) {
  const reaction = ctx && reactionOf(m);
  if (reaction && ctx.waIds.has(reaction.target)) {
    return el('li', { class: 'msg reaction-ref', hidden: true, dataset: { id: m.id } });
  }
  if (m.type === 'whisper') return whisperNode(m, it);
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
  emit('messageContent', m, it, content); // the CRM draws templates and button taps
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

/** A supervisor's whisper: shown apart, to the agents only. */
function whisperNode(m, it) {
  const mine = S.me && m.author_id === S.me.id;
  const p = it && it.participants && it.participants.find((x) => x.agent_id === m.author_id);
  const name = (p && p.display_name) || m.author_name || (m.payload && m.payload.author_name) || 'a supervisor';
  return el('li', { class: 'msg whisper', dataset: { id: m.id } },
    el('div', { class: 'bubble' },
      el('span', { class: 'author' }, mine ? 'Your whisper to the agents' : `Whisper from ${name}`),
      el('p', { class: 'text' }, m.text || ''),
      el('span', { class: 'meta' }, el('span', { class: 'muted' }, 'Not seen by the customer'), ' ',
        el('time', { datetime: m.created_at }, fmtTime(m.created_at)))));
}

export function findKey(v, key, depth = 0) {
  if (!v || typeof v !== 'object' || depth > 4) return null;
  if (typeof v[key] === 'string') return v[key];
  for (const x of Object.values(v)) {
    const r = findKey(x, key, depth + 1);
    if (r) return r;
  }
  return null;
}

export function imageNode(m) {
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

export async function fetchMedia(id) {
  const resp = await fetch(`/api/v1/messages/${encodeURIComponent(id)}/media`, { headers: { Authorization: `Bearer ${S.token}` } });
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return URL.createObjectURL(await resp.blob());
}

export async function loadMedia(m) {
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

export async function openMedia(m) {
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
export const T = { id: null, nodes: new Map(), stick: true, scrollQueued: false, ctx: null };

/** The separator to draw before `m` when `prev` comes right before it, or null. */
export function separatorBefore(prev, m) {
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
export function transcriptNodes(list, prev, it) {
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

export const nearBottom = (ol) => ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;

/** Scrolls to the newest message once per frame, however many arrive in it. */
export function scrollToEnd() {
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

export function renderTranscript(toEnd) {
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
export function prependTranscript(older) {
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
export function showMessage(m, isNew) {
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
export function failureReason(err) {
  if (!err) return 'unknown error';
  if (typeof err === 'string') return err;
  const text = [err.title, err.details].filter(Boolean).join(': ') || err.message || 'unknown error';
  return err.code ? `${text} (#${err.code})` : text;
}

/** Delivery states in order; a message never moves back (failed is final). */
// The server's delivery-status order (switchboard_channels::STATUS_ORDER; a unit test of
// http/ui.rs keeps the two the same): a status only moves forward; failed is final.
export const STATUS_RANK = { queued: 0, accepted: 1, sent: 2, delivered: 3, read: 4, played: 5, failed: 9 };

export function upsertMessage(m) {
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
