// The REST client: JSON in and out, the session's bearer token, errors as ApiError.
import { emit } from './bus.js';
import { S, TOKEN_KEY } from './store.js';

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (S.token) opts.headers.Authorization = `Bearer ${S.token}`;
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && path !== '/api/v1/auth/login') {
      sessionStorage.removeItem(TOKEN_KEY);
      S.token = null;
      emit('sessionEnded', 'Your session has ended. Please log in again.');
    }
    throw new ApiError(resp.status, err.code || 'error', err.message || `HTTP ${resp.status}`, err);
  }
  return data;
}

/**
 * Downloads the file a GET of `path` answers (a CSV report) with the session's token: saved
 * under the name its Content-Disposition gives. Errors are thrown as ApiError.
 */
export async function download(path) {
  const resp = await fetch(path, { headers: S.token ? { Authorization: `Bearer ${S.token}` } : {} });
  if (!resp.ok) {
    let err = {};
    try { err = (await resp.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(resp.status, err.code || 'error', err.message || `HTTP ${resp.status}`, err);
  }
  const m = /filename="([^"]+)"/.exec(resp.headers.get('content-disposition') || '');
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : 'download';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
