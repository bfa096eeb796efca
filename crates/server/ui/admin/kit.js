// The admin console's building blocks: labelled fields with their own error line, forms that
// show the API's refusal beside the field it names (else at the form), a searchable and paged
// list over lib/table.js, a confirmation dialog for destructive actions, and Copy buttons.
import { api, ApiError } from '../lib/api.js';
import { modalDialog } from '../lib/dialog.js';
import { el } from '../lib/dom.js';
import { sortableTable } from '../lib/table.js';

let uid = 0;

/**
 * A labelled control: `name` is the API's field it edits (errors naming it show beside it),
 * `hint` a line of help under it. `control` is an <input>, <select>, <textarea> or a group node
 * (then `label` names a fieldset).
 */
export function field(label, control, { name, hint, wide } = {}) {
  const id = control.id || `adm-${++uid}`;
  const err = el('p', { class: 'error', id: `${id}-err`, role: 'alert' });
  const help = hint ? el('p', { class: 'hint muted', id: `${id}-hint` }, hint) : null;
  const isGroup = !['INPUT', 'SELECT', 'TEXTAREA'].includes(control.tagName);
  let node;
  if (isGroup) {
    node = el('fieldset', { class: `field group${wide ? ' wide' : ''}`, 'aria-describedby': [help && help.id, err.id].filter(Boolean).join(' ') },
      el('legend', null, label), control, help, err);
  } else {
    control.id = id;
    control.setAttribute('aria-describedby', [help && help.id, err.id].filter(Boolean).join(' '));
    const box = control.type === 'checkbox';
    node = box
      ? el('div', { class: `field check${wide ? ' wide' : ''}` }, el('label', { for: id }, control, ` ${label}`), help, err)
      : el('div', { class: `field${wide ? ' wide' : ''}` }, el('label', { for: id }, label), control, help, err);
  }
  node.dataset.name = name || '';
  node.fieldError = (msg) => {
    err.textContent = msg || '';
    if (!isGroup) control.setAttribute('aria-invalid', msg ? 'true' : 'false');
  };
  return node;
}

export const input = (attrs = {}) => el('input', { type: 'text', autocomplete: 'off', ...attrs });
export const number = (attrs = {}) => el('input', { type: 'number', min: '0', step: '1', inputmode: 'numeric', ...attrs });
export const checkbox = (checked, attrs = {}) => el('input', { type: 'checkbox', checked: !!checked, ...attrs });
export function select(options, value, attrs = {}) {
  const s = el('select', attrs, options.map(([v, label]) => el('option', { value: v }, label)));
  s.value = value ?? (options[0] && options[0][0]);
  return s;
}

/** Check boxes for a set of ids (`items`: [id, label]); `.value()` gives the checked ids. */
export function checkList(items, checked = [], emptyText = 'None yet.') {
  const set = new Set(checked);
  const box = el('div', { class: 'check-list' }, items.length
    ? items.map(([id, label]) => el('label', null, el('input', { type: 'checkbox', value: id, checked: set.has(id) }), ` ${label}`))
    : el('span', { class: 'muted' }, emptyText));
  box.value = () => [...box.querySelectorAll('input:checked')].map((i) => i.value);
  return box;
}

/** Integer of an <input type=number>, or undefined when empty (the API then keeps its default). */
export function intOf(inp) {
  const v = inp.value.trim();
  return v === '' ? undefined : Number(v);
}

/**
 * The fields of `form` an API error names: by its code (`invalid_name`, `weak_password`), else
 * every field its message names (`offer_exclusion_s and disconnect_grace_s must be …`), else one
 * the code begins (`invalid_sla_response` → `sla_response_s`).
 */
