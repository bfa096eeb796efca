// A sortable table: columns describe how to show and compare a row; `render(rows)` draws the
// body in place (rows keyed by `id`, so focus and scroll survive updates) and a click (or Enter)
// on a column header sorts by it, again to reverse. Used by the board, and by any list screen.
import { el } from './dom.js';

/**
 * columns: [{ key, label, value(row) (what sorts), cell(row) (a Node or text; default value),
 *            num: true (right-aligned), title: tooltip }]
 */
export function sortableTable({ caption, columns, sortKey, descending = false, onSort, rowClass }) {
  const state = { key: sortKey || columns[0].key, desc: descending, rows: [] };
  const head = el('tr');
  const body = el('tbody');
  const table = el('table', { class: 'grid' },
    caption ? el('caption', { class: 'sr-only', text: caption }) : null,
    el('thead', null, head), body);
  const byKey = new Map(columns.map((c) => [c.key, c]));

  function drawHead() {
    head.replaceChildren(...columns.map((c) => {
      const sorted = c.key === state.key;
      const btn = el('button', {
        type: 'button', class: 'sort', title: c.title,
        onclick: () => {
          state.desc = sorted ? !state.desc : !!c.num;
          state.key = c.key;
          if (onSort) onSort(state.key, state.desc);
          drawHead();
          render(state.rows);
        },
      }, c.label, sorted ? (state.desc ? ' ▼' : ' ▲') : '');
      return el('th', { scope: 'col', class: c.num ? 'num' : null, 'aria-sort': sorted ? (state.desc ? 'descending' : 'ascending') : null }, btn);
    }));
  }

  function compare(a, b) {
    const c = byKey.get(state.key);
    const va = c.value(a);
    const vb = c.value(b);
    let r;
    if (va === vb) r = 0;
    else if (va === null || va === undefined) r = 1;
    else if (vb === null || vb === undefined) r = -1;
    else r = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    if (state.desc) r = -r;
    return r || String(a.id).localeCompare(String(b.id));
  }

  /** Draws `rows` (objects with an `id`), sorted; existing row nodes are reused. */
  function render(rows) {
    state.rows = rows;
    const old = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
    const sorted = [...rows].sort(compare);
    const nodes = sorted.map((row) => {
      const tr = old.get(String(row.id)) || el('tr', { dataset: { id: row.id } });
      tr.className = rowClass ? rowClass(row) || '' : '';
      tr.replaceChildren(...columns.map((c, i) => {
        const v = c.cell ? c.cell(row) : c.value(row);
        const content = v instanceof Node ? v : document.createTextNode(v === null || v === undefined ? '—' : String(v));
        return el(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: c.num ? 'num' : null }, content);
      }));
      return tr;
    });
    body.replaceChildren(...nodes);
  }

  drawHead();
  return { table, render };
}
