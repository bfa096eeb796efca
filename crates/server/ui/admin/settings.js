// Global settings (GET/PATCH /api/v1/settings), break reasons aside (their own section).
import { api } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { buttons, field, intOf, number, onSubmit, select } from './kit.js';

export const label = 'Settings';

export async function render(box) {
  const s = await api('GET', '/api/v1/settings');
  const f = {
    max_text_message_size: number({ value: s.max_text_message_size, min: '1' }),
    transcript_interactions_count: number({ value: s.transcript_interactions_count }),
    after_missed_offer: select([['rona', 'RONA'], ['on_break', 'On break']], s.after_missed_offer),
    new_contact_policy: select([['create', 'Create a contact'], ['prompt', 'Ask the agent']], s.new_contact_policy),
    offer_exclusion_s: number({ value: s.offer_exclusion_s }),
    disconnect_grace_s: number({ value: s.disconnect_grace_s }),
  };
  const form = el('form', { class: 'adm-form card', 'aria-label': 'Global settings' },
    el('div', { class: 'form-grid roomy' },
      field('Longest text message (bytes)', f.max_text_message_size, { name: 'max_text_message_size', hint: 'Agents cannot send longer texts (UTF-8 bytes).' }),
      field('Earlier interactions in a transcript', f.transcript_interactions_count, { name: 'transcript_interactions_count', hint: 'Shown above the current one, and loaded per page.' }),
      field('After a missed offer', f.after_missed_offer, { name: 'after_missed_offer', hint: 'The agent\'s status: RONA takes no new offers until they are Available again.' }),
      field('A customer with no contact', f.new_contact_policy, { name: 'new_contact_policy', hint: 'Create one from the WhatsApp profile, or let the agent pick or create it.' }),
      field('Do not offer again to the same agent for (s)', f.offer_exclusion_s, { name: 'offer_exclusion_s' }),
      field('Keep an agent after a lost connection for (s)', f.disconnect_grace_s, { name: 'disconnect_grace_s' })),
    buttons(['Save settings', { type: 'submit', primary: true }]));
  onSubmit(form, async () => {
    const body = {};
    for (const [k, c] of Object.entries(f)) body[k] = c.tagName === 'SELECT' ? c.value : intOf(c);
    await api('PATCH', '/api/v1/settings', body);
    return 'Saved.';
  });
  box.append(form);
}
