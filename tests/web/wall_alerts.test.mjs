// wall_alerts.test.mjs: the wall when an alert demands attention (issue 16),
// in a real browser against a real situd on the demo (tests/web/situd.mjs).
// A rain gauge inside the area of 曲河街道 is pushed into alarm, then a red
// alert over that area is POSTed while the page runs: the banner shows, the
// map flies to the alert and the chime sounds (within 10 s, a liveness bound;
// how fast is a figure here and in scripts/bench/wall_alert.mjs); a click on the alert's ticker item opens its impact panel, whose
// townships, stations and teams and depots are those of situd's
// /alerts/{id}/impact (which tests/http/test_impact.py checks against
// SpatiaLite's GEOS, and tests/unit/layers/impact_test.c against GEOS); the
// acknowledgement stops banner and chime. The gauge in alarm has its own
// symbol and "62 mm" label; a camera sent offline is listed and a click
// flies to it; departments that never reported are grey, after the others.
// Screenshots go to $SITU_SHOTS (alerts-*.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium } from './situd.mjs';

// A red alert over 曲河街道 (431103008) and into its neighbours (as in
// tests/http/test_townships_export.py).
const AREA = [[111.47, 26.365], [111.615, 26.365], [111.615, 26.455], [111.47, 26.455], [111.47, 26.365]];
const S = {};

function post(dept, events) {
  return request('POST', `/feeds/${dept}/events`, {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.tokens[dept]}` },
    body: JSON.stringify({ events }),
  });
}

const inside = ([x, y]) => x > AREA[0][0] && x < AREA[1][0] && y > AREA[0][1] && y < AREA[2][1];

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-web-alerts-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = demoDb(S.tmp);
  S.tokens = {};
  for (const d of ['meteorology', 'emergency_management', 'water_resources']) S.tokens[d] = feedToken(db, d).token;
  await startSitud(S.tmp, db);
  const gauges = json(await request('GET', '/collections/stations/items?kind=rain_gauge&dept=meteorology&limit=10000')).features;
  S.gauge = gauges.find((f) => inside(f.geometry.coordinates));
  assert.ok(S.gauge, 'no meteorology rain gauge inside the alert area');
  const cams = json(await request('GET', '/collections/stations/items?kind=camera&online=true&limit=100')).features;
  S.camera = cams.find((f) => S.tokens[f.properties.dept]);
  assert.ok(S.camera, 'no online camera of a department with a token');
  S.ctx = await launchChromium(S.tmp, { viewport: { width: 1600, height: 900 } });
  S.page = await S.ctx.newPage();
  S.errors = [];
  S.page.on('pageerror', (e) => S.errors.push(e.message));
  S.page.on('console', (m) => { if (m.type() === 'error') S.errors.push(m.text()); });
  await S.page.goto(`${situd.base}/`);
  await S.page.waitForFunction(() => window.__situ && window.__situ.idleAt && window.__situ.watch && window.__situ.watch.seen, null, { timeout: 120000, polling: 100 });
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

test('a red alert posted now: banner, chime and fly-to; its impact panel; ack stops it', async () => {
  const page = S.page;
  const now = Date.now();
  const gid = S.gauge.id.split(':').pop();
  const r0 = await post('meteorology', [{ id: `alarm-${now}`, type: 'observation', station: gid, observed_at: new Date(now - 5000).toISOString(),
    metric: 'rain_1h_mm', value: 62, lon: S.gauge.geometry.coordinates[0], lat: S.gauge.geometry.coordinates[1] }]);
  assert.equal(r0.status, 200, r0.body.toString().slice(0, 300));
  const headline = `wall-alerts ${now}`;
  const r = await post('meteorology', [{ id: `red-${now}`, type: 'alert', event: 'rainstorm', severity: 'red', headline,
    onset: new Date(now - 60000).toISOString(), expires: new Date(now + 3600000).toISOString(),
    geometry: { type: 'Polygon', coordinates: [AREA] } }]);
  const answered = Date.now();
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  const id = `meteorology:red-${now}`;
  // the banner shows and the flight starts (page clock, this machine's; the
  // times are figures); the map then settles over the alert
  const started = await page.waitForFunction((aid) => {
    const s = window.__situ, b = document.getElementById('alert-banner');
    return b && !b.hidden && s.attention.includes(aid) && s.flownTo === aid && { banner: s.bannerAt, fly: s.flyAt };
  }, id, { timeout: 10000, polling: 50 }).then((h) => h.jsonValue(), () => null);
  const settled = await page.waitForFunction((area) => {
    const m = window.__situ.map, c = m.getCenter();
    return !m.isMoving() && c.lng > area[0][0] && c.lng < area[1][0] && c.lat > area[0][1] && c.lat < area[2][1];
  }, AREA, { timeout: 30000, polling: 50 }).then(() => Date.now() - answered, () => null);
  const figures = started && { banner_ms: started.banner - answered, fly_start_ms: started.fly - answered, over_alert_ms: settled };
  console.log(`after the POST's answer: ${JSON.stringify(figures)}`);
  await page.screenshot({ path: path.join(SHOTS, 'alerts-banner.png') });
  assert.ok(started, 'no banner or no flight to the alert within 10 s');
  assert.ok(settled !== null, 'the map did not come to rest over the alert');
  assert.ok((await page.textContent('#alert-banner')).includes(headline));
  assert.ok(await page.evaluate(() => window.__situ.chimes) > 0, 'no chime');

  // the ticker item opens the impact panel, the same as situd's JSON
  await page.locator(`#ticker .tick[data-alert="${id}"]`).first().dispatchEvent('click');
  await page.waitForSelector('#info .impact-part.townships tr[data-code]', { timeout: 20000 });
  const impact = json(await request('GET', `/alerts/${encodeURIComponent(id)}/impact`));
  const shown = await page.evaluate(() => ({
    townships: [...document.querySelectorAll('#info .impact-part.townships tr[data-code]')].map((x) => x.dataset.code),
    stations: [...document.querySelectorAll('#info .impact-part.stations tr[data-id]')].map((x) => x.dataset.id),
    resources: [...document.querySelectorAll('#info .impact-part.resources tr[data-id]')].map((x) => x.dataset.id),
    text: document.querySelector('#info').innerText,
  }));
  await page.screenshot({ path: path.join(SHOTS, 'alerts-impact.png') });
  assert.ok(impact.townships.length >= 3 && impact.resources.length > 0, JSON.stringify(impact).slice(0, 300));
  assert.deepEqual(shown.townships, impact.townships.map((x) => x.code));
  assert.deepEqual(shown.stations, impact.stations.map((x) => x.id));
  assert.deepEqual(shown.resources, impact.resources.map((x) => x.id));
  assert.ok(shown.stations.includes(S.gauge.id), `the gauge in alarm is not listed: ${shown.stations}`);
  assert.ok(/62\s*毫米/.test(shown.text), 'the reading of the gauge in alarm is not shown with its unit');

  await page.click('#alert-banner button.ack');
  const quiet = await page.evaluate(() => ({ hidden: document.getElementById('alert-banner').hidden, attention: window.__situ.attention.length, chimer: window.__situ.watch.chimer }));
  assert.deepEqual(quiet, { hidden: true, attention: 0, chimer: null });
});

