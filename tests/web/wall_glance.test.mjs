// wall_glance.test.mjs: the city at a glance and the nearest supplies on the
// wall (issue 16), in a real browser against a real situd on the demo
// (tests/web/situd.mjs). Checks: the opening city view (z8) draws township
// shading and a few hundred urgent symbols from the tiles (no GeoJSON of the
// four maps, #20); at z5 (counties) the tiles' urgent marks stand for every
// overdue hidden danger once and the stations' aggregates for every station
// in alarm, and no other station is drawn (#20); not the thousands of points the
// four maps hold (rendered features counted), shaded by /townships' glance
// counts; the worst-townships list ranks as situd counts and flies to its
// township; coordinates typed in the search box (WGS84, and GCJ-02 with the
// switch) fly there; a depot deployed through a feed is marked in the
// nearest list and left out on request; the base map's river names at z13;
// the summary's drill export in its six formats (each download's bytes and
// situd's Content-Type); the shading's minute refresh moves no /townships
// body until a township changes, then reads it again (#20). Screenshots to
// $SITU_SHOTS.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium, jump } from './situd.mjs';

const VIEWPORT = { width: 1600, height: 900 };
const POINT_LAYERS = ['hazards-point', 'hazards-cluster', 'hazards-overdue', 'hazard_sources-point', 'hazard_sources-cluster',
  'resources-team', 'resources-depot', 'resources-cluster', 'stations-point', 'stations-camera', 'stations-cluster',
  'risk_zones-point', 'risk_zones-cluster'];
const S = { tmp: null, ctx: null, page: null, errors: [] };

before(async () => {
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-glance-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = demoDb(S.tmp);
  S.token = feedToken(db, 'emergency_management');
  await startSitud(S.tmp, db);
  // reduced motion: MapLibre jumps instead of flying, so the checks do not wait on animation
  S.ctx = await launchChromium(S.tmp, { viewport: VIEWPORT, timezoneId: 'Asia/Shanghai', reducedMotion: 'reduce' });
  S.page = await S.ctx.newPage();
  S.page.on('console', (m) => { if (m.type() === 'error') S.errors.push(m.text()); });
  S.page.on('pageerror', (e) => S.errors.push(e.message));
  S.requested = [];
  S.page.on('request', (r) => S.requested.push(new URL(r.url()).pathname + new URL(r.url()).search));
  await S.page.goto(`${situd.base}/`);
  await S.page.waitForFunction(() => window.__situ && window.__situ.idleAt && window.__situ.glance && window.__situ.glance.urgent,
    null, { timeout: 120000, polling: 100 });
  await idle(S.page);
});

after(async () => {
  if (S.ctx) await S.ctx.close().catch(() => {});
  await stopSitud();
  if (S.tmp && S.tmp.startsWith(os.tmpdir())) fs.rmSync(S.tmp, { recursive: true, force: true });
});

function idle(page) {
  return page.evaluate(() => new Promise((ok) => {
    const map = window.__situ.map;
    if (map.loaded() && !map.isMoving()) ok(); else map.once('idle', ok);
  }));
}

const townships = async () => json(await request('GET', '/townships?limit=10000')).townships;

