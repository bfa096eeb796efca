// The CRM's Contact panel: the screen pop of the selected interaction (R-4.1 … ).
import { caseTitle, openCase } from './case.js';
import { openHistory } from './history.js';
import { CRM, PHONE_STATE, contactLabel, enc, phoneItem } from './state.js';
import { updateTemplateButton } from './templates.js';
import { applyInteraction } from '../desk/events.js';
import { renderConversation } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { el, toast } from '../lib/dom.js';
import { fmtDate, fmtDateTime, fmtNum, initials, plural } from '../lib/format.js';
import { S, customerName } from '../lib/store.js';

// ---------- the screen pop (contact panel) ----------

/** The screen pop of interaction `id`, fetched once at a time; caches it for the list. */
export function loadPop(id, fresh = false) {
  if (!fresh && CRM.popLoads.has(id)) return CRM.popLoads.get(id);
  const p = api('GET', `/api/v1/interactions/${enc(id)}/screen-pop`).then((pop) => {
    CRM.pops.set(id, pop);
    decorateItem(id);
    return pop;
  }).finally(() => { if (CRM.popLoads.get(id) === p) CRM.popLoads.delete(id); });
  CRM.popLoads.set(id, p);
  return p;
}

export function countText(pop) {
  const n = pop.match_count;
  if (n === 0) return pop.contact ? 'Linked contact (no number match)' : 'No contact found';
  if (n === 1) return '1 contact found';
  return `${n} contacts match`;
}

export function countBadge(pop, cls = '') {
  return el('span', { class: `crm-count${pop.match_count > 1 ? ' many' : pop.match_count === 0 ? ' none' : ''} ${cls}`, title: countText(pop), 'aria-hidden': 'true' }, String(pop.match_count));
}

/** The list item's avatar carries the match count. */
export function decorateItem(id, btn) {
  const b = btn || document.querySelector(`#interaction-list .item[data-id="${CSS.escape(id)}"]`);
  const pop = CRM.pops.get(id);
  if (!b || !pop) return;
  const avatar = b.querySelector('.avatar');
  if (avatar) {
    const old = avatar.querySelector('.crm-count');
    if (old) old.remove();
    avatar.append(countBadge(pop));
  }
  const main = b.querySelector('.item-main');
  if (main && !main.querySelector('.crm-count-sr')) main.append(el('span', { class: 'sr-only crm-count-sr' }, ` · ${countText(pop)}`));
}

/** Bus `listItem`: the avatar of an item of the list shows the match count. */
export const onListItem = (btn, it) => {
  if (CRM.pops.has(it.id)) decorateItem(it.id, btn);
  else if (!CRM.popTried.has(it.id)) {
    CRM.popTried.add(it.id); // once: the list is redrawn often
    loadPop(it.id).catch(() => {});
  }
};

/** Bus `offerShown`: an offer card gets the contact lookup's match count. */
export const onOfferShown = (card, o) => {
  const id = o.interaction_id;
  const line = el('p', { class: 'crm-offer-contact small' }, 'Looking up the contact…');
  const facts = card.querySelector('.offer-facts');
  if (facts) facts.after(line); else card.append(line);
  loadPop(id, true).then((pop) => {
    if (!line.isConnected) return;
    const who = pop.contact ? ` — ${contactLabel(pop.contact)}` : '';
    line.replaceChildren(countBadge(pop), ` ${countText(pop)}${pop.match_count === 1 ? who : ''}`);
  }).catch(() => { if (line.isConnected) line.textContent = 'Contact lookup unavailable.'; });
};

