// The desk's actions on an interaction: transfer, conference, end, wrap-up.
import { tick } from './desk.js';
import { applyInteraction } from './events.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { S, customerName, myPart } from '../lib/store.js';

// ---------- transfer / conference ----------

export function openTargetDialog(mode) {
  S.targetMode = mode;
  $('target-title').textContent = mode === 'transfer' ? 'Transfer to a queue or an agent' : 'Invite to a conference';
  $('target-error').textContent = '';
  $('target-search').value = '';
  $('target-dialog').showModal();
  $('target-search').focus();
  loadDirectory();
}

export async function loadDirectory() {
  try {
    S.directory = await api('GET', '/api/v1/directory');
    renderDirectory();
  } catch (e) {
    $('target-error').textContent = e.message;
  }
}

export function renderDirectory() {
  const d = S.directory || { queues: [], agents: [] };
  const q = $('target-search').value.trim().toLowerCase();
  const match = (s) => !q || String(s || '').toLowerCase().includes(q);
  const verb = S.targetMode === 'transfer' ? 'Transfer to' : 'Invite';
  const queues = d.queues.filter((x) => match(x.name));
  const agents = d.agents.filter((a) => a.available && match(a.display_name));
  $('target-queues').replaceChildren(...(queues.length ? queues.map((x) => el('li', null,
    el('button', { type: 'button', class: 'target', onclick: () => pickTarget({ queue_id: x.id }) },
      `${verb} queue ${x.name}`, el('span', { class: 'muted small' }, ` (${x.waiting} waiting)`)))) : [el('li', { class: 'muted' }, 'No matching queue.')]));
  $('target-agents').replaceChildren(...(agents.length ? agents.map((a) => el('li', null,
    el('button', { type: 'button', class: 'target', onclick: () => pickTarget({ agent_id: a.id }) },
      `${verb} ${a.display_name}`, el('span', { class: 'muted small' }, ` (${a.load}/${a.capacity})`)))) : [el('li', { class: 'muted' }, 'No available agent matches.')]));
}

export async function pickTarget(target) {
  const id = S.selected;
  const path = S.targetMode === 'transfer' ? 'transfer' : 'conference';
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/${path}`, target);
    $('target-dialog').close();
    applyInteraction(it);
  } catch (e) {
    $('target-error').textContent = e.message;
  }
}

$('target-search').addEventListener('input', renderDirectory);
$('target-refresh').addEventListener('click', loadDirectory);
$('btn-transfer').addEventListener('click', () => openTargetDialog('transfer'));
$('btn-conference').addEventListener('click', () => openTargetDialog('conference'));
$('btn-end-conference').addEventListener('click', async () => {
  try {
    applyInteraction(await api('POST', `/api/v1/interactions/${encodeURIComponent(S.selected)}/conference/end`));
  } catch (e) { toast(e.message); }
});

// ---------- end / wrap-up ----------

$('btn-end').addEventListener('click', async () => {
  const id = S.selected;
  try {
    const it = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/end`);
    applyInteraction(it);
    openWrapDialog(id);
  } catch (e) { toast(e.message); }
});
$('btn-wrapup').addEventListener('click', () => openWrapDialog(S.selected));

export function openWrapDialog(id) {
  const it = S.interactions.get(id);
  if (!it) return;
  S.wrapFor = id;
  const dsel = $('wrap-disposition');
  const required = !!it.disposition_required;
  const opts = (it.dispositions || []).map((d) => el('option', { value: d.code, text: d.label || d.code }));
  dsel.replaceChildren(el('option', { value: '', text: required ? '— choose a disposition —' : '— none —' }), ...opts);
  dsel.required = required; // for assistive technology; the form itself is novalidate
  dsel.setAttribute('aria-required', required ? 'true' : 'false');
  dsel.removeAttribute('aria-invalid');
  dsel.disabled = opts.length === 0;
  $('wrap-disposition').previousElementSibling.textContent = required ? 'Disposition (required)' : 'Disposition (optional)';
  $('wrap-note').value = '';
  $('wrap-error').textContent = '';
  $('wrap-title').textContent = `Wrap-up: ${customerName(it)}`;
  updateWrapCountdown();
  // Not modal: offers stay answerable while the agent wraps up.
  if (!$('wrap-dialog').open) $('wrap-dialog').show();
  (opts.length ? dsel : $('wrap-note')).focus();
}

export function updateWrapCountdown() {
  const it = S.wrapFor && S.interactions.get(S.wrapFor);
  const p = it && myPart(it);
  const c = $('wrap-countdown');
  if (p && p.wrap_up_deadline) {
    c.replaceChildren('Completes on its own in ', el('span', { class: 'countdown-inline', dataset: { deadline: p.wrap_up_deadline } }, ''));
  } else {
    c.textContent = 'No time limit.';
  }
  tick();
}

export function closeWrapDialog() {
  S.wrapFor = null;
  if ($('wrap-dialog').open) $('wrap-dialog').close();
}

$('wrap-later').addEventListener('click', closeWrapDialog);
$('wrap-dialog').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { e.preventDefault(); closeWrapDialog(); }
});
$('wrap-disposition').addEventListener('change', (e) => {
  if (e.target.value) {
    e.target.removeAttribute('aria-invalid');
    if ($('wrap-error').dataset.kind === 'required') $('wrap-error').textContent = '';
  }
});
$('wrap-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = S.wrapFor;
  const code = $('wrap-disposition').value;
  const it = S.interactions.get(id);
  $('wrap-error').dataset.kind = '';
  if (it && it.disposition_required && !code) {
    // Our message, not the browser's validation bubble (the form is novalidate).
    $('wrap-error').dataset.kind = 'required';
    $('wrap-error').textContent = 'Choose a disposition: this queue requires one.';
    $('wrap-disposition').setAttribute('aria-invalid', 'true');
    $('wrap-disposition').focus();
    return;
  }
  const body = {};
  if (code) body.disposition_code = code;
  const note = $('wrap-note').value.trim();
  if (note) body.note = note;
  try {
    const v = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/wrap-up`, body);
    closeWrapDialog();
    applyInteraction(v && v.id ? v : { id, state: 'done' });
  } catch (err) {
    $('wrap-error').textContent = err.message;
  }
});
