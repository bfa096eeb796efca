// A modal <dialog> built once: a title, a body to fill, and focus back where it was on close.
import { el } from './dom.js';

/** A dialog built once: its title, a body to fill, and focus back where it was on close. */
export function modalDialog(id, title, { wide = false } = {}) {
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
