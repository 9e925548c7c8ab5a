/**
 * The operations dashboard: one static page and its script over the admin API (no framework). The
 * page carries no data and needs no token; the script asks for the admin token (or takes it from
 * the URL fragment `#token=…`, which never reaches a server), keeps it in sessionStorage and calls
 * the API with `Authorization: Bearer`. Data is written with textContent only (errors can contain
 * TPP-controlled text). Kept as TypeScript strings so `tsc` ships them in dist/ with the service.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DCR pipeline operations</title>
<link rel="stylesheet" href="/admin/dashboard.css">
<script src="/admin/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>DCR pipeline operations</h1>
  <span id="refreshed" class="muted"></span>
  <button id="logout" type="button" hidden>Forget token</button>
</header>
<main>
  <section id="login" hidden>
    <h2>Admin token</h2>
    <form id="login-form">
      <label for="token">DCR_ADMIN_TOKEN (sandbox: the file DCR_DATA_DIR/admin-token)</label>
      <input id="token" name="token" type="password" autocomplete="off" required minlength="16">
      <button type="submit">Open</button>
    </form>
    <p id="login-error" class="error" role="alert"></p>
  </section>
  <section id="app" hidden>
    <section>
      <h2>Registrations by status</h2>
      <div id="counts" class="cards" aria-live="polite"></div>
      <p class="muted">Queues: <span id="queues"></span> · outbox pending: <span id="outbox"></span></p>
    </section>
    <section>
      <h2>Registrations <select id="status-filter" aria-label="status filter">
        <option value="failed" selected>failed</option>
        <option value="rejected">rejected</option>
        <option value="">all</option>
        <option value="registered">registered</option>
        <option value="received">received</option>
        <option value="verifying">verifying</option>
        <option value="checking_revocation">checking_revocation</option>
        <option value="provisioning">provisioning</option>
      </select></h2>
      <div class="actions">
        <button id="bulk-replay" type="button">Replay all failed…</button>
        <span id="bulk-result" role="status"></span>
      </div>
      <table id="list">
        <thead><tr><th>request</th><th>status</th><th>stage</th><th>last error</th><th>updated</th><th></th></tr></thead>
        <tbody></tbody>
      </table>
      <button id="more" type="button" hidden>Older…</button>
    </section>
    <section id="detail" hidden>
      <h2>Timeline of <code id="detail-id"></code></h2>
      <dl id="detail-facts"></dl>
      <ol id="timeline"></ol>
    </section>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .8rem 1.5rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
main { padding: 1rem 1.5rem; }
h2 { font-size: 1rem; }
.muted { color: #6b7385; }
header .muted { color: #b9c0cf; }
.error { color: #b3261e; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; }
.card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .5rem .8rem; min-width: 7rem; }
.card b { display: block; font-size: 1.4rem; }
.card.failed b { color: #b3261e; } .card.registered b { color: #1e7b34; } .card.rejected b { color: #8a5a00; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
td.err { max-width: 32rem; overflow-wrap: anywhere; }
tr.row { cursor: pointer; } tr.row:hover { background: #eef2fb; }
.actions { margin: .5rem 0; display: flex; gap: 1rem; align-items: center; }
button { cursor: pointer; }
#timeline li { margin: .3rem 0; }
#timeline .event { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: #6b7385; } dd { margin: 0; overflow-wrap: anywhere; }
`;

export const DASHBOARD_JS = `'use strict';
(() => {
  const KEY = 'dcr-admin-token';
  const $ = (id) => document.getElementById(id);
  let cursor = null;

  function tokenFromFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (!fragment.get('token')) return false;
    sessionStorage.setItem(KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
    return true;
  }
  tokenFromFragment();
  window.addEventListener('hashchange', () => { if (tokenFromFragment()) start(); });

  async function api(path, init = {}) {
    const token = sessionStorage.getItem(KEY);
    const headers = { accept: 'application/json', authorization: 'Bearer ' + token, 'x-actor': 'dashboard' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { ...init, headers: { ...headers, ...(init.headers || {}) } });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) { sessionStorage.removeItem(KEY); showLogin('The token was refused.'); throw new Error('unauthorized'); }
    if (!res.ok) throw new Error((body.error || res.status) + ': ' + (body.error_description || ''));
    return body;
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function showLogin(message) {
    $('app').hidden = true; $('logout').hidden = true; $('login').hidden = false;
    $('login-error').textContent = message || '';
  }

  async function refreshSummary() {
    const s = await api('/admin/summary');
    const counts = $('counts');
    counts.replaceChildren();
    for (const [status, n] of Object.entries(s.counts)) {
      const card = el('div', undefined, 'card ' + status);
      card.dataset.status = status;
      card.append(el('b', n), el('span', status));
      counts.append(card);
    }
    $('queues').textContent = Object.entries(s.queues)
      .map(([stage, q]) => stage + ' ' + q.waiting + ' waiting / ' + q.active + ' active / ' + q.delayed + ' delayed').join(' · ');
    $('outbox').textContent = String(s.outbox_pending);
    $('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  async function loadList(append) {
    const status = $('status-filter').value;
    const q = new URLSearchParams({ limit: '50' });
    if (status) q.set('status', status);
    if (append && cursor) q.set('before', cursor);
    const page = await api('/admin/registrations?' + q);
    const tbody = $('list').tBodies[0];
    if (!append) tbody.replaceChildren();
    for (const r of page.registrations) {
      const tr = el('tr', undefined, 'row');
      tr.dataset.id = r.request_id;
      tr.append(el('td', r.request_id), el('td', r.status), el('td', r.failed_stage || ''), el('td', r.last_error || r.error || '', 'err'), el('td', r.updated_at));
      const cell = el('td');
      if (r.status === 'failed' || r.status === 'rejected') {
        const b = el('button', r.status === 'failed' ? 'Replay' : 'Force replay');
        b.type = 'button';
        b.className = 'replay';
        b.addEventListener('click', async (ev) => {
          ev.stopPropagation();
          if (r.status === 'rejected' && !confirm('This request was rejected (the TPP\\'s fault). Verify it again?')) return;
          b.disabled = true;
          try {
            const out = await api('/admin/registrations/' + encodeURIComponent(r.request_id) + '/replay' + (r.status === 'rejected' ? '?force=true' : ''), { method: 'POST' });
            b.textContent = out.replayed ? 'Replayed' : 'Not replayed: ' + out.reason;
            await Promise.all([refreshSummary(), showDetail(r.request_id)]);
          } catch (e) { b.textContent = String(e.message); }
        });
        cell.append(b);
      }
      tr.append(cell);
      tr.addEventListener('click', () => showDetail(r.request_id).catch((e) => alert(e.message)));
      tbody.append(tr);
    }
    cursor = page.next_before;
    $('more').hidden = !cursor;
    $('bulk-replay').hidden = status !== 'failed';
  }

  async function showDetail(id) {
    const r = await api('/admin/registrations/' + encodeURIComponent(id));
    $('detail').hidden = false;
    $('detail-id').textContent = r.request_id;
    const facts = $('detail-facts');
    facts.replaceChildren();
    const rows = [['status', r.status], ['kind', r.kind], ['client', r.client_id], ['software', r.software_id], ['organisation', r.org_id],
      ['TPP', r.tpp], ['certificate', r.certificate.subject_dn], ['generation', r.generation], ['attempts', JSON.stringify(r.attempts)],
      ['last error', r.last_error], ['rejection', r.error ? r.error + ': ' + (r.error_description || '') : null], ['submitted', r.submitted_at], ['updated', r.updated_at]];
    for (const [k, v] of rows) if (v !== null && v !== undefined && v !== '') facts.append(el('dt', k), el('dd', v));
    const list = $('timeline');
    list.replaceChildren();
    for (const h of r.history) {
      const li = el('li');
      li.append(el('span', h.at + ' ', 'muted'), el('span', h.event, 'event'));
      const parts = [];
      if (h.stage) parts.push('stage ' + h.stage);
      if (h.from || h.to) parts.push((h.from ? h.from + ' ' : '') + '→ ' + (h.to || '?'));
      if (h.attempt !== undefined) parts.push('attempt ' + h.attempt);
      if (h.actor) parts.push('by ' + h.actor);
      li.append(el('span', ' ' + parts.join(', ')));
      if (h.error) li.append(el('div', h.error, 'error'));
      if (h.detail) li.append(el('div', h.detail, 'muted'));
      list.append(li);
    }
  }

  async function bulkReplay() {
    const out = $('bulk-result');
    const dry = await api('/admin/replay', { method: 'POST', body: JSON.stringify({ status: 'failed', dryRun: true }) });
    if (dry.replayed === 0) { out.textContent = 'Nothing to replay.'; return; }
    if (!confirm('Replay ' + dry.replayed + ' failed registration(s)?')) return;
    out.textContent = 'Replaying…';
    const res = await api('/admin/replay', { method: 'POST', body: JSON.stringify({ status: 'failed' }) });
    out.textContent = 'Matched ' + res.matched + ', replayed ' + res.replayed + ', skipped ' + res.skipped + '.';
    await Promise.all([refreshSummary(), loadList(false)]);
  }

  async function start() {
    if (!sessionStorage.getItem(KEY)) return showLogin();
    $('login').hidden = true; $('app').hidden = false; $('logout').hidden = false;
    try { await Promise.all([refreshSummary(), loadList(false)]); } catch (e) { if (e.message !== 'unauthorized') $('refreshed').textContent = e.message; }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $('token').value.trim());
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(); });
    $('status-filter').addEventListener('change', () => loadList(false).catch((e) => alert(e.message)));
    $('more').addEventListener('click', () => loadList(true).catch((e) => alert(e.message)));
    $('bulk-replay').addEventListener('click', () => bulkReplay().catch((e) => { $('bulk-result').textContent = e.message; }));
    setInterval(() => { if (!$('app').hidden) refreshSummary().catch(() => {}); }, 5000);
    start();
  });
})();
`;
