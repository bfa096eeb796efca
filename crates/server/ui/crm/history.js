// The CRM's history dialog: a contact's interactions with transcripts, full-text search (R-4.7, R-5.1).
import { field } from './contact.js';
import { loadConvs } from './conversations.js';
import { openStart } from './start.js';
import { CRM, enc, highlighted, markWords } from './state.js';
import { noteNode } from '../desk/notes.js';
import { start } from '../desk/session.js';
import { messageNode } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { modalDialog } from '../lib/dialog.js';
import { el } from '../lib/dom.js';
import { fmtDate, fmtDateTime, fmtNum, fmtTime, plural } from '../lib/format.js';

// ---------- history and search ----------

export const H = modalDialog('crm-history', 'History', { wide: true });
(() => {
  const q = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Words to find' });
  const scope = el('select', null);
  const form = el('form', { class: 'crm-search', role: 'search', 'aria-label': 'Search messages' },
    field('Search messages', q), field('In', scope), el('button', { type: 'submit', class: 'primary' }, 'Search'));
  const note = el('p', { class: 'muted small', role: 'status' });
  const hits = el('ul', { class: 'crm-hits', 'aria-label': 'Search results' });
  const list = el('div', { class: 'crm-history-list', tabindex: '-1', role: 'region', 'aria-label': 'Contact history' });
  const more = el('button', { type: 'button', class: 'link', hidden: true }, 'Load earlier interactions');
  const start = el('button', { type: 'button', hidden: true }, 'New conversation');
  H.ui = { q, scope, form, note, hits, list, more, start };
  H.body.append(form, el('div', { class: 'crm-history-cols' },
    el('section', { class: 'crm-hits-col', 'aria-label': 'Search results' }, note, hits),
    el('div', { class: 'crm-history-col' }, more, list)),
  el('div', { class: 'dlg-buttons' }, start));
  form.addEventListener('submit', (e) => { e.preventDefault(); runSearch(); });
  more.addEventListener('click', () => loadMore());
  start.addEventListener('click', () => { const c = CRM.history && CRM.history.contact; H.close(); if (c) openStart(c); });
})();

/**
 * Opens the history of `contact` (or none: search only), scoped to `conversationId` where given;
 * `focusInteraction` scrolls to one interaction, `query` runs a search at once.
 */
export function openHistory(contact, conversationId, focusInteraction, query, title, via = null) {
  CRM.history = { contact, conversationId, via, title, entries: [], nextBefore: null, loaded: false, words: [], seq: 0 };
  const u = H.ui;
  H.heading.textContent = contact ? `History: ${contact.name || 'contact'}` : via ? `Conversation: ${title}` : `Search${title ? `: ${title}` : ''}`;
  u.list.setAttribute('aria-label', via ? 'Conversation history' : 'Contact history');
  u.scope.replaceChildren(...[
    conversationId ? el('option', { value: 'conversation' }, 'This conversation') : null,
    el('option', { value: 'all' }, 'All conversations')].filter(Boolean));
  u.scope.value = query && !contact ? 'all' : (conversationId ? 'conversation' : 'all');
  u.q.value = query || '';
  u.note.textContent = contact ? 'Type words to find them in this contact\'s messages.' : '';
  u.hits.replaceChildren();
  u.list.replaceChildren(contact || via ? el('p', { class: 'muted' }, 'Loading the history…') : el('p', { class: 'muted' }, 'Pick a result to see its conversation.'));
  u.more.hidden = true;
  u.start.hidden = !contact;
  H.open();
  u.q.focus();
  if (contact) loadHistoryPage(focusInteraction);
  else if (via) loadConversationPage();
  if (query) runSearch();
}

