/**
 * The operations dashboard: one static page and its script over the admin API (no framework; the
 * charts use uPlot, served by the ops service from node_modules). The page carries no data and needs
 * no token; the script asks for the admin token (or takes it from the URL fragment `#token=…`, which
 * never reaches a server), keeps it in sessionStorage and calls the API with `Authorization: Bearer`.
 * Data is written with textContent only (errors and ids can contain TPP-controlled text), and the
 * page runs under a CSP without inline script or style. Kept as TypeScript strings so `tsc` ships
 * them in dist/ with the service.
 *
 * Views: registrations (search, filters, sortable columns, detail with timeline), clients (status,
 * deleted ones, links to their registrations) and charts (outcomes over time, stage latency
 * p50/p99, queue depth). The counts, the open view and the open detail refresh every 5 s.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DCR pipeline operations</title>
<link rel="stylesheet" href="/admin/vendor/uPlot.min.css">
<link rel="stylesheet" href="/admin/dashboard.css">
<script src="/admin/vendor/uPlot.iife.min.js" defer></script>
<script src="/admin/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>DCR pipeline operations</h1>
  <nav id="tabs" hidden>
    <button type="button" class="tab" data-view="registrations" aria-pressed="true">Registrations</button>
    <button type="button" class="tab" data-view="clients" aria-pressed="false">Clients</button>
    <button type="button" class="tab" data-view="charts" aria-pressed="false">Charts</button>
  </nav>
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
      <div id="counts" class="cards" aria-live="polite"></div>
      <p class="muted">Queues: <span id="queues"></span> · outbox pending: <span id="outbox"></span></p>
      <p id="load-error" class="error" role="alert"></p>
    </section>

    <section id="view-registrations" class="view">
      <form id="filters" class="filters">
        <input id="search" type="search" placeholder="request, client, software or organisation id" aria-label="search by id" maxlength="200" size="38">
        <label>status <select id="status-filter">
          <option value="" selected>all</option>
          <option value="failed">failed</option>
          <option value="rejected">rejected</option>
          <option value="registered">registered</option>
          <option value="received">received</option>
          <option value="verifying">verifying</option>
          <option value="checking_revocation">checking_revocation</option>
          <option value="provisioning">provisioning</option>
        </select></label>
        <label>updated <select id="range">
          <option value="" selected>any time</option>
          <option value="1h">last hour</option>
          <option value="6h">last 6 hours</option>
          <option value="24h">last 24 hours</option>
          <option value="7d">last 7 days</option>
          <option value="custom">between…</option>
        </select></label>
        <span id="custom-range" hidden>
          <input id="since" type="datetime-local" aria-label="updated since" step="1">
          <input id="until" type="datetime-local" aria-label="updated until" step="1">
        </span>
        <input id="error-filter" type="search" placeholder="error contains…" aria-label="error contains" maxlength="200">
        <button type="submit">Apply</button>
        <button id="clear-filters" type="button">Clear</button>
      </form>
      <div class="actions">
        <button id="bulk-replay" type="button" hidden>Replay all failed…</button>
        <span id="action-result" role="status"></span>
      </div>
      <table id="list">
        <thead><tr>
          <th data-sort="request_id">request</th><th data-sort="tpp">TPP / organisation</th><th data-sort="software_id">software</th>
          <th data-sort="client_id">client</th><th data-sort="status">status</th><th data-sort="stage">stage</th>
          <th data-sort="error">error</th><th data-sort="submitted_at">submitted</th><th data-sort="updated_at">updated</th><th></th>
        </tr></thead>
        <tbody></tbody>
      </table>
      <p id="list-empty" class="empty" hidden></p>
      <button id="more" type="button" hidden>Older…</button>
      <section id="detail" hidden>
        <h2>Timeline of <code id="detail-id"></code> <button id="detail-close" type="button">Close</button></h2>
        <dl id="detail-facts"></dl>
        <ol id="timeline"></ol>
      </section>
    </section>

    <section id="view-clients" class="view" hidden>
      <form id="client-filters" class="filters">
        <input id="client-search" type="search" placeholder="client, software or organisation id" aria-label="search clients by id" maxlength="200" size="34">
        <label>status <select id="client-status">
          <option value="" selected>all</option>
          <option value="active">active</option>
          <option value="deleted">deleted</option>
        </select></label>
        <button type="submit">Apply</button>
      </form>
      <table id="clients">
        <thead><tr>
          <th data-sort="client_id">client</th><th data-sort="client_name">name</th><th data-sort="tpp">TPP / organisation</th>
          <th data-sort="software_id">software</th><th data-sort="status">status</th><th data-sort="created_at">created</th>
          <th data-sort="updated_at">updated</th><th>registrations</th>
        </tr></thead>
        <tbody></tbody>
      </table>
      <p id="clients-empty" class="empty" hidden></p>
      <button id="clients-more" type="button" hidden>Older…</button>
    </section>

    <section id="view-charts" class="view" hidden>
      <p><label>window <select id="chart-window">
        <option value="1h" selected>last hour</option>
        <option value="6h">last 6 hours</option>
        <option value="24h">last 24 hours</option>
        <option value="7d">last 7 days</option>
      </select></label> <span id="chart-note" class="muted"></span></p>
      <div class="charts">
        <figure><figcaption>Registrations by outcome (per bucket)</figcaption><div id="chart-outcomes" class="chart"></div><p class="empty" hidden></p></figure>
        <figure><figcaption>Stage latency, queue wait included (ms, p50 solid, p99 dashed)</figcaption><div id="chart-latency" class="chart"></div><p class="empty" hidden></p></figure>
        <figure><figcaption>Queue depth (waiting + active + delayed jobs)</figcaption><div id="chart-queue" class="chart"></div><p class="empty" hidden></p></figure>
      </div>
    </section>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.5rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
nav { display: flex; gap: .3rem; }
nav .tab { background: transparent; color: #d6dbe6; border: 1px solid #3b4558; border-radius: 4px; padding: .25rem .7rem; }
nav .tab[aria-pressed="true"] { background: #f6f7f9; color: #1d2330; }
#logout { margin-left: auto; }
main { padding: 1rem 1.5rem; }
h2 { font-size: 1rem; }
.muted { color: #6b7385; }
header .muted { color: #b9c0cf; }
.error { color: #b3261e; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; }
.card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .5rem .8rem; min-width: 7rem; cursor: pointer; text-align: left; font: inherit; color: inherit; }
.card b { display: block; font-size: 1.4rem; }
.card.failed b { color: #b3261e; } .card.registered b { color: #1e7b34; } .card.rejected b { color: #8a5a00; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .8rem 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
th[data-sort] { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
td.id { font-family: ui-monospace, monospace; font-size: 12px; max-width: 16rem; overflow-wrap: anywhere; }
td.err { max-width: 26rem; overflow-wrap: anywhere; }
td.time { white-space: nowrap; }
tr.row { cursor: pointer; } tr.row:hover { background: #eef2fb; } tr.row.selected { background: #e3eafc; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 9px; font-size: 12px; background: #e6e9ef; white-space: nowrap; }
.badge.registered, .badge.active { background: #dff3e4; color: #1e7b34; }
.badge.failed { background: #fbe3e1; color: #b3261e; }
.badge.rejected { background: #fbefd9; color: #8a5a00; }
.badge.deleted { background: #ececec; color: #555; text-decoration: line-through; }
.empty { background: #fff; border: 1px dashed #c9ced8; padding: 1.2rem; text-align: center; color: #6b7385; margin: 0; }
.actions { margin: .5rem 0; display: flex; gap: 1rem; align-items: center; }
button { cursor: pointer; }
a { color: #2450b2; }
#detail { margin-top: 1rem; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .2rem 1rem 1rem; }
#timeline li { margin: .3rem 0; }
#timeline .event { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: #6b7385; } dd { margin: 0; overflow-wrap: anywhere; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1rem; }
figure { margin: 0; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
.chart { min-height: 40px; }
`;

export const DASHBOARD_JS = `'use strict';
(() => {
  const KEY = 'dcr-admin-token';
  const REFRESH_MS = 5000;
  const RANGES = { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };
  const $ = (id) => document.getElementById(id);
  const state = {
    view: 'registrations',
    rows: [], cursor: null, loadedPages: 1, sort: { key: 'submitted_at', dir: -1 },
    clients: [], clientCursor: null, clientSort: { key: 'created_at', dir: -1 },
    detailId: null, charts: [],
  };

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
  function link(text, onClick, cls) {
    const a = el('a', text, cls);
    a.href = '#';
    a.addEventListener('click', (ev) => { ev.preventDefault(); ev.stopPropagation(); onClick(); });
    return a;
  }
  function reportError(e) { if (e && e.message !== 'unauthorized') $('load-error').textContent = String(e.message || e); }

  // Human times: "12 s ago", "5 min ago", "3 h ago", then the local date; the exact time in the tooltip.
  function human(iso) {
    if (!iso) return '';
    const t = Date.parse(iso);
    const s = Math.round((Date.now() - t) / 1000);
    if (s < 0) return new Date(t).toLocaleString();
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
    return new Date(t).toLocaleString(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  }
  function timeCell(iso) {
    const td = el('td', human(iso), 'time');
    if (iso) { td.title = new Date(iso).toLocaleString() + ' (' + iso + ')'; td.dataset.at = iso; }
    return td;
  }
  function exact(iso) { return iso ? new Date(iso).toLocaleString() + ' · ' + human(iso) : ''; }
  function duration(ms) { return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s'; }

  // A registered request whose client was deleted since is not shown as registered.
  function shownStatus(r) { return r.status === 'registered' && r.client_status === 'deleted' ? 'client deleted' : r.status; }
  function statusBadge(text, cls) { const b = el('span', text, 'badge ' + cls); return b; }
  function errorText(r) { return r.last_error || r.error || ''; }
  function sortValue(r, key) {
    if (key === 'status') return shownStatus(r);
    if (key === 'error') return errorText(r);
    if (key === 'tpp') return (r.org_id || r.tpp || '');
    const v = r[key];
    return v === null || v === undefined ? '' : String(v);
  }
  function sorted(rows, sort) {
    return [...rows].sort((a, b) => sort.dir * sortValue(a, sort.key).localeCompare(sortValue(b, sort.key)));
  }
  function markSort(table, sort) {
    for (const th of table.tHead.querySelectorAll('th[data-sort]')) {
      if (th.dataset.sort === sort.key) th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }
  function sortable(table, sort, render) {
    table.tHead.addEventListener('click', (ev) => {
      const th = ev.target.closest('th[data-sort]');
      if (!th) return;
      if (sort.key === th.dataset.sort) sort.dir = -sort.dir;
      else { sort.key = th.dataset.sort; sort.dir = th.dataset.sort.endsWith('_at') ? -1 : 1; }
      render();
    });
  }

  function showLogin(message) {
    $('app').hidden = true; $('logout').hidden = true; $('tabs').hidden = true; $('login').hidden = false;
    $('login-error').textContent = message || '';
  }

  function setView(view) {
    state.view = view;
    for (const b of document.querySelectorAll('nav .tab')) b.setAttribute('aria-pressed', String(b.dataset.view === view));
    for (const v of ['registrations', 'clients', 'charts']) $('view-' + v).hidden = v !== view;
    return refreshView();
  }

  async function refreshSummary() {
    const s = await api('/admin/summary');
    const counts = $('counts');
    counts.replaceChildren();
    for (const [status, n] of Object.entries(s.counts)) {
      const card = el('button', undefined, 'card ' + status);
      card.type = 'button';
      card.dataset.status = status;
      card.title = 'show ' + status + ' registrations';
      card.append(el('b', n), el('span', status));
      card.addEventListener('click', () => {
        $('status-filter').value = status;
        setView('registrations').then(() => loadList(false)).catch(reportError);
      });
      counts.append(card);
    }
    $('queues').textContent = Object.entries(s.queues)
      .map(([stage, q]) => stage + ' ' + q.waiting + ' waiting / ' + q.active + ' active / ' + q.delayed + ' delayed').join(' · ');
    $('outbox').textContent = String(s.outbox_pending);
    $('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function listQuery() {
    const q = new URLSearchParams();
    const search = $('search').value.trim();
    if (search) q.set('q', search);
    const status = $('status-filter').value;
    if (status) q.set('status', status);
    const range = $('range').value;
    if (RANGES[range]) q.set('since', new Date(Date.now() - RANGES[range]).toISOString());
    if (range === 'custom') {
      if ($('since').value) q.set('since', new Date($('since').value).toISOString());
      if ($('until').value) q.set('until', new Date($('until').value).toISOString());
    }
    const error = $('error-filter').value.trim();
    if (error) q.set('error', error);
    return q;
  }
  function filtersActive() {
    return Boolean($('search').value.trim() || $('status-filter').value || $('range').value || $('error-filter').value.trim());
  }

  // append: the next page; otherwise the first pages again (a refresh keeps what "Older…" loaded).
  async function loadList(append) {
    const q = listQuery();
    if (append) {
      if (state.cursor) q.set('before', state.cursor);
      q.set('limit', '50');
    } else {
      q.set('limit', String(Math.min(500, 50 * state.loadedPages)));
    }
    const page = await api('/admin/registrations?' + q);
    if (append) { state.rows = state.rows.concat(page.registrations); state.loadedPages++; }
    else state.rows = page.registrations;
    state.cursor = page.next_before;
    renderList();
  }

  function renderList() {
    const tbody = $('list').tBodies[0];
    tbody.replaceChildren();
    markSort($('list'), state.sort);
    for (const r of sorted(state.rows, state.sort)) {
      const tr = el('tr', undefined, 'row' + (r.request_id === state.detailId ? ' selected' : ''));
      tr.dataset.id = r.request_id;
      tr.dataset.status = r.status;
      const who = el('td', undefined, 'id');
      who.append(el('div', r.org_id || r.tpp));
      if (r.org_id && r.tpp !== r.org_id) who.append(el('div', r.tpp, 'muted'));
      const client = el('td', undefined, 'id client');
      if (r.client_id) client.append(link(r.client_id, () => showClient(r.client_id)));
      const status = el('td', undefined, 'status');
      const shown = shownStatus(r);
      const badge = statusBadge(shown, shown === 'client deleted' ? 'deleted' : r.status);
      if (shown === 'client deleted') badge.title = 'registered, and the client was deleted since (RFC 7592)';
      status.append(badge);
      tr.append(el('td', r.request_id, 'id'), who, el('td', r.software_id || '', 'id'), client, status,
        el('td', r.stage || '', 'stage'), el('td', errorText(r), 'err'), timeCell(r.submitted_at), timeCell(r.updated_at));
      const cell = el('td');
      if (r.status === 'failed' || r.status === 'rejected') {
        const b = el('button', r.status === 'failed' ? 'Replay' : 'Force replay', 'replay');
        b.type = 'button';
        b.addEventListener('click', (ev) => { ev.stopPropagation(); replayOne(r, b).catch(reportError); });
        cell.append(b);
      }
      tr.append(cell);
      tr.addEventListener('click', () => showDetail(r.request_id).catch(reportError));
      tbody.append(tr);
    }
    const empty = $('list-empty');
    empty.hidden = state.rows.length > 0;
    const status = $('status-filter').value;
    empty.textContent = filtersActive()
      ? 'No ' + (status ? status + ' ' : '') + 'registrations match these filters.' + (status === 'failed' ? ' Nothing to replay.' : '')
      : 'No registrations yet. They appear here as TPPs submit them.';
    $('more').hidden = !state.cursor;
    $('bulk-replay').hidden = status !== 'failed' || state.rows.length === 0;
  }

  async function replayOne(r, button) {
    if (r.status === 'rejected' && !confirm('This request was rejected (the TPP\\'s fault). Verify it again?')) return;
    button.disabled = true;
    const out = await api('/admin/registrations/' + encodeURIComponent(r.request_id) + '/replay' + (r.status === 'rejected' ? '?force=true' : ''), { method: 'POST' });
    $('action-result').textContent = out.replayed
      ? 'Replayed ' + r.request_id + ' from ' + out.stage + '.'
      : 'Not replayed ' + r.request_id + ': ' + out.reason;
    await Promise.all([refreshSummary(), loadList(false), showDetail(r.request_id)]);
  }

  async function showDetail(id) {
    const r = await api('/admin/registrations/' + encodeURIComponent(id));
    state.detailId = id;
    for (const tr of $('list').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.id === id);
    $('detail').hidden = false;
    $('detail-id').textContent = r.request_id;
    const facts = $('detail-facts');
    facts.replaceChildren();
    const attempts = Object.entries(r.attempts).map(([stage, n]) => stage + ' ' + n + (n === 1 ? ' attempt' : ' attempts')).join(' · ');
    const rows = [['status', shownStatus(r) + (r.stage ? ' (stage ' + r.stage + ')' : '')], ['kind', r.kind], ['client', r.client_id],
      ['client status', r.client_status], ['software', r.software_id], ['organisation', r.org_id], ['TPP', r.tpp],
      ['certificate', r.certificate.subject_dn], ['generation', r.generation], ['attempts', attempts],
      ['last error', r.last_error], ['rejection', r.error ? r.error + ': ' + (r.error_description || '') : null],
      ['submitted', exact(r.submitted_at)], ['updated', exact(r.updated_at)]];
    for (const [k, v] of rows) {
      if (v === null || v === undefined || v === '') continue;
      const dd = el('dd', v);
      if (k === 'client') { dd.replaceChildren(link(v, () => showClient(v))); }
      facts.append(el('dt', k), dd);
    }
    const list = $('timeline');
    list.replaceChildren();
    let previous = null;
    for (const h of r.history) {
      const li = el('li');
      const at = el('span', new Date(h.at).toLocaleString() + ' ', 'muted');
      at.title = h.at;
      li.append(at, el('span', h.event, 'event'));
      const parts = [];
      if (h.stage) parts.push('stage ' + h.stage);
      if (h.from || h.to) parts.push((h.from ? h.from + ' ' : '') + '→ ' + (h.to || '?'));
      if (h.attempt !== undefined) parts.push('attempt ' + h.attempt);
      if (h.actor) parts.push('by ' + h.actor);
      if (previous !== null) parts.push('+' + duration(Date.parse(h.at) - previous));
      previous = Date.parse(h.at);
      li.append(el('span', ' ' + parts.join(', ')));
      if (h.error) li.append(el('div', h.error, 'error'));
      if (h.detail) li.append(el('div', h.detail, 'muted'));
      list.append(li);
    }
  }

  function showClient(clientId) {
    $('client-search').value = clientId;
    $('client-status').value = '';
    return setView('clients').catch(reportError);
  }
  function showRegistrationsOf(clientId) {
    $('search').value = clientId;
    $('status-filter').value = '';
    $('range').value = '';
    $('error-filter').value = '';
    $('custom-range').hidden = true;
    state.loadedPages = 1;
    return setView('registrations').catch(reportError);
  }

  async function loadClients(append) {
    const q = new URLSearchParams({ limit: '50' });
    const search = $('client-search').value.trim();
    if (search) q.set('q', search);
    if ($('client-status').value) q.set('status', $('client-status').value);
    if (append && state.clientCursor) q.set('before', state.clientCursor);
    const page = await api('/admin/clients?' + q);
    state.clients = append ? state.clients.concat(page.clients) : page.clients;
    state.clientCursor = page.next_before;
    renderClients();
  }

  function renderClients() {
    const tbody = $('clients').tBodies[0];
    tbody.replaceChildren();
    markSort($('clients'), state.clientSort);
    for (const c of sorted(state.clients, state.clientSort)) {
      const tr = el('tr', undefined, 'client-row');
      tr.dataset.id = c.client_id;
      tr.dataset.status = c.status;
      const who = el('td', undefined, 'id');
      who.append(el('div', c.org_id));
      if (c.tpp !== c.org_id) who.append(el('div', c.tpp, 'muted'));
      const status = el('td', undefined, 'status');
      status.append(statusBadge(c.status, c.status));
      const regs = el('td', undefined, 'links');
      regs.append(link('all requests', () => showRegistrationsOf(c.client_id), 'all-requests'), el('span', ' · '),
        link('created by ' + c.request_id.slice(0, 8) + '…', () => showRegistrationsOf(c.request_id).then(() => showDetail(c.request_id)), 'created-by'));
      tr.append(el('td', c.client_id, 'id'), el('td', c.client_name || ''), who, el('td', c.software_id, 'id'), status,
        timeCell(c.created_at), timeCell(c.updated_at), regs);
      tbody.append(tr);
    }
    const empty = $('clients-empty');
    empty.hidden = state.clients.length > 0;
    empty.textContent = $('client-search').value.trim() || $('client-status').value
      ? 'No clients match these filters.'
      : 'No clients yet. A client appears here once a registration is provisioned.';
    $('clients-more').hidden = !state.clientCursor;
  }

  const COLORS = { registered: '#1e7b34', rejected: '#c08400', failed: '#b3261e', verify: '#2450b2', revocation: '#7b3fb5', provision: '#0f8a8a' };
  function chart(id, series, data, yLabel, emptyText, hasData) {
    const box = $(id);
    const note = box.nextElementSibling;
    box.replaceChildren();
    note.hidden = hasData;
    note.textContent = emptyText;
    if (!hasData || typeof uPlot !== 'function') {
      if (typeof uPlot !== 'function') { note.hidden = false; note.textContent = 'The charting library did not load.'; }
      return;
    }
    const width = Math.max(480, box.clientWidth || 560);
    const opts = {
      width, height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 60 }],
      series: [{}].concat(series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false, points: { show: true, size: 5 } }))),
    };
    state.charts.push(new uPlot(opts, data, box));
  }

  async function loadCharts() {
    const s = await api('/admin/stats?window=' + encodeURIComponent($('chart-window').value));
    for (const c of state.charts) c.destroy();
    state.charts = [];
    $('chart-note').textContent = s.registrations_read + ' registrations read' + (s.truncated ? ' (the newest only: the window holds more)' : '') +
      '; buckets of ' + (s.bucket_seconds >= 3600 ? s.bucket_seconds / 3600 + ' h' : s.bucket_seconds / 60 + ' min');
    const outcomes = ['registered', 'rejected', 'failed'];
    const anyOutcome = outcomes.some((o) => s.outcomes[o].some((n) => n > 0));
    chart('chart-outcomes', outcomes.map((o) => ({ label: o, color: COLORS[o] })), [s.time].concat(outcomes.map((o) => s.outcomes[o])),
      'registrations', 'No registration settled in this window.', anyOutcome);
    const stages = Object.keys(s.latency_ms);
    const latencySeries = [];
    const latencyData = [s.time];
    for (const st of stages) {
      latencySeries.push({ label: st + ' p50', color: COLORS[st] }, { label: st + ' p99', color: COLORS[st], dash: [6, 4] });
      latencyData.push(s.latency_ms[st].p50, s.latency_ms[st].p99);
    }
    const anyLatency = latencyData.slice(1).some((series) => series.some((v) => v !== null));
    chart('chart-latency', latencySeries, latencyData, 'ms', 'No stage ran in this window.', anyLatency);
    const qStages = Object.keys(s.queue.depth);
    chart('chart-queue', qStages.map((st) => ({ label: st, color: COLORS[st] })), [s.queue.time].concat(qStages.map((st) => s.queue.depth[st])),
      'jobs', 'No queue sample yet.', s.queue.time.length > 0);
  }

  async function refreshView() {
    if (state.view === 'registrations') {
      await loadList(false);
      if (state.detailId) await showDetail(state.detailId);
    } else if (state.view === 'clients') await loadClients(false);
    else await loadCharts();
  }

  async function bulkReplay() {
    const out = $('action-result');
    const dry = await api('/admin/replay', { method: 'POST', body: JSON.stringify({ status: 'failed', dryRun: true }) });
    if (dry.replayed === 0) { out.textContent = 'Nothing to replay.'; return; }
    if (!confirm('Replay ' + dry.replayed + ' failed registration(s)?')) return;
    out.textContent = 'Replaying…';
    const res = await api('/admin/replay', { method: 'POST', body: JSON.stringify({ status: 'failed' }) });
    out.textContent = 'Matched ' + res.matched + ', replayed ' + res.replayed + ', skipped ' + res.skipped + '.';
    await Promise.all([refreshSummary(), loadList(false)]);
  }

  let started = false;
  async function start() {
    if (!sessionStorage.getItem(KEY)) return showLogin();
    $('login').hidden = true; $('app').hidden = false; $('logout').hidden = false; $('tabs').hidden = false;
    started = true;
    try { await Promise.all([refreshSummary(), refreshView()]); $('load-error').textContent = ''; } catch (e) { reportError(e); }
  }

  async function tick() {
    if ($('app').hidden || !started) return;
    try { await Promise.all([refreshSummary(), refreshView()]); $('load-error').textContent = ''; } catch (e) { reportError(e); }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $('token').value.trim());
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(); });
    for (const b of document.querySelectorAll('nav .tab')) b.addEventListener('click', () => setView(b.dataset.view).catch(reportError));
    $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); state.loadedPages = 1; loadList(false).catch(reportError); });
    $('status-filter').addEventListener('change', () => { state.loadedPages = 1; loadList(false).catch(reportError); });
    $('range').addEventListener('change', () => {
      $('custom-range').hidden = $('range').value !== 'custom';
      state.loadedPages = 1;
      loadList(false).catch(reportError);
    });
    $('clear-filters').addEventListener('click', () => {
      $('search').value = ''; $('status-filter').value = ''; $('range').value = ''; $('error-filter').value = '';
      $('custom-range').hidden = true; state.loadedPages = 1;
      loadList(false).catch(reportError);
    });
    $('detail-close').addEventListener('click', () => {
      state.detailId = null; $('detail').hidden = true;
      for (const tr of $('list').tBodies[0].rows) tr.classList.remove('selected');
    });
    $('more').addEventListener('click', () => loadList(true).catch(reportError));
    $('bulk-replay').addEventListener('click', () => bulkReplay().catch((e) => { $('action-result').textContent = e.message; }));
    $('client-filters').addEventListener('submit', (ev) => { ev.preventDefault(); loadClients(false).catch(reportError); });
    $('client-status').addEventListener('change', () => loadClients(false).catch(reportError));
    $('clients-more').addEventListener('click', () => loadClients(true).catch(reportError));
    $('chart-window').addEventListener('change', () => loadCharts().catch(reportError));
    sortable($('list'), state.sort, renderList);
    sortable($('clients'), state.clientSort, renderClients);
    setInterval(() => { void tick(); }, REFRESH_MS);
    start();
  });
})();
`;
