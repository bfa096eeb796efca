// The CRM's Conversations panel: the communication list, search, New conversation (R-5.2).
import { field } from './contact.js';
import { openHistory } from './history.js';
import { openStart } from './start.js';
import { CRM } from './state.js';
import { findKey } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { fmtDateTime, fmtNum, fmtWhen } from '../lib/format.js';

// ---------- the communication list ----------

export const convPanel = {
  id: 'conversations',
  title: 'Conversations',
  built: false,
  render(it, body) {
    if (!this.built) {
      this.built = true;
      const q = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Words in any message' });
      const form = el('form', { class: 'crm-search-all', role: 'search', 'aria-label': 'Search all conversations' },
        field('Search all messages', q),
        el('button', { type: 'submit' }, 'Search'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (q.value.trim()) openHistory(null, null, null, q.value.trim());
      });
      this.list = el('ul', { class: 'crm-convs', 'aria-label': 'Recent conversations' });
      this.note = el('p', { class: 'muted small', role: 'status' });
      body.replaceChildren(
        el('div', { class: 'crm-actions' },
          el('button', { type: 'button', class: 'primary', onclick: () => openStart(null) }, 'New conversation'),
          el('button', { type: 'button', onclick: () => loadConvs(true) }, 'Refresh list')),
        form, this.note, this.list);
    }
    // Fresh when the selection changes, at most every few seconds otherwise.
    const sel = it ? it.id : null;
    if (sel !== this.sel || Date.now() - CRM.convsAt > 15000) {
      this.sel = sel;
      loadConvs(false);
    }
  },
};

export async function loadConvs(manual) {
  CRM.convsAt = Date.now();
  try {
    CRM.convs = await api('GET', '/api/v1/conversations?limit=30');
  } catch (e) {
    if (manual) convPanel.note.textContent = e.message;
    return;
  }
  drawConvs();
}

export function drawConvs() {
  const list = CRM.convs || [];
  convPanel.note.textContent = list.length ? '' : 'No conversations yet.';
  convPanel.list.replaceChildren(...list.map((c) => {
    const name = c.contact_name || c.customer_name || fmtNum(c.wa_id);
    const m = c.last_message;
    const reaction = m && m.type === 'reaction' ? findKey(m.payload, 'emoji') : null;
    const last = m ? `${m.direction === 'out' ? 'You: ' : ''}${m.text || (reaction ? `Reacted ${reaction}` : `[${m.type}]`)}` : '';
    return el('li', null, el('button', {
      type: 'button', class: 'crm-conv', onclick: () => openConversation(c),
    },
    el('span', { class: 'crm-conv-top' },
      el('span', { class: 'crm-conv-name' }, name),
      m ? el('time', { class: 'muted small', datetime: m.created_at, title: fmtDateTime(m.created_at) }, fmtWhen(m.created_at)) : null),
    el('span', { class: 'crm-conv-last' }, last.length > 90 ? `${last.slice(0, 90)}…` : last),
    c.unread > 0 ? el('span', { class: 'badge unread' }, String(c.unread), el('span', { class: 'sr-only' }, ' unread')) : null));
  }));
}

export async function openConversation(c) {
  const name = c.contact_name || c.customer_name || fmtNum(c.wa_id);
  if (c.contact_id) {
    openHistory({ id: c.contact_id, name }, c.id);
  } else {
    // No contact to show the history of: the conversation itself, read through its latest
    // interaction (supervisors see every one; agents those they may see).
    const via = c.last_message && c.last_message.interaction_id;
    openHistory(null, c.id, null, null, name, via || null);
  }
}
