// playground.js — try a model before publishing it: chat streamed token by token, embeddings, a
// transcription upload. The calls are the OpenAI API's, as a customer makes them: with the apikey
// plugin loaded they need an API key (the admin session does not open inference routes), typed here
// or handed over from "Use it in the playground" after a key is made. It stays in this page's
// memory only (never stored, never in a URL).
import { api } from '../assets/api.js';
import { h, fill, field, notice, guard, tabs, num } from '../assets/ui.js';

/** State kept while the console is open: the key and model chosen last. */
export const playground = { key: '', model: '' };

export async function playgroundPage(page) {
  const msg = h('p.notice', { hidden: true });
  const fromHash = decodeURIComponent(location.hash.split('/')[1] || '');
  if (fromHash) playground.model = fromHash;
  const model = h('select', { name: 'model', id: 'pg-model' });
  const key = h('input', { type: 'password', name: 'api-key', id: 'pg-key', autocomplete: 'off', value: playground.key });
  key.addEventListener('input', () => (playground.key = key.value.trim()));
  model.addEventListener('change', () => (playground.model = model.value));
  page.append(
    msg,
    h(
      'div.card.form-grid',
      field('Model', model),
      field('API key', key, 'Needed when the gateway checks API keys (apikey plugin): a key of a customer that may use the model. Kept in this page only.'),
    ),
  );
  const list = await guard(msg, () => api('/admin/models'));
  if (!list) return undefined;
  fill(model, list.data.map((m) => h('option', { value: m.id }, `${m.id} (${(m.features || []).join(', ')})`)));
  if (list.data.some((m) => m.id === playground.model)) model.value = playground.model;
  playground.model = model.value;

  const ctrl = { abort: null };
  const headers = () => (playground.key ? { Authorization: `Bearer ${playground.key}` } : {});
  page.append(
    h(
      'div.card',
      tabs([
        { id: 'pg-chat', label: 'Chat', panel: chatPanel(model, headers, ctrl) },
        { id: 'pg-embed', label: 'Embeddings', panel: embedPanel(model, headers) },
        { id: 'pg-audio', label: 'Transcription', panel: audioPanel(model, headers) },
      ]),
    ),
  );
  return () => ctrl.abort?.abort();
}

/** The error of a refused call, OpenAI-shaped or not. */
async function refusal(r) {
  const text = await r.text();
  try {
    const e = JSON.parse(text).error;
    return `${r.status}: ${e.message}${e.code ? ` (${e.code})` : ''}`;
  } catch {
    return `${r.status}: ${text.slice(0, 300)}`;
  }
}

