// phone.test.mjs: the township officer's page (/m/) in a real browser (node
// --test): Debian's chromium through playwright-core as a phone (390x844,
// device scale 3, touch), geolocation granted at a point in Yongzhou, the
// network throttled through CDP (1.6 Mbit/s down, 150 ms round trip), against
// a real situd on the demo (tests/web/situd.mjs). Checks: the list of nearest
// supplies comes before the map library is asked for; the flow open -> allow
// location -> pick an item -> call; teams by type; my township with its
// overdue hidden dangers first; an alert posted during the test shows as a
// banner; the page's own code stays under 60 KB gzip; the targets and text of
// wet hands (44 px, 16 px) in portrait and landscape; a GCJ-02 position
// (?crs=gcj02) gives the same answer; a warm reload; an offline reload served
// by the service worker shows the last answer with its age and the
// township's map, and finds a village of the township by name (not one far
// away: only the villages around the township are kept); location denied and situd failing; a village searched by
// name, with the routes by road and the reach area drawn on the map (its
// sources and rendered features). No console error and no
// request leaving 127.0.0.1 (every other host is routed to an abort and
// recorded). Screenshots and figures (times in ms, sizes in KB gzip) go to
// $SITU_SHOTS. Timings are reported, not asserted, beyond liveness.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { SHOTS, situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium, sleep } from './situd.mjs';

const HERE = { longitude: 111.6, latitude: 26.4 }; // 伊塘镇, 冷水滩区
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const SLOW = { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 0.75e6 / 8 };
const FAST = { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };
const LIVENESS_MS = 20000; // "it answered at all": the budgets are reported, not asserted
// The page's own code, without the map library (served gzip by situd).
const OWN_CODE = ['/m/', '/m/phone.js', '/m/i18n.js', '/m/util.js', '/m/phone.css', '/m/sw.js', '/m/layers.js'];
// The one console error the page causes on purpose: the road probe, 400 while situd has no road network.
const ROAD_PROBE = (e) => /status of 400/.test(e.text) && /[?&]by=road/.test(e.url);

const S = { tmp: null, figures: {}, foreign: [], errors: [] };

// ---- the phone -------------------------------------------------------------------

