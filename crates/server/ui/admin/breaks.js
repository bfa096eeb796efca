// Break reasons: the list agents pick from when they go on break (settings.break_reasons).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, field, input, onSubmit } from './kit.js';

export const label = 'Break reasons';

export async function render(box) {
  const s = await api('GET', '/api/v1/settings');
  const list = el('ol', { class: 'reason-list' });
  const row = (v) => {
    const i = input({ value: v, maxlength: '64', 'aria-label': 'Break reason' });
    const li = el('li', null, i, el('button', { type: 'button', class: 'link', onclick: () => { li.remove(); } , 'aria-label': `Remove ${v || 'this reason'}` }, 'Remove'));
    return li;
  };
  list.append(...s.break_reasons.map(row));
  const group = el('div', null, list, el('button', { type: 'button', onclick: () => { const li = row(''); list.append(li); li.querySelector('input').focus(); } }, '+ Add reason'));
  const form = el('form', { class: 'adm-form card', 'aria-label': 'Break reasons' },
    el('p', { class: 'muted' }, 'Agents pick one of these when they set their status to On break. Empty lines are dropped.'),
    field('Reasons', group, { name: 'break_reasons', wide: true }),
    buttons(['Save reasons', { type: 'submit', primary: true }]));
  onSubmit(form, async () => {
    const reasons = [...list.querySelectorAll('input')].map((i) => i.value.trim()).filter(Boolean);
    const saved = await api('PATCH', '/api/v1/settings', { break_reasons: reasons });
    list.replaceChildren(...saved.break_reasons.map(row));
    return 'Saved.';
  });
  box.append(form);
}
