// app.js: the map wall's entry point. Reads the page's parameters
// (?wall=1 the video wall, ?lang=en English, ?layers=a,b the maps shown,
// ?rotate=N seconds per view on the wall (0: fixed), ?township=CODE a fixed
// township view, ?drill=ID a drill's store instead of the live one, marked
// as an exercise: drill.js), builds the map from situd's vector tiles, and wires the
// layer toggles, clicks (details, nearest supplies by road or straight line,
// reach areas while their toggle is on), the township search, the
// live network (live.js) and the wall's clock, rotation and recovery.
// Everything it loads comes from the origin that served it.
//
// window.__situ exposes the map and a few timings for the browser test.

import { Map as MapLibreMap, NavigationControl, ScaleControl, prewarm } from './maplibre-gl.mjs';
import { t, lang, zoned, setServedZone } from './i18n.js';
import { wallStyle, addMissingIcon, legend, GROUPS, OFF_AT_START, CLICKABLE, TILED, IDEOGRAPH_FONT } from './layers.js';
import { renderZoomLegend, addAdminOutlines } from './zooms.js';
import { followTownshipLabels } from './labels.js';
import { Live } from './live.js';
import { Panels } from './panels.js';
import { Glance, addBaseMap, parseCoords, fromGcj02, wireCursor, markPoint } from './glance.js';
import { addPlaces } from './places.js';
import { urgentLegend } from './urgent_legend.js';
import { AlertWatch } from './alerts.js';
import { DrillMark, drillError } from './drill.js';
import { getJSON, el, fill, bboxOf, today, debounce, searchTownships, drill } from './util.js';

const params = new URLSearchParams(location.search);
const WALL = params.get('wall') === '1';
const ROTATE_S = Number(params.get('rotate') ?? 40);
const FIXED_TOWNSHIP = params.get('township');
const CITY_FALLBACK = [73.5, 18, 135, 53.6]; // China, when situd names no extent

const situ = (window.__situ = { wall: WALL, lang, idleAt: null, status: {} });
const $ = (id) => document.getElementById(id);

// ---- status banner: what situd could not give -----------------------------------

const ROUTE_WORDS = { tiles: 'tiles', events: 'events_route', feeds: 'feeds_route', alerts: 'alerts', nearest: 'nearest_route', closures: 'closures' };

function setStatus(what, status) {
  situ.status[what] = status;
  const bad = Object.entries(situ.status).filter(([, s]) => s !== 200);
  const banner = $('banner');
  banner.hidden = bad.length === 0;
  fill(banner, bad.map(([w, s]) => el('div', {}, t('unavailable', t(ROUTE_WORDS[w] || w), s || 'offline'))));
  $('live').classList.toggle('down', situ.status.events !== 200);
  $('live').textContent = situ.status.events === 200 ? `● ${t('live')}` : `○ ${t('live_lost')}`;
}

// ---- the page around the map -----------------------------------------------------

function tick() {
  $('clock').textContent = t('clock', zoned(new Date()));
  if (situ.mark) situ.mark.render();
}

function langLink() {
  const q = new URLSearchParams(location.search);
  if (lang === 'en') q.delete('lang'); else q.set('lang', 'en');
  const a = $('lang');
  a.textContent = t('lang_switch');
  a.href = `/?${q}`;
}

function renderStats(list) {
  const sum = {};
  for (const x of list) for (const [k, v] of Object.entries(x.counts || {})) sum[k] = (sum[k] || 0) + v;
  fill($('stats'), ['risk_zones', 'hazards', 'hazard_sources', 'resources'].map((k) =>
    el('span', { class: `stat ${k}` }, el('small', {}, t(k)), el('b', {}, (sum[k] || 0).toLocaleString()))));
}

// The groups shown at start: ?layers=, else what this desk chose last, else
// all but those off at start (the reach areas).
function initialGroups() {
  const p = params.get('layers');
  if (p) return new Set(p.split(','));
  const saved = !WALL && localStorage.getItem('situ.layers');
  return new Set(saved ? JSON.parse(saved) : GROUPS.filter((g) => !OFF_AT_START.includes(g)));
}

function setGroupVisible(map, group, on) {
  for (const layer of map.getStyle().layers) {
    if (layer.metadata && layer.metadata['situ:group'] === group) map.setLayoutProperty(layer.id, 'visibility', on ? 'visible' : 'none');
  }
}

function swatch([kind, color]) {
  return el('i', { class: `sw ${kind}`, style: ['line', 'ring', 'dash'].includes(kind) ? { borderColor: color } : { background: color } });
}

