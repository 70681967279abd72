// wall.test.mjs: the map wall in a real browser (node --test). Loads the demo
// into a temporary SpatiaLite file with the real `situ` CLI, starts a real
// situd on a free 127.0.0.1 port (as tests/http/situd.py does), and drives
// Debian's chromium with playwright-core. Checks: the page loads with no
// console error and no request leaving 127.0.0.1; townships and each of the
// four maps are rendered from the vector tiles; an alert POSTed to a feed is
// rendered, and in the ticker (within 10 s, a liveness bound: the time it
// takes is a figure, measured by scripts/bench/wall_alert.mjs); a click on the map lists the nearest supplies; the wall
// (?wall=1) and English (?lang=en) render; the /web/ route validates paths
// and revalidates with ETags. The roads (issue 15): class-styled roads render
// in the city with their legend and toggle; the click by road lists travel
// times as situd answers them and draws the routes; the reach toggle draws
// the 10/20/30-minute areas; a closure POSTed to the transport feed shows on
// the map and changes the answer by road live, and its end undoes both. Screenshots and figures (time to first rendered
// map, page bytes) go to $SITU_SHOTS. A route that still answers 503 fails
// its test with a message naming it: nothing is faked.
//
// Environment (set by CTest): SITU_BIN, SITUD_BIN, SITU_GEODATA, SITU_SHOTS,
// SITU_WEB_NODE_MODULES; CHROMIUM (default /usr/bin/chromium). To test a
// situd that is already running instead: SITU_WEB_BASE=http://127.0.0.1:PORT
// and SITU_FEED_TOKEN=<a meteorology token>.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium } from './situd.mjs';

const ENV = process.env;

const VIEWPORT = { width: 1600, height: 900 };
const BROWSER_ZONE = 'America/New_York';
const IDLE_TIMEOUT_MS = 120000;
// Layers of each map whose rendered features count, as app.js names them.
const MAP_LAYERS = {
  townships: ['townships-fill'],
  risk_zones: ['risk_zones-fill', 'risk_zones-point', 'risk_zones-cluster'],
  hazards: ['hazards-point', 'hazards-cluster'],
  hazard_sources: ['hazard_sources-point', 'hazard_sources-cluster'],
  resources: ['resources-team', 'resources-depot', 'resources-cluster'],
};

const S = { tmp: null, proc: null, base: null, routes: {}, figures: {} };

// ---- situd (tests/web/situd.mjs) ---------------------------------------------------

// The status of each route the page consumes, for clear failure messages.
async function probeRoutes() {
  const ext = json(await request('GET', '/collections/townships')).extent.spatial.bbox[0];
  S.city = ext;
  const [lon, lat] = [(ext[0] + ext[2]) / 2, (ext[1] + ext[3]) / 2];
  const probes = {
    tiles: '/tiles/townships.json',
    nearest: `/nearest?lon=${lon}&lat=${lat}&collection=resources&k=5`,
    feeds: '/feeds',
    events: '/events',
  };
  for (const [k, p] of Object.entries(probes)) S.routes[k] = (await request('GET', p)).status;
}

function requireRoute(name, why) {
  const st = S.routes[name];
  if (st !== 200) assert.fail(`the ${name} route answers ${st} (not built yet?): ${why}`);
}

// ---- the browser --------------------------------------------------------------------

async function launch() {
  // a browser far from the wall's zone: times must still read as in Asia/Shanghai
  S.ctx = await launchChromium(S.tmp, { viewport: VIEWPORT, timezoneId: BROWSER_ZONE });
}

// Opens url in a new page and records its console errors, foreign requests
// and the bytes of every finished response. Resolves to the watcher.
async function openPage(url) {
  const page = await S.ctx.newPage();
  const w = { page, errors: [], foreign: [], bytes: 0, responses: 0, byType: {}, idle: null };
  page.on('console', (m) => { if (m.type() === 'error') w.errors.push(`console: ${m.text()} ${m.location().url || ''}`); });
  page.on('pageerror', (e) => w.errors.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') w.foreign.push(r.url());
  });
  page.on('requestfinished', async (r) => {
    const s = await r.sizes().catch(() => null);
    if (!s) return;
    const n = s.responseBodySize + s.responseHeadersSize;
    const kind = new URL(r.url()).pathname.startsWith('/web/') || new URL(r.url()).pathname === '/' ? 'page' : new URL(r.url()).pathname.split('/')[1];
    w.byType[kind] = (w.byType[kind] || 0) + n;
    w.bytes += n;
    w.responses++;
  });
  const logFrom = S.log ? fs.statSync(S.log).size : 0;
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.__situ && window.__situ.idleAt, null, { timeout: IDLE_TIMEOUT_MS, polling: 100 });
    w.idle = await page.evaluate(() => window.__situ.idleAt);
  } catch {
    w.idle = null;
  }
  if (S.log) w.served = servedSince(logFrom);
  return w;
}

// What situd's request log says it sent since byte `from` of the log: body
// bytes per kind (the page's own files, tiles, other data). The event stream
// never completes, so it is not in it.
function servedSince(from) {
  const text = fs.readFileSync(S.log, 'utf8').slice(from);
  const out = { bytes: 0, requests: 0, byKind: {} };
  for (const m of text.matchAll(/^\S+ (GET|HEAD|POST) (\S+) (\d+) (\d+) \d+us/gm)) {
    const p = m[2];
    const kind = p === '/' || p.startsWith('/web/') ? 'page' : p.startsWith('/tiles/') ? 'tiles' : 'data';
    out.byKind[kind] = (out.byKind[kind] || 0) + Number(m[4]);
    out.bytes += Number(m[4]);
    out.requests++;
  }
  return out;
}