async function launch(extra = {}) {
  const ctx = await launchChromium(S.tmp, {
    ...PHONE, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', geolocation: HERE, permissions: ['geolocation'], ...extra,
  });
  const local = (u) => ['data:', 'blob:'].includes(u.protocol) || u.hostname === '127.0.0.1';
  await ctx.route((u) => !local(u), (route) => {
    S.foreign.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  ctx.on('request', (r) => { if (!local(new URL(r.url()))) S.foreign.push(r.url()); });
  return ctx;
}

// A new page of ctx, throttled like a weak mobile network, its console errors recorded.
async function phonePage(ctx) {
  const page = await ctx.newPage();
  page.on('console', (m) => {
    const e = { text: m.text(), url: m.location().url || '' };
    if (m.type() === 'error' && !ROAD_PROBE(e)) S.errors.push(`console: ${e.text} ${e.url}`);
  });
  page.on('pageerror', (e) => S.errors.push(`page error: ${e.message}`));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', SLOW);
  page.cdp = cdp;
  return page;
}

const network = (page, conditions) => page.cdp.send('Network.emulateNetworkConditions', conditions);

// Opens url and waits for the first list; resolves to the time it was shown (ms from navigation).
async function openList(page, url) {
  await page.goto(url);
  await page.waitForSelector('#list li.result', { timeout: LIVENESS_MS });
  return page.evaluate(() => window.__phone.firstList);
}

const mapIdle = (page) => page.waitForFunction(() => window.__phone.mapIdle && window.__phone.map, null, { timeout: 60000, polling: 100 });

// When the page started and finished fetching the map library (ms from navigation), once it has it.
const mapLibraryAsked = (page) => page.waitForFunction(() => {
  const r = performance.getEntriesByType('resource').find((x) => x.name.includes('maplibre-gl.mjs'));
  return r && { start: r.startTime, end: r.responseEnd };
}, null, { timeout: 60000, polling: 100 }).then((h) => h.jsonValue());

function rows(page) {
  return page.$$eval('#list li.result', (ls) => ls.map((li) => ({
    name: li.querySelector('.name').textContent, meta: li.querySelector('.meta').textContent,
    qty: (li.querySelector('.qty') || {}).textContent || '', tel: (li.querySelector('a.call') || {}).href || '',
  })));
}

function shot(page, name) {
  return page.screenshot({ path: path.join(SHOTS, `phone-${name}.png`) });
}

function noLeaksNoErrors() {
  assert.deepEqual(S.foreign, [], `requests left 127.0.0.1: ${S.foreign.join(' ')}`);
  assert.deepEqual(S.errors, [], `console errors:\n${S.errors.join('\n')}`);
}

// ---- set-up --------------------------------------------------------------------------

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-phone-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = demoDb(S.tmp);
  S.feed = feedToken(db, 'meteorology');
  await startSitud(S.tmp, db);
  const q = `lon=${HERE.longitude}&lat=${HERE.latitude}`;
  S.here = json(await request('GET', `/locate?${q}`)).township;
  S.sandbags = json(await request('GET', `/nearest?${q}&collection=resources&k=5&item=sandbag`)).features;
  S.summary = json(await request('GET', `/townships/${S.here.code}`));
  S.ctx = await launch();
  S.page = await phonePage(S.ctx);
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  fs.writeFileSync(path.join(SHOTS, 'phone-figures.json'), `${JSON.stringify(S.figures, null, 2)}\n`);
  console.log(`figures: ${JSON.stringify(S.figures)}`);
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

// ---- tests ------------------------------------------------------------------------------

test('the page\'s own code is under 60 KB gzip', async () => {
  let total = 0;
  const by = {};
  for (const p of OWN_CODE) {
    const r = await request('GET', p, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(r.status, 200, `${p} answered ${r.status}`);
    const n = r.headers['content-encoding'] === 'gzip' ? r.body.length : zlib.gzipSync(r.body).length;
    by[p] = +(n / 1024).toFixed(1);
    total += n;
  }
  S.figures.own_code_kb_gzip = { total: +(total / 1024).toFixed(1), by };
  assert.ok(total < 60 * 1024, `the page's own code is ${(total / 1024).toFixed(1)} KB gzip: ${JSON.stringify(by)}`);
});

test('the /m/ route: the page with its CSP, the service worker, and no way out of the folder', async () => {
  const page = await request('GET', '/m/');
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.headers['content-security-policy'] || '', /default-src 'self'/);
  assert.match((await request('GET', '/m/sw.js')).headers['content-type'], /^text\/javascript/);
  assert.equal(json(await request('GET', '/m/schema.json')).items.length, 22);
  for (const bad of ['/m/../CMakeCache.txt', '/m/%2e%2e/CMakeCache.txt', '/m/.x.js', '/m//phone.js', '/m/phone.js/', '/m/m.htmlx', '/m/x%00.js']) {
    const r = await request('GET', bad);
    assert.equal(r.status, 404, `${bad} answered ${r.status}`);
  }
});

test('cold, on a slow network: the list of nearest supplies comes first, then the map library', async () => {
  const page = S.page;
  const firstList = await openList(page, `${situd.base}/m/`);
  const list = await rows(page);
  assert.equal(list.length, 5, JSON.stringify(list));
  assert.ok(list.every((r) => r.name && /\d/.test(r.meta) && /^tel:\+?\d+$/.test(r.tel)), JSON.stringify(list));
  const lib = await mapLibraryAsked(page);
  Object.assign(S.figures, { cold_first_list_ms: Math.round(firstList), cold_map_library_loaded_ms: Math.round(lib.end),
    cold_map_library_asked_ms: Math.round(lib.start) });
  assert.ok(lib.start >= firstList, `the map library was asked for at ${lib.start} ms, before the first list at ${firstList} ms`);
  const here = await page.textContent('#here');
  assert.ok(here.includes(S.here.name), `the page does not say where I am (${S.here.name}): ${here}`);
  noLeaksNoErrors();
});

test('open, allow location, pick an item, call: the sandbags list and its tel: link in two taps on the page', async () => {
  const page = S.page;
  await page.tap('#choices button[data-code="sandbag"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#list li.result .qty')].length > 0, null, { timeout: LIVENESS_MS });
  const list = await rows(page);
  const want = S.sandbags.map((f) => f.properties.name);
  assert.deepEqual(list.map((r) => r.name), want, 'the list is not the nearest sandbags, nearest first');
  assert.ok(list.every((r) => /编织袋/.test(r.qty) && /袋/.test(r.qty)), JSON.stringify(list));
  const call = page.locator('#list li.result a.call').first();
  const box = await call.boundingBox();
  assert.equal(await call.getAttribute('href'), `tel:${S.sandbags[0].properties.phone.replace(/[^\d+]/g, '')}`);
  assert.ok(box.width >= 44 && box.height >= 44, `the call button is ${box.width}x${box.height} px`);
  await network(page, FAST); // the map's tiles, unthrottled: the rest checks behaviour, the warm reload measures again
  await mapIdle(page);
  const lines = await page.waitForFunction(() => window.__phone.map.queryRenderedFeatures({ layers: ['nearest-lines'] }).length, null,
    { timeout: 10000 }).then((h) => h.jsonValue(), () => 0);
  assert.ok(lines > 0, 'no line drawn to the answers on the map');
  const road = await page.$$eval('#list .road', (x) => x.length);
  assert.equal(road, 0, 'travel times shown for a point more than 1 km from every road');
  assert.ok(await page.locator('#map-note').isHidden(), 'the 30-minute reach is announced for a point no road reaches');
  await shot(page, 'sandbags');
  noLeaksNoErrors();
});

