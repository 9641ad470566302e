// The modelpool dashboard: polls GET /dashboard.json twice a second and draws
// each model's instances, queue, rates, latency, memory and recent errors.
// Plain JS, no library; charts are drawn on canvases by this file. Embedded
// in the server binary at build time (src/server/dashboard/, CMake).
'use strict';

const POLL_MS = 500;        // the page lags the server by at most this plus one request
const HISTORY = 120;        // points kept per sparkline (one a poll: a minute)
const RATE_WINDOW_MS = 2000; // rates are differences over about this long
const STATES = ['creating', 'warming', 'restarting', 'idle', 'busy', 'checking', 'broken'];
const KEY_STORE = 'modelpool.apiKey';

const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem(KEY_STORE) || '';
let waitingForKey = false; // polling stops on a 401 until a key is typed
const models = new Map();   // name -> {el, samples: [...], series: {...}}

// ---- formatting

function bytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : String(n)) + ' ' + units[i];
}
function rate(v) { return v == null ? '–' : v < 10 ? v.toFixed(1) : Math.round(v).toString(); }
function millis(s) { return s == null ? '–' : s < 0.01 ? (s * 1000).toFixed(2) + ' ms' : s < 10 ? (s * 1000).toFixed(0) + ' ms' : s.toFixed(1) + ' s'; }
function clock(ms) { return new Date(ms).toLocaleTimeString(); }

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// ---- one model's card

function figure(name, key) {
  const f = el('div', 'figure');
  f.append(el('div', 'name', name));
  const v = el('div', 'value', '–');
  v.dataset.figure = key;
  f.append(v);
  return [f, v];
}

function chart(name) {
  const c = el('div', 'chart');
  const head = el('div', 'name');
  head.append(el('span', null, name));
  const now = el('span', null, '');
  head.append(now);
  const canvas = el('canvas');
  c.append(head, canvas);
  return {root: c, canvas, now};
}

function createCard(name) {
  const card = el('section', 'model');
  card.dataset.model = name;
  const h2 = el('h2');
  h2.append(el('span', null, name));
  const badge = el('span', 'badge', 'ready');
  h2.append(badge);
  const reason = el('p', 'unready-reason');
  reason.hidden = true;
  const figures = el('div', 'figures');
  const refs = {card, badge, reason, figures: {}};
  for (const [label, key] of [['queue', 'queue'], ['requests/s', 'rps'], ['latency (mean)', 'latency'],
                              ['tokens/s', 'tps'], ['instances', 'live']]) {
    const [f, v] = figure(label, key);
    if (key === 'tps') { f.hidden = true; refs.tpsFigure = f; }
    if (key === 'queue') v.dataset.queue = '';
    figures.append(f);
    refs.figures[key] = v;
  }
  refs.tiles = el('div', 'tiles');
  refs.counts = el('div', 'counts');
  const charts = el('div', 'charts');
  refs.charts = {rps: chart('requests/s'), latency: chart('latency'), tps: chart('tokens/s')};
  refs.charts.tps.root.hidden = true;
  for (const c of Object.values(refs.charts)) charts.append(c.root);
  refs.memory = el('div', 'memory');
  refs.errors = el('details', 'errors');
  refs.errors.open = true;
  refs.errorsSummary = el('summary', null, 'recent errors: none');
  refs.errorList = el('ul');
  refs.errors.append(refs.errorsSummary, refs.errorList);
  card.append(h2, reason, figures, refs.tiles, refs.counts, charts, refs.memory, refs.errors);
  return {refs, samples: [], series: {rps: [], latency: [], tps: []}};
}

function updateTiles(refs, list) {
  const byId = new Map([...refs.tiles.children].map((t) => [t.dataset.id, t]));
  const keep = new Set();
  list.forEach((inst, i) => {
    const id = String(inst.id);
    keep.add(id);
    let tile = byId.get(id);
    if (!tile) {
      tile = el('div', 'tile');
      tile.dataset.id = id;
      tile.append(el('div', 'id', '#' + id), el('div', 'state'), el('div', 'label'));
    }
    if (tile.dataset.state !== inst.state) {
      tile.dataset.state = inst.state;
      tile.querySelector('.state').textContent = inst.state;
    }
    const label = inst.label || '';
    if (tile.querySelector('.label').textContent !== label) tile.querySelector('.label').textContent = label;
    if (refs.tiles.children[i] !== tile) refs.tiles.insertBefore(tile, refs.tiles.children[i] || null);
  });
  for (const [id, tile] of byId) if (!keep.has(id)) tile.remove();
}

