// Switchboard agent desktop: the built-in CRM (SPEC §4, §5, §6). Plain JS, no build step, loaded
// after app.js and using its helpers ($, el, api, S, toast, …), its `Panels` region and `Hooks`.
//
// - The "Contact" panel: the screen pop of the selected interaction (R-4.1 … R-4.5): the match
//   count, the linked contact's record with its numbers' states, recent interactions and open
//   cases; the list of matches to pick from; the "New contact" form; re-linking by search;
//   editing; connecting another number; saving the transcript as a case; for supervisors,
//   merging a duplicate contact into the linked one; assigning the conversation's cases saved
//   without a contact.
// - The "Conversations" panel: the communication list (R-5.2), search across all conversations,
//   and "New conversation" (R-5.3).
// - The history dialog: every interaction of a contact with its transcript, paged, each headed by
//   its start date, with full-text search and the words highlighted (R-4.7, R-5.1).
// - The template dialog (R-6): approved templates of the interaction's number, a preview with
//   editable prefilled variables, the header image, the buttons; Send.
// - Template messages and button taps in the transcript (through `Hooks.messageContent`).
'use strict';

const CRM = {
  pops: new Map(), // interaction id -> its screen pop (the last answer)
  popLoads: new Map(), // interaction id -> the request under way
  popTried: new Set(), // interaction ids the list asked a screen pop for
  shownKey: null, // `${interaction id}|${contact id}` the contact panel shows
  mode: 'view', // contact panel: view | edit | relink | phone | case | merge
  convs: null, // the communication list (last answer)
  convsAt: 0,
  history: null, // the history dialog's state
  tpl: null, // the template dialog's state
  start: null, // the new-conversation dialog's state
};

const enc = encodeURIComponent;

// ---------- small helpers ----------

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

