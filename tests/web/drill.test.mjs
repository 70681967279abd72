// drill.test.mjs: a drill on the wall (issue 19), end to end in a real
// browser against a real situd on the demo (tests/web/situd.mjs). The flood
// scenario (geodata/drills/xiang_flood.json) is started at 60x through
// POST /drills with an emergency_management token; the wall at /?drill={id}
// and the live wall at / are open side by side in one browser (one
// localStorage, as on a duty officer's desk). Checks:
//  - a ?drill= that is no drill id, or names no drill, shows an error page
//    (the id never reaches the markup) and asks nothing of /drills/ ID/...;
//    util.js's api() maps each path the page asks onto the drill's base;
//  - the drill's page carries the exercise marking (banner with the
//    exercise's title and state, watermark over the map, the title
//    prefixed), on the desk and on the dark wall in English too, and asks
//    situd for nothing outside /drills/{id}/ but its own files (/web/);
//  - the drill's alerts render on its page (queryRenderedFeatures on the
//    alert layer) within 30 s, the orange one's banner says EXERCISE, and
//    the depot the scenario draws down (RS-000015, sandbags 25,000 at
//    PT1H30M) shows its new stock on the drill's map; the live wall renders
//    none of the drill's alerts, its ticker and alert list stay as they
//    were, and its depot keeps its stock;
//  - a real alert posted to the real feed during the drill renders on /
//    and not on the drill's page;
//  - the controllers' skip moves the 60x drill past the waits between
//    those checks (PT40M, PT1H25M, the end), applying what it passes;
//  - once the drill has finished its banner says so, and
//    GET /drills/{id}/record.geojson lists every inject of the scenario once.
// Timings are printed as figures (JSON), never asserted tighter than 30 s
// liveness bounds. Screenshots go to $SITU_SHOTS (drill-*.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHOTS, situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium, jump, sleep } from './situd.mjs';

const SCENARIO_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'geodata', 'drills', 'xiang_flood.json');
const SCENARIO = JSON.parse(fs.readFileSync(SCENARIO_FILE, 'utf8'));
const SPEED = 60;
const LIVENESS_MS = 30000;
const IDLE_TIMEOUT_MS = 120000;
const MARK = '演练 EXERCISE';
// The depot the scenario draws down, and its stock after (XJ-11).
const DEPOT = SCENARIO.injects.find((i) => i.kind === 'feature_update' && i.payload.collection === 'resources' && i.payload.set.items);
const DEPOT_ID = DEPOT.payload.feature_id;
const DEPOT_SANDBAGS = DEPOT.payload.set.items.sandbag;
const DEPOT_LEAD_S = 5; // PT1H30M at 60x, once skipped to PT1H25M
// The headlines of the scenario's alerts (its CAP files' and its alert
// events'): one update replaces another as the drill runs.
const DRILL_HEADLINES = SCENARIO.injects.flatMap((i) => {
  if (i.kind === 'alert') return [i.payload.headline];
  if (i.kind !== 'cap') return [];
  const xml = fs.readFileSync(path.join(path.dirname(SCENARIO_FILE), i.payload_file), 'utf8');
  return [...xml.matchAll(/<headline>([^<]+)<\/headline>/g)].map((m) => m[1]);
});
// A real alert over 曲河街道, posted to the real feed during the drill.
const REAL_AREA = [[111.47, 26.365], [111.615, 26.365], [111.615, 26.455], [111.47, 26.455], [111.47, 26.365]];

const S = { figures: {} };

function post(p, token, body) {
  return request('POST', p, {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

// Opens url in a new page of the browser, recording its errors and the
// path of every request it makes to situd; waits until the map has its
// first list of alerts, and (idle) until it has been idle once, unless noMap. A
// drill's map at 60x may not come to rest while the shared CPU loads its tiles.
async function openPage(url, { noMap = false, idle = true } = {}) {
  const page = await S.ctx.newPage();
  const w = { page, errors: [], paths: [], drillHeaders: {} };
  page.on('pageerror', (e) => w.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') w.errors.push(m.text()); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol.startsWith('http')) w.paths.push(u.pathname + u.search);
  });
  // situd's X-Situ-Drill of each answer from under /drills/ (the drill that answered)
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/drills/')) w.drillHeaders[u.pathname] = r.headers()['x-situ-drill'] ?? null;
  });
  await page.goto(`${situd.base}${url}`);
  if (!noMap) await page.waitForFunction((i) => window.__situ && (window.__situ.idleAt || !i) && window.__situ.watch && window.__situ.watch.seen, idle, { timeout: IDLE_TIMEOUT_MS, polling: 100 });
  return w;
}