// Rendered features per map, by the layers of MAP_LAYERS.
function renderedCounts(page) {
  return page.evaluate((layers) => {
    const map = window.__situ.map;
    const out = {};
    for (const [k, ids] of Object.entries(layers)) {
      const present = ids.filter((id) => map.getLayer(id));
      out[k] = present.length ? map.queryRenderedFeatures({ layers: present }).length : 0;
    }
    return out;
  }, MAP_LAYERS);
}

function statusNote() {
  const bad = Object.entries(S.routes).filter(([, s]) => s !== 200).map(([k, s]) => `${k} ${s}`);
  return bad.length ? ` (routes not yet answering 200: ${bad.join(', ')})` : '';
}

// ---- set-up ----------------------------------------------------------------------------

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-web-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  if (ENV.SITU_WEB_BASE) {
    S.base = situd.base = ENV.SITU_WEB_BASE.replace(/\/$/, '');
    S.feed = { token: ENV.SITU_FEED_TOKEN || null, why: 'SITU_WEB_BASE is set but SITU_FEED_TOKEN is not' };
    S.transport = { token: ENV.SITU_TRANSPORT_TOKEN || null, why: 'SITU_WEB_BASE is set but SITU_TRANSPORT_TOKEN is not' };
  } else {
    const db = demoDb(S.tmp);
    S.feed = feedToken(db, 'meteorology');
    S.transport = feedToken(db, 'transport');
    await startSitud(S.tmp, db);
    Object.assign(S, { base: situd.base, proc: situd.proc, log: situd.log });
  }
  await probeRoutes();
  await launch();
  // the four maps' own points at city zoom: the city at a glance off
  // (?glance=0); tests/web/wall_glance.test.mjs tests the glance
  S.main = await openPage(`${S.base}/?glance=0`);
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  S.figures.routes = S.routes;
  fs.writeFileSync(path.join(SHOTS, 'figures.json'), `${JSON.stringify(S.figures, null, 2)}\n`);
  console.log(`figures: ${JSON.stringify(S.figures)}`);
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

// ---- tests --------------------------------------------------------------------------------

test('the page loads from situd alone, with no console error', async () => {
  const w = S.main;
  await w.page.screenshot({ path: path.join(SHOTS, 'wall-desk.png') });
  S.figures.first_map_ms = w.idle === null ? null : Math.round(w.idle);
  S.figures.browser_bytes = { total: w.bytes, responses: w.responses, byKind: w.byType };
  if (w.served) S.figures.served_until_idle = w.served;
  assert.ok(!w.foreign.length, `requests left 127.0.0.1: ${w.foreign.join(' ')}`);
  assert.ok(w.idle !== null, `the map never became idle in ${IDLE_TIMEOUT_MS / 1000} s${statusNote()}`);
  assert.ok(!w.errors.length, `console errors${statusNote()}:\n${w.errors.join('\n')}`);
});

test('townships and each of the four maps render from the vector tiles', async () => {
  requireRoute('tiles', 'the map draws townships and the four maps from /tiles/{id}.json');
  const counts = await renderedCounts(S.main.page);
  S.figures.rendered = counts;
  const missing = Object.entries(counts).filter(([, n]) => n === 0).map(([k]) => k);
  assert.ok(!missing.length, `nothing rendered for ${missing.join(', ')}: ${JSON.stringify(counts)}`);
  const labels = await S.main.page.waitForFunction(() => {
    const names = window.__situ.map.queryRenderedFeatures({ layers: ['townships-label'] }).map((f) => f.properties.name);
    return names.filter((n) => /\p{Script=Han}/u.test(n || '')).length;
  }, null, { timeout: 5000, polling: 100 }).then((h) => h.jsonValue(), () => 0);
  S.figures.rendered.township_labels = labels;
  assert.ok(labels > 0, 'no Chinese township label rendered');
});