function chatPanel(model, headers, ctrl) {
  const messages = [];
  const log = h('div.chat-log', { id: 'chat-log', 'aria-live': 'polite' });
  const system = h('input', { type: 'text', name: 'system', placeholder: 'You are a helpful assistant.' });
  const input = h('textarea', { name: 'message', id: 'chat-input', rows: '3', required: true });
  const maxTokens = h('input', { type: 'number', name: 'max_tokens', min: '1', value: '64' });
  const out = h('p.notice', { hidden: true });
  const send = h('button.primary', { type: 'submit' }, 'Send');
  const stop = h('button', { type: 'button', disabled: true }, 'Stop');
  const clear = h('button', { type: 'button' }, 'New chat');
  const form = h(
    'form',
    { id: 'chat-form', 'aria-label': 'Chat' },
    log,
    h('div.form-grid', field('System prompt (optional)', system), field('Max tokens', maxTokens)),
    field('Message', input, 'Enter sends; Shift+Enter is a new line.'),
    out,
    h('div.actions', send, stop, clear),
  );
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener('click', () => ctrl.abort?.abort());
  clear.addEventListener('click', () => {
    messages.length = 0;
    log.replaceChildren();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!input.value.trim() || ctrl.abort) return;
    notice(out, '');
    messages.push({ role: 'user', content: input.value });
    log.append(h('div.msg.user', input.value));
    input.value = '';
    const text = h('span.text');
    const meta = h('span.meta', 'waiting for the first token…');
    const bubble = h('div.msg.assistant', { dataset: { chunks: '0', done: 'false' } }, text, meta);
    log.append(bubble);
    log.scrollTop = log.scrollHeight;
    ctrl.abort = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    const t0 = performance.now();
    let chunks = 0, usage = null, first = null;
    try {
      const body = {
        model: model.value,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: Number(maxTokens.value) || 64,
        messages: [...(system.value.trim() ? [{ role: 'system', content: system.value.trim() }] : []), ...messages],
      };
      const r = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...headers() },
        body: JSON.stringify(body),
        signal: ctrl.abort.signal,
        credentials: 'omit', // the admin session is no key for inference: only the typed key counts
      });
      if (!r.ok) throw new Error(await refusal(r));
      // Server-sent events, read as they arrive: each chunk's delta is shown at once
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
          const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!data || data === '[DONE]') continue;
          const ev = JSON.parse(data);
          if (ev.error) throw new Error(`the engine stopped: ${ev.error.message || JSON.stringify(ev.error)}`);
          if (ev.usage) usage = ev.usage;
          const delta = ev.choices?.[0]?.delta?.content;
          if (delta) {
            if (first === null) first = performance.now() - t0;
            chunks++;
            text.textContent += delta;
            bubble.dataset.chunks = String(chunks);
            meta.textContent = `${chunks} chunks…`;
            log.scrollTop = log.scrollHeight;
          }
        }
      }
      messages.push({ role: 'assistant', content: text.textContent });
      const secs = (performance.now() - t0) / 1000;
      meta.textContent = [
        `${chunks} chunks in ${secs.toFixed(2)} s`,
        first !== null ? `first token after ${(first / 1000).toFixed(2)} s` : null,
        usage ? `${num(usage.prompt_tokens)} prompt + ${num(usage.completion_tokens)} completion tokens` : null,
      ].filter(Boolean).join(' · ');
      bubble.dataset.done = 'true';
    } catch (ex) {
      if (ex.name === 'AbortError') {
        meta.textContent = `stopped after ${chunks} chunks`;
      } else {
        bubble.remove();
        messages.pop();
        notice(out, ex.message);
      }
    } finally {
      ctrl.abort = null;
      send.disabled = false;
      stop.disabled = true;
    }
  });
  return form;
}

function embedPanel(model, headers) {
  const input = h('textarea', { name: 'input', rows: '3', required: true });
  const out = h('p.notice', { hidden: true });
  const res = h('pre.out', { id: 'embed-out', hidden: true });
  const form = h(
    'form',
    { id: 'embed-form', 'aria-label': 'Embeddings' },
    field('Text to embed', input),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Embed')),
    res,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      const r = await fetch('/v1/embeddings', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers() },
        body: JSON.stringify({ model: model.value, input: input.value }),
        credentials: 'omit',
      });
      if (!r.ok) throw new Error(await refusal(r));
      const j = await r.json();
      const v = j.data?.[0]?.embedding || [];
      res.hidden = false;
      res.textContent = `${v.length} dimensions; ${num(j.usage?.prompt_tokens)} tokens\n[${v.slice(0, 16).map((x) => Number(x).toFixed(5)).join(', ')}${v.length > 16 ? ', …' : ''}]`;
    });
  });
  return form;
}

function audioPanel(model, headers) {
  const file = h('input', { type: 'file', name: 'file', accept: 'audio/*', required: true });
  const language = h('input', { type: 'text', name: 'language', placeholder: 'en', maxlength: '8' });
  const out = h('p.notice', { hidden: true });
  const res = h('pre.out', { id: 'audio-out', hidden: true });
  const form = h(
    'form',
    { id: 'audio-form', 'aria-label': 'Transcription' },
    h('div.form-grid', field('Audio file', file), field('Language (optional)', language)),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Transcribe')),
    res,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      const fd = new FormData();
      fd.append('model', model.value);
      fd.append('file', file.files[0]);
      if (language.value.trim()) fd.append('language', language.value.trim());
      const r = await fetch('/v1/audio/transcriptions', { method: 'POST', headers: headers(), body: fd, credentials: 'omit' });
      if (!r.ok) throw new Error(await refusal(r));
      const j = await r.json();
      res.hidden = false;
      res.textContent = j.text ?? JSON.stringify(j, null, 2);
    });
  });
  return form;
}
