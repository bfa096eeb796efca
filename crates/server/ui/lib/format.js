// Formatting of numbers, times, durations and names; pure functions.

export const bytes = (s) => new TextEncoder().encode(s).length;
export const parseTs = (s) => (s ? Date.parse(s) : null);
export const fmtNum = (n) => (n ? `+${String(n).replace(/^\+/, '')}` : '—');

export function fmtDuration(ms) {
  const t = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
export const fmtTime = (s) => new Date(s).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
export const fmtDate = (s) => new Date(s).toLocaleDateString([], { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });

export function initials(name) {
  const parts = String(name || '?').replace(/[^\p{L}\p{N} ]/gu, ' ').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '#';
  return ((parts[0][0] || '') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

export function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

/** A time today, else a short date: for lists. */
export function fmtWhen(s) {
  const d = new Date(s);
  return d.toDateString() === new Date().toDateString() ? fmtTime(s) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function fmtDateTime(s) {
  return new Date(s).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
