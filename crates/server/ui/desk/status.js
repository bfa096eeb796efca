// The desk's header: me, presence, break reasons, stop-new, the post-processing countdown.
import { tick } from './desk.js';
import { updateEmptyList } from './list.js';
import { applyRejectPermission, prepareAlerts } from './offers.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { parseTs } from '../lib/format.js';
import { S, myPart } from '../lib/store.js';

// ---------- header: me, presence, stop-new ----------

export function renderMe() {
  const me = S.me;
  if (!me) return;
  $('me-name').textContent = me.display_name || me.username || '';
  const sel = $('status-select');
  const rona = me.presence === 'rona';
  sel.querySelector('option[value="rona"]').hidden = !rona;
  sel.value = me.presence;
  $('presence-dot').className = `dot ${me.presence}`;
  // After a reject the presence says so: "Rejected offer", else "Missed offer".
  const rejected = me.break_reason === 'Rejected offer';
  sel.querySelector('option[value="rona"]').textContent = rejected ? 'Rejected offer (RONA)' : 'Missed offer (RONA)';
  $('rona-title').textContent = rejected ? 'RONA — you rejected an offer.' : 'RONA — you missed an offer.';
  const reasons = [...(me.break_reasons || [])];
  // A break the server chose (after a missed or rejected offer) shows its reason too.
  if (me.presence === 'on_break' && me.break_reason && !reasons.includes(me.break_reason)) reasons.push(me.break_reason);
  const rsel = $('break-reason');
  const current = [...rsel.options].map((o) => o.value).join('\n');
  if (current !== reasons.join('\n')) {
    rsel.replaceChildren(...reasons.map((r) => el('option', { value: r, text: r, disabled: !(me.break_reasons || []).includes(r) })));
  }
  if (me.break_reason) rsel.value = me.break_reason;
  $('break-reason-wrap').hidden = me.presence !== 'on_break' || reasons.length === 0;
  $('rona-banner').hidden = !rona;
  const sn = $('stop-new');
  sn.setAttribute('aria-pressed', me.stop_new ? 'true' : 'false');
  sn.textContent = me.stop_new ? 'Stop new: on' : 'Stop new';
  sn.classList.toggle('active', !!me.stop_new);
  $('load').textContent = `Load ${me.load ?? 0}/${me.capacity ?? 0}`;
  $('load').title = 'Interactions held / capacity';
  renderActivity();
  updateEmptyList();
  for (const b of document.querySelectorAll('.offer .reject')) applyRejectPermission(b);
}

/**
 * "Post processing" with its countdown while the agent only wraps up, as the server's
 * `activity` says; the countdown runs to the last of the agent's wrap-up deadlines.
 */
export function renderActivity() {
  const box = $('activity');
  const post = !!S.me && S.me.activity === 'post_processing';
  if (!post) { box.hidden = true; box.replaceChildren(); return; }
  const deadlines = [...S.interactions.values()]
    .map((it) => myPart(it))
    .filter((p) => p && p.state === 'wrap_up' && p.wrap_up_deadline)
    .map((p) => p.wrap_up_deadline)
    .sort((a, b) => parseTs(a) - parseTs(b));
  const last = deadlines[deadlines.length - 1];
  if (box.hidden || box.dataset.until !== (last || '')) {
    box.dataset.until = last || '';
    box.replaceChildren('Post processing',
      last ? el('span', null, ' ', el('span', { class: 'countdown-inline', dataset: { deadline: last } }, '')) : '');
  }
  box.hidden = false;
  tick();
}

export async function setPresence(presence, reason) {
  const body = { presence };
  if (presence === 'on_break') {
    const reasons = S.me.break_reasons || [];
    body.reason = reason || $('break-reason').value || reasons[0];
  }
  try {
    const keep = { break_reasons: S.me.break_reasons, max_text_message_size: S.me.max_text_message_size };
    S.me = { ...keep, ...(await api('PUT', '/api/v1/me/presence', body)) };
  } catch (e) {
    toast(`Could not change status: ${e.message}`);
  }
  renderMe();
}

$('status-select').addEventListener('change', (e) => {
  const v = e.target.value;
  if (v === 'available') prepareAlerts();
  if (v === 'on_break') $('break-reason-wrap').hidden = false;
  setPresence(v);
});
$('break-reason').addEventListener('change', (e) => {
  if (S.me && S.me.presence === 'on_break') setPresence('on_break', e.target.value);
});
$('rona-back').addEventListener('click', () => { prepareAlerts(); setPresence('available'); $('status-select').focus(); });
$('stop-new').addEventListener('click', async () => {
  try {
    const keep = { break_reasons: S.me.break_reasons, max_text_message_size: S.me.max_text_message_size };
    S.me = { ...keep, ...(await api('PUT', '/api/v1/me/stop-new', { stop_new: !S.me.stop_new })) };
  } catch (e) {
    toast(`Could not change "Stop new": ${e.message}`);
  }
  renderMe();
});