test('a station in alarm has its own symbol with its value and unit', async () => {
  const page = S.page;
  const got = await page.evaluate(async ([gid, at]) => {
    const map = window.__situ.map;
    map.jumpTo({ center: at, zoom: 13 });
    await new Promise((ok) => map.once('idle', ok));
    const f = map.queryRenderedFeatures({ layers: ['stations-alarm-label'] }).find((x) => x.properties.id === gid || x.id === gid);
    const dots = map.queryRenderedFeatures({ layers: ['stations-alarm'] }).length;
    return { found: !!f, value: f && f.properties.value, dots, label: f && JSON.stringify(map.getLayoutProperty('stations-alarm-label', 'text-field')) };
  }, [S.gauge.id, S.gauge.geometry.coordinates]);
  await page.screenshot({ path: path.join(SHOTS, 'alerts-station-alarm.png') });
  assert.ok(got.found && got.dots > 0, `the gauge in alarm has no symbol of its own: ${JSON.stringify(got)}`);
  assert.equal(got.value, 62);
  assert.ok(got.label.includes('rain_1h_mm') && got.label.includes(' 毫米'), got.label);
});

test('departments: never reported is grey and last; offline cameras listed, a click flies there', async () => {
  const page = S.page;
  const cam = S.camera;
  const r = await post(cam.properties.dept, [{ id: `cam-${Date.now()}`, type: 'camera', station: cam.id.split(':').pop(),
    observed_at: new Date().toISOString(), status: 'offline' }]);
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  await page.waitForSelector(`#feeds .cams-off li[data-id="${cam.id}"]`, { timeout: 10000 });
  const depts = await page.evaluate(() => [...document.querySelectorAll('#feeds li.dept')].map((x) => x.dataset.state));
  assert.ok(depts.includes('never') && !depts.includes('silent'), depts.join());
  assert.ok(depts.lastIndexOf('ok') < depts.indexOf('never'), `problems and reports before the never-reported: ${depts.join()}`);
  await page.locator(`#feeds .cams-off li[data-id="${cam.id}"]`).dispatchEvent('click');
  const near = await page.waitForFunction((at) => {
    const m = window.__situ.map, c = m.getCenter();
    return !m.isMoving() && Math.abs(c.lng - at[0]) < 1e-3 && Math.abs(c.lat - at[1]) < 1e-3;
  }, cam.geometry.coordinates, { timeout: 10000, polling: 50 }).then(() => true, () => false);
  await page.screenshot({ path: path.join(SHOTS, 'alerts-cameras.png') });
  assert.ok(near, 'a click on the offline camera did not fly to it');
  assert.deepEqual(S.errors, []);
});
