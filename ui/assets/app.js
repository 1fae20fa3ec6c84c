// app.js — the shell the console and the portal share: sign in, sign out, a page per #route.
//
// The key typed to sign in goes once, in the body of POST api/session, and the field is emptied at
// once: the gateway answers with an HttpOnly cookie (never readable here) and a CSRF token kept in
// api.js's memory. Nothing is stored in localStorage, and no key ever goes into a URL.

import { api, setCsrf, setSessionLost, ApiError } from './api.js';
import { h, fill, field, notice } from './ui.js';

/**
 * kind: 'console' | 'portal'. pages: [{id, label, render(el, ctx) → cleanup fn?}].
 * keyLabel/keyHint: the sign-in field. whoami(session) → text for the header.
 */
export function startApp({ kind, title, keyLabel, keyHint, pages, whoami }) {
  const nav = document.getElementById('nav');
  const main = document.getElementById('main');
  const who = document.getElementById('who');
  const logout = document.getElementById('logout');
  const ctx = { session: null, kind };
  let cleanup = null;

  const keyInput = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const err = h('p.notice', { hidden: true });
  const loginForm = h(
    'form.card.login',
    { id: 'login-form', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, title),
    field(keyLabel, keyInput, keyHint),
    err,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Sign in')),
  );
  loginForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    keyInput.value = '';
    notice(err, '');
    try {
      const s = await api('api/session', { method: 'POST', body: { key } });
      signedIn(s);
    } catch (ex) {
      const m = ex instanceof ApiError && ex.status === 401 ? `That key was not accepted: ${ex.message}` : ex.message;
      notice(err, m);
      keyInput.focus();
    }
  });

  function showLogin(message) {
    ctx.session = null;
    setCsrf('');
    if (cleanup) cleanup();
    cleanup = null;
    nav.hidden = true;
    logout.hidden = true;
    who.textContent = '';
    fill(main, loginForm);
    document.title = title;
    if (message) notice(err, message, 'info');
    keyInput.focus();
  }

  function signedIn(s) {
    ctx.session = s;
    setCsrf(s.csrf);
    nav.hidden = false;
    logout.hidden = false;
    who.textContent = whoami ? whoami(s) : '';
    route();
  }

  fill(
    nav,
    h('ul', pages.map((p) => h('li', h('a', { href: `#${p.id}`, id: `nav-${p.id}` }, p.label)))),
  );

  async function route() {
    if (!ctx.session) return;
    const id = location.hash.slice(1).split('/')[0];
    const page = pages.find((p) => p.id === id) || pages[0];
    for (const p of pages) {
      const a = document.getElementById(`nav-${p.id}`);
      if (p === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (cleanup) cleanup();
    cleanup = null;
    const el = h('section.page', { id: `page-${page.id}`, 'aria-labelledby': `h-${page.id}` }, h('h1', { id: `h-${page.id}` }, page.label));
    fill(main, el);
    document.title = `${page.label} · ${title}`;
    main.focus({ preventScroll: true });
    const c = await page.render(el, ctx);
    if (typeof c === 'function') {
      // the page was left while it loaded: stop it at once
      if (main.contains(el)) cleanup = c;
      else c();
    }
  }

  window.addEventListener('hashchange', route);
  logout.addEventListener('click', async () => {
    try {
      await api('api/session', { method: 'DELETE' });
    } catch {
      // an ended session is signed out all the same
    }
    showLogin('Signed out.');
  });
  setSessionLost(() => showLogin('Your session has ended: sign in again.'));

  (async () => {
    try {
      signedIn(await api('api/session'));
    } catch {
      showLogin('');
    }
  })();
  return ctx;
}