export const contactPanel = {
  id: 'contact',
  title: 'Contact',
  render(it, body) {
    updateTemplateButton(it);
    if (!it) {
      CRM.shownKey = null;
      if (!body.querySelector('.crm-idle')) body.replaceChildren(el('p', { class: 'muted crm-idle' }, 'Select an interaction to see its contact.'));
      return;
    }
    // A failed delivery changes the numbers' states: the pop is fetched again then too.
    const key = `${it.id}|${it.contact ? it.contact.id : ''}|${it.last_outbound_failed ? 1 : 0}`;
    if (CRM.shownKey === key) return;
    const same = CRM.shownKey && CRM.shownKey.startsWith(`${it.id}|`);
    CRM.shownKey = key;
    CRM.mode = 'view';
    const cached = CRM.pops.get(it.id);
    if (cached && !same) drawPop(it, cached, body);
    else if (!cached) body.replaceChildren(el('p', { class: 'muted' }, 'Looking up the contact…'));
    loadPop(it.id, true).then((pop) => {
      if (CRM.shownKey === key) drawPop(it, pop, body);
    }).catch((e) => {
      if (CRM.shownKey === key) body.replaceChildren(el('p', { class: 'error' }, `Contact lookup failed: ${e.message}`));
    });
  },
};

/** Redraws the contact panel for the selected interaction from a fresh screen pop. */
export async function refreshPop() {
  const it = S.selected && S.interactions.get(S.selected);
  if (!it) return;
  const key = CRM.shownKey;
  try {
    const pop = await loadPop(it.id, true);
    if (CRM.shownKey === key) drawPop(it, pop, contactPanel.body);
  } catch (e) { toast(e.message); }
}