// What the urgent layers drew ({layer, kind, properties, at} each), by
// kind: each feature once (a tile's buffer repeats its neighbour's), an
// aggregate as the members it counts.
function drawnUrgent(features) {
  const kinds = {}, seen = new Set();
  const members = { overdue: 'overdue', alarm: 'status_alarm' };
  for (const f of features) {
    const key = `${f.layer} ${f.properties.id || f.at.map((c) => c.toFixed(5))}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kinds[f.kind] = (kinds[f.kind] || 0) + (f.properties.cluster ? Number(f.properties[members[f.kind]]) || 0 : 1);
  }
  return kinds;
}

test('the city view at z8 draws township shading and the urgent items, not thousands of points', async () => {
  const page = S.page;
  const city = json(await request('GET', '/collections/townships')).extent.spatial.bbox[0];
  await jump(page, [(city[0] + city[2]) / 2, (city[1] + city[3]) / 2], 8);
  await page.screenshot({ path: path.join(SHOTS, 'glance-z8.png') });
  const list = await townships();
  const got = await page.evaluate((layers) => {
    const map = window.__situ.map;
    const q = (ids) => map.queryRenderedFeatures({ layers: ids.filter((id) => map.getLayer(id)) });
    const shaded = q(['glance-fill']);
    const kindOf = window.__situ.glance.urgent;
    const urgent = q([...Object.keys(kindOf), 'glance-sources'])
      .map((f) => ({ layer: f.layer.id, kind: kindOf[f.layer.id] || 'grade1', properties: f.properties, at: f.geometry.coordinates }));
    return { zoom: map.getZoom(), shaded: new Set(shaded.map((f) => f.properties.township_code)).size, points: q(layers).length,
      urgent: urgent.length, drawn: urgent, fill: map.getPaintProperty('glance-fill', 'fill-color') };
  }, POINT_LAYERS);
  got.kinds = drawnUrgent(got.drawn);
  // the glance draws from the tiles: no GeoJSON of the hidden dangers or stations, unbounded at a nation's scale (#20)
  assert.deepEqual(S.requested.filter((u) => /^\/collections\/(hazards|stations)\/items/.test(u) && !/[?&]kind=camera&online=false/.test(u)), [],
    'the glance fetched GeoJSON of the four maps');
  const hazards = list.reduce((n, x) => n + x.counts.hazards + x.counts.resources + x.counts.stations, 0);
  const [day, view] = await page.evaluate(() => [window.__situ.map.getStyle().state.today.default, window.__situ.map.getBounds().toArray().flat()]);
  const late = (q) => request('GET', `/collections/hazards/items?limit=10000${q}`).then((r) => json(r).features
    .filter((f) => f.properties.status !== 'rectified' && f.properties.deadline && f.properties.deadline < day).length);
  const [inView, overdue] = [await late(`&bbox=${view.join(',')}`), await late('')];
  assert.ok(hazards > 3000, `the demo holds ${hazards} points: the check needs thousands`);
  assert.ok(got.shaded >= 0.9 * list.length, `${got.shaded} of ${list.length} townships shaded at z${got.zoom.toFixed(1)}`);
  assert.equal(got.points, 0, `the four maps' own points drew ${got.points} features at z8 (the glance holds them back)`);
  assert.ok(got.urgent < hazards / 3, `${got.urgent} urgent symbols at z8 of ${hazards} points`);
  // every overdue one in view, none that is not overdue (a symbol at the edge may reach in from outside)
  assert.ok(got.kinds.overdue >= inView && got.kinds.overdue <= overdue,
    `overdue hidden dangers drawn ${got.kinds.overdue}, situd has ${inView} in view and ${overdue} in all: ${JSON.stringify(got.kinds)}`);
  // every station in alarm in view, none that is not
  const alarm = (q) => request('GET', `/collections/stations/items?status=alarm&limit=1${q}`).then((r) => json(r).numberMatched);
  const [alarmInView, alarmAll] = [await alarm(`&bbox=${view.join(',')}`), await alarm('')];
  assert.ok(alarmInView > 0 && got.kinds.alarm >= alarmInView && got.kinds.alarm <= alarmAll,
    `stations in alarm drawn ${got.kinds.alarm}, situd has ${alarmInView} in view and ${alarmAll} in all`);
  // the shade: the worst township by overdue major hidden dangers the darkest, one with none unshaded
  const worst = [...list].sort((a, b) => b.glance.overdue_major - a.glance.overdue_major)[0];
  const clean = list.find((x) => x.glance.overdue_major === 0);
  const shade = (code) => { const i = got.fill.indexOf(code, 2); return i > 0 ? got.fill[i + 1] : got.fill[got.fill.length - 1]; };
  assert.equal(shade(worst.code), '#a50f15', `the worst township ${worst.name} (${worst.glance.overdue_major}) shade`);
  if (clean) assert.equal(shade(clean.code), '#ffffff', `${clean.name} with none is shaded`);
});