// The layer toggles and the legend; onToggle(group, on) after a change.
function renderLayerPanel(map, shown, onToggle) {
  const rows = legend();
  // the wall has no clicks, so no reach areas to explain
  fill($('layers'), el('h3', {}, WALL ? t('legend') : t('layers')), GROUPS.filter((g) => !WALL || !OFF_AT_START.includes(g)).map((g) => {
    const box = WALL ? null : el('input', { type: 'checkbox', checked: shown.has(g), 'data-group': g, onchange: (e) => {
      if (e.target.checked) shown.add(g); else shown.delete(g);
      setGroupVisible(map, g, e.target.checked);
      localStorage.setItem('situ.layers', JSON.stringify([...shown]));
      if (onToggle) onToggle(g, e.target.checked);
    } });
    return el('details', { class: `group ${g}`, open: WALL || shown.has(g) },
      el('summary', {}, el('label', {}, box, ` ${t(g)}`)),
      el('ul', { class: 'legend' }, rows[g].map((r) => el('li', {}, swatch(r), r[2]))));
  }));
}

// ---- search ------------------------------------------------------------------------

function wireSearch(panels, list, goTo, goToPoint) {
  const input = $('q');
  const out = $('q-results');
  input.placeholder = t('search');
  const pick = (x) => { fill(out); input.value = x.name; goTo(x.code); };
  const point = (c) => { fill(out); goToPoint(c, $('q-gcj').checked); };
  input.addEventListener('input', () => {
    const c = parseCoords(input.value);
    if (c) return fill(out, c.error ? el('li', { class: 'none' }, c.error) : el('li', { class: 'coords', onclick: () => point(c) }, `→ ${c[0]}, ${c[1]}`));
    const hits = searchTownships(list, input.value);
    fill(out, input.value.trim() && !hits.length ? el('li', { class: 'none' }, t('no_match'))
      : hits.map((x) => el('li', { onclick: () => pick(x) }, el('b', {}, x.name), ` ${x.county_name || ''}`)));
  });
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const c = parseCoords(input.value);
    if (c) return c.error ? null : point(c);
    const hits = searchTownships(list, input.value);
    if (hits.length) pick(hits[0]);
  });
}

// Flies to the typed point c ([lon, lat], GCJ-02 when gcj) and marks it;
// a click there asks the nearest supplies.
async function goToPoint(map, c, gcj) {
  const w = gcj ? await fromGcj02(c) : c;
  if (!w) return;
  markPoint(map, w);
  map.flyTo({ center: w, zoom: Math.max(map.getZoom(), 13), duration: 1200 });
}

// Flies to township `code`, outlines it and shows its four-map summary.
async function goToTownship(map, panels, code, opts = {}) {
  const r = await getJSON(`/collections/townships/items/${encodeURIComponent(code)}`);
  if (!r.ok || !r.data) return;
  map.setGlobalStateProperty('selected', code);
  if (!WALL) { // the address keeps it, so the language link (and a reload) does too
    const q = new URLSearchParams(location.search);
    q.set('township', code);
    history.replaceState(null, '', `?${q}`);
    langLink();
  }
  map.fitBounds(bboxOf(r.data.geometry), { padding: WALL ? 120 : 60, duration: opts.duration ?? 1500, maxZoom: 13 });
  if (!WALL) panels.summary(code);
}

// ---- clicks ---------------------------------------------------------------------------

// A click on a feature opens its details (a closure's from its area or its
// closed road); elsewhere it asks the nearest supplies there, and the reach
// areas from there while their toggle is on.
function wireClicks(map, panels, watch) {
  const layers = () => CLICKABLE.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
  const hit = (p) => map.queryRenderedFeatures([[p.x - 5, p.y - 5], [p.x + 5, p.y + 5]], { layers: layers() });
  // What a click is on: the topmost feature drawn under the pointer, else the
  // nearest within 5 px (a small dot is hard to hit); not the topmost in the
  // box, or a hazard dot beside a depot cluster answers a click on the cluster.
  const pick = (p) => {
    const under = map.queryRenderedFeatures(p, { layers: layers() });
    if (under.length) return under[0];
    const off = (f) => { const q = map.project(f.geometry.coordinates); return Math.hypot(q.x - p.x, q.y - p.y); };
    return hit(p).sort((a, b) => off(a) - off(b))[0];
  };
  map.on('click', (e) => {
    const f = pick(e.point);
    if (f && ['alerts', 'alert-labels'].includes(f.layer.source)) return watch.pick(String(f.properties.id));
    if (f) return panels.details(f.layer.source, f);
    const zones = map.getLayer('risk_zones-fill') ? map.queryRenderedFeatures(e.point, { layers: ['risk_zones-fill'] }) : [];
    panels.nearest(e.lngLat, zones);
    if (panels.roadNetwork && map.getLayoutProperty('reach-fill', 'visibility') !== 'none') panels.reach(e.lngLat);
  });
  map.on('mousemove', debounce((e) => { map.getCanvas().style.cursor = hit(e.point).length ? 'pointer' : 'crosshair'; }, 30));
}