export function drawPop(it, pop, body) {
  const status = el('p', { class: 'crm-status', role: 'status' });
  const head = el('div', { class: 'crm-pop-head' },
    el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(pop.contact ? pop.contact.name : customerName(it)), countBadge(pop)),
    el('div', null,
      el('p', { class: 'crm-count-line' }, countText(pop)),
      el('p', { class: 'muted small' }, pop.phone ? `for ${fmtNum(pop.phone)}` : 'no phone number')));
  const parts = [head];
  if (CRM.mode === 'relink') {
    parts.push(relinkForm(it, status));
  } else if (CRM.mode === 'merge' && pop.contact) {
    parts.push(contactRecord(pop.contact), mergeForm(it, pop.contact, status));
  } else if (!pop.contact && pop.match_count === 0) {
    // Under `prompt`, and for a number nobody knows yet (an outbound start).
    parts.push(pop.show_new_contact_form
      ? newContactForm(it, pop, status)
      : el('p', { class: 'muted' }, 'No contact is linked to this conversation.'));
  } else {
    if (pop.match_count > 1) parts.push(matchList(it, pop, status));
    if (pop.contact) {
      if (CRM.mode === 'edit') parts.push(editForm(it, pop.contact, status));
      else parts.push(contactRecord(pop.contact));
      if (CRM.mode === 'phone') parts.push(phoneForm(it, pop.contact, status));
    }
  }
  const actions = el('div', { class: 'crm-actions', role: 'group', 'aria-label': 'Contact actions' });
  if (pop.contact && CRM.mode === 'view') {
    actions.append(
      el('button', { type: 'button', onclick: () => { CRM.mode = 'edit'; drawPop(it, pop, body); focusFirst(body, '.crm-form input'); } }, 'Edit contact'),
      el('button', { type: 'button', onclick: () => { CRM.mode = 'phone'; drawPop(it, pop, body); focusFirst(body, '.crm-form input'); } }, 'Add number'),
      el('button', { type: 'button', onclick: () => openHistory(pop.contact, it.conversation_id) }, 'History & search'));
    if (S.me && ['supervisor', 'admin'].includes(S.me.role)) {
      actions.append(el('button', { type: 'button', onclick: () => { CRM.mode = 'merge'; drawPop(it, pop, body); focusFirst(body, '.crm-form input'); } }, 'Merge a duplicate'));
    }
  }
  if (CRM.mode !== 'relink') {
    actions.append(el('button', { type: 'button', onclick: () => { CRM.mode = 'relink'; drawPop(it, pop, body); focusFirst(body, '.crm-form input'); } }, pop.contact ? 'Change contact' : 'Link a contact'));
  }
  if (['active', 'wrap_up'].includes(it.state)) {
    actions.append(el('button', { type: 'button', onclick: (e) => saveCase(it, e.currentTarget, status) }, 'Save transcript as case'));
  }
  parts.push(actions, status);
  if (pop.contact) {
    parts.push(el('h3', { class: 'crm-sub' }, 'Recent interactions'));
    parts.push(pop.recent_interactions.length
      ? el('ul', { class: 'crm-recent' }, pop.recent_interactions.map((r) => el('li', null,
        el('button', { type: 'button', class: 'link crm-recent-link', onclick: () => openHistory(pop.contact, it.conversation_id, r.id) },
          fmtDate(r.created_at)),
        el('span', { class: 'muted small' }, ` ${[r.queue_name, (r.agents || []).map((a) => a.display_name).filter(Boolean).join(', '), r.state === 'done' ? 'finished' : r.state].filter(Boolean).join(' · ')}`))))
      : el('p', { class: 'muted small' }, 'None before this one.'));
    parts.push(el('h3', { class: 'crm-sub' }, 'Open cases'));
    parts.push(pop.open_cases.length
      ? el('ul', { class: 'crm-cases', 'aria-label': 'Open cases' }, pop.open_cases.map((c) => el('li', null,
        el('button', { type: 'button', class: 'link crm-case-link', onclick: () => openCase(c, pop.contact.name) }, caseTitle(c)),
        el('span', { class: 'muted small' }, ` saved ${fmtDateTime(c.created_at)}`))))
      : el('p', { class: 'muted small' }, 'No open cases.'));
  }
  const loose = pop.unassigned_cases || [];
  if (loose.length) {
    // Chats of this conversation saved while nobody knew the customer: assign them.
    parts.push(el('h3', { class: 'crm-sub' }, 'Cases without a contact'));
    parts.push(el('ul', { class: 'crm-cases', 'aria-label': 'Cases without a contact' }, loose.map((c) => el('li', null,
      el('button', { type: 'button', class: 'link crm-case-link', onclick: () => openCase(c, customerName(it), 'Chat') }, caseTitle(c, 'Chat')),
      el('span', { class: 'muted small' }, ` ${c.state === 'closed' ? 'closed' : 'open'} · saved ${fmtDateTime(c.created_at)} `),
      pop.contact
        ? el('button', { type: 'button', class: 'link', onclick: (e) => assignCase(c, pop.contact, e.currentTarget, status) }, `Assign to ${pop.contact.name}`)
        : null))));
    if (!pop.contact) parts.push(el('p', { class: 'muted small' }, 'Link or create the contact to assign them.'));
  }
  if (pop.external && pop.external.status === 'found' && pop.external.contacts.length) {
    parts.push(el('h3', { class: 'crm-sub' }, 'External CRM'));
    parts.push(el('ul', { class: 'crm-cases' }, pop.external.contacts.map((c) => el('li', null,
      c.url && /^https?:/i.test(c.url) ? el('a', { href: c.url, target: '_blank', rel: 'noopener noreferrer' }, c.name || c.id) : (c.name || c.id)))));
  } else if (pop.external && pop.external.status === 'failed') {
    parts.push(el('p', { class: 'muted small' }, `External CRM unavailable (${pop.external.reason}); showing the built-in contacts.`));
  }
  body.replaceChildren(...parts);
}

export function focusFirst(root, sel) {
  const e = root.querySelector(sel);
  if (e) e.focus();
}

export function contactRecord(c) {
  const fields = Object.entries(c.fields || {});
  const flagged = c.has_failed_number;
  return el('div', { class: 'crm-record' },
    el('p', { class: 'crm-name' }, c.name),
    flagged ? el('p', { class: 'crm-flag', role: 'note' }, '⚠ A number of this contact failed to receive messages.') : null,
    el('dl', { class: 'crm-facts' },
      el('dt', null, c.phones.length > 1 ? 'Numbers' : 'Number'),
      el('dd', null, c.phones.length ? el('ul', { class: 'crm-phones' }, c.phones.map(phoneItem)) : '—'),
      el('dt', null, 'Email'), el('dd', null, c.email || '—'),
      fields.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, String(v))])));
}