function fieldsFor(form, err) {
  const fields = [...form.querySelectorAll('[data-name]')].filter((f) => f.dataset.name);
  const code = String(err.code || '').replace(/^(invalid_|unknown_|weak_|duplicate_)/, '').replace(/_taken$/, '');
  const words = new Set(String(err.message || '').split(/[^A-Za-z0-9_.]+/));
  const exact = fields.filter((f) => f.dataset.name === code);
  if (exact.length) return exact;
  const named = fields.filter((f) => words.has(f.dataset.name));
  if (named.length) return named;
  return fields.filter((f) => code && (f.dataset.name.startsWith(code) || code.startsWith(f.dataset.name))).slice(0, 1);
}

/**
 * Wires `form` to `action` (async): errors cleared on submit, the button disabled meanwhile, an
 * `ApiError` shown beside its field or in the form's own error line. `action` returns a status text.
 */
export function onSubmit(form, action) {
  const status = el('p', { class: 'form-status', role: 'status' });
  const formErr = el('p', { class: 'error form-error', role: 'alert' });
  form.append(formErr, status);
  form.noValidate = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const f of form.querySelectorAll('[data-name]')) f.fieldError && f.fieldError('');
    formErr.textContent = '';
    status.textContent = '';
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    try {
      const msg = await action();
      status.textContent = msg || '';
    } catch (e) {
      const named = e instanceof ApiError ? fieldsFor(form, e) : [];
      if (named.length) {
        for (const f of named) f.fieldError(e.message);
        const c = named[0].querySelector('input, select, textarea');
        if (c) c.focus();
      } else {
        formErr.textContent = e.message;
      }
    } finally {
      if (btn && btn.isConnected) btn.disabled = false;
    }
  });
  return form;
}

/** Buttons of a form: `[label, {primary, danger, type, onclick}]`. */
export function buttons(...specs) {
  return el('div', { class: 'form-buttons' }, specs.filter(Boolean).map(([label, o = {}]) => el('button', {
    type: o.type || 'button', class: o.primary ? 'primary' : o.danger ? 'danger' : null, onclick: o.onclick, id: o.id,
  }, label)));
}

const confirmDlg = { d: null };
/** Asks before a destructive action; resolves true when confirmed. */
export function confirmAction(title, message, confirmLabel) {
  if (!confirmDlg.d) confirmDlg.d = modalDialog('admin-confirm', 'Confirm');
  const d = confirmDlg.d;
  d.heading.textContent = title;
  return new Promise((resolve) => {
    let answer = false;
    const ok = el('button', { type: 'button', class: 'danger', onclick: () => { answer = true; d.close(); } }, confirmLabel);
    const cancel = el('button', { type: 'button', onclick: () => d.close() }, 'Cancel');
    d.body.replaceChildren(el('p', null, message), el('div', { class: 'dlg-buttons' }, cancel, ok));
    d.dialog.addEventListener('close', () => resolve(answer), { once: true });
    d.open();
    cancel.focus();
  });
}

/**
 * A card for one destructive action: `title` and `text` say what it does; its button asks first
 * (`ask`: [title, message, confirm label]), then sends `DELETE path`; a refusal shows under the
 * button; once done, `detail` says `done` and `after` runs (a reload).
 */
export function dangerZone({ title, text, button, ask, path, detail, done, after }) {
  const errLine = el('p', { class: 'error', role: 'alert' });
  return el('div', { class: 'adm-form card danger-zone' },
    title ? el('h3', null, title) : null,
    text ? el('p', { class: 'muted' }, text) : null,
    buttons([button, { danger: true, onclick: async () => {
      errLine.textContent = '';
      if (!(await confirmAction(...ask))) return;
      try {
        await api('DELETE', path);
        detail.replaceChildren(el('p', { class: 'form-status adm-notice', role: 'status' }, done));
        await after();
      } catch (e) { errLine.textContent = e.message; }
    } }]), errLine);
}