test('an alert posted to a feed is rendered on the map and in the ticker', async () => {
  requireRoute('feeds', 'alerts reach situd through POST /feeds/{dept}/events');
  requireRoute('events', 'the page learns of new alerts from GET /events');
  assert.ok(S.feed.token, S.feed.why);
  const [w, s, e, n] = S.city;
  const [cx, cy] = [(w + e) / 2, (s + n) / 2];
  const d = Math.min(e - w, n - s) / 8;
  const headline = `web-test ${process.pid} ${Date.now()}`;
  const now = Date.now();
  const body = JSON.stringify({ events: [{
    id: `web-test-${process.pid}-${now}`, type: 'alert', event: 'rainstorm', severity: 'red', headline,
    onset: new Date(now - 60000).toISOString(), expires: new Date(now + 3600000).toISOString(),
    geometry: { type: 'Polygon', coordinates: [[[cx - d, cy - d], [cx + d, cy - d], [cx + d, cy + d], [cx - d, cy + d], [cx - d, cy - d]]] },
  }] });
  // the work besides the alert on its way to the map: how often the other GeoJSON sources are set meanwhile
  await S.main.page.evaluate(() => {
    const map = window.__situ.map, set = (window.__situ.setDuringAlert = {});
    for (const [id, src] of Object.keys(map.getStyle().sources).map((k) => [k, map.getSource(k)])) {
      if (typeof src.setData !== 'function' || src.__counted) continue;
      const orig = src.setData.bind(src);
      src.setData = (d, ...a) => { set[id] = (set[id] || 0) + 1; return orig(d, ...a); };
      src.__counted = true;
    }
  });
  const sent = Date.now();
  const r = await request('POST', '/feeds/meteorology/events', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.feed.token}` }, body,
  });
  const answered = Date.now();
  assert.equal(r.status, 200, `POST /feeds/meteorology/events answered ${r.status}: ${r.body.toString().slice(0, 300)}`);
  const page = S.main.page;
  const found = await page.waitForFunction((h) => window.__situ.map.queryRenderedFeatures({ layers: ['alerts-fill'] })
    .some((f) => f.properties.headline === h), headline, { timeout: 10000, polling: 50 }).then(() => true, () => false);
  const rendered = Date.now(); // a figure, not a bound: scripts/bench/wall_alert.mjs times it
  // where the time went: the page's steps (the event, the alerts fetched and set), after the POST's answer
  const [steps, setDuring] = await page.evaluate(() => [window.__situ.alertPath || {}, { ...window.__situ.setDuringAlert }]);
  S.figures.alert_ms = { post_answer: answered - sent, rendered_after_answer: rendered - answered,
    steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v - answered])), sources_set: setDuring };
  console.log(`alert after the POST's answer (ms): ${JSON.stringify(S.figures.alert_ms)}`);
  await page.screenshot({ path: path.join(SHOTS, 'wall-alert.png') });
  assert.ok(found, `the posted alert was not rendered within 10 s of the POST's answer (SSE events seen: ${S.routes.events}; steps: ${JSON.stringify(S.figures.alert_ms)})`);
  const ticker = await page.textContent('#ticker');
  assert.ok(ticker.includes(headline), `the ticker does not show the alert: ${ticker.slice(0, 200)}`);
});

// A point on the canvas inside a township where no clickable feature is.
function emptyPoint(page) {
  return page.evaluate(async () => {
    const map = window.__situ.map;
    map.stop(); // no camera movement between finding the point and clicking it
    // close enough that clusters open up and empty land shows between features
    map.jumpTo({ center: [111.45, 26.05], zoom: 13 });
    await new Promise((ok) => map.once('idle', ok));
    const c = map.getCanvas().getBoundingClientRect();
    const clickable = ['hazards-point', 'hazards-cluster', 'hazard_sources-point', 'hazard_sources-cluster', 'resources-team',
      'resources-depot', 'resources-cluster', 'stations-point', 'stations-camera', 'stations-cluster', 'risk_zones-point',
      'risk_zones-cluster'].filter((id) => map.getLayer(id));
    for (let r = 0; r < 400; r += 10) {
      for (let a = 0; a < 360; a += 30) {
        const x = c.width / 2 + r * Math.cos((a * Math.PI) / 180), y = c.height / 2 + r * Math.sin((a * Math.PI) / 180);
        const box = [[x - 16, y - 16], [x + 16, y + 16]];
        if (!map.queryRenderedFeatures(box, { layers: clickable }).length &&
            map.queryRenderedFeatures([x, y], { layers: ['townships-fill'] }).length) return { x: c.left + x, y: c.top + y };
      }
    }
    return { x: c.left + c.width / 2, y: c.top + c.height / 2 };
  });
}

test('a click on the map lists the nearest supplies, drawn as lines', async () => {
  requireRoute('nearest', 'the click asks GET /nearest?collection=resources');
  const page = S.main.page;
  await page.evaluate(() => window.__situ.panels.close());
  const p = await emptyPoint(page);
  await page.mouse.click(p.x, p.y);
  await page.waitForSelector('#info .nearest-list ol.results li', { timeout: 10000 }).catch(async (e) => {
    const info = await page.evaluate(() => (document.querySelector('#info') || {}).innerText || '(no #info)');
    throw new Error(`no nearest list after a click at ${p.x},${p.y}; the panel says: ${info.slice(0, 400)}`);
  });
  const n = await page.locator('#info .nearest-list ol.results li').count();
  assert.ok(n > 0 && n <= 5, `nearest list has ${n} rows`);
  await page.selectOption('#info select.item-picker', 'sandbag');
  await page.waitForFunction(() => document.querySelector('#info .nearest-list ol.results li .rqty') || document.querySelector('#info .nearest-list p'), null, { timeout: 10000 });
  // straight lines, or the routes when situd answers by road
  const lines = await page.waitForFunction(() => window.__situ.map.queryRenderedFeatures({ layers: ['nearest-lines', 'nearest-routes'] }).length, null, { timeout: 5000 })
    .then((h) => h.jsonValue(), () => 0);
  await page.screenshot({ path: path.join(SHOTS, 'wall-nearest.png') });
  assert.ok(lines > 0, 'no line drawn to the nearest depots');
});