// ---- the wall: rotation and recovery ---------------------------------------------------------

function wallRotation(map, cityBounds) {
  let views = [cityBounds];
  let i = 0;
  const setAlerts = (alerts) => {
    views = [cityBounds, ...alerts.slice(0, 6).map((f) => bboxOf(f.geometry))];
  };
  if (ROTATE_S > 0) {
    setInterval(() => {
      if (situ.attention && situ.attention.length) return; // an alert waits for acknowledgement
      i = (i + 1) % views.length;
      map.fitBounds(views[i], { padding: 80, duration: 4000, maxZoom: 11 });
    }, ROTATE_S * 1000);
  }
  return setAlerts;
}

function reloadAt4am() {
  const d = new Date();
  const next = new Date(d.getFullYear(), d.getMonth(), d.getDate() + (d.getHours() >= 4 ? 1 : 0), 4, 0, 0);
  setTimeout(() => location.reload(), next - d);
}

// situd is back after an outage: the wall reloads whole; a desk reloads its data.
function recover(map, live) {
  if (WALL) return location.reload();
  for (const id of TILED) if (map.getSource(id)) map.refreshTiles(id);
  live.loadAlerts();
  live.loadFeeds();
}

// ---- tiles that failed -----------------------------------------------------------------------

// The TileJSON of every tiled collection, {id: answer or null}; the banner
// shows the worst status.
async function loadTileJSON() {
  const answers = await Promise.all(TILED.map((id) => getJSON(`/tiles/${id}.json`)));
  const bad = answers.find((r) => !r.ok);
  setStatus('tiles', bad ? bad.status : 200);
  return Object.fromEntries(TILED.map((id, i) => [id, answers[i].ok ? answers[i].data : null]));
}

// A tiled source whose tiles failed is asked again every 15 s (errored tiles
// reload); the banner shows the last failure until a tile loads again.
function watchSources(map) {
  const failed = new Set();
  map.on('error', (e) => {
    const code = (e.error && e.error.status) || 0;
    if (e.sourceId && TILED.includes(e.sourceId)) {
      failed.add(e.sourceId);
      setStatus('tiles', code);
    }
    console.warn('map:', e.sourceId || '', code || '', e.error ? e.error.message : e);
  });
  map.on('sourcedata', (e) => {
    if (e.tile && TILED.includes(e.sourceId) && e.tile.state === 'loaded' && !failed.size && situ.status.tiles !== 200) setStatus('tiles', 200);
  });
  setInterval(() => {
    const ids = [...failed];
    failed.clear();
    for (const id of ids) if (map.getSource(id)) map.refreshTiles(id);
  }, 15000);
}

// ---- boot ----------------------------------------------------------------------------------------

async function cityBounds() {
  const r = await getJSON('/collections/townships');
  const b = r.ok && r.data && r.data.extent && r.data.extent.spatial && r.data.extent.spatial.bbox && r.data.extent.spatial.bbox[0];
  return Array.isArray(b) && b.length >= 4 && b.every(Number.isFinite) ? b.slice(0, 4) : CITY_FALLBACK;
}

// The wall's style document from situd (dark on the wall, day at the desk),
// asked again every 2 s until situd gives it: without it there is no map.
async function loadStyle() {
  for (;;) {
    const r = await getJSON(`/styles/${WALL ? 'dark' : 'day'}.json`);
    if (r.ok && r.data && Array.isArray(r.data.layers)) return r.data;
    await new Promise((done) => setTimeout(done, 2000));
  }
}

function makeMap(bounds, style) {
  const map = new MapLibreMap({
    container: 'map',
    style,
    bounds,
    fitBoundsOptions: { padding: WALL ? 40 : 20 },
    attributionControl: false,
    interactive: !WALL,
    dragRotate: false,
    pitchWithRotate: false,
    localIdeographFontFamily: IDEOGRAPH_FONT,
    fadeDuration: WALL ? 300 : 150,
    // tiles are revalidated, so a reload after an event sees the new data
    transformRequest: (url) => (url.includes('/tiles/') ? { url, cache: 'no-cache' } : { url }),
  });
  map.setMissingStyleImageResolver((id) => addMissingIcon(map, id));
  if (!WALL) {
    map.addControl(new NavigationControl({ showCompass: false }), 'top-left');
    map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');
  }
  return map;
}