/** A Copy button for `text()`; says "Copied" for a moment. */
export function copyButton(text, label = 'Copy') {
  const b = el('button', { type: 'button', class: 'copy' }, label);
  b.addEventListener('click', async () => {
    const value = text();
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard permission (plain http): select the text for Ctrl+C instead.
      const t = el('textarea', { class: 'sr-only' }, value);
      document.body.append(t);
      t.select();
      document.execCommand('copy');
      t.remove();
    }
    b.textContent = 'Copied';
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

/**
 * A list: a search box (filtering by `text(row)`; `searchBox: false` when the API searches), a
 * sortable table and a pager of `pageSize` rows. `render(rows)` redraws; `tools` are extra nodes
 * beside the search box.
 */
export function listView({ caption, columns, text, pageSize = 15, tools = [], emptyText = 'Nothing yet.', sortKey, searchBox = true }) {
  const st = { rows: [], page: 0, q: '' };
  const table = sortableTable({ caption, columns, sortKey, onSort: () => { st.page = 0; draw(); } });
  const search = el('input', { type: 'search', autocomplete: 'off', placeholder: 'Search', 'aria-label': `Search ${caption.toLowerCase()}` });
  const info = el('span', { class: 'muted', role: 'status' });
  const prev = el('button', { type: 'button', onclick: () => { st.page -= 1; draw(); } }, '‹ Previous');
  const next = el('button', { type: 'button', onclick: () => { st.page += 1; draw(); } }, 'Next ›');
  const empty = el('p', { class: 'muted empty' });
  search.addEventListener('input', () => { st.q = search.value.trim().toLowerCase(); st.page = 0; draw(); });
  const node = el('div', { class: 'adm-list' },
    el('div', { class: 'adm-tools' }, searchBox ? search : null, ...tools),
    table.table, empty,
    el('div', { class: 'adm-pager' }, info, prev, next));
  function draw() {
    const matching = st.q ? st.rows.filter((r) => text(r).toLowerCase().includes(st.q)) : st.rows;
    // Sort all matching rows the table's way, then show one page of them.
    table.render(matching);
    const sorted = [...table.table.tBodies[0].rows].map((tr) => tr.dataset.id);
    const pages = Math.max(1, Math.ceil(sorted.length / pageSize));
    st.page = Math.min(Math.max(0, st.page), pages - 1);
    const shown = new Set(sorted.slice(st.page * pageSize, (st.page + 1) * pageSize));
    for (const tr of table.table.tBodies[0].rows) tr.hidden = !shown.has(tr.dataset.id);
    empty.textContent = st.rows.length ? 'Nothing matches the search.' : emptyText;
    empty.hidden = matching.length > 0;
    const from = st.page * pageSize + 1;
    info.textContent = sorted.length ? `${from}–${Math.min(sorted.length, (st.page + 1) * pageSize)} of ${sorted.length}` : '';
    prev.hidden = next.hidden = pages < 2;
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
  }
  return { node, render(rows) { st.rows = rows; draw(); } };
}

/** A date and time in the browser's words, or "never". */
export const when = (s, never = 'Never') => (s ? new Date(s).toLocaleString([], {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
}) : never);

/** A day in the browser's words (the full time as its tooltip), or `never`: for list cells. */
export const day = (s, never = 'Never') => (s
  ? el('time', { datetime: s, title: when(s) }, new Date(s).toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' }))
  : never);

/** A status line at the top of `box` (after a form was replaced by the item it created). */
export function notice(box, msg) {
  box.prepend(el('p', { class: 'form-status adm-notice', role: 'status' }, msg));
}

/**
 * Saves an item of a list: `PATCH path/id` when it has an `id` (answers "Saved."), else
 * `POST path`; then `reload()`s the list, and a new item is opened (`open(saved)`) under the line
 * `created(saved)`.
 */
export async function saveItem({ path, id, body, reload, open, detail, created }) {
  const saved = id ? await api('PATCH', `${path}/${id}`, body) : await api('POST', path, body);
  await reload();
  if (id) return 'Saved.';
  await open(saved);
  notice(detail, created(saved));
  return '';
}

/** A section's layout: the list on the left, the selected item's form on the right. */
export function split(list, detail) {
  return el('div', { class: 'adm-split' }, el('div', { class: 'adm-split-list' }, list), detail);
}