test('the worst townships are listed beside the map, and a row flies to its township', async () => {
  const page = S.page;
  const list = await townships();
  const want = list.filter((x) => x.glance.overdue_major > 0)
    .sort((a, b) => b.glance.overdue_major - a.glance.overdue_major || (a.code < b.code ? -1 : 1)).slice(0, 10);
  const rows = await page.$$eval('#glance ol.worst li', (lis) => lis.map((li) => ({ code: li.dataset.code, n: li.querySelector('.wval').textContent })));
  assert.deepEqual(rows.map((r) => r.code), want.map((x) => x.code), 'the list is not the worst ten by overdue major hidden dangers');
  assert.deepEqual(rows.map((r) => Number(r.n)), want.map((x) => x.glance.overdue_major));
  // the officer picks the highest risk level: the shading and the list follow
  await page.selectOption('#glance select.glance-metric', 'top_risk_level');
  const first = await page.$eval('#glance ol.worst li', (li) => li.dataset.code);
  assert.equal(list.find((x) => x.code === first).glance.top_risk_level, Math.min(...list.map((x) => x.glance.top_risk_level || 9)));
  await page.selectOption('#glance select.glance-metric', 'overdue_major');
  await page.click(`#glance ol.worst li[data-code="${want[0].code}"]`);
  const at = await page.waitForFunction((code) => {
    const map = window.__situ.map;
    return !map.isMoving() && new URLSearchParams(location.search).get('township') === code && map.getZoom() > 9 && map.getCenter().toArray();
  }, want[0].code, { timeout: 15000, polling: 50 }).then((h) => h.jsonValue(), () => null);
  const home = json(await request('GET', `/locate?lon=${at ? at[0] : 0}&lat=${at ? at[1] : 0}`)).township;
  assert.ok(at && home && home.code === want[0].code, `a click on ${want[0].name} did not fly to it: ${at} is in ${home && home.name}`);
  await idle(page);
  await page.screenshot({ path: path.join(SHOTS, 'glance-worst-township.png') });
  // its summary has the drill export of its four maps
  const href = await page.waitForSelector('#info .summary a.drill-export', { timeout: 5000 }).then((a) => a.getAttribute('href'));
  assert.equal(href, `/export/drill.geojson?townships=${want[0].code}`);
  const drill = await request('GET', href);
  assert.equal(drill.status, 200);
  assert.ok(json(drill).features.length > 0);
  await drillDownloads(page, want[0].code);
});

// What a download of each format must be: situd's Content-Type, and a test
// of the file's bytes.
const DRILL_FILES = {
  geojson: ['application/geo+json', (b) => JSON.parse(b.toString('utf8')).features.length > 0],
  gpkg: ['application/geopackage+sqlite3', (b) => b.subarray(0, 16).toString('latin1') === 'SQLite format 3\0' && b.readUInt32BE(68) === 0x47504B47],
  'shp.zip': ['application/zip', (b) => b.readUInt32LE(0) === 0x04034b50 && /\.shp/.test(b.toString('latin1'))],
  csv: ['text/csv', (b) => !b.includes(0) && /^[^\n]*,[^\n]*\r?\n/.test(b.toString('utf8')) && b.toString('utf8').trim().split('\n').length > 1],
  xlsx: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', (b) => b.readUInt32LE(0) === 0x04034b50 && b.includes('xl/workbook.xml')],
  kml: ['application/vnd.google-earth.kml+xml', (b) => /<kml[\s>]/.test(b.toString('utf8')) && b.includes('<Placemark')],
};