/** A time today, else a short date: for lists. */
function fmtWhen(s) {
  const d = new Date(s);
  return d.toDateString() === new Date().toDateString() ? fmtTime(s) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

function fmtDateTime(s) {
  return new Date(s).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** A dialog built once: its title, a body to fill, and focus back where it was on close. */
function crmDialog(id, title, { wide = false } = {}) {
  const titleId = `${id}-title`;
  const heading = el('h2', { id: titleId }, title);
  const body = el('div', { class: 'crm-dlg-body' });
  const closeBtn = el('button', { type: 'button', class: 'crm-close', 'aria-label': 'Close', title: 'Close (Esc)' }, '✕');
  const d = el('dialog', { id, class: `crm-dialog${wide ? ' wide' : ''}`, 'aria-labelledby': titleId },
    el('div', { class: 'dlg' }, el('div', { class: 'crm-dlg-head' }, heading, closeBtn), body));
  closeBtn.addEventListener('click', () => d.close());
  let back = null;
  d.addEventListener('close', () => {
    const b = back;
    back = null;
    if (b && b.isConnected && !b.disabled && b.offsetParent !== null) b.focus();
  });
  document.body.append(d);
  return {
    dialog: d,
    heading,
    body,
    open() {
      const a = document.activeElement;
      if (!d.open) back = a && a !== document.body ? a : null;
      if (!d.open) d.showModal();
    },
    close() { if (d.open) d.close(); },
  };
}

/** `text` as nodes with every word of `words` (as a prefix of a word) in <mark>. */
function highlighted(text, words) {
  const s = String(text || '');
  const list = (words || []).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!list.length) return [s];
  const re = new RegExp(`(^|[^\\p{L}\\p{N}])(${list.join('|')})`, 'giu');
  const out = [];
  let last = 0;
  for (const m of s.matchAll(re)) {
    const start = m.index + m[1].length;
    if (start > last) out.push(s.slice(last, start));
    out.push(el('mark', null, m[2]));
    last = start + m[2].length;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

/** Highlights `words` in the text nodes under `root` (after it was drawn). */
function markWords(root, words) {
  if (!words || !words.length) return;
  for (const p of root.querySelectorAll('.text')) {
    if (p.querySelector('mark')) continue;
    const nodes = highlighted(p.textContent, words);
    if (nodes.length > 1) p.replaceChildren(...nodes);
  }
}

const contactLabel = (c) => (c ? c.name || (c.phones && c.phones[0] && fmtNum(c.phones[0].number)) || 'Contact' : '');

const PHONE_STATE = {
  ok: ['ok', '✓', 'can receive'],
  failed: ['failed', '⚠', 'last send failed'],
  unknown: ['unknown', '·', 'not checked yet'],
};

function phoneItem(p) {
  const [cls, sym, label] = PHONE_STATE[p.status] || PHONE_STATE.unknown;
  const err = p.status === 'failed' && p.last_send && p.last_send.error ? failureReason(p.last_send.error) : '';
  return el('li', { class: `crm-phone ${cls}` },
    el('span', { class: 'crm-phone-num' }, fmtNum(p.number)), ' ',
    el('span', { class: `crm-state ${cls}` }, el('span', { 'aria-hidden': 'true' }, sym), ` ${label}`),
    err ? el('span', { class: 'crm-state-reason' }, err) : null);
}

// ---------- the screen pop (contact panel) ----------

/** The screen pop of interaction `id`, fetched once at a time; caches it for the list. */
function loadPop(id, fresh = false) {
  if (!fresh && CRM.popLoads.has(id)) return CRM.popLoads.get(id);
  const p = api('GET', `/api/v1/interactions/${enc(id)}/screen-pop`).then((pop) => {
    CRM.pops.set(id, pop);
    decorateItem(id);
    return pop;
  }).finally(() => { if (CRM.popLoads.get(id) === p) CRM.popLoads.delete(id); });
  CRM.popLoads.set(id, p);
  return p;
}

function countText(pop) {
  const n = pop.match_count;
  if (n === 0) return pop.contact ? 'Linked contact (no number match)' : 'No contact found';
  if (n === 1) return '1 contact found';
  return `${n} contacts match`;
}

function countBadge(pop, cls = '') {
  return el('span', { class: `crm-count${pop.match_count > 1 ? ' many' : pop.match_count === 0 ? ' none' : ''} ${cls}`, title: countText(pop), 'aria-hidden': 'true' }, String(pop.match_count));
}

/** The list item's avatar carries the match count (R-4.1). */
function decorateItem(id, btn) {
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

Hooks.listItem = (btn, it) => {
  if (CRM.pops.has(it.id)) decorateItem(it.id, btn);
  else if (!CRM.popTried.has(it.id)) {
    CRM.popTried.add(it.id); // once: the list is redrawn often
    loadPop(it.id).catch(() => {});
  }
};

Hooks.offerShown = (card, o) => {
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

const contactPanel = {
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
async function refreshPop() {
  const it = S.selected && S.interactions.get(S.selected);
  if (!it) return;
  const key = CRM.shownKey;
  try {
    const pop = await loadPop(it.id, true);
    if (CRM.shownKey === key) drawPop(it, pop, contactPanel.body);
  } catch (e) { toast(e.message); }
}

function drawPop(it, pop, body) {
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
    // Under `prompt` (R-4.3), and for a number nobody knows yet (an outbound start).
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
      ? el('ul', { class: 'crm-cases' }, pop.open_cases.map((c) => el('li', null,
        el('span', null, c.subject || `Case of ${fmtDate(c.initiated_at)}`),
        el('span', { class: 'muted small' }, ` saved ${fmtDateTime(c.created_at)}`))))
      : el('p', { class: 'muted small' }, 'No open cases.'));
  }
  const loose = pop.unassigned_cases || [];
  if (loose.length) {
    // Chats of this conversation saved while nobody knew the customer (R-4.6): assign them.
    parts.push(el('h3', { class: 'crm-sub' }, 'Cases without a contact'));
    parts.push(el('ul', { class: 'crm-cases', 'aria-label': 'Cases without a contact' }, loose.map((c) => el('li', null,
      el('span', null, c.subject || `Chat of ${fmtDate(c.initiated_at)}`),
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

function focusFirst(root, sel) {
  const e = root.querySelector(sel);
  if (e) e.focus();
}

function contactRecord(c) {
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

/** Several matches (R-4.4): the first is linked until the agent picks another. */
function matchList(it, pop, status) {
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

async function linkContact(it, contactId, btn, status) {
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
async function assignCase(c, contact, btn, status) {
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
function field(label, input, hint) {
  const id = `crm-f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return el('div', { class: 'crm-field' }, el('label', { for: id }, label), input, hint ? el('span', { class: 'muted small', id: `${id}-hint` }, hint) : null);
}

/** No match with `new_contact_policy = prompt` (R-4.3): the form, prefilled from the profile. */
function newContactForm(it, pop, status) {
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

/** Manual re-linking (R-4.5): find a contact by name, email or number. */
/**
 * A contact search in the panel: a field, Find and Cancel, a status line and the contacts found
 * (all but `skip`), each drawn by `item(contact)` as a list item.
 */
function contactSearch({ label, fieldLabel, listLabel, listClass = '', skip = null, counted, item }) {
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

const pickName = (c, extra = []) => el('span', { class: 'crm-pick-name' }, c.name,
  el('span', { class: 'muted small' }, ` ${[...extra, ...c.phones.map((p) => fmtNum(p.number))].filter(Boolean).join(', ')}`));

function relinkForm(it, status) {
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
function mergeForm(it, into, status) {
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

function editForm(it, c, status) {
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

/** Connect another number (R-5.5); the answer says whether it can receive. */
function phoneForm(it, c, status) {
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

async function saveCase(it, btn, status) {
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

// ---------- the communication list ----------

const convPanel = {
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

async function loadConvs(manual) {
  CRM.convsAt = Date.now();
  try {
    CRM.convs = await api('GET', '/api/v1/conversations?limit=30');
  } catch (e) {
    if (manual) convPanel.note.textContent = e.message;
    return;
  }
  drawConvs();
}

function drawConvs() {
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

async function openConversation(c) {
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

// ---------- history and search ----------

const H = crmDialog('crm-history', 'History', { wide: true });
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
function openHistory(contact, conversationId, focusInteraction, query, title, via = null) {
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

async function loadHistoryPage(focusInteraction) {
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
function loadMore() {
  const h = CRM.history;
  return h && !h.contact && h.via ? loadConversationPage() : loadHistoryPage();
}

/**
 * A page of the messages of a conversation without a contact (newest first from the server,
 * drawn oldest at the top), one section per interaction, headed by its date like the history.
 */
async function loadConversationPage() {
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

function historyEntry(entry) {
  const agents = (entry.agents || []).map((a) => a.display_name).filter(Boolean).join(', ');
  const it = { ...entry, customer_display_name: (CRM.history.contact && CRM.history.contact.name) || entry.customer_display_name };
  const msgs = entry.messages || [];
  return el('section', { class: 'crm-entry', dataset: { interaction: entry.id }, 'aria-labelledby': `crm-h-${entry.id}` },
    el('h3', { id: `crm-h-${entry.id}`, class: 'crm-entry-head', tabindex: '-1' },
      fmtDate(entry.created_at),
      el('span', { class: 'muted small' }, ` ${fmtTime(entry.created_at)} · ${[entry.queue_name, agents, entry.state === 'done' ? 'finished' : entry.state].filter(Boolean).join(' · ')}`)),
    msgs.length
      ? el('ol', { class: 'transcript crm-entry-msgs', 'aria-label': `Messages of ${fmtDate(entry.created_at)}` }, msgs.map((m) => messageNode(m, it)))
      : el('p', { class: 'muted small' }, 'No messages.'));
}

async function runSearch() {
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
    el('span', { class: 'crm-hit-meta small' }, `${fmtDateTime(m.created_at)} · ${m.direction === 'in' ? 'Customer' : m.direction === 'out' ? 'Agent' : 'System'}${u.scope.value === 'all' && convName(m.conversation_id) ? ` · ${convName(m.conversation_id)}` : ''}`),
    el('span', { class: 'crm-hit-text' }, highlighted(m.text || '', h.words))))));
    for (const mk of u.list.querySelectorAll('mark')) mk.replaceWith(mk.textContent);
    for (const p of u.list.querySelectorAll('.text')) p.normalize();
    markWords(u.list, h.words);
  } catch (e) {
    if (CRM.history === h) u.note.textContent = e.message;
  }
}

/** Shows a search hit in the history: loads earlier pages until it is there, then focuses it. */
async function showHit(m) {
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

// ---------- templates (R-6) ----------

const TD = crmDialog('crm-templates', 'Send a template', { wide: true });
(() => {
  const filter = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Template name' });
  const list = el('ul', { class: 'crm-tpl-list', 'aria-label': 'Approved templates' });
  const notice = el('p', { class: 'notice', hidden: true });
  const preview = el('div', { class: 'crm-tpl-preview', role: 'region', 'aria-label': 'Template preview', 'aria-live': 'polite' });
  const err = el('p', { class: 'error', role: 'alert' });
  const send = el('button', { type: 'button', class: 'primary', disabled: true, 'aria-describedby': 'crm-tpl-missing' }, 'Send template');
  const cancel = el('button', { type: 'button', onclick: () => TD.close() }, 'Cancel');
  // Why Send is disabled: the variables (or the header file) still missing.
  const missing = el('p', { id: 'crm-tpl-missing', class: 'crm-tpl-missing small', 'aria-live': 'polite' });
  TD.ui = { filter, list, notice, preview, err, send, missing };
  TD.body.append(notice, el('div', { class: 'crm-tpl-cols' },
    el('div', { class: 'crm-tpl-pick' }, field('Find a template', filter), list),
    preview), err, el('div', { class: 'dlg-buttons' }, missing, cancel, send));
  filter.addEventListener('input', drawTemplateList);
  send.addEventListener('click', sendTemplate);
})();

/** The compose area's "Templates…" button (on demand, and the way out of a closed window). */
const tplButton = el('button', { type: 'button', id: 'crm-template-btn', title: 'Pick an approved WhatsApp template (works outside the 24-hour window)' }, 'Templates…');
tplButton.addEventListener('click', () => { if (S.selected) openTemplates(S.selected); });
(() => {
  const side = document.querySelector('#compose .compose-side');
  if (side) side.prepend(tplButton);
})();

function updateTemplateButton(it) {
  const p = it && myPart(it);
  const active = !!it && it.state === 'active' && !!p && p.state === 'active';
  tplButton.disabled = !active || !it.channel_id;
  tplButton.classList.toggle('crm-needed', active && outsideWindow(it));
}

async function openTemplates(interactionId, why) {
  const it = S.interactions.get(interactionId);
  if (!it) return;
  CRM.tpl = { id: interactionId, list: [], chosen: null, preview: null, file: null, fileUrl: null };
  const u = TD.ui;
  TD.heading.textContent = `Send a template to ${customerName(it)}`;
  const closed = why || (outsideWindow(it) ? 'The 24-hour window is closed: only an approved template can reach this customer.' : '');
  u.notice.textContent = closed;
  u.notice.hidden = !closed;
  u.err.textContent = '';
  u.filter.value = '';
  u.list.replaceChildren(el('li', { class: 'muted' }, 'Loading templates…'));
  u.preview.replaceChildren(el('p', { class: 'muted' }, 'Pick a template to see its preview.'));
  u.send.disabled = true;
  u.missing.textContent = '';
  TD.open();
  u.filter.focus();
  const t = CRM.tpl;
  try {
    const list = await api('GET', `/api/v1/templates?channel_id=${enc(it.channel_id || '')}&status=APPROVED`);
    if (CRM.tpl !== t) return;
    t.list = list.filter((x) => x.sendable !== false);
    drawTemplateList();
  } catch (e) {
    u.list.replaceChildren(el('li', { class: 'error' }, e.message));
  }
}

function drawTemplateList() {
  const t = CRM.tpl;
  if (!t) return;
  const q = TD.ui.filter.value.trim().toLowerCase();
  const shown = t.list.filter((x) => !q || x.name.toLowerCase().includes(q));
  TD.ui.list.replaceChildren(...(shown.length ? shown.map((x) => el('li', null, el('button', {
    type: 'button', class: `crm-tpl${t.chosen === x.id ? ' chosen' : ''}`, 'aria-pressed': t.chosen === x.id ? 'true' : 'false',
    onclick: () => chooseTemplate(x.id),
  }, el('span', { class: 'crm-tpl-name' }, x.name), el('span', { class: 'muted small' }, ` ${x.language} · ${String(x.category || '').toLowerCase()}${x.header && x.header.format !== 'TEXT' ? ` · ${x.header.format.toLowerCase()} header` : ''}`))))
    : [el('li', { class: 'muted' }, t.list.length ? 'No template matches.' : 'No approved templates for this number.')]));
}

async function chooseTemplate(tid) {
  const t = CRM.tpl;
  t.chosen = tid;
  t.preview = null;
  if (t.fileUrl) URL.revokeObjectURL(t.fileUrl);
  t.file = null; t.fileUrl = null;
  drawTemplateList();
  TD.ui.err.textContent = '';
  TD.ui.missing.textContent = '';
  TD.ui.send.disabled = true;
  try {
    const p = await api('GET', `/api/v1/interactions/${enc(t.id)}/templates/${enc(tid)}/preview`);
    if (CRM.tpl !== t || t.chosen !== tid) return;
    t.preview = p;
    t.values = {};
    for (const v of p.variables) t.values[v.key] = v.value || '';
    drawPreview();
  } catch (e) {
    TD.ui.err.textContent = e.message;
  }
}

/** `text` with its `{{n}}` placeholders of `component` filled from the values typed. */
function fillText(text, component) {
  const t = CRM.tpl;
  return String(text || '').replace(/\{\{\s*([^}]+?)\s*\}\}/g, (all, name) => {
    const v = t.values[`${component}.${name}`];
    return v ? v : all;
  });
}

function drawPreview() {
  const t = CRM.tpl;
  const p = t.preview;
  const u = TD.ui;
  const bubble = el('div', { class: 'crm-tpl-bubble' });
  const redraw = () => {
    const parts = [];
    if (p.header && p.header.format === 'TEXT') parts.push(el('p', { class: 'tpl-header' }, fillText(p.header.text, 'header')));
    if (p.header_media === 'image') {
      parts.push(t.fileUrl ? el('img', { class: 'media-img', src: t.fileUrl, alt: 'Header image' }) : el('span', { class: 'media-placeholder muted' }, '🖼 Header image'));
    } else if (p.header_media) parts.push(el('p', { class: 'muted small' }, `📎 ${t.file ? t.file.name : `${p.header_media} header`}`));
    if (p.body) parts.push(el('p', { class: 'text' }, fillText(p.body, 'body')));
    if (p.footer) parts.push(el('p', { class: 'tpl-footer' }, p.footer));
    if (p.buttons.length) parts.push(templateButtons(p.buttons));
    bubble.replaceChildren(...parts);
    const empty = p.variables.filter((v) => !String(t.values[v.key] || '').trim()).map(varLabel);
    if (p.header_media && !t.file) empty.unshift(p.header_media === 'image' ? 'the header image' : `the header ${p.header_media}`);
    u.send.disabled = !p.sendable || empty.length > 0;
    u.missing.textContent = p.sendable && empty.length ? `To send, fill in ${listWords(empty)}.` : '';
  };
  const inputs = p.variables.map((v) => {
    const label = varLabel(v);
    const input = el('input', { value: t.values[v.key] || '', autocomplete: 'off', maxlength: v.max_length || null, placeholder: v.example ? `e.g. ${v.example}` : null, dataset: { key: v.key } });
    input.addEventListener('input', () => { t.values[v.key] = input.value; redraw(); });
    return field(label, input, v.source ? `from ${v.source.replace(/^contact\./, 'contact ')}` : null);
  });
  let picker = null;
  if (p.header_media) {
    const accept = { image: 'image/jpeg,image/png', video: 'video/mp4', document: 'application/pdf' }[p.header_media] || '';
    const input = el('input', { type: 'file', accept });
    input.addEventListener('change', () => {
      const f = input.files[0] || null;
      if (t.fileUrl) URL.revokeObjectURL(t.fileUrl);
      t.file = f;
      t.fileUrl = f && p.header_media === 'image' ? URL.createObjectURL(f) : null;
      redraw();
    });
    picker = field(p.header_media === 'image' ? 'Header image' : `Header ${p.header_media}`, input, 'Required: this template has a media header.');
  }
  u.preview.replaceChildren(...[
    el('p', { class: 'crm-tpl-title' }, `${p.template.name} (${p.template.language})`),
    p.sendable ? null : el('p', { class: 'error' }, (p.not_sendable && p.not_sendable.message) || 'This template cannot be sent here.'),
    bubble,
    inputs.length || picker ? el('div', { class: 'crm-tpl-vars' }, picker, inputs) : el('p', { class: 'muted small' }, 'This template has no variables.'),
  ].filter(Boolean));
  redraw();
}

/** A template variable's name as its field shows it, e.g. "Body {{1}}". */
function varLabel(v) {
  return v.component === 'button' ? `Button ${Number(v.button_index ?? 0) + 1}: {{${v.name}}}` : `${v.component === 'header' ? 'Header' : 'Body'} {{${v.name}}}`;
}

/** "a", "a and b", "a, b and c". */
function listWords(words) {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

function templateButtons(buttons) {
  return el('ul', { class: 'tpl-buttons', 'aria-label': 'Template buttons' }, buttons.map((b) => {
    const icon = b.type === 'URL' ? '🔗' : b.type === 'PHONE_NUMBER' ? '📞' : '↩';
    const detail = b.url || b.phone_number;
    return el('li', { class: 'tpl-button', title: detail || 'Quick reply' }, el('span', { 'aria-hidden': 'true' }, `${icon} `), b.text);
  }));
}

async function sendTemplate() {
  const t = CRM.tpl;
  const u = TD.ui;
  if (!t || !t.preview) return;
  const variables = {};
  for (const v of t.preview.variables) variables[v.key] = String(t.values[v.key] || '').trim();
  const spec = { id: t.preview.template.id, variables };
  let body = { template: spec };
  if (t.file) {
    body = new FormData();
    body.append('template', JSON.stringify(spec));
    body.append('file', t.file, t.file.name);
  }
  u.send.disabled = true;
  u.err.textContent = '';
  try {
    const m = await api('POST', `/api/v1/interactions/${enc(t.id)}/messages`, body);
    if (m && m.id) {
      if (t.fileUrl) S.media.set(m.id, t.fileUrl); // the header shows at once, from the file sent
      t.fileUrl = null;
      upsertMessage({ interaction_id: t.id, ...m });
    }
    CRM.tpl = null;
    TD.close();
    // The refusal that led here is answered.
    if (S.selected === t.id && $('compose-error').dataset.kind === 'window') $('compose-error').textContent = '';
    if (S.selected === t.id && !$('compose-text').disabled) $('compose-text').focus();
  } catch (e) {
    u.err.textContent = `Not sent: ${e.message}`;
    u.send.disabled = false;
  }
}

TD.dialog.addEventListener('close', () => {
  const t = CRM.tpl;
  if (t && t.fileUrl) URL.revokeObjectURL(t.fileUrl);
  CRM.tpl = null;
});

// Template messages and template button taps in the transcript (R-6.3).
Hooks.messageContent = (m, it, content) => {
  const p = m.payload || {};
  if (m.type === 'template') {
    const parts = [];
    const h = p.header;
    if (p.media && (!h || h.format === 'IMAGE')) parts.push(imageNode(m));
    else if (p.media) parts.push(el('button', { type: 'button', class: 'link', onclick: () => openMedia(m) }, `📎 ${p.media.filename || p.media.mime_type || 'file'}`));
    if (h && h.text) parts.push(el('p', { class: 'tpl-header' }, h.text));
    parts.push(el('p', { class: 'text' }, p.body || m.text || ''));
    if (p.footer) parts.push(el('p', { class: 'tpl-footer' }, p.footer));
    if (Array.isArray(p.buttons) && p.buttons.length) parts.push(templateButtons(p.buttons));
    const name = p.template && p.template.name;
    content.splice(0, content.length, name ? el('span', { class: 'tpl-tag' }, `Template ${name}`) : null, ...parts);
    return;
  }
  const r = p.reply_to;
  if (r && r.template) {
    content.unshift(el('blockquote', { class: 'tpl-quote', dataset: { replyTo: r.id || '' } },
      el('span', { class: 'tpl-tag' }, `Reply to template ${r.template.name || ''}`), el('span', { class: 'tpl-quote-text' }, r.text || '')));
  }
};

// ---------- outbound starts (R-5.3) ----------

const SD = crmDialog('crm-start', 'New conversation');
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

function openStart(contact) {
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

async function findContacts() {
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

function drawChosen() {
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

async function startConversation() {
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

// ---------- registration ----------

Panels.register(contactPanel);
Panels.register(convPanel);
// app.js may have drawn before this script ran: catch up.
for (const card of document.querySelectorAll('.offer[data-id]')) {
  const o = S.offers.get(card.dataset.id);
  if (o && !card.querySelector('.crm-offer-contact')) Hooks.offerShown(card, o);
}
if (S.me) {
  renderList();
  renderConversation();
}
