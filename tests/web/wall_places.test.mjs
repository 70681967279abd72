// wall_places.test.mjs: the wall's base map names and its legend of urgent
// symbols (issue 16), in a real browser against a real situd on the demo
// (tests/web/situd.mjs; situd started with the demo's places.geojson).
// Checks: county seats named from z9; township seats and villages drawn from
// z11 and z12 and named from z13, each name one of situd's /places in view;
// every village of the demo lies in the township it names (situd's /locate);
// /places refuses bad parameters naming them and the four maps' collections
// hold no places; the legend's urgent section lists the alarm station's
// "62 mm" symbol, overdue hidden dangers, grade-1 hazard sources, offline
// cameras, red and orange alerts, each in the colour the map draws.
// Screenshots to $SITU_SHOTS (places-*.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, situd, demoDb, startSitud, stopSitud, request, json, launchChromium, jump } from './situd.mjs';

const HERE = [111.6, 26.4]; // 伊塘镇, 冷水滩区
const S = { tmp: null, ctx: null, page: null, errors: [] };

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-places-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = demoDb(S.tmp);
  await startSitud(S.tmp, db);
  S.places = json(await request('GET', '/places?limit=10000')).features;
  S.ctx = await launchChromium(S.tmp, { viewport: { width: 1600, height: 900 }, timezoneId: 'Asia/Shanghai', reducedMotion: 'reduce' });
  S.page = await S.ctx.newPage();
  S.page.on('console', (m) => { if (m.type() === 'error') S.errors.push(m.text()); });
  S.page.on('pageerror', (e) => S.errors.push(e.message));
  await S.page.goto(`${situd.base}/`);
  await S.page.waitForFunction(() => window.__situ && window.__situ.idleAt && window.__situ.glance, null, { timeout: 120000, polling: 100 });
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

// The names rendered by each places layer once the villages of the view have come:
// {layer: [name ...]}, and the view's box.
function rendered(page) {
  return page.evaluate(async () => {
    const map = window.__situ.map;
    const layers = ['county', 'township', 'village'].flatMap((k) => [`places-${k}-dot`, `places-${k}-label`]);
    for (let i = 0; i < 50 && map.getZoom() >= 12 && !map.queryRenderedFeatures({ layers: ['places-village-dot'] }).length; i++) {
      await new Promise((ok) => setTimeout(ok, 200));
    }
    await new Promise((ok) => (map.loaded() ? ok() : map.once('idle', ok)));
    const out = { box: map.getBounds().toArray().flat() };
    for (const l of layers) out[l.slice(7)] = map.queryRenderedFeatures({ layers: [l] }).map((f) => `${f.properties.kind}:${f.properties.name}`);
    return out;
  });
}


test('the demo has villages with plausible names in their townships; /places answers by name and refuses bad parameters', async () => {
  const villages = S.places.filter((f) => f.properties.kind === 'village');
  assert.ok(villages.length > 2500, `${villages.length} villages`);
  assert.equal(S.places.filter((f) => f.properties.kind === 'county_seat').length, 13);
  assert.ok(villages.every((f) => /^[\u4e00-\u9fff]{2,4}村$/.test(f.properties.name)), 'a village name is not 2-4 characters and 村');
  // each lies in the township it names, as situd's own point-in-township says
  const wrong = [];
  const sample = villages.filter((f, i) => i % 10 === 0); // demo_test checks every one with GEOS
  for (let i = 0; i < sample.length; i += 8) {
    await Promise.all(sample.slice(i, i + 8).map(async (f) => {
      const [lon, lat] = f.geometry.coordinates;
      const t = json(await request('GET', `/locate?lon=${lon}&lat=${lat}`)).township;
      if (!t || t.code !== f.properties.township_code) wrong.push(`${f.properties.name} ${f.properties.township_code} ${t && t.code}`);
    }));
  }
  assert.deepEqual(wrong, [], 'villages outside the township they name');
  const v = villages[0].properties.name;
  const hit = json(await request('GET', `/places?q=${encodeURIComponent(v)}&kind=village`));
  assert.ok(hit.features.length >= 1 && hit.features[0].properties.name === v, JSON.stringify(hit).slice(0, 300));
  for (const [q, param] of [['kind=hamlet', 'kind'], ['bbox=1,2', 'bbox'], [`q=${'村'.repeat(40)}`, 'q'], ['limit=0', 'limit'], ['offset=3', 'offset']]) {
    const r = await request('GET', `/places?${encodeURI(q)}`);
    assert.equal(r.status, 400, q);
    assert.equal(json(r).parameter, param, q);
  }
  // the four maps stay clean: no collection of places, no places among the features
  const ids = json(await request('GET', '/collections')).collections.map((c) => c.id);
  assert.ok(!ids.includes('places'), ids.join(' '));
});