/** Several matches: the first is linked until the agent picks another. */
export function matchList(it, pop, status) {
  const linked = pop.contact && pop.contact.id;
  return el('div', { class: 'crm-matches' },
    el('p', { class: 'small' }, 'Several contacts have this number. Pick the right one:'),
    el('ul', { class: 'crm-pick', 'aria-label': 'Matching contacts' }, pop.matches.map((c) => {
      const on = c.id === linked;
      return el('li', { class: on ? 'linked' : null },
        el('span', { class: 'crm-pick-name' }, c.name, c.email ? el('span', { class: 'muted small' }, ` ${c.email}`) : null),
        on ? el('span', { class: 'crm-linked-tag' }, 'Linked')
          : el('button', { type: 'button', 'aria-label': `Use ${c.name}`, onclick: (e) => linkContact(it, c.id, e.currentTarget, status) }, 'Use'));
    })));
}

export async function linkContact(it, contactId, btn, status) {
  if (btn) btn.disabled = true;
  try {
    const v = await api('PUT', `/api/v1/interactions/${enc(it.id)}/contact`, { contact_id: contactId });
    CRM.mode = 'view';
    CRM.shownKey = null; // redraw even when the id stays
    if (v && v.id && S.interactions.has(v.id)) applyInteraction(v);
    else await refreshPop();
  } catch (e) {
    if (btn) btn.disabled = false;
    status.textContent = `Not linked: ${e.message}`;
  }
}

/** Assigns a case saved without a contact to `contact`; the panel then shows it no more. */
export async function assignCase(c, contact, btn, status) {
  btn.disabled = true;
  try {
    await api('PATCH', `/api/v1/cases/${enc(c.id)}`, { contact_id: contact.id });
    CRM.shownKey = null;
    await refreshPop();
    const after = contactPanel.body.querySelector('.crm-status');
    if (after) after.textContent = `The chat of ${fmtDate(c.initiated_at)} is now a case of ${contact.name}.`;
  } catch (e) {
    btn.disabled = false;
    status.textContent = `Not assigned: ${e.message}`;
  }
}