// The headlines of the alerts rendered on page's map (its alert layers).
function renderedAlerts(page) {
  return page.evaluate(() => {
    const map = window.__situ.map;
    const layers = ['alerts-fill', 'alerts-line'].filter((l) => map.getLayer(l));
    return [...new Set(map.queryRenderedFeatures({ layers }).map((f) => f.properties.headline || f.properties.event))];
  });
}

// What the ticker lists: [alert id, text] per item.
function tickerItems(page) {
  return page.evaluate(() => [...document.querySelectorAll('#ticker .tick[data-alert]')].map((x) => [x.dataset.alert, x.textContent]));
}

// Polls f (async, truthy when done) every 250 ms for up to ms; resolves to
// its value, or null when time ran out.
// Moves the drill's scenario clock on to offset (ISO 8601), applying every
// inject due before it (the controllers' skip): the test keeps the 60x flow
// around each check but does not wait out the 4 h 30 min between them.
async function skipTo(offset) {
  const r = await post(`/drills/${S.id}/control`, S.tokens.emergency_management, { action: 'skip', to: offset, mode: 'apply' });
  assert.equal(r.status, 200, `skip to ${offset}: ${r.status} ${r.body.toString().slice(0, 300)}`);
}

async function until(f, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(250);
  }
}

// The depot's sandbags as page's map draws it now (its tile feature), null
// when not drawn; the map is moved to zoom 13 over it unless it is there (an
// alert's flight moves it away).
function depotOnMap(page) {
  return page.evaluate(([id, c]) => {
    const m = window.__situ.map, x = m.getCenter();
    if (m.getZoom() < 13 || Math.abs(x.lng - c[0]) > 1e-4 || Math.abs(x.lat - c[1]) > 1e-4) {
      m.stop();
      m.jumpTo({ center: c, zoom: 13 });
      return null;
    }
    const f = m.queryRenderedFeatures({ layers: ['resources-depot'] }).find((y) => y.properties.id === id || y.id === id);
    return f ? { sandbag: f.properties.item_sandbag ?? null } : null;
  }, [DEPOT_ID, S.depot.geometry.coordinates]);
}

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-web-drill-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = demoDb(S.tmp);
  S.tokens = {};
  for (const d of ['emergency_management', 'meteorology']) {
    const { token, why } = feedToken(db, d);
    assert.ok(token, why);
    S.tokens[d] = token;
  }
  await startSitud(S.tmp, db);
  S.depot = json(await request('GET', `/collections/resources/items/${DEPOT_ID}`));
  S.depotBefore = (S.depot.properties.items || []).find((i) => i.item === 'sandbag');
  assert.ok(S.depotBefore && S.depotBefore.qty !== DEPOT_SANDBAGS, `${DEPOT_ID} holds no sandbags, or already ${DEPOT_SANDBAGS}`);
  S.ctx = await launchChromium(S.tmp, { viewport: { width: 1600, height: 900 } });
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  console.log(`figures: ${JSON.stringify(S.figures)}`);
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

test('a ?drill= that names no drill shows an error, asks nothing of it and puts nothing of it in the page', async () => {
  const hostile = '"><img src=x onerror="window.__pwned=1">';
  for (const [q, word] of [[encodeURIComponent(hostile), '无效'], ['..%2F..%2Ffeeds', '无效'], ['', '无效'], ['no-such-drill', '没有编号']]) {
    const w = await openPage(`/?drill=${q}`, { noMap: true });
    const err = await w.page.waitForSelector('#drill-error', { timeout: 20000 }).then(() => true, () => false);
    const got = await w.page.evaluate(() => ({
      text: document.body.innerText, title: document.title, imgs: document.images.length,
      pwned: window.__pwned === 1, map: !!document.querySelector('.maplibregl-canvas'),
    }));
    await sleep(500);
    assert.ok(err, `no error page for ?drill=${q}`);
    assert.ok(got.text.includes(word) && got.text.includes(MARK) && got.title.startsWith(MARK), JSON.stringify(got));
    assert.deepEqual([got.imgs, got.pwned, got.map], [0, false, false], `?drill=${q}: ${JSON.stringify(got)}`);
    const asked = w.paths.filter((p) => !p.startsWith('/web/') && !p.startsWith('/?'));
    // an unknown id is asked once, for its status (404); a bad one never
    assert.deepEqual(asked, q === 'no-such-drill' ? ['/drills/no-such-drill'] : [], `?drill=${q} asked: ${asked.join(' ')}`);
    if (q === '') await w.page.screenshot({ path: path.join(SHOTS, 'drill-bad-id.png') });
    await w.page.close();
  }
});