test('the base map names county seats from z9, township seats and villages from z13', async () => {
  const page = S.page;
  const twp = json(await request('GET', `/locate?lon=${HERE[0]}&lat=${HERE[1]}`)).township;
  const seat = S.places.find((f) => f.properties.kind === 'township_seat' && f.properties.township_code === twp.code);
  assert.ok(seat, `no seat of ${twp.name}`);
  const known = new Set(S.places.map((f) => `${f.properties.kind}:${f.properties.name}`));

  await jump(page, seat.geometry.coordinates, 13.5);
  const z13 = await rendered(page);
  await page.screenshot({ path: path.join(SHOTS, 'places-z13.png') });
  const inView = S.places.filter((f) => {
    const [x, y] = f.geometry.coordinates;
    return f.properties.kind === 'village' && x >= z13.box[0] && y >= z13.box[1] && x <= z13.box[2] && y <= z13.box[3];
  });
  assert.ok(inView.length >= 3, `only ${inView.length} villages in the z13.5 view`);
  assert.equal(z13['village-dot'].length, inView.length, 'not every village in view is drawn');
  const names = z13['village-label'];
  assert.ok(names.length >= Math.min(3, inView.length), `village names at z13.5: ${names}`);
  assert.ok(names.every((n) => n.startsWith('village:') && known.has(n)), `a name that is not one of situd's villages: ${names}`);
  assert.ok(z13['township-dot'].includes(`township_seat:${seat.properties.name}`), `the seat ${seat.properties.name} is not drawn: ${z13['township-dot']}`);
  assert.ok(z13['township-label'].includes(`township_seat:${seat.properties.name}`), `the seat ${seat.properties.name} is not named: ${z13['township-label']}`);

  await jump(page, seat.geometry.coordinates, 12.5);
  const z12 = await rendered(page);
  assert.ok(z12['village-dot'].length > 0, 'no village drawn at z12.5');
  assert.ok(z12['township-dot'].length > 0, 'no township seat drawn at z12.5');
  assert.deepEqual(z12['village-label'], [], 'villages named below z13');
  assert.deepEqual(z12['township-label'], [], 'township seats named below z13');

  const city = json(await request('GET', '/collections/townships')).extent.spatial.bbox[0];
  await jump(page, [(city[0] + city[2]) / 2, (city[1] + city[3]) / 2], 9.2);
  const z9 = await rendered(page);
  await page.screenshot({ path: path.join(SHOTS, 'places-z9.png') });
  assert.ok(z9['county-label'].length >= 3, `county seats named at z9.2: ${z9['county-label']}`);
  assert.ok(z9['county-label'].every((n) => n.startsWith('county_seat:') && known.has(n)), `${z9['county-label']}`);
  assert.deepEqual(z9['township-dot'], [], 'township seats drawn at z9.2');
  assert.deepEqual(z9['village-dot'], [], 'villages drawn at z9.2');
  assert.deepEqual(S.errors, []);
});

test('the legend has a section of the urgent symbols, each in the colour the map draws', async () => {
  const page = S.page;
  const colors = json(await request('GET', '/styles/day.json')).metadata['situ:colors'];
  const got = await page.evaluate((colors) => {
    const map = window.__situ.map;
    const rgb = (c) => { const d = document.createElement('i'); d.style.color = c; document.body.append(d); const v = getComputedStyle(d).color; d.remove(); return v; };
    const rows = [...document.querySelectorAll('#layers details.urgent li[data-urgent]')].map((li) => {
      const sw = getComputedStyle(li.querySelector('.sw'));
      return { key: li.dataset.urgent, text: li.textContent, bg: sw.backgroundColor, border: sw.borderTopColor, w: parseFloat(sw.width) };
    });
    return {
      rows,
      alarm: rgb(map.getPaintProperty('stations-alarm', 'circle-color')),
      overdue: rgb(map.getPaintProperty('hazards-overdue', 'circle-stroke-color')),
      severity: { red: rgb(colors.SEVERITY.red), orange: rgb(colors.SEVERITY.orange) },
      grade1: rgb(colors.LEVEL['1']),
    };
  }, colors);
  const row = Object.fromEntries(got.rows.map((r) => [r.key, r]));
  assert.deepEqual(Object.keys(row), ['alarm', 'overdue', 'grade1', 'camera_off', 'alert_red', 'alert_orange']);
  assert.match(row.alarm.text, /62 毫米/);
  assert.equal(row.alarm.bg, got.alarm, 'the alarm swatch is not the colour of the alarm symbol');
  assert.ok(row.alarm.w > row.overdue.w, 'the alarm swatch is not the large one');
  assert.equal(row.overdue.border, got.overdue, 'the overdue swatch is not the colour of the overdue ring');
  assert.equal(row.grade1.bg, got.grade1);
  assert.equal(row.alert_red.border, got.severity.red);
  assert.equal(row.alert_orange.border, got.severity.orange);
  await page.locator('#layers details.urgent').screenshot({ path: path.join(SHOTS, 'places-legend-urgent.png') });
});