// The summary's format picker offers the six formats, and a click on the
// link downloads the drill export of township code in the format picked.
async function drillDownloads(page, code) {
  const offered = await page.$$eval('#info .summary select.drill-format option', (os) => os.map((o) => o.value));
  assert.deepEqual(offered, Object.keys(DRILL_FILES));
  for (const [fmt, [type, looksRight]] of Object.entries(DRILL_FILES)) {
    await page.selectOption('#info .summary select.drill-format', fmt);
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('#info .summary a.drill-export')]);
    assert.ok(dl.suggestedFilename().endsWith(`.${fmt}`), `${fmt}: the file is named ${dl.suggestedFilename()}`);
    assert.equal(new URL(dl.url()).pathname + new URL(dl.url()).search, `/export/drill.${fmt}?townships=${code}`);
    const file = fs.readFileSync(await dl.path());
    assert.ok(file.length > 0 && looksRight(file), `the ${fmt} download is not a ${fmt} file: ${file.subarray(0, 60).toString('latin1')}`);
    const served = await request('GET', new URL(dl.url()).pathname + new URL(dl.url()).search);
    assert.equal(served.status, 200);
    assert.equal(served.headers['content-type'].split(';')[0], type, fmt);
  }
  await page.selectOption('#info .summary select.drill-format', 'geojson');
}

test('the county zooms draw every overdue hidden danger in an urgent mark over the aggregates (#20)', async () => {
  const page = S.page;
  const city = json(await request('GET', '/collections/townships')).extent.spatial.bbox[0];
  await jump(page, [(city[0] + city[2]) / 2, (city[1] + city[3]) / 2], 5);
  await page.screenshot({ path: path.join(SHOTS, 'glance-z5-marks.png') });
  const got = await page.evaluate(() => {
    const map = window.__situ.map;
    const q = (id) => map.queryRenderedFeatures({ layers: [id] });
    const marks = q('hazards-mark');
    return { overdue: marks.reduce((n, f) => n + f.properties.urgent, 0), ids: marks.filter((f) => f.properties.urgent === 1).map((f) => f.properties.id),
      cells: q('glance-hazards-cluster').length, counties: q('counties-label').length, townships: q('glance-fill').length,
      stations: ['glance-urgent-alarm', 'glance-urgent-camera', 'stations-cluster', 'stations-point', 'stations-camera']
        .flatMap((id) => q(id).map((f) => ({ layer: id, kind: id, properties: f.properties, at: f.geometry.coordinates }))) };
  });
  // the stations: only those in alarm, every one of them (in the aggregates' counts), no camera (#20)
  const alarmAll = json(await request('GET', '/collections/stations/items?status=alarm&limit=1')).numberMatched;
  const stations = drawnUrgent(got.stations.map((f) => ({ ...f, kind: f.layer === 'glance-urgent-alarm' ? 'alarm' : f.layer })));
  assert.deepEqual(stations, { alarm: alarmAll }, `the stations drawn at z5: ${JSON.stringify(stations)}, situd has ${alarmAll} in alarm`);
  const calm = got.stations.filter((f) => !(f.properties.cluster ? f.properties.status_alarm > 0 : f.properties.status === 'alarm'));
  assert.equal(calm.length, 0, `stations with none in alarm drawn at z5: ${JSON.stringify(calm.slice(0, 3))}`);
  const total = (await townships()).reduce((n, x) => n + x.glance.overdue, 0);
  assert.equal(got.overdue, total, 'the urgent marks drawn at z5 do not stand for every overdue hidden danger once');
  assert.ok(got.ids.length > 0 && got.ids.every((id) => /^HZ-/.test(id)), `marks of one carry their id: ${got.ids.slice(0, 5)}`);
  assert.ok(got.cells > 0, 'no hidden-danger aggregates under the marks at z5');
  assert.ok(got.counties > 0, 'no county names at z5');
});