function updateErrors(refs, errors) {
  const last = errors.length ? errors[errors.length - 1] : null;
  const key = errors.length + ':' + (last ? last.time_ms + last.message : '');
  if (refs.errorsKey === key) return;
  refs.errorsKey = key;
  refs.errorsSummary.textContent = errors.length ? `recent errors: ${errors.length}, last ${last.code} at ${clock(last.time_ms)}`
                                                 : 'recent errors: none';
  refs.errorList.replaceChildren(...errors.slice().reverse().map((e) => {
    const li = el('li');
    li.dataset.code = e.code;
    const t = el('time', null, clock(e.time_ms));
    t.dateTime = new Date(e.time_ms).toISOString();
    li.append(t, el('span', 'code', String(e.code)), el('span', 'message', e.message));
    return li;
  }));
}

// Totals the rates are differences of.
function sampleOf(timeMs, m) {
  const d = m.histograms.request_duration_seconds;
  return {t: timeMs, requests: m.requests.reduce((a, r) => a + r.count, 0), tokens: m.tokens_generated,
          count: d.count, sum: d.sum};
}

function rates(samples) {
  const cur = samples[samples.length - 1];
  let prev = null;
  for (let i = samples.length - 2; i >= 0; i--) {
    prev = samples[i];
    if (cur.t - prev.t >= RATE_WINDOW_MS) break;
  }
  if (!prev || cur.t <= prev.t) return null;
  const dt = (cur.t - prev.t) / 1000;
  const n = cur.count - prev.count;
  return {rps: (cur.requests - prev.requests) / dt, tps: (cur.tokens - prev.tokens) / dt,
          latency: n > 0 ? (cur.sum - prev.sum) / n : null};
}

function push(series, v) {
  series.push(v);
  if (series.length > HISTORY) series.shift();
}

function drawSparkline(canvas, series, color) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.floor(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.floor(canvas.clientHeight * ratio));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#e3e6eb';
  g.lineWidth = ratio;
  g.beginPath(); g.moveTo(0, h - ratio / 2); g.lineTo(w, h - ratio / 2); g.stroke();
  const max = Math.max(1e-9, ...series.filter((v) => v != null));
  const step = w / (HISTORY - 1);
  const x0 = w - (series.length - 1) * step;
  g.strokeStyle = color;
  g.lineWidth = 1.5 * ratio;
  g.beginPath();
  let pen = false;
  series.forEach((v, i) => {
    if (v == null) { pen = false; return; }
    const x = x0 + i * step, y = h - 2 * ratio - (v / max) * (h - 4 * ratio);
    if (pen) g.lineTo(x, y); else g.moveTo(x, y);
    pen = true;
  });
  g.stroke();
}

