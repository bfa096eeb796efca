// The CRM's outbound starts: the New conversation dialog.
import { field } from './contact.js';
import { loadConvs } from './conversations.js';
import { CRM, enc } from './state.js';
import { openTemplates } from './templates.js';
import { applyInteraction } from '../desk/events.js';
import { selectInteraction } from '../desk/list.js';
import { renderConversation } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { modalDialog } from '../lib/dialog.js';
import { el } from '../lib/dom.js';
import { fmtNum } from '../lib/format.js';
import { S } from '../lib/store.js';

// ---------- outbound starts (R-5.3) ----------

export const SD = modalDialog('crm-start', 'New conversation');
(() => {
  const to = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Name, email or +49 151 …' });
  const found = el('ul', { class: 'crm-pick', 'aria-label': 'Contacts found' });
  const chosen = el('p', { class: 'crm-chosen', role: 'status' });
  const numbers = el('select', null);
  const numWrap = field('Number', numbers);
  numWrap.hidden = true;
  const text = el('textarea', { rows: 3, placeholder: 'Optional inside the 24-hour window' });
  const err = el('p', { class: 'error', role: 'alert' });
  const go = el('button', { type: 'submit', class: 'primary' }, 'Start conversation');
  const form = el('form', { class: 'crm-form', novalidate: true },
    field('Contact or number', to, 'Type a name to search contacts, or a full number.'),
    found, chosen, numWrap,
    field('First message', text, 'Goes with the start inside the 24-hour window; outside it, a template is needed.'),
    err, el('div', { class: 'dlg-buttons' }, el('button', { type: 'button', onclick: () => SD.close() }, 'Cancel'), go));
  SD.ui = { to, found, chosen, numbers, numWrap, text, err, go };
  SD.body.append(form);
  let timer = null;
  to.addEventListener('input', () => {
    CRM.start.contact = null;
    drawChosen();
    clearTimeout(timer);
    timer = setTimeout(findContacts, 250);
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); startConversation(); });
})();

export function openStart(contact) {
  CRM.start = { contact: contact && contact.phones ? contact : null, pendingContact: contact && !contact.phones ? contact : null };
  const u = SD.ui;
  u.to.value = contact ? contact.name || '' : '';
  u.text.value = '';
  u.err.textContent = '';
  u.found.replaceChildren();
  drawChosen();
  SD.open();
  (contact ? u.text : u.to).focus();
  if (CRM.start.pendingContact) {
    const s = CRM.start;
    api('GET', `/api/v1/contacts/${enc(contact.id)}`).then((c) => { if (CRM.start === s) { s.contact = c; drawChosen(); } }).catch(() => {});
  }
}

export async function findContacts() {
  const s = CRM.start;
  const u = SD.ui;
  const q = u.to.value.trim();
  if (!q || q.length < 2) { u.found.replaceChildren(); return; }
  try {
    const list = await api('GET', `/api/v1/contacts?q=${enc(q)}&limit=8`);
    if (CRM.start !== s || u.to.value.trim() !== q) return;
    u.found.replaceChildren(...list.map((c) => el('li', null,
      el('span', { class: 'crm-pick-name' }, c.name, el('span', { class: 'muted small' }, ` ${c.phones.map((p) => fmtNum(p.number)).join(', ')}`)),
      el('button', { type: 'button', 'aria-label': `Choose ${c.name}`, onclick: () => { s.contact = c; u.found.replaceChildren(); u.to.value = c.name; drawChosen(); u.text.focus(); } }, 'Choose'))));
  } catch { /* typing goes on; the start itself reports errors */ }
}

export function drawChosen() {
  const s = CRM.start;
  const u = SD.ui;
  const c = s && s.contact;
  u.chosen.textContent = c ? `To ${c.name}` : '';
  if (c) {
    // A contact is chosen: an earlier "choose a contact" refusal no longer applies.
    u.err.textContent = '';
    u.to.removeAttribute('aria-invalid');
  }
  const phones = c ? c.phones || [] : [];
  u.numWrap.hidden = phones.length < 2;
  u.numbers.replaceChildren(...phones.map((p) => el('option', { value: p.number }, `${fmtNum(p.number)}${p.status === 'failed' ? ' (last send failed)' : ''}`)));
}

export async function startConversation() {
  const s = CRM.start;
  const u = SD.ui;
  u.err.textContent = '';
  const body = {};
  if (s.contact) {
    body.contact_id = s.contact.id;
    if ((s.contact.phones || []).length > 1) body.phone = u.numbers.value;
  } else {
    const typed = u.to.value.trim();
    if (!/\d{4}/.test(typed.replace(/[\s()+\-.]/g, ''))) {
      u.err.textContent = 'Choose a contact from the list, or type a full number.';
      u.to.setAttribute('aria-invalid', 'true');
      u.to.focus();
      return;
    }
    body.phone = typed;
  }
  const text = u.text.value;
  if (text.trim()) body.text = text;
  u.go.disabled = true;
  try {
    let it;
    let needsTemplate = false;
    try {
      it = await api('POST', '/api/v1/interactions', body);
    } catch (e) {
      if (e.code !== 'template_required') throw e;
      // Outside the 24-hour window: open it without the text, then pick a template.
      delete body.text;
      it = await api('POST', '/api/v1/interactions', body);
      needsTemplate = true;
    }
    SD.close();
    applyInteraction(it);
    if (needsTemplate && text.trim()) S.drafts.set(it.id, text);
    await selectInteraction(it.id, true, !needsTemplate);
    loadConvs(false);
    if (needsTemplate) {
      S.windowClosed.set(it.id, it.window_expires_at || null);
      renderConversation();
      openTemplates(it.id, 'The customer has not written in the last 24 hours: start with an approved template. Your text is kept in the compose box.');
    }
  } catch (e) {
    if (e.code === 'already_yours') {
      const mine = [...S.interactions.values()].find((x) => body.phone ? x.customer && `+${x.customer.wa_id}` === body.phone.replace(/[^\d+]/g, '') : x.contact && x.contact.id === body.contact_id);
      if (mine) { SD.close(); await selectInteraction(mine.id, true, true); return; }
    }
    u.err.textContent = e.message;
  } finally {
    u.go.disabled = false;
  }
}
