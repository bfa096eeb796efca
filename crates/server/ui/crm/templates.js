// The CRM's template dialog (R-6) and template messages in the transcript.
import { field } from './contact.js';
import { CRM, enc } from './state.js';
import { outsideWindow } from '../desk/list.js';
import { imageNode, openMedia, upsertMessage } from '../desk/transcript.js';
import { api } from '../lib/api.js';
import { modalDialog } from '../lib/dialog.js';
import { $, el } from '../lib/dom.js';
import { S, customerName, myPart } from '../lib/store.js';

// ---------- templates (R-6) ----------

export const TD = modalDialog('crm-templates', 'Send a template', { wide: true });
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
export const tplButton = el('button', { type: 'button', id: 'crm-template-btn', title: 'Pick an approved WhatsApp template (works outside the 24-hour window)' }, 'Templates…');
tplButton.addEventListener('click', () => { if (S.selected) openTemplates(S.selected); });
(() => {
  const side = document.querySelector('#compose .compose-side');
  if (side) side.prepend(tplButton);
})();

export function updateTemplateButton(it) {
  const p = it && myPart(it);
  const active = !!it && it.state === 'active' && !!p && p.state === 'active';
  tplButton.disabled = !active || !it.channel_id;
  tplButton.classList.toggle('crm-needed', active && outsideWindow(it));
}

export async function openTemplates(interactionId, why) {
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

export function drawTemplateList() {
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

export async function chooseTemplate(tid) {
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
export function fillText(text, component) {
  const t = CRM.tpl;
  return String(text || '').replace(/\{\{\s*([^}]+?)\s*\}\}/g, (all, name) => {
    const v = t.values[`${component}.${name}`];
    return v ? v : all;
  });
}

export function drawPreview() {
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
export function varLabel(v) {
  return v.component === 'button' ? `Button ${Number(v.button_index ?? 0) + 1}: {{${v.name}}}` : `${v.component === 'header' ? 'Header' : 'Body'} {{${v.name}}}`;
}

/** "a", "a and b", "a, b and c". */
export function listWords(words) {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

export function templateButtons(buttons) {
  return el('ul', { class: 'tpl-buttons', 'aria-label': 'Template buttons' }, buttons.map((b) => {
    const icon = b.type === 'URL' ? '🔗' : b.type === 'PHONE_NUMBER' ? '📞' : '↩';
    const detail = b.url || b.phone_number;
    return el('li', { class: 'tpl-button', title: detail || 'Quick reply' }, el('span', { 'aria-hidden': 'true' }, `${icon} `), b.text);
  }));
}

export async function sendTemplate() {
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
/** Bus `messageContent`: template messages and button taps drawn in the transcript. */
export const onMessageContent = (m, it, content) => {
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
