// The desk's compose box: byte counter, sending texts, the attachment preview.
import { outsideWindow } from './list.js';
import { renderConversation, upsertMessage } from './transcript.js';
import { api } from '../lib/api.js';
import { $, el, toast } from '../lib/dom.js';
import { bytes } from '../lib/format.js';
import { S } from '../lib/store.js';

// ---------- compose ----------

/**
 * Checks run before a text is sent: each returns null to let it go, or the refusal to show
 * (e.g. an inserted standard response whose placeholder is still unfilled).
 */
export const sendGuards = [];

export function updateCounter() {
  const max = (S.me && S.me.max_text_message_size) || 4096;
  const n = bytes($('compose-text').value);
  const c = $('byte-count');
  c.textContent = `${n} / ${max} bytes`;
  c.classList.toggle('over', n > max);
  return { n, max };
}

$('compose-text').addEventListener('input', () => {
  const { n, max } = updateCounter();
  if (n <= max && $('compose-error').dataset.kind === 'size') $('compose-error').textContent = '';
});
$('compose-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendText();
  }
});
$('compose').addEventListener('submit', (e) => {
  e.preventDefault();
  sendText();
});

/** The refusal notice for a text over the byte limit; the text stays in the box. */
export function sizeNotice(n, max) {
  const errEl = $('compose-error');
  errEl.dataset.kind = 'size';
  errEl.textContent = `Not sent: the message is ${n} bytes, the limit is ${max} bytes. Shorten it — your text is kept.`;
}

/** The server refused a send because the 24-hour window closed (its clock decides). */
export function windowRefused(id) {
  const it = S.interactions.get(id);
  if (it) S.windowClosed.set(id, it.window_expires_at || null);
  const errEl = $('compose-error');
  errEl.dataset.kind = 'window';
  errEl.textContent = 'Not sent: more than 24 hours have passed since the customer\'s last message, so only a template can be sent. Your text is kept.';
  renderConversation();
}

export async function sendText() {
  const id = S.selected;
  const it = S.interactions.get(id);
  if (!it) return;
  const box = $('compose-text');
  const text = box.value;
  const errEl = $('compose-error');
  errEl.textContent = '';
  errEl.dataset.kind = '';
  if (!text.trim()) return;
  for (const guard of sendGuards) {
    const refusal = guard(text);
    if (refusal) {
      errEl.dataset.kind = 'placeholder';
      errEl.textContent = refusal;
      return;
    }
  }
  const { n, max } = updateCounter();
  if (n > max) {
    sizeNotice(n, max);
    return;
  }
  if (outsideWindow(it)) {
    windowRefused(id);
    return;
  }
  $('send').disabled = true;
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, { text });
    if (S.selected === id && box.value === text) box.value = '';
    S.drafts.delete(id);
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (e) {
    if (S.selected !== id) {
      toast(`Not sent: ${e.message}`);
    } else if (e.code === 'text_too_long' && typeof e.data.limit === 'number' && /bytes/.test(e.message)) {
      // The limit changed since the page loaded: the server's answer is the one that counts.
      S.me.max_text_message_size = e.data.limit;
      const c = updateCounter();
      sizeNotice(c.n, c.max);
    } else if (e.code === 'template_required') {
      windowRefused(id);
    } else {
      errEl.textContent = `Not sent: ${e.message}. Your text is kept.`;
    }
  } finally {
    renderConversation();
    if (!box.disabled) box.focus();
  }
}

// Choosing a file shows it first: an image with the typed text as its editable caption,
// sent only with "Send"; "Cancel" drops the file and keeps the text.
export const A = { file: null, url: null, interaction: null };

export function closeAttachPreview(focusBack = true) {
  if (A.url) URL.revokeObjectURL(A.url);
  A.file = null; A.url = null; A.interaction = null;
  $('attach-preview').hidden = true;
  $('attach-error').textContent = '';
  if (focusBack && !$('compose-text').disabled) $('compose-text').focus();
}

$('compose-file').addEventListener('change', (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || !S.selected) return;
  closeAttachPreview(false);
  const image = f.type.startsWith('image/');
  A.file = f;
  A.interaction = S.selected;
  A.url = image ? URL.createObjectURL(f) : null;
  $('attach-thumb').replaceChildren(image
    ? el('img', { class: 'media-img', src: A.url, alt: `Preview of ${f.name}` })
    : el('span', { class: 'attach-doc' }, `📎 ${f.name}`));
  $('attach-caption-wrap').hidden = !image;
  $('attach-caption').value = image ? $('compose-text').value.trim() : '';
  $('attach-send').textContent = image ? 'Send image' : 'Send file';
  $('attach-error').textContent = '';
  $('compose-error').textContent = '';
  $('attach-preview').hidden = false;
  (image ? $('attach-caption') : $('attach-send')).focus();
});

$('attach-cancel').addEventListener('click', () => closeAttachPreview());
$('attach-preview').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { e.preventDefault(); closeAttachPreview(); }
  if (e.key === 'Enter' && e.target === $('attach-caption')) { e.preventDefault(); $('attach-send').click(); }
});

$('attach-send').addEventListener('click', async () => {
  const { file, interaction: id } = A;
  if (!file || !id) return;
  const image = file.type.startsWith('image/');
  const caption = image ? $('attach-caption').value.trim() : '';
  const fd = new FormData();
  fd.append('file', file, file.name);
  if (caption) fd.append('caption', caption);
  $('attach-send').disabled = true;
  $('attach-error').textContent = '';
  try {
    const m = await api('POST', `/api/v1/interactions/${encodeURIComponent(id)}/messages`, fd);
    // The caption came from the compose box: it went out, so the box is cleared.
    if (caption && S.selected === id && $('compose-text').value.trim() === caption) {
      $('compose-text').value = '';
      S.drafts.delete(id);
    }
    closeAttachPreview();
    updateCounter();
    if (m && m.id) upsertMessage({ interaction_id: id, ...m });
  } catch (err) {
    if (err.code === 'template_required') { closeAttachPreview(); windowRefused(id); }
    else $('attach-error').textContent = `Not sent: ${err.message}`;
  } finally {
    $('attach-send').disabled = false;
  }
});