test('coordinates in the search box fly there (WGS84, and GCJ-02 with the switch)', async () => {
  const page = S.page;
  const centerAfter = async (text, gcj) => {
    await page.evaluate(() => window.__situ.map.jumpTo({ center: [111.9, 25.6], zoom: 9 }));
    await page.setChecked('#q-gcj', gcj);
    await page.fill('#q', text);
    await page.press('#q', 'Enter');
    return page.waitForFunction(() => {
      const map = window.__situ.map;
      return !map.isMoving() && map.getZoom() >= 13 && map.getCenter().toArray();
    }, null, { timeout: 8000, polling: 50 }).then((h) => h.jsonValue(), () => null);
  };
  const c = await centerAfter('111.61, 26.42', false);
  assert.ok(c && Math.abs(c[0] - 111.61) < 1e-4 && Math.abs(c[1] - 26.42) < 1e-4, `"111.61, 26.42" flew to ${c}`);
  await idle(page);
  await page.screenshot({ path: path.join(SHOTS, 'glance-coords.png') });
  const g = await centerAfter('111.61 26.42', true);
  const wgs = json(await request('GET', '/nearest?lon=111.61&lat=26.42&crs=gcj02&collection=resources&k=1')).query.wgs84;
  assert.ok(g && Math.abs(g[0] - wgs[0]) < 1e-5 && Math.abs(g[1] - wgs[1]) < 1e-5, `GCJ-02 111.61, 26.42 flew to ${g}, situd says ${wgs}`);
  assert.ok(Math.hypot(g[0] - 111.61, g[1] - 26.42) > 1e-3, 'the GCJ-02 switch changed nothing');
  await page.setChecked('#q-gcj', false);
  // the cursor's coordinates
  const box = await page.$eval('#map', (m) => { const r = m.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; });
  await page.mouse.move(box.x, box.y);
  const shown = await page.textContent('#cursor');
  assert.match(shown, /^1\d\d\.\d{5}, \d\d\.\d{5}$/);
});