async function boot() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  if (drill && drill.error) return drillError(situ, t('drill_bad_id'));
  prewarm(); // the tile workers start while the page asks for its first data
  document.body.classList.toggle('wall', WALL);
  document.title = t('title');
  $('title').textContent = WALL ? t('wall_title') : t('title');
  const mark = drill ? (situ.mark = new DrillMark({ situ, wall: WALL })) : null;
  if (mark && (await mark.start()) === 404) return drillError(situ, t('drill_unknown', drill.id));
  langLink();
  tick();
  setInterval(tick, 1000);
  const [schemaR, bounds, tilejson, styleDoc] = await Promise.all([getJSON('/web/schema.json'), cityBounds(), loadTileJSON(), loadStyle()]);
  const schema = schemaR.data;
  setServedZone(schema.timezone);
  tick();
  const map = makeMap(bounds, wallStyle(styleDoc, tilejson, today()));
  situ.map = map;
  if (mark) mark.watermark(map.getContainer());
  watchSources(map);
  followTownshipLabels(map);
  const shown = initialGroups();
  const panels = new Panels({ schema, node: $('info'), map });
  const setAlerts = WALL ? wallRotation(map, bounds) : null;
  const watch = new AlertWatch({ map, panels, situ, wall: WALL, exercise: mark && t('exercise') });
  const live = new Live({
    map, schema, ui: { feeds: $('feeds'), ticker: $('ticker') }, onStatus: setStatus,
    ...(mark && { now: () => mark.alertTime(), alertsEveryMs: 5000, mark: t('exercise') }),
    onAlerts: (a) => { situ.alerts = a.length; watch.update(a); if (setAlerts) setAlerts(a); },
    onPick: (f) => watch.pick(f),
    onCamera: (f) => map.flyTo({ center: f.geometry.coordinates, zoom: 15, duration: 1200 }),
    onRecover: () => recover(map, live),
    onRoads: () => panels.roadsChanged(),
  });
  const styled = new Promise((done) => map.once('style.load', done));
  const townshipsFrom = ((tilejson.townships && tilejson.townships.vector_layers) || []).find((l) => l.id === 'townships');
  const glance = new Glance({ map, node: $('glance'), dark: WALL, onPick: (code) => goToTownship(map, panels, code),
    countyBelow: townshipsFrom ? townshipsFrom.minzoom : 6 });
  map.once('style.load', () => {
    addBaseMap(map, WALL);
    addPlaces(map, WALL);
    watch.install();
    for (const g of GROUPS) if (!shown.has(g)) setGroupVisible(map, g, false);
    renderLayerPanel(map, shown, (g, on) => { if (g === 'reach' && !on) panels.clearReach(); });
    $('layers').append(urgentLegend(map)); // urgent symbols (#16): its own section, after the maps'
    // #20: what each zoom carries, and the county and province outlines below the townships
    renderZoomLegend($('layers'), tilejson, glance.on ? glance.countyBelow : null);
    addAdminOutlines(map, tilejson, WALL);
    live.start();
    if (FIXED_TOWNSHIP) goToTownship(map, panels, FIXED_TOWNSHIP, { duration: 0 });
  });
  map.once('idle', () => { situ.idleAt = performance.now(); });
  setInterval(() => map.setGlobalStateProperty('today', today()), 600000);
  const [{ list }, roads] = await Promise.all([panels.loadTownships(), getJSON('/collections/roads/items?limit=1')]);
  panels.roadNetwork = situ.roadNetwork = !!(roads.ok && roads.data && Array.isArray(roads.data.features) && roads.data.features.length);
  renderStats(list);
  await styled;
  glance.mount(list);
  // the shading follows /townships: every page revalidated by its ETag, so
  // a minute without change costs a few hundred bytes a page (#20)
  const refreshTownships = async () => {
    const r = await panels.loadTownships();
    if (r.changed) glance.update(r.list);
    return r.changed;
  };
  setInterval(refreshTownships, 60000);
  if (!WALL) {
    wireSearch(panels, list, (code) => goToTownship(map, panels, code), (c, gcj) => goToPoint(map, c, gcj));
    wireCursor(map, $('cursor'));
    wireClicks(map, panels, watch);
  } else {
    reloadAt4am();
  }
  situ.live = live;
  situ.panels = panels;
  situ.glance = glance;
  situ.refreshTownships = refreshTownships; // what the minute's timer runs (tests call it)
  situ.watch = watch;
  situ.goToTownship = (code) => goToTownship(map, panels, code);
}

boot();