test("the page's base path: every route onto the drill's, its own files and the drills' routes kept", async () => {
  const w = await openPage('/?drill=x', { noMap: true });
  const paths = ['/tiles/hazards.json', '/tiles/hazards/{z}/{x}/{y}.mvt', '/events', '/townships?limit=10000', '/nearest?lon=1&lat=2',
    '/feeds', '/alerts/meteorology%3Ax/impact', '/export/drill.geojson?townships=1', '/closures', '/places?kind=village',
    '/collections/alerts/items?limit=1000', '/styles/day.json', '/healthz', '/drills/ab-12_C/tiles/a.json', '/web/schema.json', '/drills/ab-12_C'];
  const got = await w.page.evaluate(async (paths) => {
    const { api, drillOf } = await import('/web/util.js');
    const d = drillOf('?drill=ab-12_C');
    return { drill: d, mapped: paths.map((p) => api(p, d)), live: paths.map((p) => api(p, null)),
      bad: ['?drill=a/b', '?drill=a%3Cb', '?drill=', '?drill=-a', `?drill=${'a'.repeat(65)}`].map((q) => drillOf(q)) };
  }, paths);
  await w.page.close();
  assert.deepEqual(got.drill, { id: 'ab-12_C', base: '/drills/ab-12_C/' });
  assert.deepEqual(got.mapped, ['/drills/ab-12_C/tiles/hazards.json', '/drills/ab-12_C/tiles/hazards/{z}/{x}/{y}.mvt', '/drills/ab-12_C/events',
    '/drills/ab-12_C/townships?limit=10000', '/drills/ab-12_C/nearest?lon=1&lat=2', '/drills/ab-12_C/feeds', '/drills/ab-12_C/alerts/meteorology%3Ax/impact',
    '/drills/ab-12_C/export/drill.geojson?townships=1', '/drills/ab-12_C/closures', '/drills/ab-12_C/places?kind=village',
    '/drills/ab-12_C/collections/alerts/items?limit=1000', '/drills/ab-12_C/styles/day.json', '/drills/ab-12_C/healthz',
    '/drills/ab-12_C/tiles/a.json', '/web/schema.json', '/drills/ab-12_C']);
  assert.deepEqual(got.live, paths, 'the live picture: every path as it is');
  assert.ok(got.bad.every((b) => b && b.error && !b.base), JSON.stringify(got.bad));
});