export async function loadHistoryPage(focusInteraction) {
  const h = CRM.history;
  if (!h || !h.contact) return null;
  const u = H.ui;
  let url = `/api/v1/contacts/${enc(h.contact.id)}/interactions?transcripts=true&limit=10`;
  if (h.nextBefore) url += `&before=${enc(h.nextBefore)}`;
  u.more.disabled = true;
  try {
    const r = await api('GET', url);
    if (CRM.history !== h) return null;
    if (!h.loaded) {
      h.contact = r.contact || h.contact;
      H.heading.textContent = `History: ${h.contact.name}`;
      u.list.replaceChildren();
      h.loaded = true;
    }
    h.entries.push(...r.interactions);
    h.nextBefore = r.next_before;
    // Newest first from the server; drawn oldest at the top like a transcript: older pages go above.
    const nodes = [...r.interactions].reverse().map((entry) => historyEntry(entry));
    u.list.prepend(...nodes);
    if (!h.entries.length) u.list.replaceChildren(el('p', { class: 'muted' }, 'This contact has no interactions yet.'));
    markWords(u.list, h.words);
    u.more.hidden = !h.nextBefore;
    if (focusInteraction) {
      const sec = u.list.querySelector(`[data-interaction="${CSS.escape(focusInteraction)}"]`);
      if (sec) { sec.scrollIntoView({ block: 'start' }); sec.querySelector('h3').focus(); }
    } else if (nodes.length && h.entries.length === r.interactions.length) {
      u.list.scrollTop = u.list.scrollHeight;
    }
    return r;
  } catch (e) {
    u.note.textContent = `Could not load the history: ${e.message}`;
    return null;
  } finally {
    u.more.disabled = false;
  }
}

/** The next (earlier) page of the history shown: the contact's interactions or the conversation's. */
export function loadMore() {
  const h = CRM.history;
  return h && !h.contact && h.via ? loadConversationPage() : loadHistoryPage();
}

/**
 * A page of the messages of a conversation without a contact (newest first from the server,
 * drawn oldest at the top), one section per interaction, headed by its date like the history.
 */
export async function loadConversationPage() {
  const h = CRM.history;
  if (!h || !h.via) return null;
  const u = H.ui;
  let url = `/api/v1/interactions/${enc(h.via)}/messages?scope=conversation&limit=100`;
  if (h.nextBefore) url += `&before=${enc(h.nextBefore)}`;
  u.more.disabled = true;
  try {
    const r = await api('GET', url);
    if (CRM.history !== h) return null;
    if (!h.loaded) { u.list.replaceChildren(); h.loaded = true; }
    h.nextBefore = r.next_before;
    const groups = [];
    for (const m of r.messages || []) {
      const last = groups[groups.length - 1];
      if (last && last.id === m.interaction_id) last.messages.push(m);
      else groups.push({ id: m.interaction_id, conversation_id: m.conversation_id, created_at: m.created_at, messages: [m] });
    }
    h.entries.push(...groups);
    u.list.prepend(...groups.map((g) => historyEntry({ ...g, customer_display_name: h.title })));
    if (!h.entries.length) u.list.replaceChildren(el('p', { class: 'muted' }, 'This conversation has no messages yet.'));
    markWords(u.list, h.words);
    u.more.hidden = !h.nextBefore;
    if (groups.length && h.entries.length === groups.length) u.list.scrollTop = u.list.scrollHeight;
    return r;
  } catch (e) {
    u.list.replaceChildren(el('p', { class: 'muted' }, 'Pick a result to see its conversation.'));
    u.note.textContent = e.status === 404 ? 'You may not see this conversation\'s messages; search for words in it instead.' : `Could not load the conversation: ${e.message}`;
    return null;
  } finally {
    u.more.disabled = false;
  }
}

/**
 * The nodes of a saved transcript: messages and the private notes (R-3.7) between them, by time;
 * notes are named by their author among `agents` and marked as never sent.
 */
export function transcriptItems(messages, notes, agents, it) {
  const byNote = (notes || []).map((n) => {
    const a = (agents || []).find((x) => x.agent_id === n.author_id);
    return { at: n.created_at, node: noteNode(n, (a && a.display_name) || null) };
  });
  return [...(messages || []).map((m) => ({ at: m.created_at, node: messageNode(m, it) })), ...byNote]
    .sort((a, b) => a.at.localeCompare(b.at)).map((x) => x.node);
}

