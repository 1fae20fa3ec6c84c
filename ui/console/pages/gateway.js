// gateway.js — the process (GET /admin/gateway): version, uptime, the active generation, reloads
// and the last error, listeners, sessions. Polled while shown.
import { api } from '../assets/api.js';
import { h, fill, table, guard, num, duration } from '../assets/ui.js';

const POLL_MS = 5000;

export async function gatewayPage(page) {
  const msg = h('p.notice', { hidden: true });
  const out = h('div', { id: 'gateway-out' });
  page.append(msg, out);
  async function refresh() {
    await guard(msg, async () => {
      const g = await api('/admin/gateway');
      const stat = (label, value, id) => h('div.stat', { id }, h('span.label', label), h('span.value', value));
      const last = g.reloads?.last;
      const kv = (rows) => table([{ label: 'What', get: (r) => r[0] }, { label: 'Value', get: (r) => r[1] }], rows);
      fill(
        out,
        h(
          'div.stats',
          stat('Version', g.version, 'gw-version'),
          stat('Uptime', duration(g.uptime_seconds), 'gw-uptime'),
          stat('Generation', `#${g.generation?.id}`, 'gw-generation'),
          stat('Models', num(g.generation?.models)),
          stat('Reloads', `${num(g.reloads?.ok)} ok, ${num(g.reloads?.failed)} failed`, 'gw-reloads'),
        ),
        last?.outcome === 'failed'
          ? h('p.notice.error', { role: 'alert', id: 'gw-last-error' }, `The last reload (${last.at}) failed: ${last.error}. The gateway goes on with generation #${g.generation?.id}.`)
          : null,
        h('div.grid',
          h('div.card', h('h2', 'Generation'), kv([
            ['Active generation', `#${g.generation?.id}, made ${g.generation?.created_at}`],
            ['Models / plugins', `${num(g.generation?.models)} / ${num(g.generation?.plugins)}`],
            ['Last reload', last ? `${last.outcome} at ${last.at}${last.duration_ms !== undefined ? ` (${last.duration_ms} ms)` : ''}` : 'none since start'],
            ['Last good reload', g.reloads?.last_ok_at || '—'],
            ['Last reload error', g.reloads?.last_error ? `${g.reloads.last_error.message} (${g.reloads.last_error.at})` : 'none'],
          ])),
          h('div.card', h('h2', 'Process'), kv([
            ['Started', g.started_at],
            ['Configuration', g.config_path],
            ['Workers', num(g.workers)],
            ['Listening on', (g.listen || []).map((l) => `${l.address}${l.tls ? ' (TLS)' : ''}`).join(', ')],
            ['State folder', g.state_dir || '—'],
            ['Console files', g.ui_dir],
            ['Admin key', g.admin_key === 'generated' ? `generated at first start (hash in ${g.admin_key_file})` : 'server.adminKeys'],
            ['Browser sessions', `${num(g.sessions?.console)} console, ${num(g.sessions?.portal)} portal`],
          ])),
        ),
        h('p.hint', 'Runtime model changes make new generations too; only SIGHUPs count as reloads.'),
      );
    });
  }
  await refresh();
  const t = setInterval(refresh, POLL_MS);
  return () => clearInterval(t);
}
