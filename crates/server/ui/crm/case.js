// The CRM's case dialog (R-4.6): one saved case as `GET /api/v1/cases/{id}` answers it, its
// facts and its transcript with the private notes (R-3.7) between the messages.
import { transcriptItems } from './history.js';
import { enc } from './state.js';
import { api } from '../lib/api.js';
import { modalDialog } from '../lib/dialog.js';
import { el } from '../lib/dom.js';
import { fmtDate, fmtDateTime } from '../lib/format.js';

export const CD = modalDialog('crm-case', 'Case', { wide: true });
CD.ui = {
  facts: el('dl', { class: 'crm-facts crm-case-facts' }),
  note: el('p', { class: 'muted small', role: 'status' }),
  list: el('div', { class: 'crm-history-list crm-case-list', tabindex: '-1', role: 'region', 'aria-label': 'Case transcript' }),
};
CD.body.append(CD.ui.facts, CD.ui.note, CD.ui.list);

/** The title of case `c` wherever it is listed. */
export function caseTitle(c, what = 'Case') {
  return c.subject || `${what} of ${fmtDate(c.initiated_at)}`;
}

let shown = null;

/** Opens case `c` (a list entry): loads it and draws it; `customer` names the customer's messages. */
export async function openCase(c, customer, what = 'Case') {
  const u = CD.ui;
  shown = c.id;
  CD.heading.textContent = caseTitle(c, what);
  u.facts.replaceChildren();
  u.note.textContent = 'Loading the case…';
  u.list.replaceChildren();
  CD.open();
  try {
    const full = await api('GET', `/api/v1/cases/${enc(c.id)}`);
    if (shown !== c.id) return;
    drawCase(full, customer, what);
  } catch (e) {
    if (shown === c.id) u.note.textContent = `Could not load the case: ${e.message}`;
  }
}

function drawCase(c, customer, what) {
  const u = CD.ui;
  const agents = (c.agents || []).map((a) => a.display_name).filter(Boolean);
  const fact = (k, v) => (v ? [el('dt', null, k), el('dd', null, v)] : []);
  CD.heading.textContent = caseTitle(c, what);
  u.facts.replaceChildren(
    ...fact('Status', c.state === 'closed' ? `Closed ${fmtDateTime(c.closed_at)}` : 'Open'),
    ...fact('Started', fmtDateTime(c.initiated_at)),
    ...fact('Accepted', c.accepted_at && fmtDateTime(c.accepted_at)),
    ...fact('Ended', c.ended_at && fmtDateTime(c.ended_at)),
    ...fact('Saved', fmtDateTime(c.created_at)),
    ...fact(agents.length > 1 ? 'Agents' : 'Agent', agents.join(', ')),
    ...fact('Disposition', c.disposition_code));
  const notes = c.notes || [];
  u.note.textContent = notes.length
    ? `${notes.length === 1 ? '1 private note' : `${notes.length} private notes`} between the messages: never sent to the customer.`
    : '';
  const items = transcriptItems(c.transcript, notes, c.agents, { customer_display_name: customer, participants: c.agents });
  u.list.replaceChildren(items.length
    ? el('ol', { class: 'transcript crm-entry-msgs', 'aria-label': 'Messages and notes' }, items)
    : el('p', { class: 'muted small' }, 'No messages.'));
  u.list.scrollTop = 0;
}
