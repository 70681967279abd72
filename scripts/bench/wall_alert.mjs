#!/usr/bin/env node
// wall_alert.mjs: how fast an alert posted to a feed reaches the map wall
// (issue 16), in Debian's chromium against a real situd on the demo data,
// started as the browser tests start them (tests/web/situd.mjs). Posts N
// red and orange alerts one at a time, each from the city view (the map
// at rest, the banner acknowledged), at places spread over the city, and
// times each step after the POST's answer:
//   post      the POST's answer (from its send)
//   event     the page's SSE event     (live.js mark alert_event)
//   set       the alerts source's setData (live.js mark alerts_set)
//   tile      an 'alerts' tile loaded after it (MapLibre sourcedata event)
//   rendered  queryRenderedFeatures on 'alerts-fill' finds it (checked on
//             every frame MapLibre renders)
//   banner    the attention banner shown (alerts.js bannerAt)
//   fly       the flight to it started   (alerts.js flyAt)
// and prints p50 / p95 / max per step and how many exceeded 2 s, with the
// load average before and after. "tiles_first" counts the other sources'
// tiles loaded between setData and the alert's tile (they share MapLibre's
// worker).
//
//   node scripts/bench/wall_alert.mjs [--n 20] [--query wall=1]
//        [--load none|feeds|tiles] [--json]
//
// --query: the page's parameters (wall=1, the video wall; glance=0, the
// desk as tests/web/wall.test.mjs opens it). --load feeds: readings posted
// to the meteorology stations meanwhile, batches of 20 back to back on 2
// connections (each an SSE event that reloads the stations' tiles);
// --load tiles: wrk (2 connections) on city-zoom tiles of `all`.
// --profile F: the page's main thread sampled (CDP) for each alert, into
// F.<i>.cpuprofile (DevTools opens it), its top self times in the row.
// A row's "long" lists the main thread's long tasks before the alert was
// rendered ([ms after the answer, duration ms]); "fly_wait" how long the
// flight waited for the alert to be drawn where the map was.
// SITU_BIN / SITUD_BIN / CHROMIUM as for the browser tests.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// the demo with roads, written once per build as CTest's browser tests share it
process.env.SITU_DEMO_ROADS ||= path.join(ROOT, 'build', 'demo-roads');
const { situd, demoDb, feedToken, startSitud, stopSitud, request, json, launchChromium, sleep } = await import('../../tests/web/situd.mjs');

const { values: opt } = parseArgs({ options: {
  n: { type: 'string', default: '20' },
  query: { type: 'string', default: 'wall=1' },
  load: { type: 'string', default: 'none' },
  json: { type: 'boolean', default: false },
  profile: { type: 'string' },
} });
const N = Number(opt.n);
const STEPS = ['post', 'event', 'set', 'tile', 'rendered', 'banner', 'fly'];
const LIVENESS_MS = 10000;

function post(token, dept, events) {
  return request('POST', `/feeds/${dept}/events`, {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ events }),
  });
}

// Alert i's square: spread over the middle of the city extent b, a
// twelfth of its smaller side wide.
function square(b, i) {
  const [w, s, e, n] = b;
  const d = Math.min(e - w, n - s) / 24;
  const fx = ((i * 0.618034) % 1) * 0.7 + 0.15, fy = ((i * 0.414214 + 0.3) % 1) * 0.7 + 0.15;
  const cx = w + fx * (e - w), cy = s + fy * (n - s);
  return [[cx - d, cy - d], [cx + d, cy - d], [cx + d, cy + d], [cx - d, cy + d], [cx - d, cy - d]];
}

// ---- load ---------------------------------------------------------------------------

// Starts the load named `kind`; resolves to a function that stops it.
async function startLoad(kind, token) {
  if (kind === 'none') return async () => {};
  if (kind === 'feeds') {
    const st = json(await request('GET', '/collections/stations/items?dept=meteorology&limit=1000')).features
      .filter((f) => f.properties.kind !== 'camera').slice(0, 200);
    let on = true, k = 0, posted = 0;
    const loop = async () => {
      while (on) {
        const events = Array.from({ length: 20 }, () => {
          const f = st[k++ % st.length];
          return { id: `load-${process.pid}-${k}`, type: 'observation', station: f.id.split(':').pop(),
            observed_at: new Date().toISOString(), metric: 'rain_1h_mm', value: (k % 40) + 0.5 };
        });
        const r = await post(token, 'meteorology', events).catch(() => null);
        if (r && r.status === 200) posted += 20;
        else await sleep(100);
      }
    };
    const loops = [loop(), loop()];
    return async () => { on = false; await Promise.all(loops); console.log(`load feeds: ${posted} readings posted`); };
  }
  if (kind === 'tiles') {
    const wrk = spawn('wrk', ['-t1', '-c2', '-d3600s', `${situd.base}/tiles/all/9/415/215.mvt`], { stdio: 'ignore' });
    return async () => { wrk.kill('SIGINT'); await new Promise((r) => wrk.once('exit', r)); };
  }
  throw new Error(`--load ${kind}: none, feeds or tiles`);
}