function updateCard(entry, name, m, doc) {
  const {refs, samples, series} = entry;
  refs.badge.textContent = m.ready ? 'ready' : 'unready';
  refs.badge.classList.toggle('unready', !m.ready);
  refs.reason.hidden = m.ready;
  refs.reason.textContent = m.unready_reason || '';
  refs.figures.queue.textContent = String(m.queue_length);
  const list = m.instance_list || [];
  const live = list.filter((i) => i.state === 'idle' || i.state === 'busy' || i.state === 'checking').length;
  refs.figures.live.textContent = String(live);
  updateTiles(refs, list);
  const counts = STATES.map((s) => [s, list.filter((i) => i.state === s).length]).filter(([, n]) => n > 0);
  refs.counts.textContent = counts.map(([s, n]) => `${n} ${s}`).join(' · ') || 'no instances';
  for (const s of STATES) refs.counts.dataset[s] = String(list.filter((i) => i.state === s).length);

  samples.push(sampleOf(doc.time_ms, m));
  while (samples.length > 2 && samples[samples.length - 1].t - samples[1].t >= RATE_WINDOW_MS) samples.shift();
  const r = rates(samples);
  const isText = m.kv_cache != null || m.tokens_generated > 0;
  refs.tpsFigure.hidden = !isText;
  refs.charts.tps.root.hidden = !isText;
  push(series.rps, r ? r.rps : null);
  push(series.latency, r ? r.latency : null);
  push(series.tps, r ? r.tps : null);
  refs.figures.rps.textContent = r ? rate(r.rps) : '–';
  refs.figures.latency.textContent = r && r.latency != null ? millis(r.latency) : '–';
  refs.figures.tps.textContent = r ? rate(r.tps) : '–';
  refs.charts.rps.now.textContent = r ? rate(r.rps) : '';
  refs.charts.latency.now.textContent = r && r.latency != null ? millis(r.latency) : '';
  refs.charts.tps.now.textContent = r ? rate(r.tps) : '';
  drawSparkline(refs.charts.rps.canvas, series.rps, '#2f80ed');
  drawSparkline(refs.charts.latency.canvas, series.latency, '#f2994a');
  if (isText) drawSparkline(refs.charts.tps.canvas, series.tps, '#27ae60');

  const parts = [`weights ${bytes(m.memory.weights_bytes)} (once)`,
                 `instances ${live} × ${bytes(m.memory.instance_bytes)} = ${bytes(live * m.memory.instance_bytes)}`];
  if (m.kv_cache) parts.push(`KV cache ${m.kv_cache.used_cells} / ${m.kv_cache.cells} cells`);
  if (m.workers) {
    parts.push(`workers ${m.workers.pids.length} (pids ${m.workers.pids.join(', ') || 'none'}), ` +
               `PSS ${bytes(m.workers.pss_bytes)}, restarts ${m.workers.restarts}`);
  }
  refs.memory.textContent = parts.join(' · ');
  refs.memory.dataset.workerPids = m.workers ? m.workers.pids.join(',') : '';
  updateErrors(refs, m.recent_errors || []);
}

function render(doc) {
  const main = $('models');
  const names = Object.keys(doc.models);
  for (const [name, entry] of models) {
    if (!(name in doc.models)) { entry.refs.card.remove(); models.delete(name); }
  }
  names.forEach((name, i) => {
    let entry = models.get(name);
    if (!entry) { entry = createCard(name); models.set(name, entry); }
    updateCard(entry, name, doc.models[name], doc);
    if (main.children[i] !== entry.refs.card) main.insertBefore(entry.refs.card, main.children[i] || null);
  });
  let empty = main.querySelector('.empty');
  if (!names.length && !empty) main.append(el('p', 'empty', 'no model is loaded'));
  if (names.length && empty) empty.remove();
  const process = $('process');
  process.hidden = false;
  process.textContent = `server process PSS ${bytes(doc.process.pss_bytes)} · weights loaded ${doc.registry.loads}, ` +
                        `shared ${doc.registry.hits}`;
}

// ---- polling and the API key

function setStatus(text, bad) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('bad', !!bad);
}

function askForKey(message) {
  const form = $('key-form');
  form.hidden = false;
  $('key-message').textContent = message;
  if (document.activeElement !== $('api-key')) $('api-key').focus();
}

async function poll() {
  try {
    const headers = apiKey ? {Authorization: 'Bearer ' + apiKey} : {};
    const response = await fetch('/dashboard.json', {headers, cache: 'no-store'});
    if (response.status === 401) {
      waitingForKey = true;
      setStatus('needs the API key', true);
      askForKey(apiKey ? 'wrong API key' : '');
      return;
    }
    if (!response.ok) {
      setStatus(`the server answered ${response.status}`, true);
      return;
    }
    const doc = await response.json();
    $('key-form').hidden = true;
    render(doc);
    setStatus('updated ' + clock(doc.time_ms));
  } catch (e) {
    setStatus('cannot reach the server (' + e.message + ')', true);
  } finally {
    if (!waitingForKey) setTimeout(poll, POLL_MS);
  }
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  apiKey = $('api-key').value.trim();
  sessionStorage.setItem(KEY_STORE, apiKey);
  $('key-message').textContent = 'checking…';
  if (waitingForKey) {
    waitingForKey = false;
    poll();
  }
});

poll();