test('a deployed depot is marked in the nearest list and can be left out', async () => {
  const page = S.page;
  const depot = json(await request('GET', '/collections/resources/items?category=depot&limit=1')).features[0];
  const r = await request('POST', '/feeds/emergency_management/events', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.token.token}` },
    body: JSON.stringify({ events: [{ id: `glance-deploy-${process.pid}-${Date.now()}`, type: 'feature_update', collection: 'resources',
      feature_id: depot.id, set: { status: 'deployed' } }] }),
  });
  assert.ok(S.token.token, S.token.why);
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  const [lng, lat] = depot.geometry.coordinates;
  const rowOf = () => page.evaluate(async ([x, y, name]) => {
    const p = window.__situ.panels;
    p.byRoad = false;
    await p.nearest({ lng: x, lat: y });
    const li = [...document.querySelectorAll('#info .nearest-list li.result')];
    return { n: li.length, statuses: li.map((e) => e.dataset.status), row: (li.find((e) => e.querySelector('.rname').textContent === name) || {}).outerHTML || null };
  }, [lng, lat, depot.properties.name]);
  let got = null;
  for (let i = 0; i < 50 && !(got && got.row && got.row.includes('rstatus deployed')); i++) { got = await rowOf(); await page.waitForTimeout(100); }
  await page.screenshot({ path: path.join(SHOTS, 'glance-nearest-deployed.png') });
  assert.ok(got.row && got.row.includes('rstatus deployed'), `the deployed depot ${depot.properties.name} is not marked: ${JSON.stringify(got)}`);
  assert.match(got.row, /rcontact/, 'no contact or phone in the row');
  assert.match(got.row, /rkind/, 'the distance does not say straight line');
  await page.check('#info input.available-only');
  await page.waitForFunction(() => {
    const li = [...document.querySelectorAll('#info .nearest-list li.result')];
    return li.length && li.every((e) => e.dataset.status === 'available');
  }, null, { timeout: 5000, polling: 50 });
  const left = await page.$$eval('#info .nearest-list li.result .rname', (x) => x.map((e) => e.textContent));
  assert.ok(!left.includes(depot.properties.name), 'available only still lists the deployed depot');
  await page.uncheck('#info input.available-only');
});

test('the base map names the rivers at z13', async () => {
  const page = S.page;
  await jump(page, [111.5149, 26.2721], 13); // on the Xiang
  const names = await page.waitForFunction(() => {
    const f = window.__situ.map.queryRenderedFeatures({ layers: ['rivers-label'] });
    return f.length && [...new Set(f.map((x) => x.properties.name))];
  }, null, { timeout: 8000, polling: 100 }).then((h) => h.jsonValue(), () => []);
  await page.screenshot({ path: path.join(SHOTS, 'glance-z13-base.png') });
  assert.ok(names.includes('湘江'), `no river name at z13: ${names}`);
  const lines = await page.evaluate(() => window.__situ.map.queryRenderedFeatures({ layers: ['rivers-line'] }).length);
  assert.ok(lines > 0);
  assert.deepEqual(S.errors, [], 'console errors');
});

// The minute's refresh of the shading (#20): every page of /townships asked
// again with its ETag; unchanged, each is a 304 without a body and the
// shading is left as it is; after a hidden danger passes its deadline the
// page holding its township is read again and the shading follows.
test('the shading\'s refresh moves no /townships body until a township changes', async () => {
  const page = S.page;
  const seen = [];
  const onResponse = (resp) => {
    const u = new URL(resp.url());
    if (u.pathname === '/townships') seen.push(resp.request().sizes().then((s) => ({ status: resp.status(), body: s.responseBodySize, headers: s.responseHeadersSize })));
  };
  page.on('response', onResponse);
  try {
    const refresh = async () => {
      seen.length = 0;
      const changed = await page.evaluate(() => window.__situ.refreshTownships());
      return { changed, pages: await Promise.all(seen) };
    };
    const still = await refresh();
    assert.ok(still.pages.length >= 1, 'the refresh asked no /townships page');
    assert.deepEqual(still.pages.map((p) => [p.status, p.body]), still.pages.map(() => [304, 0]), 'an unchanged refresh moved bodies');
    assert.equal(still.changed, false, 'an unchanged refresh redrew the shading');
    // a hidden danger of the city, not rectified and not yet overdue, passes its deadline
    const today = await S.page.evaluate(() => window.__situ.map.getStyle().state.today.default); // the wall's day, situd's too
    const hz = json(await request('GET', '/collections/hazards/items?limit=10000')).features
      .find((f) => f.properties.status !== 'rectified' && !(f.properties.deadline && f.properties.deadline < today) && f.properties.township_code);
    assert.ok(hz, 'no hidden danger to make overdue');
    const code = hz.properties.township_code;
    const before = (await townships()).find((x) => x.code === code).glance.overdue;
    const r = await request('POST', '/feeds/emergency_management/events', {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${S.token.token}` },
      body: JSON.stringify({ events: [{ id: `glance-overdue-${process.pid}-${Date.now()}`, type: 'feature_update', collection: 'hazards',
        feature_id: hz.id, set: { deadline: '2020-01-01' } }] }),
    });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    for (let i = 0; i < 100 && (await townships()).find((x) => x.code === code).glance.overdue !== before + 1; i++) await page.waitForTimeout(100);
    const moved = await refresh();
    assert.equal(moved.changed, true, 'the refresh after a change kept the old rows');
    assert.ok(moved.pages.some((p) => p.status === 200 && p.body > 0), `no page read again: ${JSON.stringify(moved.pages)}`);
    const shown = await page.evaluate((c) => ({ row: window.__situ.panels.townships[c].glance.overdue,
      list: window.__situ.glance.list.find((x) => x.code === c).glance.overdue }), code);
    assert.deepEqual(shown, { row: before + 1, list: before + 1 }, `township ${code}'s overdue count on the wall`);
    const again = await refresh();
    assert.deepEqual(again.pages.map((p) => p.status), again.pages.map(() => 304));
    assert.equal(again.changed, false);
  } finally {
    page.off('response', onResponse);
  }
  assert.deepEqual(S.errors, [], 'console errors');
});