// ---- the page -------------------------------------------------------------------------

// Back to the city view at rest, the banner acknowledged, and a watch for
// alert `id`: the frame it is first rendered in, and every tile loaded.
function prepare(page, city, id) {
  return page.evaluate(async ([b, aid]) => {
    const s = window.__situ, map = s.map;
    s.watch.ack();
    map.stop();
    map.fitBounds(b, { padding: s.wall ? 40 : 20, duration: 0 });
    await new Promise((ok) => (map.loaded() && !map.isMoving() ? ok() : map.once('idle', ok)));
    Object.assign(s, { bannerAt: null, flyAt: null, flownTo: null, flyWaited: null, alertPath: {} });
    const w = (s.bench = { id: aid, rendered: null, tiles: [], long: [] });
    if (!s.benchLong) { // the main thread's long tasks (> 50 ms)
      s.benchLong = true;
      new PerformanceObserver((l) => { for (const x of l.getEntries()) s.bench.long.push([Math.round(performance.timeOrigin + x.startTime), Math.round(x.duration)]); })
        .observe({ type: 'longtask' });
    }
    const onData = (e) => { if (e.tile && e.dataType === 'source') w.tiles.push([e.sourceId, Date.now()]); };
    const onRender = () => {
      if (!map.queryRenderedFeatures({ layers: ['alerts-fill'] }).some((f) => f.properties.id === aid)) return;
      w.rendered = Date.now();
      map.off('render', onRender);
      map.off('sourcedata', onData);
    };
    map.on('sourcedata', onData);
    map.on('render', onRender);
  }, [city, id]);
}

