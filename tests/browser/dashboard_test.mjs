// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser is downloaded). Started by
// src/server/dashboard_test.py with a server under load:
//
//   node20 dashboard_test.mjs URL API_KEY ARTIFACT_DIR
//
// Checks: the page asks for the key and says when it is wrong; with the
// key, each model's tiles and their states equal /metrics.json's instance
// counts, the queue shown equals its queue_length and the process model's
// tiles carry its worker pids (polled until page and server agree: the page
// may lag by up to a second); a 504 provoked here appears in the recent
// errors; at 390 px wide nothing overflows; screenshots go to ARTIFACT_DIR;
// a killed worker's seats come back with the new pid; the page logs no
// console error and throws nothing.
import { chromium } from 'playwright-core';
import path from 'node:path';

const [url, key, artifacts] = process.argv.slice(2);
const failures = [];
const check = (cond, what) => {
  if (!cond) {
    failures.push(what);
    console.log('FAIL:', what);
  }
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function metrics() {
  const r = await fetch(url + '/metrics.json');
  if (!r.ok) throw new Error('GET /metrics.json: ' + r.status);
  return r.json();
}

// What the server says of each model, in the page's terms.
function serverView(doc) {
  const out = {};
  for (const [name, m] of Object.entries(doc.models)) {
    const i = m.instances;
    out[name] = {
      total: i.creating + i.idle + i.busy + i.checking + i.broken,
      states: {creating: i.creating, idle: i.idle, busy: i.busy, checking: i.checking, broken: i.broken},
      queue: m.queue_length,
      pids: m.workers ? [...m.workers.pids].sort((a, b) => a - b) : null,
    };
  }
  return out;
}

// What the page shows of each model, read from its tiles and figures.
function pageView(page) {
  return page.evaluate(() => {
    const out = {};
    for (const card of document.querySelectorAll('section.model')) {
      const tiles = [...card.querySelectorAll('.tile')];
      const states = {creating: 0, idle: 0, busy: 0, checking: 0, broken: 0};
      for (const t of tiles) {
        const s = t.dataset.state;
        states[s === 'warming' || s === 'restarting' ? 'creating' : s] += 1;
      }
      const pids = tiles.map((t) => /^pid (\d+)$/.exec(t.querySelector('.label').textContent))
                        .filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
      out[card.dataset.model] = {
        total: tiles.length,
        states,
        queue: Number(card.querySelector('[data-queue]').textContent),
        pids: pids.length ? pids : null,
      };
    }
    return out;
  });
}

// Polls until the page shows what /metrics.json says, read just before and
// just after the page (both reads equal, so the state held still), and
// `also` holds of it. Returns the agreed view, or null after `timeoutMs`.
async function agreement(page, also, timeoutMs) {
  const until = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < until) {
    const before = serverView(await metrics());
    const shown = await pageView(page);
    const after = serverView(await metrics());
    const same = JSON.stringify(before) === JSON.stringify(after) && JSON.stringify(shown) === JSON.stringify(after);
    if (same && also(after)) return after;
    last = {server: after, page: shown};
    await sleep(200);
  }
  console.log('no agreement; last seen:', JSON.stringify(last));
  return null;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({viewport: {width: 1280, height: 900}});
  page.setDefaultTimeout(30000);
  let keyAccepted = false;
  const consoleErrors = [];
  let refusals = 0;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx answer to a fetch. The only one expected is
    // /dashboard.json's 401 while the key is missing or wrong.
    const refused = /status of 401/.test(m.text()) && m.location().url.endsWith('/dashboard.json');
    if (refused && !keyAccepted) {
      refusals++;
      return;
    }
    consoleErrors.push(m.text() + ' at ' + JSON.stringify(m.location()));
  });
  page.on('pageerror', (e) => consoleErrors.push('uncaught: ' + e.message));

  try {
    // The key flow.
    await page.goto(url + '/');
    check(page.url() === url + '/dashboard', 'GET / leads to /dashboard, got ' + page.url());
    await page.waitForSelector('#key-form:not([hidden])');
    check(await page.locator('section.model').count() === 0, 'no data is shown without the key');
    await page.fill('#api-key', 'not-the-key');
    await page.click('#key-submit');
    await page.waitForFunction(() => document.querySelector('#key-message').textContent === 'wrong API key');
    check(await page.locator('section.model').count() === 0, 'no data is shown with a wrong key');
    await page.fill('#api-key', key);
    await page.click('#key-submit');
    await page.waitForSelector('section.model[data-model="slow"] .tile');
    await page.waitForSelector('section.model[data-model="isolated"] .tile');
    keyAccepted = true;
    check(await page.locator('#key-form').isHidden(), 'the key form goes once the key is accepted');
    check(refusals >= 1 && refusals <= 2, 'the refused key was asked once or twice, got ' + refusals);

    // Tiles, states, queue and pids as the server reports them, under load.
    const loaded = (v) => v.slow && v.isolated && v.slow.states.busy === 3 && v.slow.queue >= 1 &&
                          v.slow.total === 3 && v.isolated.total === 2 && v.isolated.pids && v.isolated.pids.length === 2;
    const agreed = await agreement(page, loaded, 60000);
    check(agreed !== null, 'the page shows the instances, states, queue and pids /metrics.json reports');
    if (agreed) {
      console.log('agreed:', JSON.stringify(agreed));
      const labels = await page.locator('section.model[data-model="isolated"] .tile .label').allTextContents();
      check(labels.every((l) => /^pid \d+$/.test(l)), 'every process-mode tile names its pid: ' + labels);
      const busyTiles = await page.locator('section.model[data-model="slow"] .tile[data-state="busy"]').count();
      check(busyTiles === 3, 'the busy tiles are drawn as busy: ' + busyTiles);
    }
    // Rates need two polls a second or more apart.
    await page.waitForFunction(() => Number(document.querySelector(
                                   'section.model[data-model="isolated"] [data-figure="rps"]').textContent) > 0,
                               null, {timeout: 10000})
        .catch(() => check(false, 'requests/s is shown under load'));

    // A request that times out in the queue shows in the recent errors.
    const r = await fetch(url + '/v2/models/slow/infer', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + key},
      body: JSON.stringify({inputs: [{name: 'x', datatype: 'INT32', shape: [1], data: [1]}],
                            parameters: {timeout_ms: 50}}),
    });
    check(r.status === 504, 'a 50 ms deadline behind a busy pool is a 504, got ' + r.status);
    await page.waitForFunction(() => [...document.querySelectorAll('section.model[data-model="slow"] .errors li')]
                                       .some((li) => li.dataset.code === '504' && /deadline/.test(li.textContent)),
                               null, {timeout: 10000})
        .catch(() => check(false, 'the 504 appears in the recent errors'));

    // A worker killed: its seats are replaced by a new worker, whose pid the
    // tiles show as soon as /metrics.json does.
    const before = agreed ? agreed.isolated.pids : [];
    let sawRestarting = false;
    const watch = setInterval(() => {
      page.locator('section.model[data-model="isolated"] .tile[data-state="restarting"]').count()
          .then((n) => { sawRestarting ||= n > 0; }, () => {});
    }, 100);
    if (before.length) process.kill(before[0], 'SIGKILL');
    const replaced = await agreement(page, (v) => v.isolated && v.isolated.pids && v.isolated.pids.length === 2 &&
                                                  !v.isolated.pids.includes(before[0]) && v.isolated.total === 2,
                                     60000);
    clearInterval(watch);
    check(replaced !== null, 'after a worker is killed the tiles show the new worker pids /metrics.json reports');
    console.log('after the kill:', JSON.stringify(replaced && replaced.isolated), sawRestarting ? '(a tile was seen restarting)' : '');

    await sleep(3000);  // a few seconds of sparklines for the screenshot
    await page.screenshot({path: path.join(artifacts, 'dashboard.png'), fullPage: true});

    // A phone: nothing wider than the screen.
    await page.setViewportSize({width: 390, height: 844});
    await sleep(1200);  // two polls at the new width
    const overflow = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')]
                       .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
                       .map((e) => e.tagName.toLowerCase() + '.' + e.className);
      return {width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 5)};
    });
    check(overflow.width === 390 && overflow.scroll <= overflow.width && overflow.wide.length === 0,
          'no horizontal overflow at 390 px: ' + JSON.stringify(overflow));
    await page.screenshot({path: path.join(artifacts, 'dashboard-phone.png'), fullPage: true});
  } catch (e) {
    check(false, 'the browser test threw: ' + e.stack);
    await page.screenshot({path: path.join(artifacts, 'dashboard-failed.png'), fullPage: true}).catch(() => {});
  } finally {
    await browser.close();
  }
  check(consoleErrors.length === 0, 'console errors: ' + JSON.stringify(consoleErrors));
  if (failures.length) {
    console.log(`${failures.length} failure(s)`);
    process.exit(1);
  }
  console.log('browser: ok');
}

await main();