test('the wall (?wall=1) renders dark, with a clock and an alert ticker', async () => {
  const w = await openPage(`${S.base}/?wall=1`);
  await w.page.waitForTimeout(1000);
  await w.page.screenshot({ path: path.join(SHOTS, 'wall.png') });
  S.figures.wall_first_map_ms = w.idle === null ? null : Math.round(w.idle);
  const look = await w.page.evaluate(() => ({
    wall: document.body.classList.contains('wall'),
    interactive: !!window.__situ.map && window.__situ.map.dragPan.isEnabled(),
    clock: document.getElementById('clock').textContent,
    ticker: !!document.querySelector('#ticker .label'),
    bg: getComputedStyle(document.body).backgroundColor,
    search: getComputedStyle(document.getElementById('search')).display,
  }));
  await w.page.close();
  assert.ok(!w.foreign.length, `requests left 127.0.0.1: ${w.foreign.join(' ')}`);
  assert.ok(look.wall && !look.interactive && look.search === 'none', `not in wall mode: ${JSON.stringify(look)}`);
  assert.match(look.clock, /\d{2}:\d{2}:\d{2}/);
  assert.ok(look.ticker, 'no alert ticker');
  assert.ok(w.idle !== null, `the wall's map never became idle${statusNote()}`);
  assert.ok(!w.errors.length, `console errors on the wall${statusNote()}:\n${w.errors.join('\n')}`);
});

test('times read in Asia/Shanghai whatever the browser zone, as "6 Dec 18:21" and "12月6日 18:21"', async () => {
  requireRoute('feeds', 'the alert with a known expiry reaches situd through POST /feeds/{dept}/events');
  assert.ok(S.feed.token, S.feed.why);
  const [w, s, e, n] = S.city;
  const headline = `web-time ${process.pid} ${Date.now()}`;
  const body = JSON.stringify({ events: [{
    id: `web-time-${process.pid}-${Date.now()}`, type: 'alert', event: 'rainstorm', severity: 'yellow', headline,
    onset: new Date(Date.now() - 60000).toISOString(), expires: '2030-12-06T10:21:00Z', // 18:21 in Shanghai
    geometry: { type: 'Polygon', coordinates: [[[w, s], [w + (e - w) / 20, s], [w + (e - w) / 20, s + (n - s) / 20], [w, s + (n - s) / 20], [w, s]]] },
  }] });
  const r = await request('POST', '/feeds/meteorology/events', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.feed.token}` }, body,
  });
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  const tickerWith = (page) => page.waitForFunction((h) => {
    const tick = [...document.querySelectorAll('#ticker .tick')].find((x) => x.textContent.includes(h));
    return tick && tick.textContent;
  }, headline, { timeout: 10000, polling: 100 }).then((x) => x.jsonValue());
  const zh = await tickerWith(S.main.page);
  assert.ok(zh.endsWith('→ 12月6日 18:21'), `the Chinese ticker: ${zh}`);
  const en = await openPage(`${S.base}/?lang=en`);
  const enTick = await tickerWith(en.page);
  const shown = await en.page.evaluate(async () => {
    const i18n = await import('/web/i18n.js');
    return { at: i18n.localTime('2026-12-06T10:21:00Z'), midnight: i18n.localTime('2026-12-31T16:30:00Z'),
      clock: document.getElementById('clock').textContent };
  });
  const tz = await openPage(`${S.base}/?lang=en&tz=Asia/Kolkata`);
  const kolkata = await tz.page.evaluate(async () => (await import('/web/i18n.js')).localTime('2026-12-06T10:21:00Z'));
  await en.page.close();
  await tz.page.close();
  assert.ok(enTick.endsWith('→ 6 Dec 18:21'), `the English ticker: ${enTick}`);
  assert.equal(shown.at, '6 Dec 18:21');
  assert.equal(shown.midnight, '1 Jan 00:30', 'the date turns at Shanghai midnight, not UTC or the browser\'s');
  assert.equal(kolkata, '6 Dec 15:51', '?tz= sets the zone');
  // the clock: Shanghai's hour now (the browser's own is New York's)
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', day: 'numeric', month: 'short', hour: '2-digit', hourCycle: 'h23' })
    .formatToParts(new Date()).map((x) => [x.type, x.value]));
  assert.match(shown.clock, new RegExp(`^\\w{3} ${p.day} ${p.month} \\d{4} (${p.hour}|\\d\\d):\\d\\d:\\d\\d$`), shown.clock);
  assert.ok(shown.clock.includes(` ${p.day} ${p.month} `) && shown.clock.match(/ (\d\d):/)[1] === p.hour ||
    new Date().getUTCMinutes() === 59, `the clock is not Shanghai's: ${shown.clock}`);
});

// A township whose summary lists sandbags: {code, name, qty}.
async function townshipWithSandbags() {
  const list = json(await request('GET', '/townships?limit=1000')).townships;
  for (const x of list.filter((y) => y.counts.resources > 0)) {
    const items = json(await request('GET', `/townships/${x.code}`)).maps.resources.items || {};
    if (items.sandbag && items.sandbag.qty > 1) return { code: x.code, name: x.name, qty: items.sandbag.qty };
  }
  assert.fail('no township of the demo holds sandbags');
}

