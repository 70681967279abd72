// wall_country.mjs: the wall over the whole country (#20), for the record
// and for a look: a real situd on DB (a copy, e.g. a scale-10 or scale-200
// store), Debian's chromium on the wall page at zooms 3, 4 and 5 over the
// data's centre; per zoom a screenshot to OUT/country-z{z}.png and what was
// drawn: urgent marks (hazards-mark) and the overdue they stand for, the
// hidden dangers' aggregates (glance-hazards-cluster), county labels, the
// stations' symbols, and the time from the jump to idle; then the city
// glance at zooms 8, 9 and 10. The bytes the page fetched (as sent, i.e.
// compressed where situd compressed) are counted by kind: at the opening
// and per zoom (what that jump fetched).
//
//   node scripts/bench/wall_country.mjs DB OUT [--wall] [--base URL]
//
// --wall: the dark wall (?wall=1), whose rotation may move the map between
// the zooms asked: its figures after z3 are not the zoom's.
//
// --base: a situd already serving DB there (a nation's store takes minutes
// to be ready), instead of one started on a copy.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { situd, startSitud, stopSitud, request, json, launchChromium } from '../../tests/web/situd.mjs';

const [db, out] = process.argv.slice(2);
const wall = process.argv.includes('--wall');
const given = process.argv.includes('--base') ? process.argv[process.argv.indexOf('--base') + 1] : null;
if (!db || !out) throw new Error('usage: wall_country.mjs DB OUT [--wall]');
fs.mkdirSync(out, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-country-'));
if (given) {
  situd.base = given;
} else {
  const copy = path.join(tmp, 'situ.sqlite');
  fs.copyFileSync(db, copy);
  fs.chmodSync(tmp, 0o777), fs.chmodSync(copy, 0o666);
  await startSitud(tmp, copy);
}
const ctx = await launchChromium(tmp, { viewport: { width: 1600, height: 900 }, timezoneId: 'Asia/Shanghai', reducedMotion: 'reduce' });
try {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // bytes fetched, by kind of path, since the last take()
  let fetched = {};
  const kind = (u) => { const p = new URL(u).pathname; return p.startsWith('/tiles/') ? (p.endsWith('.json') ? 'tilejson' : 'tiles') : p.startsWith('/collections/') && p.includes('/items') ? 'items' : p.split('/')[1] || 'page'; };
  page.on('requestfinished', async (r) => {
    const s = await r.sizes().catch(() => null);
    if (!s) return;
    const k = kind(r.url());
    fetched[k] = (fetched[k] || 0) + s.responseBodySize + s.responseHeadersSize;
  });
  const take = async () => { await new Promise((ok) => setTimeout(ok, 1500)); const f = fetched; fetched = {}; return f; };
  const t0 = Date.now();
  await page.goto(`${situd.base}/${wall ? '?wall=1' : ''}`);
  await page.waitForFunction(() => window.__situ && window.__situ.idleAt && window.__situ.glance, null, { timeout: 300000, polling: 200 });
  console.log(`opened and idle in ${Date.now() - t0} ms; fetched ${JSON.stringify(await take())}`);
  const b = json(await request('GET', '/tiles/hazards.json')).bounds;
  const centre = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
  for (const z of [3, 4, 5, 8, 9, 10]) {
    const got = await page.evaluate(async ([c, zoom]) => {
      const map = window.__situ.map;
      const t = performance.now();
      map.stop();
      map.jumpTo({ center: c, zoom });
      await new Promise((ok) => map.once('idle', ok));
      const q = (ids) => { const l = [].concat(ids).filter((id) => map.getLayer(id)); return l.length ? map.queryRenderedFeatures({ layers: l }) : []; };
      const marks = q('hazards-mark');
      return { zoom, idle_ms: Math.round(performance.now() - t), marks: marks.length,
        overdue_in_marks: marks.reduce((n, f) => n + (f.properties.urgent || 0), 0),
        singles: marks.filter((f) => f.properties.urgent === 1).length,
        cells: q('glance-hazards-cluster').length, counties: q('counties-label').length,
        stations: q(map.getStyle().layers.filter((l) => /^(glance-)?stations/.test(l.id)).map((l) => l.id)).length,
        urgent: q(map.getStyle().layers.filter((l) => /^glance-urgent/.test(l.id)).map((l) => l.id)).length };
    }, [centre, z]);
    await page.screenshot({ path: path.join(out, `country-z${z}${wall ? '-wall' : ''}.png`) });
    await page.screenshot({ path: path.join(out, `country-z${z}${wall ? '-wall' : ''}-centre.png`), clip: { x: 500, y: 250, width: 600, height: 400 } });
    console.log(JSON.stringify({ ...got, fetched: await take() }));
  }
  console.log(`page errors: ${JSON.stringify(errors)}`);
} finally {
  await ctx.close().catch(() => {});
  await stopSitud();
  fs.rmSync(tmp, { recursive: true, force: true });
}