/** Creates a field row: label + input, named for assistive technology. */
export function field(label, input, hint) {
  const id = `crm-f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return el('div', { class: 'crm-field' }, el('label', { for: id }, label), input, hint ? el('span', { class: 'muted small', id: `${id}-hint` }, hint) : null);
}

/** No match with `new_contact_policy = prompt`: the form, prefilled from the profile. */
export function newContactForm(it, pop, status) {
  const pre = pop.prefill || {};
  const name = el('input', { value: pre.name || '', autocomplete: 'off', required: true });
  const email = el('input', { type: 'email', autocomplete: 'off' });
  const phone = el('input', { value: (pre.phones && pre.phones[0]) || '', autocomplete: 'off' });
  const err = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'crm-form', 'aria-label': 'New contact', novalidate: true },
    el('p', { class: 'crm-form-title' }, 'New contact'),
    field('Name', name), field('Email', email), field('WhatsApp number', phone), err,
    el('div', { class: 'crm-form-buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Create contact')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    if (!name.value.trim()) { err.textContent = 'Enter a name.'; name.setAttribute('aria-invalid', 'true'); name.focus(); return; }
    const body = { name: name.value.trim() };
    if (email.value.trim()) body.email = email.value.trim();
    if (phone.value.trim()) body.phones = [phone.value.trim()];
    form.querySelector('button[type=submit]').disabled = true;
    try {
      const c = await api('POST', '/api/v1/contacts', body);
      await linkContact(it, c.id, null, status);
      status.textContent = `Contact ${c.name} created and linked.`;
    } catch (x) {
      err.textContent = x.message;
      form.querySelector('button[type=submit]').disabled = false;
    }
  });
  return form;
}

/** Manual re-linking: find a contact by name, email or number. */
/**
 * A contact search in the panel: a field, Find and Cancel, a status line and the contacts found
 * (all but `skip`), each drawn by `item(contact)` as a list item.
 */
export function contactSearch({ label, fieldLabel, listLabel, listClass = '', skip = null, counted, item }) {
  const q = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Name, email or number' });
  const results = el('ul', { class: `crm-pick ${listClass}`.trim(), 'aria-label': listLabel });
  const note = el('p', { class: 'muted small', role: 'status' });
  const cancel = el('button', { type: 'button', onclick: () => { CRM.mode = 'view'; CRM.shownKey = null; renderConversation(); } }, 'Cancel');
  const form = el('form', { class: 'crm-form', 'aria-label': label, role: 'search' },
    field(fieldLabel, q),
    el('div', { class: 'crm-form-buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Find'), cancel),
    note, results);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = q.value.trim();
    if (!text) { q.focus(); return; }
    note.textContent = 'Searching…';
    try {
      const list = (await api('GET', `/api/v1/contacts?q=${enc(text)}&limit=20`)).filter((c) => c.id !== skip);
      note.textContent = counted(list.length);
      results.replaceChildren(...list.map(item));
    } catch (x) { note.textContent = x.message; }
  });
  return form;
}

export const pickName = (c, extra = []) => el('span', { class: 'crm-pick-name' }, c.name,
  el('span', { class: 'muted small' }, ` ${[...extra, ...c.phones.map((p) => fmtNum(p.number))].filter(Boolean).join(', ')}`));

export function relinkForm(it, status) {
  return contactSearch({
    label: 'Link a contact',
    fieldLabel: 'Find a contact',
    listLabel: 'Contacts found',
    counted: (n) => (n ? plural(n, 'contact found', 'contacts found') : 'No contact found.'),
    item: (c) => el('li', null, pickName(c),
      el('button', { type: 'button', 'aria-label': `Link ${c.name}`, onclick: (ev) => linkContact(it, c.id, ev.currentTarget, status) }, 'Link')),
  });
}

/**
 * Supervisors: find a duplicate of the linked contact `into` and merge it in (its numbers,
 * conversations, interactions and cases move over). Asks once more before merging, since a merge
 * cannot be undone.
 */
export function mergeForm(it, into, status) {
  const confirmRow = (c, li) => {
    const yes = el('button', { type: 'button', class: 'primary' }, 'Merge');
    const no = el('button', { type: 'button' }, 'Keep both');
    const ask = el('div', { class: 'crm-confirm', role: 'group', 'aria-label': `Merge ${c.name}` },
      el('p', null, `Merge ${c.name} into ${into.name}? Its numbers, conversations, interactions and cases move to ${into.name}; this cannot be undone.`),
      el('div', { class: 'crm-form-buttons' }, yes, no));
    no.addEventListener('click', () => { ask.remove(); li.querySelector('button').disabled = false; });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      try {
        await api('POST', `/api/v1/contacts/${enc(into.id)}/merge`, { from: c.id });
        CRM.mode = 'view';
        CRM.shownKey = null;
        await refreshPop();
        const after = contactPanel.body.querySelector('.crm-status');
        if (after) after.textContent = `${c.name} was merged into ${into.name}.`;
      } catch (x) {
        yes.disabled = false;
        no.disabled = false;
        status.textContent = `Not merged: ${x.message}`;
      }
    });
    li.append(ask);
    ask.scrollIntoView({ block: 'nearest' });
    yes.focus();
  };
  return contactSearch({
    label: 'Merge a duplicate',
    fieldLabel: `Find a duplicate of ${into.name}`,
    listLabel: 'Duplicates found',
    listClass: 'crm-merge-pick',
    skip: into.id,
    counted: (n) => (n ? plural(n, 'other contact found', 'other contacts found') : 'No other contact found.'),
    item: (c) => {
      const li = el('li', null, pickName(c, [c.email]));
      li.append(el('button', { type: 'button', 'aria-label': `Merge ${c.name} into ${into.name}`, onclick: (ev) => { ev.currentTarget.disabled = true; confirmRow(c, li); } }, 'Merge…'));
      return li;
    },
  });
}

export function editForm(it, c, status) {
  const name = el('input', { value: c.name || '', autocomplete: 'off' });
  const email = el('input', { type: 'email', value: c.email || '', autocomplete: 'off' });
  const rows = Object.entries(c.fields || {}).map(([k, v]) => [k, el('input', { value: String(v), autocomplete: 'off' })]);
  const newKey = el('input', { autocomplete: 'off', placeholder: 'e.g. customer_no' });
  const newVal = el('input', { autocomplete: 'off' });
  const err = el('p', { class: 'error', role: 'alert' });
  const cancel = el('button', { type: 'button', onclick: () => { CRM.mode = 'view'; drawPop(it, CRM.pops.get(it.id), contactPanel.body); } }, 'Cancel');
  const form = el('form', { class: 'crm-form', 'aria-label': 'Edit contact', novalidate: true },
    field('Name', name), field('Email', email),
    rows.map(([k, input]) => field(k, input)),
    el('div', { class: 'crm-pair' }, field('New field name', newKey), field('Value', newVal)),
    err,
    el('div', { class: 'crm-form-buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Save contact'), cancel));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { name: name.value.trim(), email: email.value.trim() };
    const fields = {};
    for (const [k, input] of rows) {
      const v = input.value.trim();
      fields[k] = v === '' ? null : v;
    }
    if (newKey.value.trim()) fields[newKey.value.trim()] = newVal.value.trim();
    if (Object.keys(fields).length) body.fields = fields;
    try {
      await api('PATCH', `/api/v1/contacts/${enc(c.id)}`, body);
      CRM.mode = 'view';
      await refreshPop();
      contactPanel.body.querySelector('.crm-status').textContent = 'Contact saved.';
    } catch (x) { err.textContent = x.message; }
  });
  return form;
}

/** Connect another number; the answer says whether it can receive. */
export function phoneForm(it, c, status) {
  const num = el('input', { autocomplete: 'off', inputmode: 'tel', placeholder: '+49 151 …' });
  const err = el('p', { class: 'error', role: 'alert' });
  const cancel = el('button', { type: 'button', onclick: () => { CRM.mode = 'view'; drawPop(it, CRM.pops.get(it.id), contactPanel.body); } }, 'Cancel');
  const form = el('form', { class: 'crm-form', 'aria-label': 'Add number', novalidate: true },
    field('Number to connect', num), err,
    el('div', { class: 'crm-form-buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Connect'), cancel));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    if (!num.value.trim()) { num.focus(); return; }
    try {
      const v = await api('POST', `/api/v1/contacts/${enc(c.id)}/phones`, { number: num.value.trim() });
      CRM.mode = 'view';
      await refreshPop();
      const added = (v.phones || []).find((p) => p.number === num.value.trim()) || (v.phones || [])[v.phones.length - 1];
      const line = contactPanel.body.querySelector('.crm-status');
      if (line && added) line.textContent = `Number ${fmtNum(added.number)} connected: ${(PHONE_STATE[added.status] || PHONE_STATE.unknown)[2]}.`;
    } catch (x) { err.textContent = x.message; }
  });
  return form;
}

export async function saveCase(it, btn, status) {
  btn.disabled = true;
  try {
    const c = await api('POST', `/api/v1/interactions/${enc(it.id)}/case`, {});
    await refreshPop();
    const line = contactPanel.body.querySelector('.crm-status');
    if (line) line.textContent = `Transcript saved as an open case (${fmtDateTime(c.created_at)}).`;
  } catch (e) {
    btn.disabled = false;
    status.textContent = `Not saved: ${e.message}`;
  }
}