test('units, metrics and codes read in the page\'s language; switching language keeps the township', async () => {
  const town = await townshipWithSandbags();
  const zh = await openPage(`${S.base}/`);
  await zh.page.fill('#q', town.name);
  await zh.page.press('#q', 'Enter');
  const zhQty = `${town.qty.toLocaleString('zh-CN')} 袋`;
  await zh.page.waitForFunction((q) => (document.querySelector('#info') || {}).textContent.includes(q), zhQty, { timeout: 10000 })
    .catch(async () => assert.fail(`no "${zhQty}" in the Chinese summary: ${(await zh.page.textContent('#info')).slice(0, 400)}`));
  const zhInfo = await zh.page.textContent('#info');
  const href = await zh.page.getAttribute('#lang', 'href');
  const station = (page) => page.evaluate((code) => {
    const nodes = window.__situ.panels.propTable('stations', { metric: 'rain_1h_mm', value: 31.2, threshold: 50, township_code: code });
    return nodes.filter(Boolean).map((n) => [...n.querySelectorAll('tr')].map((tr) => [...tr.children].map((c) => c.textContent))).flat();
  }, town.code);
  const zhStation = await station(zh.page);
  const zhFeeds = await zh.page.$$eval('#feeds .meta', (ns) => ns.map((n) => n.textContent));
  await zh.page.click('#lang');
  await zh.page.waitForURL((u) => u.searchParams.get('lang') === 'en', { timeout: 10000 });
  await zh.page.waitForFunction(() => window.__situ && window.__situ.panels, null, { timeout: 30000 });
  const enQty = `${town.qty.toLocaleString('en')} bags`;
  const enInfo = await zh.page.waitForFunction((q) => {
    const t = (document.querySelector('#info') || {}).textContent || '';
    return t.includes(q) && t;
  }, enQty, { timeout: 10000 }).then((h) => h.jsonValue(), () => null);
  const enStation = await station(zh.page);
  const enFeeds = await zh.page.$$eval('#feeds .meta', (ns) => ns.map((n) => n.textContent));
  await zh.page.screenshot({ path: path.join(SHOTS, 'wall-units-en.png') });
  await zh.page.close();
  assert.ok(href.includes(`township=${town.code}`), `the language link forgets the township: ${href}`);
  assert.ok(!/\d bag/.test(zhInfo), `an English unit on the Chinese page: ${zhInfo.slice(0, 400)}`);
  assert.ok(enInfo && enInfo.includes(town.name), `the English page lost township ${town.code} or its "${enQty}": ${enInfo}`);
  const row = (rows, th) => (rows.find((r) => r[0] === th) || [])[1];
  assert.equal(row(zhStation, '指标'), '1小时雨量');
  assert.equal(row(enStation, 'Metric'), 'rain in 1 h');
  assert.ok(zhStation.some((r) => r[1] === '31.2 毫米') && enStation.some((r) => r[1] === '31.2 mm'), JSON.stringify([zhStation, enStation]));
  assert.ok(enStation.some((r) => r[1] === '50 mm'), 'the threshold has no unit');
  assert.equal(row(enStation, 'Township'), `${town.name} (${town.code})`, JSON.stringify(enStation));
  for (const m of [...zhFeeds, ...enFeeds]) {
    assert.ok(!/^\s*·|·\s*$|24小时 0|24 h 0/.test(m), `a stray feed note: "${m}"`);
  }
  assert.ok(zhFeeds.some((m) => /24小时内\d+条/.test(m)), `no 24-hour count for the department that posted: ${zhFeeds}`);
});

test('at city zoom a click on a depot cluster opens the cluster, not a hazard beside it', async () => {
  const w = await openPage(`${S.base}/?glance=0`); // the depot clusters wait for z11 under the glance
  const page = w.page;
  const spot = await page.evaluate(async (city) => {
    const map = window.__situ.map;
    map.stop();
    map.fitBounds([[city[0], city[1]], [city[2], city[3]]], { duration: 0 });
    await new Promise((ok) => map.once('idle', ok));
    const clickable = ['hazards-point', 'hazards-cluster', 'hazard_sources-point', 'hazard_sources-cluster', 'resources-team',
      'resources-depot', 'resources-cluster', 'stations-point', 'stations-camera', 'stations-cluster', 'risk_zones-point',
      'risk_zones-cluster'].filter((id) => map.getLayer(id));
    const c = map.getCanvas().getBoundingClientRect();
    // a point on a depot cluster whose 10 px box also holds a dot of another map drawn above it
    for (const f of map.queryRenderedFeatures({ layers: ['resources-cluster'] })) {
      const o = map.project(f.geometry.coordinates);
      for (let dx = -6; dx <= 6; dx += 2) {
        for (let dy = -6; dy <= 6; dy += 2) {
          const p = { x: o.x + dx, y: o.y + dy };
          const under = map.queryRenderedFeatures([p.x, p.y], { layers: clickable });
          const box = map.queryRenderedFeatures([[p.x - 5, p.y - 5], [p.x + 5, p.y + 5]], { layers: clickable });
          if (under.length && under[0].layer.id === 'resources-cluster' && box[0].layer.id !== 'resources-cluster') {
            return { x: c.left + p.x, y: c.top + p.y, zoom: map.getZoom(), other: box[0].layer.id };
          }
        }
      }
    }
    return { zoom: map.getZoom() };
  }, S.city);
  if (spot.x === undefined) {
    await page.close();
    assert.fail(`no depot cluster at city zoom ${spot.zoom.toFixed(1)} lies within 5 px of another map's dot: the test needs one`);
  }
  await page.mouse.click(spot.x, spot.y);
  const title = await page.waitForFunction(() => {
    const h = document.querySelector('#info.open header h3');
    return h && h.textContent;
  }, null, { timeout: 10000 }).then((h) => h.jsonValue(), () => null);
  const want = await page.evaluate(async () => (await import('/web/i18n.js')).t('resources'));
  await page.screenshot({ path: path.join(SHOTS, 'wall-depot-cluster.png') });
  await page.close();
  assert.equal(title, want, `a click on a depot cluster (beside ${spot.other}, zoom ${spot.zoom.toFixed(1)}) opened "${title}"`);
});