test('teams by type', async () => {
  const page = S.page;
  await page.tap('#tab-team');
  await page.tap('#choices button[data-code="water_rescue"]');
  await page.waitForFunction(() => /[?&]team_type=water_rescue/.test(window.__phone.answers.at(-1).url), null, { timeout: LIVENESS_MS });
  await page.waitForFunction(() => [...document.querySelectorAll('#list li.result .meta')].every((m) => m.textContent.includes('水上救援')), null,
    { timeout: LIVENESS_MS });
  const want = json(await request('GET', `/nearest?lon=${HERE.longitude}&lat=${HERE.latitude}&collection=resources&k=5&category=team&team_type=water_rescue`));
  assert.deepEqual((await rows(page)).map((r) => r.name), want.features.map((f) => f.properties.name));
  await page.tap('#tab-item');
  await page.waitForFunction(() => !/[?&]category=team/.test(window.__phone.answers.filter((a) => a.kind === 'nearest').at(-1).url), null, { timeout: LIVENESS_MS });
});

test('my township: the four-map summary, overdue hidden dangers first', async () => {
  const page = S.page;
  const overdue = S.summary.maps.hazards.overdue;
  assert.ok(overdue > 0, `the demo township ${S.here.code} has no overdue hidden danger: the test needs one`);
  const got = await page.waitForFunction((n) => document.querySelectorAll('#overdue li').length === n && document.querySelector('#township').innerText, overdue,
    { timeout: LIVENESS_MS }).then((h) => h.jsonValue(), () => null);
  assert.ok(got, `the township block does not list ${overdue} overdue hidden dangers`);
  const order = await page.$$eval('#township > *', (els) => els.map((e) => e.id || e.className));
  assert.ok(order.indexOf('overdue') < order.findIndex((c) => /counts/.test(c)), `overdue is not first: ${order}`);
  assert.ok(got.includes(S.here.name) && got.includes(`重大事故隐患分布图 ${S.summary.maps.hazards.total}`), got.slice(0, 300));
});