// The page's main thread sampled (CDP Profiler) while alert i makes its way:
// the functions with the most self time, and the profile in --profile.
async function profiled(page, i, run) {
  if (!opt.profile) return run();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.send('Profiler.start');
  const row = await run();
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  fs.writeFileSync(`${opt.profile}.${i}.cpuprofile`, JSON.stringify(profile));
  const dt = {};
  profile.samples.forEach((id, k) => { dt[id] = (dt[id] || 0) + (profile.timeDeltas[k] || 0); });
  const self = {};
  for (const nd of profile.nodes) {
    const f = nd.callFrame, key = `${f.functionName || '(anon)'} ${path.basename(f.url)}:${f.lineNumber}`;
    self[key] = (self[key] || 0) + (dt[nd.id] || 0) / 1000;
  }
  row.top_self_ms = Object.entries(self).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${Math.round(v)}`);
  return row;
}

async function oneAlert(page, token, city, i) {
  const now = Date.now();
  const eid = `bench-${process.pid}-${i}`, id = `meteorology:${eid}`;
  await prepare(page, city, id);
  return profiled(page, i, () => timeAlert(page, token, city, i, id, eid, now));
}

async function timeAlert(page, token, city, i, id, eid, now) {
  const sent = Date.now();
  const r = await post(token, 'meteorology', [{ id: eid, type: 'alert', event: 'rainstorm', severity: i % 2 ? 'orange' : 'red',
    headline: `bench ${i}`, onset: new Date(now - 60000).toISOString(), expires: new Date(now + 3600000).toISOString(),
    geometry: { type: 'Polygon', coordinates: [square(city, i)] } }]);
  const answered = Date.now();
  if (r.status !== 200) throw new Error(`POST answered ${r.status}: ${r.body.toString().slice(0, 300)}`);
  const done = await page.waitForFunction((aid) => {
    const s = window.__situ;
    return s.bench.rendered && s.bannerAt && s.flownTo === aid && s.flyAt;
  }, id, { timeout: LIVENESS_MS, polling: 50 }).then(() => true, () => false);
  const got = await page.evaluate(() => {
    const s = window.__situ;
    return { path: s.alertPath, banner: s.bannerAt, fly: s.flyAt, rendered: s.bench.rendered, tiles: s.bench.tiles, long: s.bench.long, flyWaited: s.flyWaited };
  });
  const set = got.path.alerts_set;
  const afterSet = got.tiles.filter(([, t]) => t >= set);
  const tileAt = (afterSet.find(([src]) => src === 'alerts') || [])[1];
  const row = {
    post: answered - sent,
    event: got.path.alert_event - answered,
    set: set - answered,
    tile: tileAt ? tileAt - answered : null,
    rendered: got.rendered ? got.rendered - answered : null,
    banner: got.banner ? got.banner - answered : null,
    fly: got.fly ? got.fly - answered : null,
    fly_wait: got.flyWaited ?? null,
    tiles_first: tileAt ? afterSet.filter(([src, t]) => src !== 'alerts' && t < tileAt).length : null,
    // the main thread's long tasks that started before it was rendered: [ms after the answer, duration ms]
    long: got.long.filter(([t]) => t >= sent && (!got.rendered || t < got.rendered)).map(([t, d]) => [t - answered, d]),
    done,
  };
  // the flight ends before the next alert
  await page.evaluate(() => new Promise((ok) => { const m = window.__situ.map; if (!m.isMoving() && m.loaded()) ok(); else m.once('idle', ok); }));
  return row;
}

// ---- figures --------------------------------------------------------------------------

function pct(xs, p) {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round((p / 100) * (v.length - 1)))];
}

function summary(rows) {
  const out = {};
  for (const k of STEPS) {
    const xs = rows.map((r) => r[k]).filter(Number.isFinite);
    const missing = rows.length - xs.length;
    out[k] = { p50: pct(xs, 50), p95: pct(xs, 95), max: Math.max(...xs), over_2s: xs.filter((x) => x > 2000).length + missing, missing };
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-bench-wall-alert-'));
let ctx = null, stopLoad = async () => {};
try {
  const db = demoDb(tmp);
  const { token, why } = feedToken(db, 'meteorology');
  if (!token) throw new Error(why);
  await startSitud(tmp, db);
  const city = json(await request('GET', '/collections/townships')).extent.spatial.bbox[0];
  ctx = await launchChromium(tmp, { viewport: { width: 1600, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${situd.base}/?${opt.query}`);
  await page.waitForFunction(() => window.__situ && window.__situ.idleAt && window.__situ.watch && window.__situ.watch.seen,
    null, { timeout: 120000, polling: 100 });
  stopLoad = await startLoad(opt.load, token);
  const load0 = os.loadavg();
  const rows = [];
  let stop = false; // Ctrl-C: the figures of the alerts timed so far
  process.once('SIGINT', () => { stop = true; });
  for (let i = 0; i < N && !stop; i++) {
    const row = await oneAlert(page, token, city, i);
    rows.push(row);
    if (!opt.json) console.log(`alert ${i}: ${JSON.stringify(row)}`);
  }
  const load1 = os.loadavg();
  await stopLoad();
  stopLoad = async () => {};
  const sum = summary(rows);
  const result = { n: rows.length, query: opt.query, load: opt.load, loadavg_before: load0.map((x) => +x.toFixed(2)), loadavg_after: load1.map((x) => +x.toFixed(2)),
    cores: os.cpus().length, ms_after_post_answer: sum, tiles_first: { p50: pct(rows.map((r) => r.tiles_first ?? 0), 50), max: Math.max(...rows.map((r) => r.tiles_first ?? 0)) } };
  if (opt.json) console.log(JSON.stringify({ ...result, rows }));
  else {
    console.log(`wall_alert n=${rows.length} query=${opt.query} load=${opt.load} loadavg ${load0.map((x) => x.toFixed(2)).join(' ')} -> ${load1.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
    console.log('step       p50 ms  p95 ms  max ms  >2s');
    for (const k of STEPS) {
      const s = sum[k];
      console.log(`${k.padEnd(9)} ${String(s.p50).padStart(7)} ${String(s.p95).padStart(7)} ${String(s.max).padStart(7)} ${String(s.over_2s).padStart(4)}`);
    }
    console.log(`tiles of other sources loaded before the alert's tile: p50 ${result.tiles_first.p50}, max ${result.tiles_first.max}`);
  }
} finally {
  await stopLoad();
  if (ctx) await ctx.close().catch(() => {});
  await stopSitud();
  fs.rmSync(tmp, { recursive: true, force: true });
}