test('English with ?lang=en', async () => {
  const w = await openPage(`${S.base}/?lang=en`);
  const words = await w.page.evaluate(() => ({ lang: document.documentElement.lang, layers: document.getElementById('layers').textContent }));
  await w.page.close();
  assert.equal(words.lang, 'en');
  assert.ok(words.layers.includes('Natural-disaster risk zones'), words.layers.slice(0, 200));
});

test('the /web/ route: types, ETag and 304, gzip, and no way out of the folder', async () => {
  const page = await request('GET', '/', { headers: { Accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.headers['content-security-policy'] || '', /default-src 'self'/);
  const js = await request('GET', '/web/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /^text\/javascript/);
  assert.ok(js.headers.etag && js.headers['cache-control'], JSON.stringify(js.headers));
  const again = await request('GET', '/web/app.js', { headers: { 'If-None-Match': js.headers.etag } });
  assert.equal(again.status, 304);
  const gz = await request('GET', '/web/maplibre-gl.mjs', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  const schema = json(await request('GET', '/web/schema.json'));
  assert.equal(schema.departments.length, 19);
  for (const bad of ['/web/../CMakeCache.txt', '/web/a/../app.js', '/web/%2e%2e/CMakeCache.txt', '/web/.x.js',
    '/web//app.js', '/web/app.js/', '/web/app.jsx', '/web/x%5c..%5capp.js', '/web/']) {
    const r = await request('GET', bad);
    assert.equal(r.status, 404, `${bad} answered ${r.status}`);
  }
});

test('the /web/ route refuses %00', async () => {
  const r = await request('GET', '/web/app.js%00.png');
  assert.equal(r.status, 404, `/web/app.js%00.png answered ${r.status}`);
});

// ---- roads (issue 15) -------------------------------------------------------------------------

const ROAD_LAYERS = ['roads-line', 'roads-bridge', 'roads-ferry'];

// Moves the map to center at zoom z and waits until it is drawn.
function jump(page, center, z) {
  return page.evaluate(async ([c, zoom]) => {
    const map = window.__situ.map;
    map.stop();
    map.jumpTo({ center: c, zoom });
    await new Promise((ok) => map.once('idle', ok));
  }, [center, z]);
}

// The rows of the nearest panel: [{id, name, s (travel seconds), text}].
function nearestRows(page) {
  return page.$$eval('#info .nearest-list ol.results li', (lis) => lis.map((li) => ({
    name: li.querySelector('.rname').textContent,
    s: li.querySelector('.rtime') ? Number(li.querySelector('.rtime').dataset.s) : null,
    text: li.textContent,
  })));
}

// situd's answer by road at the point the panel last asked about.
async function byRoadAnswer(page, extra = '') {
  const { lng, lat } = await page.evaluate(() => window.__situ.panels.lastPoint);
  const q = `lon=${lng.toFixed(6)}&lat=${lat.toFixed(6)}&collection=resources&k=5&by=road&route=1${extra}`;
  const r = await request('GET', `/nearest?${q}`);
  assert.equal(r.status, 200, `GET /nearest?${q}: ${r.body.toString().slice(0, 300)}`);
  return json(r);
}

// The panel closed, with no item filter left from an earlier question.
function freshPanel(page) {
  return page.evaluate(() => {
    const p = window.__situ.panels;
    p.close();
    p.item = '';
    p.minQty = 0;
  });
}

const rendered = (page, layers) => page.evaluate((ids) => window.__situ.map.queryRenderedFeatures({ layers: ids }).length, layers);

function waitRendered(page, layers, want, timeout = 5000) {
  return page.waitForFunction(([ids, w]) => {
    const n = window.__situ.map.queryRenderedFeatures({ layers: ids }).length;
    return (w ? n > 0 : n === 0) && { n };
  }, [layers, want], { timeout, polling: 50 }).then((h) => h.jsonValue(), () => null);
}

test('roads render class-styled in the city, with their legend and a toggle', async () => {
  const page = S.main.page;
  await page.evaluate(() => window.__situ.panels.close());
  await jump(page, [111.61, 26.42], 13);
  const classes = await page.evaluate((ids) => [...new Set(window.__situ.map.queryRenderedFeatures({ layers: ids })
    .map((f) => f.properties.class))], ROAD_LAYERS);
  const labels = await page.waitForFunction(() => window.__situ.map.queryRenderedFeatures({ layers: ['roads-label'] }).length, null,
    { timeout: 5000, polling: 100 }).then((h) => h.jsonValue(), () => 0);
  const legend = await page.$$eval('#layers details.group.roads li', (lis) => lis.length);
  await page.screenshot({ path: path.join(SHOTS, 'wall-roads.png') });
  S.figures.roads = { classes, labels };
  assert.ok(classes.length >= 3, `road classes rendered at zoom 13 in the city: ${JSON.stringify(classes)}`);
  assert.ok(labels > 0, 'no road label (ref or name) rendered at zoom 13');
  assert.ok(legend >= 9, `the roads legend has ${legend} rows`);
  await page.click('#layers input[data-group=roads]');
  const hidden = await waitRendered(page, ROAD_LAYERS, false);
  await page.click('#layers input[data-group=roads]');
  const shown = await waitRendered(page, ROAD_LAYERS, true);
  assert.ok(hidden && shown, `the roads toggle: off ${JSON.stringify(hidden)}, on again ${JSON.stringify(shown)}`);
});

test('a click by road lists travel times as situd answers and draws the routes', async () => {
  const page = S.main.page;
  const on = await page.evaluate(() => window.__situ.roadNetwork);
  assert.ok(on, 'the page did not find the road network (/collections/roads/items)');
  await freshPanel(page);
  const p = await emptyPoint(page);
  await page.mouse.click(p.x, p.y);
  await page.waitForSelector('#info .nearest-list.by-road ol.results li .rtime', { timeout: 10000 }).catch(async () => {
    assert.fail(`no travel times after a click at ${p.x},${p.y}: ${(await page.textContent('#info')).slice(0, 400)}`);
  });
  const rows = await nearestRows(page);
  const doc = await byRoadAnswer(page);
  assert.deepEqual(rows.map((r) => [r.name, r.s]), doc.features.map((f) => [f.properties.name || f.id, f.properties.travel_s]),
    'the panel is not situd\'s answer by road, in its order');
  const km = await page.evaluate(() => (window.__situ.lang === 'en' ? /km by road|m by road/ : /路程/).source);
  assert.ok(rows.every((r) => new RegExp(km).test(r.text)), `a row without its distance by road: ${rows.map((r) => r.text).join(' | ')}`);
  const routes = await waitRendered(page, ['nearest-routes'], true);
  await page.screenshot({ path: path.join(SHOTS, 'wall-nearest-road.png') });
  assert.ok(routes, 'no route drawn');
  const straight = await rendered(page, ['nearest-lines']);
  assert.equal(straight, 0, 'straight lines drawn beside the routes');
  S.roadPoint = p;
});

test('the answer by road says how many matching supplies no road reaches', async () => {
  const page = S.main.page;
  await page.selectOption('#info select.item-picker', 'sandbag');
  await page.waitForSelector('#info .nearest-list.by-road ol.results li', { timeout: 10000 });
  await page.fill('#info input.min-qty', '50000');
  await page.press('#info input.min-qty', 'Enter');
  const said = await page.waitForSelector('#info .nearest-list.by-road p.unreachable', { timeout: 10000 })
    .then((h) => h.evaluate((n) => ({ n: Number(n.dataset.n), text: n.textContent })), () => null);
  const doc = await byRoadAnswer(page, '&item=sandbag&min_qty=50000');
  await page.selectOption('#info select.item-picker', '');
  assert.ok(doc.numberReturned < 5, `the test needs fewer than 5 depots with 50000 sandbags: ${doc.numberReturned}`);
  assert.ok(said, 'nothing said of the unreachable ones when fewer than 5 answered');
  assert.equal(said.n, doc.query.unreachable, said.text);
});

test('the reach toggle draws the 10, 20 and 30-minute areas from a clicked point, and clears them', async () => {
  const page = S.main.page;
  await page.evaluate(() => window.__situ.panels.close());
  await page.click('#layers input[data-group=reach]');
  const p = await emptyPoint(page);
  await page.mouse.click(p.x, p.y);
  const drawn = await waitRendered(page, ['reach-fill'], true, 10000);
  const minutes = await page.evaluate(() => [...new Set(window.__situ.map.queryRenderedFeatures({ layers: ['reach-fill'] })
    .map((f) => f.properties.minutes))].sort((a, b) => a - b));
  const legend = await page.$$eval('#layers details.group.reach li', (lis) => lis.map((li) => li.textContent));
  await page.screenshot({ path: path.join(SHOTS, 'wall-reach.png') });
  await page.click('#layers input[data-group=reach]');
  const cleared = await page.evaluate(() => window.__situ.map.getSource('reach').serialize().data.features.length);
  assert.ok(drawn, 'no reach area drawn after a click with the toggle on');
  assert.deepEqual(minutes, [10, 20, 30]);
  assert.equal(legend.length, 3, JSON.stringify(legend));
  assert.equal(cleared, 0, 'reach areas left after the toggle went off');
});

test('a closure posted to the transport feed shows live and changes the answer by road', async () => {
  assert.ok(S.transport.token, S.transport.why);
  const page = S.main.page;
  await page.evaluate(() => window.__situ.panels.close());
  await freshPanel(page);
  const p = await emptyPoint(page);
  await page.mouse.click(p.x, p.y);
  await page.waitForSelector('#info .nearest-list.by-road ol.results li .rtime', { timeout: 10000 });
  const before = await nearestRows(page);
  // close the first route a quarter of the way from the depot: a 40 m circle
  const doc = await byRoadAnswer(page);
  const route = doc.features[0].properties.route.coordinates;
  const mid = route[Math.floor(route.length / 4)];
  const cid = `web-${process.pid}-${Date.now()}`;
  const reason = `web-test 塌方 ${cid}`;
  const until = new Date(Date.now() + 7200000).toISOString();
  const post = (ev) => request('POST', '/feeds/transport/events', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.transport.token}` }, body: JSON.stringify({ events: [ev] }),
  });
  const r = await post({ id: cid, type: 'closure', reason, until, geometry: { type: 'Point', coordinates: mid }, radius_m: 40 });
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  assert.equal(json(r).results[0].status, 'accepted', r.body.toString().slice(0, 300));
  const shown = await page.waitForFunction((why) => window.__situ.map.queryRenderedFeatures({ layers: ['closures-fill'] })
    .some((f) => f.properties.reason === why), reason, { timeout: 5000, polling: 50 }).then(() => true, () => false);
  const marked = await rendered(page, ['closures-marker']);
  // the panel asks again: another first answer, a longer time, or none
  // reachable any more (the clicked point's road cut off), the count said
  const changed = await page.waitForFunction((was) => {
    const list = document.querySelector('#info .nearest-list.by-road');
    const first = list && list.querySelector('ol.results li');
    const none = list && list.querySelector('p.unreachable');
    if (!first) return !!none && { unreachable: Number(none.dataset.n) };
    const s = Number(first.querySelector('.rtime').dataset.s);
    return (first.querySelector('.rname').textContent !== was.name || s !== was.s) && { name: first.querySelector('.rname').textContent, s };
  }, before[0], { timeout: 5000, polling: 50 }).then((h) => h.jsonValue(), () => null);
  const during = await byRoadAnswer(page);
  const rows = await nearestRows(page);
  S.figures.closure = { before: before[0].s, during: changed };
  await page.screenshot({ path: path.join(SHOTS, 'wall-closure.png') });
  // its panel: the reason and the expected reopening
  const panel = await page.evaluate(async (why) => {
    const f = window.__situ.map.queryRenderedFeatures({ layers: ['closures-fill'] }).find((x) => x.properties.reason === why);
    await window.__situ.panels.details('closures', f);
    return document.querySelector('#info').textContent;
  }, reason);
  const e = await post({ id: `${cid}-end`, type: 'closure_end', closure: cid });
  assert.equal(e.status, 200, e.body.toString().slice(0, 300));
  const gone = await page.waitForFunction((why) => !window.__situ.map.queryRenderedFeatures({ layers: ['closures-fill'] })
    .some((f) => f.properties.reason === why), reason, { timeout: 5000, polling: 50 }).then(() => true, () => false);
  assert.ok(shown, 'the closure was not drawn within 5 s of its acknowledgement');
  assert.ok(marked > 0, 'no marker on the closure');
  assert.ok(changed, `the answer by road did not change live: first ${JSON.stringify(before[0])}`);
  assert.deepEqual(rows.map((x) => [x.name, x.s]), during.features.map((f) => [f.properties.name || f.id, f.properties.travel_s]),
    'the panel is not situd\'s answer by road during the closure');
  if (changed && changed.unreachable !== undefined) assert.equal(changed.unreachable, during.query.unreachable);
  assert.ok(panel.includes(reason), `the closure panel lacks its reason: ${panel.slice(0, 300)}`);
  const reopen = await page.evaluate(async (u) => (await import('/web/i18n.js')).localTime(u), until);
  assert.ok(panel.includes(reopen), `the closure panel lacks its reopening ${reopen}: ${panel.slice(0, 300)}`);
  assert.ok(gone, 'the closure still drawn 5 s after its end');
  const marker = await page.evaluate((why) => window.__situ.map.getSource('closures').serialize().data.features
    .filter((f) => f.geometry.type === 'Point' && f.properties.reason === why).length, reason);
  assert.equal(marker, 0, 'the closure marker left after its end');
  assert.ok(!S.main.errors.length, `console errors:\n${S.main.errors.join('\n')}`);
});

test('a road closed by a feature_update is drawn closed live, and open again', async () => {
  assert.ok(S.transport.token, S.transport.why);
  const page = S.main.page;
  await page.evaluate(() => window.__situ.panels.close());
  await jump(page, [111.61, 26.42], 13);
  const road = await page.evaluate(() => {
    const f = window.__situ.map.queryRenderedFeatures({ layers: ['roads-line'] })
      .find((x) => ['county', 'township', 'urban', 'provincial', 'national'].includes(x.properties.class) && x.properties.id);
    return f && f.properties.id;
  });
  assert.ok(road, 'no road drawn at zoom 13 in the city to close');
  const set = (status, n) => request('POST', '/feeds/transport/events', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.transport.token}` },
    body: JSON.stringify({ events: [{ id: `web-road-${process.pid}-${Date.now()}-${n}`, type: 'feature_update', collection: 'roads',
      feature_id: road, set: status === 'closed' ? { status, closed_reason: 'web-test 水毁' } : { status } }] }),
  });
  const closedOn = (want) => page.waitForFunction(([id, w]) => window.__situ.map.queryRenderedFeatures({ layers: ['roads-closed'] })
    .some((f) => f.properties.id === id) === w, [road, want], { timeout: 5000, polling: 50 }).then(() => true, () => false);
  let r = await set('closed', 1);
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  assert.equal(json(r).accepted, 1, r.body.toString().slice(0, 300));
  const closed = await closedOn(true);
  await page.screenshot({ path: path.join(SHOTS, 'wall-road-closed.png') });
  r = await set('open', 2);
  assert.equal(json(r).accepted, 1, r.body.toString().slice(0, 300));
  const open = await closedOn(false);
  assert.ok(closed, `road ${road} not drawn closed within 5 s of the feature_update`);
  assert.ok(open, `road ${road} still drawn closed 5 s after it opened`);
  assert.ok(!S.main.errors.length, `console errors:\n${S.main.errors.join('\n')}`);
});