export function historyEntry(entry) {
  const agents = (entry.agents || []).map((a) => a.display_name).filter(Boolean).join(', ');
  const it = { ...entry, customer_display_name: (CRM.history.contact && CRM.history.contact.name) || entry.customer_display_name };
  const items = transcriptItems(entry.messages, entry.notes, entry.agents, it);
  return el('section', { class: 'crm-entry', dataset: { interaction: entry.id }, 'aria-labelledby': `crm-h-${entry.id}` },
    el('h3', { id: `crm-h-${entry.id}`, class: 'crm-entry-head', tabindex: '-1' },
      fmtDate(entry.created_at),
      el('span', { class: 'muted small' }, ` ${fmtTime(entry.created_at)} · ${[entry.queue_name, agents, entry.state === 'done' ? 'finished' : entry.state].filter(Boolean).join(' · ')}`)),
    items.length
      ? el('ol', { class: 'transcript crm-entry-msgs', 'aria-label': `Messages of ${fmtDate(entry.created_at)}` }, items)
      : el('p', { class: 'muted small' }, 'No messages.'));
}

export async function runSearch() {
  const h = CRM.history;
  const u = H.ui;
  const text = u.q.value.trim();
  if (!h) return;
  if (!text) { u.q.focus(); return; }
  const seq = ++h.seq;
  let url = `/api/v1/search?q=${enc(text)}&limit=50`;
  if (u.scope.value === 'conversation' && h.conversationId) url += `&conversation_id=${enc(h.conversationId)}`;
  u.note.textContent = 'Searching…';
  try {
    const r = await api('GET', url);
    if (CRM.history !== h || seq !== h.seq) return;
    h.words = r.query || [];
    if (!CRM.convs) await loadConvs(false);
    const convName = (cid) => {
      const c = (CRM.convs || []).find((x) => x.id === cid);
      return c ? c.contact_name || c.customer_name || fmtNum(c.wa_id) : '';
    };
    u.note.textContent = r.messages.length ? `${plural(r.messages.length, 'message', 'messages')} found for “${text}”` : `Nothing found for “${text}”.`;
    u.hits.replaceChildren(...r.messages.map((m) => el('li', null, el('button', {
      type: 'button', class: 'crm-hit', onclick: () => showHit(m),
    },
    el('span', { class: 'crm-hit-meta small' }, `${fmtDateTime(m.created_at)} · ${m.type === 'whisper' ? 'Whisper' : m.direction === 'in' ? 'Customer' : m.direction === 'out' ? 'Agent' : 'System'}${u.scope.value === 'all' && convName(m.conversation_id) ? ` · ${convName(m.conversation_id)}` : ''}`),
    el('span', { class: 'crm-hit-text' }, highlighted(m.text || '', h.words))))));
    for (const mk of u.list.querySelectorAll('mark')) mk.replaceWith(mk.textContent);
    for (const p of u.list.querySelectorAll('.text')) p.normalize();
    markWords(u.list, h.words);
  } catch (e) {
    if (CRM.history === h) u.note.textContent = e.message;
  }
}

/** Shows a search hit in the history: loads earlier pages until it is there, then focuses it. */
export async function showHit(m) {
  const h = CRM.history;
  const u = H.ui;
  const known = (h.contact || h.via) && (h.conversationId === m.conversation_id || h.entries.some((e) => e.conversation_id === m.conversation_id));
  if (!known) {
    // Maybe another contact's conversation: show that contact's history.
    if (!CRM.convs || !CRM.convs.some((c) => c.id === m.conversation_id)) await loadConvs(false);
    const c = (CRM.convs || []).find((x) => x.id === m.conversation_id);
    if (!c || !c.contact_id) { u.note.textContent = 'That conversation has no contact: its history cannot be shown.'; return; }
    if (!h.contact || h.contact.id !== c.contact_id) {
      h.contact = { id: c.contact_id, name: c.contact_name };
      h.conversationId = c.id;
      h.entries = []; h.nextBefore = null; h.loaded = false;
      u.start.hidden = false;
      u.list.replaceChildren(el('p', { class: 'muted' }, 'Loading the history…'));
      await loadHistoryPage();
    }
  }
  for (let i = 0; i < 50; i += 1) {
    const node = u.list.querySelector(`li.msg[data-id="${CSS.escape(m.id)}"]`);
    if (node) {
      for (const x of u.list.querySelectorAll('.crm-hit-focus')) x.classList.remove('crm-hit-focus');
      node.classList.add('crm-hit-focus');
      node.tabIndex = -1;
      node.scrollIntoView({ block: 'center' });
      node.focus();
      return;
    }
    if (!h.nextBefore || CRM.history !== h) break;
    if (!(await loadMore())) break;
  }
  u.note.textContent = 'That message is not in this contact\'s history.';
}