test('an alert posted during the test shows as a banner', async () => {
  assert.ok(S.feed.token, S.feed.why);
  const page = S.page;
  const { longitude: x, latitude: y } = HERE;
  const headline = `phone-test ${process.pid} ${Date.now()}`;
  const now = Date.now();
  const body = JSON.stringify({ events: [{
    id: `phone-${process.pid}-${now}`, type: 'alert', event: 'mountain_torrent', severity: 'red', headline,
    onset: new Date(now - 60000).toISOString(), expires: new Date(now + 3600000).toISOString(),
    geometry: { type: 'Polygon', coordinates: [[[x - 0.05, y - 0.05], [x + 0.05, y - 0.05], [x + 0.05, y + 0.05], [x - 0.05, y + 0.05], [x - 0.05, y - 0.05]]] },
  }] });
  const r = await request('POST', '/feeds/meteorology/events', { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.feed.token}` }, body });
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  const sent = Date.now();
  const text = await page.waitForFunction((h) => {
    const b = document.getElementById('banner');
    return !b.hidden && b.textContent.includes(h) && b.textContent;
  }, headline, { timeout: LIVENESS_MS, polling: 100 }).then((h) => h.jsonValue(), () => null);
  S.figures.alert_banner_ms = Date.now() - sent;
  await shot(page, 'alert');
  assert.ok(text && text.includes('红色'), `no red banner with "${headline}": ${text}`);
  await page.tap('#banner button');
  assert.ok(await page.locator('#banner').isHidden());
});

// Every visible control and its text: {w, h, font, fg, bg} per element.
function targets(page) {
  return page.evaluate(() => {
    const seen = [];
    for (const e of document.querySelectorAll('button, a, select, input')) {
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') continue;
      seen.push({ what: `${e.tagName} ${e.id || e.textContent.trim().slice(0, 12)}`, w: r.width, h: r.height });
    }
    const small = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const e = n.parentElement;
      if (!n.textContent.trim() || !e.getClientRects().length || e.closest('#map')) continue;
      const px = parseFloat(getComputedStyle(e).fontSize);
      if (px < 16) small.push(`${e.tagName}.${e.className} ${px}px "${n.textContent.trim().slice(0, 20)}"`);
    }
    return { seen, small, overflow: document.scrollingElement.scrollWidth - innerWidth };
  });
}

test('for hands in the rain: 44 px targets, 16 px text, high contrast, no hover, portrait and landscape', async () => {
  const page = S.page;
  const css = (await request('GET', '/m/phone.css')).body.toString();
  assert.ok(!/:hover/.test(css), 'a control works by hover');
  for (const [name, size] of [['portrait', { width: 390, height: 844 }], ['landscape', { width: 844, height: 390 }]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(300);
    const t = await targets(page);
    const tiny = t.seen.filter((x) => x.w < 44 || x.h < 44);
    assert.deepEqual(tiny, [], `${name}: targets under 44 px`);
    assert.deepEqual(t.small, [], `${name}: text under 16 px`);
    assert.ok(t.overflow <= 0, `${name}: the page is ${t.overflow} px wider than the screen`);
    await shot(page, name);
  }
  await page.setViewportSize(PHONE.viewport);
  const contrast = await page.evaluate(() => {
    const lum = (c) => {
      const [r, g, b] = c.match(/\d+/g).map(Number).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const bgOf = (e) => { for (; e; e = e.parentElement) { const b = getComputedStyle(e).backgroundColor; if (!/rgba\(.*, 0\)/.test(b) && b !== 'transparent') return b; } return 'rgb(255, 255, 255)'; };
    return [...document.querySelectorAll('#list .name, #list .meta, #list a.call, #choices button, #here, header h1')].map((e) => {
      const [a, b] = [lum(getComputedStyle(e).color), lum(bgOf(e))];
      return { what: e.className || e.id || e.tagName, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
    }).filter((x) => x.ratio < 7);
  });
  assert.deepEqual(contrast, [], 'contrast under 7:1 (WCAG AAA)');
});

// WGS84 -> GCJ-02 (the published forward transform; situd holds the inverse).
function gcj02Of(lon, lat) {
  const A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  const x = lon - 105, y = lat - 35;
  const wave = (u, v) => ((20 * Math.sin(6 * u * PI) + 20 * Math.sin(2 * u * PI)) * 2) / 3 +
    ((20 * Math.sin(v * PI) + 40 * Math.sin((v / 3) * PI)) * 2) / 3;
  let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + wave(x, y) +
    ((160 * Math.sin((y / 12) * PI) + 320 * Math.sin((y * PI) / 30)) * 2) / 3;
  let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + wave(x, x) +
    ((150 * Math.sin((x / 12) * PI) + 300 * Math.sin((x / 30) * PI)) * 2) / 3;
  const rad = (lat / 180) * PI;
  const m = 1 - EE * Math.sin(rad) ** 2;
  dLat = (dLat * 180) / (((A * (1 - EE)) / (m * Math.sqrt(m))) * PI);
  dLon = (dLon * 180) / ((A / Math.sqrt(m)) * Math.cos(rad) * PI);
  return { longitude: lon + dLon, latitude: lat + dLat };
}

test('a GCJ-02 position (?crs=gcj02) gives the same nearest depots as its WGS84 point', async () => {
  const shifted = gcj02Of(HERE.longitude, HERE.latitude);
  const back = json(await request('GET', `/nearest?lon=${shifted.longitude}&lat=${shifted.latitude}&crs=gcj02&collection=resources&k=1`)).query.wgs84;
  assert.ok(Math.abs(back[0] - HERE.longitude) < 1e-5 && Math.abs(back[1] - HERE.latitude) < 1e-5, `situd does not read ${JSON.stringify(shifted)} as HERE: ${back}`);
  await S.ctx.setGeolocation(shifted);
  const page = S.page;
  await page.goto(`${situd.base}/m/?crs=gcj02`);
  await page.waitForFunction(() => window.__phone.answers.some((a) => a.kind === 'nearest' && !/crs=gcj02/.test(a.url)), null, { timeout: LIVENESS_MS });
  const asked = await page.evaluate(() => window.__phone.answers.filter((a) => a.kind === 'nearest').map((a) => a.url));
  assert.ok(/crs=gcj02/.test(asked[0]), `the GCJ-02 position was not asked as such: ${asked}`);
  await page.waitForFunction((n) => document.querySelector('#here').textContent.includes(n), S.here.name, { timeout: LIVENESS_MS });
  const names = (await rows(page)).map((r) => r.name);
  assert.deepEqual(names, S.sandbags.map((f) => f.properties.name), 'a GCJ-02 position answers differently from its WGS84 point');
  await S.ctx.setGeolocation(HERE);
});

test('warm: the list again from the service worker and the caches', async () => {
  const page = S.page;
  await page.waitForFunction(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return reg && reg.active && navigator.serviceWorker.controller;
  }, null, { timeout: LIVENESS_MS });
  await network(page, SLOW);
  const firstList = await openList(page, `${situd.base}/m/`);
  S.figures.warm_first_list_ms = Math.round(firstList);
  await network(page, FAST);
  assert.ok(firstList < LIVENESS_MS);
  noLeaksNoErrors();
});

test('offline: the page opens, shows the last answer with its age and draws the township from kept tiles', async () => {
  const page = S.page;
  await mapIdle(page);
  // the service worker keeps the township's tiles z10..z14 once the page names it
  const kept = await page.waitForFunction(async () => {
    const n = (await (await caches.open('situ-m-tiles')).keys()).length;
    return n >= 20 && n === window.__phone.keptTiles && n;
  }, null, { timeout: 60000, polling: 500 }).then((h) => h.jsonValue(), () => 0);
  S.figures.kept_tiles = kept;
  assert.ok(kept > 0, 'the service worker kept no tile of the township');
  // and the villages around it, for a search by name offline
  S.figures.kept_villages = await page.waitForFunction(() => window.__phone.keptVillages, null, { timeout: LIVENESS_MS })
    .then((h) => h.jsonValue(), () => 0);
  const [near, far] = await villagesNearAndFar();
  await S.ctx.setOffline(true);
  const errorsBefore = S.errors.length;
  await page.reload();
  await page.waitForSelector('#list li.result', { timeout: LIVENESS_MS });
  const age = await page.textContent('#age');
  assert.ok(await page.locator('#age').isVisible() && /离线/.test(age) && /前/.test(age), `no offline mark with an age: "${age}"`);
  assert.equal((await rows(page)).length, 5);
  await mapIdle(page);
  const drawn = await page.evaluate(() => window.__phone.map.queryRenderedFeatures({ layers: ['townships-fill'] }).length);
  await shot(page, 'offline');
  const found = await searchOffline(page, near);
  await shot(page, 'offline-village');
  const notKept = await searchOffline(page, far);
  await S.ctx.setOffline(false);
  assert.ok(drawn > 0, 'the map of the township does not draw offline');
  assert.ok(S.figures.kept_villages > 0 && S.figures.kept_villages <= 2000, `villages kept: ${S.figures.kept_villages}`);
  assert.deepEqual(found, [`${near.properties.name} ${near.properties.county_name} ${near.properties.township_name}`],
    `the village ${near.properties.name} of my township is not found by name offline`);
  assert.deepEqual(notKept, [], `a village ${far.properties.name} far from my township was found offline: more than the villages around it kept`);
  // the browser's line for each attempt of the event stream to reconnect is the network's state, not the page's error
  const offline = S.errors.splice(errorsBefore).filter((e) => !/net::ERR_INTERNET_DISCONNECTED \S+\/events$/.test(e));
  assert.deepEqual(offline, [], 'console errors offline');
});

// Two villages whose names no other village has: one in my township, one
// more than half a degree from it (beyond the villages kept around it).
async function villagesNearAndFar() {
  const all = json(await request('GET', '/places?kind=village&limit=10000')).features;
  const count = {};
  for (const f of all) count[f.properties.name] = (count[f.properties.name] || 0) + 1;
  const unique = all.filter((f) => count[f.properties.name] === 1);
  const near = unique.find((f) => f.properties.township_code === S.here.code);
  const far = unique.find((f) => Math.abs(f.geometry.coordinates[0] - HERE.longitude) + Math.abs(f.geometry.coordinates[1] - HERE.latitude) > 1.2);
  assert.ok(near && far, 'no village of a unique name in my township, or none far from it');
  return [near, far];
}

// The village hits ("name county township") listed for v's name typed in the search box.
async function searchOffline(page, v) {
  await page.fill('#q', '');
  await page.waitForFunction(() => !document.querySelector('#q-results li'), null, { timeout: LIVENESS_MS });
  await page.fill('#q', v.properties.name);
  await page.waitForFunction(() => document.querySelector('#q-results li'), null, { timeout: LIVENESS_MS });
  return page.$$eval('#q-results li.village', (ls) => ls.map((li) => li.textContent.replace(/\s+/g, ' ').trim()));
}

test('location denied: one line, the map pick and the search; a failing situd: the reason and the last answer', async () => {
  const ctx = await launch({ permissions: [] });
  try {
    await deniedThenFailing(ctx);
  } finally {
    await ctx.close();
  }
  S.errors = S.errors.filter((e) => !/status of 503/.test(e) || !/\/nearest\?/.test(e)); // the 503s routed on purpose
  noLeaksNoErrors();
});

async function deniedThenFailing(ctx) {
  const page = await phonePage(ctx);
  await network(page, FAST);
  await page.goto(`${situd.base}/m/?lang=en`);
  const line = await page.waitForSelector('#denied', { timeout: LIVENESS_MS }).then((e) => e.textContent());
  assert.match(line, /denied or unavailable/);
  assert.ok(await page.locator('#pick').isVisible() && await page.locator('#q').isVisible());
  await page.fill('#q', S.here.name);
  await page.tap('#q-results button');
  await page.waitForSelector('#list li.result', { timeout: LIVENESS_MS });
  assert.ok((await page.textContent('#here')).includes(S.here.name));
  await mapIdle(page);
  await page.tap('#pick');
  await page.locator('#map').scrollIntoViewIfNeeded();
  const box = await page.locator('#map').boundingBox();
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => /Picked on the map/.test(document.querySelector('#here').textContent), null, { timeout: LIVENESS_MS });
  // the demo has roads: the list ends on the answer by road, travel times shown
  await page.waitForSelector('#list li.result b.road', { timeout: LIVENESS_MS });
  // situd answers 503 from now on for /nearest: the reason, and the last good answer with its age
  await ctx.route(/\/nearest\?/, (route) => route.fulfill({ status: 503, contentType: 'application/problem+json',
    body: JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'test: situd is failing' }) }));
  const before = (await rows(page)).map((r) => r.name);
  await page.tap('#choices button[data-code="life_jacket"]');
  const st = await page.waitForFunction(() => !document.querySelector('#status').hidden && document.querySelector('#status').textContent, null,
    { timeout: LIVENESS_MS }).then((h) => h.jsonValue());
  assert.match(st, /503 test: situd is failing/);
  assert.match(await page.textContent('#age'), /showing the answer of \d+ s ago/);
  assert.deepEqual((await rows(page)).map((r) => r.name), before, 'the last good answer is not shown');
  await shot(page, 'failing');
  // outside the city: still answers, marked
  await ctx.unroute(/\/nearest\?/);
  await ctx.setGeolocation({ longitude: 113.5, latitude: 28 });
  await ctx.grantPermissions(['geolocation']);
  await page.tap('#locate');
  await page.waitForSelector('#outside', { timeout: LIVENESS_MS });
  await page.waitForFunction(() => document.querySelector('#status').hidden, null, { timeout: LIVENESS_MS });
  assert.equal((await rows(page)).length > 0, true);
  await shot(page, 'outside');
}

test('a village searched by name: where am I, then the nearest by road with their routes and the 30-minute reach drawn on the map', async () => {
  // a village whose name no other village has, near enough a road to be answered by road
  const villages = json(await request('GET', '/places?kind=village&limit=10000')).features;
  const count = {};
  for (const f of villages) count[f.properties.name] = (count[f.properties.name] || 0) + 1;
  let v = null, want = null;
  for (const f of villages.filter((x) => count[x.properties.name] === 1)) {
    const [lon, lat] = f.geometry.coordinates.map((c) => c.toFixed(5));
    const r = await request('GET', `/nearest?lon=${lon}&lat=${lat}&collection=resources&k=5&by=road&route=1`);
    if (r.status === 200 && json(r).features.length === 5) [v, want] = [f, json(r)];
    if (v) break;
  }
  assert.ok(v, 'no village of a unique name within reach of a road');
  const [lon, lat] = v.geometry.coordinates.map((c) => c.toFixed(5));
  const reach = json(await request('GET', `/reach?lon=${lon}&lat=${lat}&minutes=30`));
  // opened at HERE, more than 1 km from every road: answered in a straight line, which
  // must not make the page believe situd has no road network for the village after it
  const ctx = await launch();
  try {
    const page = await phonePage(ctx);
    await network(page, FAST);
    await page.goto(`${situd.base}/m/?lang=en`);
    await page.waitForSelector('#list li.result', { timeout: LIVENESS_MS });
    await page.waitForFunction(() => window.__phone.answers.some((a) => a.kind === 'nearest'), null, { timeout: LIVENESS_MS });
    await sleep(2000); // the road answer's 400 for HERE has come (unthrottled: milliseconds)
    await page.fill('#q', v.properties.name);
    const hit = page.locator('#q-results li.village button', { hasText: v.properties.township_name });
    await hit.waitFor({ timeout: LIVENESS_MS });
    await hit.tap();
    await page.waitForFunction((name) => document.querySelector('#here').textContent.includes(name), v.properties.name, { timeout: LIVENESS_MS });
    const here = await page.textContent('#here');
    assert.ok(here.includes(v.properties.township_name), `the village's township is not named: ${here}`);
    await page.waitForSelector('#list li.result b.road', { timeout: LIVENESS_MS });
    assert.deepEqual((await rows(page)).map((r) => r.name), want.features.map((f) => f.properties.name), 'not the nearest by road from the village');
    await mapIdle(page);
    // the routes by road and the reach area are on the map: in its sources as situd gave them, and rendered
    const drawn = await page.waitForFunction(async (n) => {
      const map = window.__phone.map;
      const routes = (await map.getSource('nearest').getData()).features.filter((f) => f.properties.route_rank);
      const reach = (await map.getSource('reach').getData()).features;
      const shown = (layers) => map.queryRenderedFeatures({ layers }).length;
      const out = { routes: routes.map((f) => f.geometry.coordinates.length), reach: reach.length,
        routesShown: shown(['nearest-routes']), reachShown: shown(['reach-fill']) };
      return routes.length === n && out.routesShown && out.reachShown && out;
    }, want.features.length, { timeout: LIVENESS_MS, polling: 200 }).then((h) => h.jsonValue(), () => null);
    assert.ok(drawn, 'the routes by road or the reach area were not drawn on the map');
    const wantRoutes = want.features.map((f) => (f.properties.route.geometry || f.properties.route).coordinates.length);
    assert.deepEqual(drawn.routes, wantRoutes, 'the routes drawn are not the routes situd gave');
    assert.ok(drawn.routes.every((n) => n > 2), 'a straight line drawn for a route by road');
    assert.equal(drawn.reach, reach.features.length);
    await shot(page, 'village');
  } finally {
    await ctx.close();
  }
  noLeaksNoErrors();
});