test('a drill at 60x: marked, its alerts and depots on its page only; the live wall unchanged; the record lists every inject once', async () => {
  // the live wall first, as it stands before the drill
  S.live = await openPage('/');
  const liveBefore = { ticker: await tickerItems(S.live.page), count: await S.live.page.evaluate(() => window.__situ.alerts) };

  const started = Date.now();
  const r = await post('/drills', S.tokens.emergency_management, { scenario_name: 'xiang_flood', speed: SPEED });
  assert.equal(r.status, 201, r.body.toString().slice(0, 400));
  const status = json(r);
  S.id = status.id;
  assert.equal(r.headers.location, `/drills/${S.id}/`);
  S.figures.drill_start_ms = Date.now() - started;

  S.drill = await openPage(`/?drill=${encodeURIComponent(S.id)}`, { idle: false });
  const page = S.drill.page;
  S.figures.drill_page_ready_ms = Date.now() - started;

  // the marking: banner (the exercise's title, running), watermark over the map, title
  const mark = await page.evaluate(() => {
    const b = document.getElementById('drill-banner'), wm = document.getElementById('drill-watermark');
    const map = document.getElementById('map').getBoundingClientRect(), r = wm && wm.getBoundingClientRect();
    return {
      banner: b && b.innerText, bannerShown: !!b && b.getBoundingClientRect().height > 10, title: document.title,
      watermark: wm && wm.innerText.split('\n').filter(Boolean).length,
      covers: !!r && r.left <= map.left + 1 && r.top <= map.top + 1 && r.right >= map.right - 1 && r.bottom >= map.bottom - 1,
      clickThrough: wm && getComputedStyle(wm).pointerEvents === 'none',
    };
  });
  assert.ok(mark.bannerShown && mark.banner.includes(MARK) && mark.banner.includes(SCENARIO.title), JSON.stringify(mark));
  assert.ok(/进行中|已结束/.test(mark.banner), `the banner names no state: ${mark.banner}`);
  assert.ok(mark.title.startsWith(MARK), mark.title);
  assert.ok(mark.watermark >= 10 && mark.covers && mark.clickThrough, `watermark: ${JSON.stringify(mark)}`);

  // the drill's first alert renders on its page
  const seen = await until(async () => (await renderedAlerts(page)).find((h) => DRILL_HEADLINES.includes(h)), LIVENESS_MS + 10000);
  const seenAt = Date.now();
  S.figures.first_drill_alert_rendered_ms = seen ? seenAt - started : null;
  assert.ok(seen, `no alert of the drill was rendered on /?drill= within ${(LIVENESS_MS + 10000) / 1000} s of the start`);
  const tickerText = await page.textContent('#ticker');
  assert.ok(tickerText.includes(MARK) && DRILL_HEADLINES.some((h) => tickerText.includes(h)), tickerText);
  await page.screenshot({ path: path.join(SHOTS, 'drill-desk.png') });

  // a real alert to the real feed: on /, not in the drill
  const now = Date.now();
  const headline = `drill-test real ${now}`;
  const rr = await post('/feeds/meteorology/events', S.tokens.meteorology, { events: [{ id: `real-${now}`, type: 'alert', event: 'rainstorm', severity: 'yellow', headline,
    onset: new Date(now - 60000).toISOString(), expires: new Date(now + 3600000).toISOString(), geometry: { type: 'Polygon', coordinates: [REAL_AREA] } }] });
  assert.equal(rr.status, 200, rr.body.toString().slice(0, 300));
  const onLive = await until(async () => (await renderedAlerts(S.live.page)).includes(headline), LIVENESS_MS);
  S.figures.real_alert_on_live_ms = onLive ? Date.now() - now : null;
  assert.ok(onLive, `the real alert was not rendered on / within ${LIVENESS_MS / 1000} s`);

  // the orange CAP (XJ-05, PT45M) raises the drill's banner, marked as an exercise
  await skipTo('PT40M');
  const orange = await page.waitForFunction(() => {
    const b = document.getElementById('alert-banner');
    return b && !b.hidden && b.innerText;
  }, null, { timeout: 45000 + LIVENESS_MS, polling: 200 }).then((h) => h.jsonValue(), () => null);
  assert.ok(orange && orange.includes(MARK), `the drill's attention banner: ${orange}`);
  assert.ok(await page.evaluate(() => window.__situ.chimes > 0 && window.__situ.chimeTones === 3), 'no exercise chime');

  // the depot drawn down on the drill's map, as it was on the live one
  await skipTo('PT1H25M');
  const waitDepot = DEPOT_LEAD_S * 1000 + LIVENESS_MS;
  const depot = await until(async () => {
    const d = await depotOnMap(page);
    return d && d.sandbag === DEPOT_SANDBAGS && d;
  }, waitDepot);
  const depotAt = Date.now();
  S.figures.depot_rendered_ms = depot ? depotAt - started : null;
  assert.ok(depot, `${DEPOT_ID} does not show ${DEPOT_SANDBAGS} sandbags on the drill's map: ${JSON.stringify(await depotOnMap(page))}`);
  await page.screenshot({ path: path.join(SHOTS, 'drill-depot.png') });
  await S.live.page.bringToFront();
  const liveDepot = await until(() => depotOnMap(S.live.page), 2 * LIVENESS_MS);
  assert.deepEqual(liveDepot, { sandbag: S.depotBefore.qty }, `the live wall's ${DEPOT_ID}`);
  assert.equal(json(await request('GET', `/collections/resources/items/${DEPOT_ID}`)).properties.items.find((i) => i.item === 'sandbag').qty, S.depotBefore.qty);

  // the real alert never reached the drill; nothing of the drill reached the live wall
  const drillAlerts = await page.evaluate(() => window.__situ.live.alerts.map((f) => f.properties.headline));
  assert.ok(!drillAlerts.includes(headline), `the real alert is in the drill: ${drillAlerts}`);
  await jump(S.live.page, [111.6, 26.35], 9);
  await page.bringToFront();
  const liveAfter = { ticker: await tickerItems(S.live.page), alerts: await renderedAlerts(S.live.page) };
  const drillHeadlines = new Set(drillAlerts);
  assert.ok(!liveAfter.alerts.some((h) => drillHeadlines.has(h)), `the live wall renders drill alerts: ${liveAfter.alerts}`);
  assert.deepEqual(liveAfter.ticker.filter(([id]) => id !== `meteorology:real-${now}`), liveBefore.ticker, "the live wall's ticker changed beyond the real alert");
  assert.equal(await S.live.page.evaluate(() => window.__situ.alerts), liveBefore.count + 1);
  const liveBanner = await S.live.page.evaluate(() => ({ attention: window.__situ.attention, pending: localStorage.getItem('situ.alerts.pending') }));
  assert.deepEqual(liveBanner.attention, [], `the live wall waits for acknowledgement of: ${liveBanner.attention}`);
  await S.live.page.screenshot({ path: path.join(SHOTS, 'drill-live.png') });

  // the dark wall, in English, carries the marking too
  const wall = await openPage(`/?drill=${encodeURIComponent(S.id)}&wall=1&lang=en`, { idle: false });
  const wallMark = await wall.page.evaluate(() => ({ banner: document.getElementById('drill-banner').innerText, wm: !!document.getElementById('drill-watermark'), title: document.title, wall: document.body.classList.contains('wall') }));
  await wall.page.screenshot({ path: path.join(SHOTS, 'drill-wall.png') });
  await wall.page.close();
  assert.ok(wallMark.wall && wallMark.wm && wallMark.title.startsWith(MARK) && wallMark.banner.includes(MARK) && /Scenario time/.test(wallMark.banner), JSON.stringify(wallMark));
  assert.deepEqual(wall.errors, []);

  // the drill's page asked situd for nothing outside its drill but the page's own files
  const outside = S.drill.paths.filter((p) => !p.startsWith(`/drills/${S.id}/`) && p !== `/drills/${S.id}` && !p.startsWith('/web/') && !p.startsWith('/?drill='));
  assert.deepEqual(outside, [], 'the drill page asked outside its drill');
  assert.ok(!S.live.paths.some((p) => p.startsWith('/drills/')), 'the live page asked a drill');
  const answeredBy = Object.entries(S.drill.drillHeaders).filter(([, v]) => v !== S.id);
  assert.deepEqual(answeredBy, [], `answers to the drill page not marked X-Situ-Drill: ${S.id}`);
  assert.ok(Object.keys(S.drill.drillHeaders).some((p) => p.includes('/tiles/')), 'no tile of the drill was asked');

  // the end: the banner says so, and the record lists every inject once
  await skipTo('PT4H30M');
  const finished = await until(async () => json(await request('GET', `/drills/${S.id}`)).state === 'finished', LIVENESS_MS);
  S.figures.drill_finished_ms = finished ? Date.now() - started : null;
  assert.ok(finished, `the drill did not finish: ${JSON.stringify(json(await request('GET', `/drills/${S.id}`)))}`);
  const ended = await page.waitForFunction(() => /已结束/.test(document.getElementById('drill-banner').innerText), null, { timeout: 10000, polling: 200 }).then(() => true, () => false);
  await page.screenshot({ path: path.join(SHOTS, 'drill-finished.png') });
  assert.ok(ended, 'the banner does not say the drill has finished');
  const rec = await request('GET', `/drills/${S.id}/record.geojson`);
  assert.equal(rec.status, 200);
  const rows = json(rec).features.filter((f) => f.properties.action === 'inject');
  const first = rows.find((f) => f.properties.inject_id === SCENARIO.injects.find((i) => i.kind === 'cap').id);
  S.figures.first_alert_rendered_after_inject_ms = first ? seenAt - Date.parse(first.properties.wall_at) : null;
  const drawn = rows.find((f) => f.properties.inject_id === DEPOT.id);
  S.figures.depot_rendered_after_inject_ms = drawn ? depotAt - Date.parse(drawn.properties.wall_at) : null;
  const injected = rows.map((f) => f.properties.inject_id).sort();
  assert.deepEqual(injected, SCENARIO.injects.map((i) => i.id).sort());
  assert.deepEqual(S.drill.errors, []);
  assert.deepEqual(S.live.errors, []);
});
