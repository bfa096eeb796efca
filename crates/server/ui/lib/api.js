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
