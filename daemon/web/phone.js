// phone.js: the township officer's page at /m/ (Chinese first, ?lang=en;
// ?crs=gcj02 when the phone's browser gives GCJ-02 positions). Where am I
// (/locate, from the phone's position, a point picked, or a township or
// village searched by name: /places), the nearest supplies or teams as a
// list with tap-to-call links (/nearest; by road with travel times when
// situd has a road network), then the map with the routes and the
// 30-minute reach (/reach), my township's
// summary (/townships/{code}, overdue hidden dangers first), and new alerts
// over /events as a banner. It does not draw the wall's layers or panels.
//
//   open --position--> asking --answer--> list --> map (maplibre-gl, loaded
//     \--denied--> one line, map pick, search      only after the first list)
//   an answer that fails: its reason and the last good answer with its age
//
// Every good answer is kept in the Cache Storage (with its time) for the
// service worker (sw.js) to give back offline, and in localStorage for the
// failure line; the service worker also keeps my township's tiles and the
// villages around it, so a village is found by name offline. window.__phone exposes timings and state for the browser test.

import { t, tv, tn, lang, qtyUnit } from './i18n.js';
import { el, fill, bboxOf, today, debounce, searchTownships } from './util.js';

const P = new URLSearchParams(location.search);
const GIVEN_CRS = P.get('crs') === 'gcj02' ? 'gcj02' : 'wgs84';
const ANSWERS = 'situ-m-answers'; // the Cache Storage the service worker falls back to
const KEEP = 'situ.m.';
const TOP_ITEMS = 7; // item buttons before "more"
const EMPTY = { type: 'FeatureCollection', features: [] };
const $ = (id) => document.getElementById(id);

const S = (window.__phone = { firstList: null, mapIdle: null, roads: null, answers: [], alerts: [] });
const st = {
  point: null, // {lon, lat}
  crs: GIVEN_CRS, // of point
  how: 'gps',
  mode: localStorage.getItem(`${KEEP}mode`) === 'team' ? 'team' : 'item',
  item: localStorage.getItem(`${KEEP}item`) || '',
  team: localStorage.getItem(`${KEEP}team`) || '',
  qty: 0,
  picking: false,
  township: null, // {code, name, bbox}
  place: null, // the searched village's name
  schema: null,
  seq: 0,
};

// ---- answers: fetched, kept, recalled ------------------------------------------

// GET url as JSON. Resolves to {ok, data, at, saved} (saved: given back by the
// service worker from before, at `at`), or {ok: false, status, why, last}
// with the last good answer of this kind ({data, at}) when one was kept.
async function ask(kind, url) {
  let r = null;
  let data = null;
  try {
    r = await fetch(url, { headers: { Accept: 'application/json' } });
    data = await r.json().catch(() => null);
  } catch {
    r = null;
  }
  if (r && r.ok && data) {
    const savedAt = Number(r.headers.get('X-Situ-Saved-At')) || 0;
    const at = savedAt || Date.now();
    if (!savedAt) keep(kind, url, data, at);
    S.answers.push({ kind, url, at: performance.now(), saved: !!savedAt });
    return { ok: true, data, at, saved: !!savedAt };
  }
  const why = !r ? t('m_offline') : `${r.status} ${(data && (data.detail || data.title)) || r.statusText || ''}`.trim();
  return { ok: false, status: r ? r.status : 0, data, why, last: recall(kind) };
}

function keep(kind, url, data, at) {
  try {
    localStorage.setItem(`${KEEP}last.${kind}`, JSON.stringify({ url, at, data }));
  } catch { /* full: the Cache Storage still has it */ }
  if (!('caches' in window)) return;
  const body = JSON.stringify(data);
  caches.open(ANSWERS).then((c) => c.put(url, new Response(body, {
    headers: { 'Content-Type': 'application/json', 'X-Situ-Saved-At': String(at) },
  }))).catch(() => {});
}

function recall(kind) {
  try {
    return JSON.parse(localStorage.getItem(`${KEEP}last.${kind}`));
  } catch {
    return null;
  }
}

function age(at) {
  return t('ago', Math.max(0, (Date.now() - at) / 1000));
}

function status(line) {
  $('status').hidden = !line;
  $('status').textContent = line || '';
}

// ---- where am I ----------------------------------------------------------------

function locateMe() {
  st.picking = false;
  if (!navigator.geolocation) return denied();
  $('here').textContent = t('m_locating');
  navigator.geolocation.getCurrentPosition(
    (pos) => setPoint({ lon: pos.coords.longitude, lat: pos.coords.latitude }, 'gps', GIVEN_CRS),
    denied, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

function denied() {
  fill($('here'), el('span', { class: 'warn', id: 'denied' }, t('m_denied')));
  $('q').focus({ preventScroll: true });
  startPicking();
}

function startPicking() {
  st.picking = true;
  $('map-note').hidden = false;
  $('map-note').textContent = t('m_pick_hint');
  loadMap();
}

function setPoint(p, how, crs, township = null, place = null) {
  st.point = p;
  st.how = how;
  st.crs = crs;
  st.place = place;
  st.picking = false;
  $('map-note').hidden = true;
  if (township) st.township = township;
  run();
  if (crs === 'wgs84') whereAmI(township);
}

// The township, the hazard sources that reach the point and the alerts over it.
async function whereAmI(fixed) {
  const p = st.point;
  const r = await ask('locate', `/locate?lon=${p.lon.toFixed(5)}&lat=${p.lat.toFixed(5)}`);
  if (p !== st.point) return;
  const d = r.ok ? r.data : r.last && r.last.data;
  if (!d) return;
  const town = fixed || d.township;
  const word = { gps: 'm_here_gps', pick: 'm_here_pick', search: 'm_here_search' }[st.how];
  fill($('here'),
    el('span', {}, `${t(word)}: `),
    town ? `${town.county_name || ''} ${town.name}${st.place ? ` ${st.place}` : ''}` : el('span', { class: 'outside', id: 'outside' }, t('m_outside')),
    (d.alerts || []).map((a) => el('div', {}, sev(a.severity), ` ${a.headline || tv('event', a.event)}`)),
    (d.hazard_sources || []).length ? el('div', { class: 'warn' }, `${t('hazard_sources')}: `, d.hazard_sources.map((h) => h.name).join('、')) : null);
  if (town && (!st.township || st.township.code !== town.code || !st.township.bbox)) myTownship(town.code, town.name);
}

function sev(s) {
  return el('span', { class: `sev ${s}` }, tv('severity', s));
}

// ---- nearest supplies and teams ------------------------------------------------

function nearestURL(road) {
  const p = st.point;
  const q = new URLSearchParams({ lon: p.lon.toFixed(5), lat: p.lat.toFixed(5), collection: 'resources', k: '5' });
  if (st.crs === 'gcj02') q.set('crs', 'gcj02');
  if (st.mode === 'item' && st.item) {
    q.set('item', st.item);
    if (st.qty) q.set('min_qty', String(st.qty));
  }
  if (st.mode === 'team') {
    q.set('category', 'team');
    if (st.team) q.set('team_type', st.team);
  }
  if (road) {
    q.set('by', 'road');
    q.set('route', '1');
  }
  return `/nearest?${q}`;
}

// Asks for the nearest by distance and, unless situd said it has no road
// network, by road; the list shows the first, then the road answer.
async function run() {
  if (!st.point) return;
  const my = ++st.seq;
  const straight = ask('nearest', nearestURL(false));
  const road = roadsKnownAbsent() ? null : ask('road', nearestURL(true));
  const a = await straight;
  if (my !== st.seq) return;
  const wgs = a.ok && st.crs === 'gcj02' && a.data.query && a.data.query.wgs84;
  showAnswer(a, false, !wgs);
  if (wgs) return setPoint({ lon: wgs[0], lat: wgs[1] }, st.how, 'wgs84'); // the map and /locate are WGS84
  if (!road) return;
  const b = await road;
  if (b.ok) S.roads = (b.data.features || []).some((f) => f.properties && f.properties.travel_s !== undefined);
  // no road network (or a situd before roads): 400 naming `by`; a point more than
  // 1 km from every road (400 naming `lon`) only gets the straight-line answer,
  // and is not asked by road again for 10 min
  else if (b.status === 400 && b.data && b.data.parameter === 'lon') localStorage.setItem(`${KEEP}noroad.point`, `${pointKey()} ${Date.now()}`);
  else if (b.status === 400) S.roads = false;
  if (S.roads === false) localStorage.setItem(`${KEEP}noroads`, String(Date.now()));
  if (my !== st.seq || !S.roads) return;
  // a failing situd: the last answer by road, the kind the list last showed
  if (!b.ok) return b.last && showAnswer(b, true, true);
  showAnswer(b, true, true);
  reach();
}

// 1 when situd said lately (10 min) that it has no road network: the probe,
// a 400 each time, is not sent again.
function roadsKnownAbsent() {
  const [key, at] = (localStorage.getItem(`${KEEP}noroad.point`) || '').split(' ');
  if (key === pointKey() && Date.now() - Number(at) < 600000) return true; // this point: no road within 1 km
  if (S.roads !== null) return S.roads === false;
  return Date.now() - Number(localStorage.getItem(`${KEEP}noroads`) || 0) < 600000;
}

const pointKey = () => `${st.point.lon.toFixed(5)},${st.point.lat.toFixed(5)},${st.crs}`;

function showAnswer(a, road, draw) {
  const shown = a.ok ? a : a.last && { data: a.last.data, at: a.last.at, saved: true };
  if (!road) status(a.ok ? '' : t('m_failed', a.why));
  if (!shown || !shown.data || !Array.isArray(shown.data.features)) return;
  $('age').hidden = !shown.saved;
  $('age').textContent = shown.saved ? (a.ok ? t('m_saved', age(shown.at)) : t('m_last', age(shown.at))) : '';
  const feats = shown.data.features;
  const q = shown.data.query || {};
  fill($('list'), feats.length ? feats.map((f) => row(f, q.item)) : el('li', { class: 'none' }, t('no_results')));
  if (q.township_code === null && !$('outside')) $('here').append(el('div', { class: 'outside', id: 'outside' }, t('m_outside')));
  if (S.firstList === null) {
    S.firstList = performance.now();
    afterFirstList();
  }
  if (draw) drawAnswer(feats);
}

function row(f, item) {
  const p = f.properties || {};
  const held = item && Array.isArray(p.items) ? p.items.find((i) => i.item === item) : null;
  const tel = String(p.phone || '').replace(/[^\d+]/g, '');
  return el('li', { class: 'result', 'data-id': f.id || p.id },
    el('div', { class: 'name' }, p.name || f.id),
    el('div', { class: 'meta' },
      t('km', Number(p.distance_m)), p.bearing_deg !== undefined ? ` ${t('bearing', Number(p.bearing_deg))}` : '',
      p.travel_s !== undefined ? el('b', { class: 'road' }, ` · ${t('m_road', Number(p.travel_s))}`) : null,
      p.township_name ? ` · ${p.township_name}` : '',
      p.team_type ? ` · ${tv('team_type', p.team_type)}` : '',
      p.personnel ? ` · ${p.personnel}${t('personnel')}` : '',
      p.contact ? ` · ${p.contact}` : ''),
    held ? el('div', { class: 'qty' }, `${itemName(held.item, held.name)} ${qtyUnit(held.qty, held.unit)}`) : null,
    tel ? el('a', { class: 'call', href: `tel:${tel}` }, t('m_call')) : null);
}

function itemName(code, fallback) {
  const it = st.schema && st.schema.items.find((i) => i.code === code);
  return it ? tn(it) : fallback || code;
}

// ---- the pickers ---------------------------------------------------------------

function used() {
  try {
    return JSON.parse(localStorage.getItem(`${KEEP}used`)) || {};
  } catch {
    return {};
  }
}

// The 22 items, most used on this phone first, then in the schema's order.
function itemsByUse() {
  const n = used();
  const order = st.schema.items.map((it, i) => [it, i]);
  order.sort((a, b) => (n[b[0].code] || 0) - (n[a[0].code] || 0) || a[1] - b[1]);
  return order.map(([it]) => it);
}

function choose(kind, code) {
  if (kind === 'item') {
    st.item = code;
    if (code) {
      const n = used();
      n[code] = (n[code] || 0) + 1;
      localStorage.setItem(`${KEEP}used`, JSON.stringify(n));
    }
  } else {
    st.team = code;
  }
  localStorage.setItem(`${KEEP}${kind}`, code);
  renderPickers();
  run();
}

function setMode(mode) {
  st.mode = mode;
  localStorage.setItem(`${KEEP}mode`, mode);
  renderPickers();
  run();
}

function choice(kind, code, label, on) {
  return el('button', { type: 'button', class: 'btn', 'data-code': code, 'aria-pressed': on ? 'true' : 'false', onclick: () => choose(kind, code) }, label);
}

function renderPickers() {
  $('tab-item').setAttribute('aria-selected', String(st.mode === 'item'));
  $('tab-team').setAttribute('aria-selected', String(st.mode === 'team'));
  $('qty-label').hidden = st.mode !== 'item';
  if (!st.schema) return;
  if (st.mode === 'team') {
    const types = (st.schema.collections.find((c) => c.id === 'resources').fields.find((f) => f.name === 'team_type') || {}).domain || [];
    fill($('choices'), choice('team', '', t('m_all_teams'), !st.team),
      types.map((k) => choice('team', k, tv('team_type', k), st.team === k)));
    $('more').hidden = true;
    return;
  }
  const items = itemsByUse();
  const top = items.slice(0, TOP_ITEMS);
  if (st.item && !top.some((i) => i.code === st.item)) top[TOP_ITEMS - 1] = items.find((i) => i.code === st.item);
  fill($('choices'), top.map((i) => choice('item', i.code, tn(i), st.item === i.code)));
  $('more').hidden = false;
  fill($('more'), el('option', { value: '' }, t('m_more')),
    items.map((i) => el('option', { value: i.code }, tn(i))));
  $('more').value = '';
}

// ---- search --------------------------------------------------------------------

let townshipList = null;

async function townships() {
  if (!townshipList) {
    const r = await ask('townships', '/townships?limit=10000');
    const d = r.ok ? r.data : r.last && r.last.data;
    townshipList = d && Array.isArray(d.townships) ? d.townships : null;
  }
  return townshipList || [];
}

// The hits for q: townships by name or code (the list, kept), then the
// villages whose name holds it (situd's /places), at most 10 in all; each
// {town} or {place} (a GeoJSON feature).
let searchSeq = 0;
async function searchHits(q) {
  if (!q.trim()) return [];
  const my = ++searchSeq;
  const [list, places] = await Promise.all([townships(),
    ask('places', `/places?kind=village&limit=8&q=${encodeURIComponent(q.trim())}`)]);
  if (my !== searchSeq) return null; // a newer search is under way
  const villages = places.ok && places.data && Array.isArray(places.data.features) ? places.data.features : [];
  return [...searchTownships(list, q).map((town) => ({ town })), ...villages.map((place) => ({ place }))].slice(0, 10);
}

function goHit(h) {
  if (h.town) return goTownship(h.town);
  const p = h.place.properties, [lon, lat] = h.place.geometry.coordinates;
  fill($('q-results'));
  $('q').value = p.name;
  setPoint({ lon, lat }, 'search', 'wgs84', null, p.name);
}

async function onSearch() {
  const q = $('q').value;
  const hits = await searchHits(q);
  if (!hits) return;
  fill($('q-results'), q.trim() && !hits.length ? el('li', {}, t('m_no_match'))
    : hits.map((h) => el('li', { class: h.town ? 'town' : 'village' }, el('button', { type: 'button', class: 'btn', onclick: () => goHit(h) },
      el('b', {}, h.town ? h.town.name : h.place.properties.name),
      h.town ? ` ${h.town.county_name || ''}` : ` ${h.place.properties.county_name || ''} ${h.place.properties.township_name || ''}`))));
}

// The searched township: its middle (of its bounding box) is the point.
async function goTownship(x) {
  fill($('q-results'));
  $('q').value = x.name;
  const r = await ask('outline', `/collections/townships/items/${encodeURIComponent(x.code)}`);
  if (!r.ok) return status(t('m_failed', r.why));
  const b = bboxOf(r.data.geometry);
  setPoint({ lon: (b[0] + b[2]) / 2, lat: (b[1] + b[3]) / 2 }, 'search', 'wgs84', { ...x, bbox: b });
}

// ---- my township -----------------------------------------------------------------

const OPEN = (h) => h.status !== 'rectified';

// The township's four-map summary, its overdue hidden dangers first; the
// service worker is asked to keep its tiles.
async function myTownship(code, name) {
  st.township = { code, name, bbox: st.township && st.township.code === code ? st.township.bbox : null };
  localStorage.setItem(`${KEEP}township`, code);
  const [s, hz, outline] = await Promise.all([
    ask('township', `/townships/${encodeURIComponent(code)}`),
    ask('hazards', `/collections/hazards/items?township_code=${encodeURIComponent(code)}&limit=1000`),
    st.township.bbox ? null : ask('outline', `/collections/townships/items/${encodeURIComponent(code)}`),
  ]);
  if (outline && outline.ok) st.township.bbox = bboxOf(outline.data.geometry);
  renderTownship(s.ok ? s.data : s.last && s.last.data, hz.ok ? hz.data : hz.last && hz.last.data);
  if (s.ok) S.alerts = (s.data.alerts || []).map((a) => a.id);
  keepTiles();
}

function renderTownship(s, hz) {
  if (!s) return;
  const m = s.maps || {};
  const now = today();
  const overdue = ((hz && hz.features) || []).map((f) => f.properties).filter((h) => OPEN(h) && h.deadline && String(h.deadline) < now)
    .sort((a, b) => String(a.deadline).localeCompare(String(b.deadline)));
  const line = (cid, x, ...rest) => x ? el('p', { class: `counts ${cid}` }, el('b', {}, `${t(cid)} ${x.total ?? 0}`), ...rest) : null;
  const items = Object.entries((m.resources && m.resources.items) || {}).slice(0, 6)
    .map(([k, v]) => `${itemName(k, v.name)} ${qtyUnit(v.qty, v.unit)}`).join(' · ');
  fill($('township'),
    el('h2', {}, `${t('m_my_township')}: ${s.county_name || ''} ${s.name}`),
    el('div', { class: 'alerts' }, (s.alerts || []).length ? s.alerts.map((a) => el('p', {}, sev(a.severity), ` ${a.headline || tv('event', a.event)}`))
      : el('p', {}, t('no_alerts'))),
    el('h2', { class: 'overdue' }, `${t('m_overdue_first')} ${overdue.length}`),
    el('ul', { id: 'overdue' }, overdue.map((h) => el('li', {}, el('b', {}, h.name), ` · ${h.deadline} · ${tv('status', h.status)}`,
      h.responsible_unit ? ` · ${h.responsible_unit}` : ''))),
    line('hazards', m.hazards, ` · ${t('open')} ${(m.hazards || {}).open ?? 0}`),
    line('risk_zones', m.risk_zones),
    line('hazard_sources', m.hazard_sources),
    line('resources', m.resources, items ? el('div', {}, items) : null));
}

// ---- live alerts -------------------------------------------------------------------

function live() {
  if (!('EventSource' in window)) return;
  if (!navigator.onLine) {
    window.addEventListener('online', live, { once: true });
    return;
  }
  const es = new EventSource('/events');
  window.addEventListener('offline', () => { // no reconnecting into a dead network
    es.close();
    window.addEventListener('online', live, { once: true });
  }, { once: true });
  es.onmessage = (e) => {
    let d = null;
    try { d = JSON.parse(e.data); } catch { d = null; }
    if (!d || d.collection === 'alerts') refreshAlerts();
  };
}

// New alerts over my township: a banner for each one not seen before.
const refreshAlerts = debounce(async () => {
  if (!st.township) return;
  const r = await ask('township', `/townships/${encodeURIComponent(st.township.code)}`);
  if (!r.ok) return;
  const fresh = (r.data.alerts || []).filter((a) => !S.alerts.includes(a.id));
  S.alerts = (r.data.alerts || []).map((a) => a.id);
  if (fresh.length) banner(fresh[0]);
  const hz = recall('hazards');
  renderTownship(r.data, hz && hz.data);
  if (st.point && st.crs === 'wgs84') whereAmI(st.how === 'search' ? st.township : null);
}, 200);

function banner(a) {
  const b = $('banner');
  b.className = a.severity || '';
  fill(b, el('span', {}, `${t('m_new_alert')}: `, sev(a.severity), ` ${a.headline || tv('event', a.event)}`),
    el('button', { type: 'button', class: 'btn', onclick: () => { b.hidden = true; } }, t('m_dismiss')));
  b.hidden = false;
  if (navigator.vibrate) navigator.vibrate(300);
}

// ---- the map: loaded after the first list -------------------------------------------

let map = null;
let mapLoading = null;

// The wall's day style on the phone: its township, risk-zone, depot, team,
// alert and nearest layers over the one `all` tileset (one request a tile),
// plus the 30-minute reach.
function phoneStyle(doc) {
  const keep = new Set(['townships', 'risk_zones', 'resources', 'alerts', 'nearest']);
  const style = { ...doc, state: { ...doc.state, today: { default: today() } }, layers: [] };
  style.sources = {
    all: { type: 'vector', tiles: [`${location.origin}/tiles/all/{z}/{x}/{y}.mvt`], minzoom: 0, maxzoom: 14 },
    alerts: { type: 'geojson', data: EMPTY }, nearest: { type: 'geojson', data: EMPTY }, reach: { type: 'geojson', data: EMPTY },
  };
  for (const l of doc.layers) {
    if (l.type === 'background') style.layers.push(l);
    if (!keep.has(l.source) || l.id === 'alerts-label') continue;
    if (l.id === 'resources-team') {
      style.layers.push({ id: 'reach-fill', type: 'fill', source: 'reach', paint: { 'fill-color': '#0050b3', 'fill-opacity': 0.12 } },
        { id: 'reach-line', type: 'line', source: 'reach', paint: { 'line-color': '#0050b3', 'line-width': 2 } });
    }
    style.layers.push(doc.sources[l.source].type === 'vector' ? { ...l, source: 'all' } : l);
  }
  return style;
}

function loadMap() {
  mapLoading ||= (async () => {
    document.head.append(el('link', { rel: 'stylesheet', href: 'maplibre-gl.css' }));
    const [lib, icons, styleR, city] = await Promise.all([import('./maplibre-gl.mjs'), import('./layers.js'), ask('style', '/styles/day.json'),
      st.point ? null : ask('city', '/collections/townships')]);
    const doc = styleR.ok ? styleR.data : styleR.last && styleR.last.data;
    if (!doc) return status(t('m_failed', styleR.why));
    $('map').hidden = false;
    const ext = city && city.ok && city.data.extent && city.data.extent.spatial.bbox[0];
    map = new lib.Map({
      container: 'map', style: phoneStyle(doc), attributionControl: false, dragRotate: false, pitchWithRotate: false,
      localIdeographFontFamily: "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif",
      ...(st.point ? { center: [st.point.lon, st.point.lat], zoom: 12 } : { bounds: ext || [111.1, 24.7, 112.4, 26.8] }),
    });
    map.touchZoomRotate.disableRotation();
    map.setMissingStyleImageResolver((id) => icons.addMissingIcon(map, id));
    // a tile that failed (offline, outside the kept township) leaves its place empty
    map.on('error', (e) => console.warn('map:', e.sourceId || '', e.error ? e.error.message : e));
    map.on('click', (e) => { if (st.picking) setPoint({ lon: e.lngLat.lng, lat: e.lngLat.lat }, 'pick', 'wgs84'); });
    map.once('idle', () => { S.mapIdle = performance.now(); });
    await new Promise((ok) => map.once('load', ok));
    S.map = map;
    if (S.lastDraw) drawAnswer(S.lastDraw);
    if (S.lastReach) map.getSource('reach').setData(S.lastReach);
  })();
  return mapLoading;
}

function routeOf(f) {
  const r = f.properties && f.properties.route;
  const g = r && (r.geometry || r);
  return g && (g.type === 'LineString' || g.type === 'MultiLineString') ? g : null;
}

// The point, the answers and a line (or the road route) to each.
function drawAnswer(features) {
  S.lastDraw = features;
  const map = S.map; // set once the style has loaded: before that its sources are not there
  if (!map || !st.point) return;
  const from = [st.point.lon, st.point.lat];
  const out = [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: from } }];
  features.forEach((f, i) => {
    if (!f.geometry || f.geometry.type !== 'Point') return;
    const route = routeOf(f); // by road: drawn solid as on the wall; else a dashed straight line
    out.push({ type: 'Feature', properties: { rank: i + 1 }, geometry: f.geometry },
      { type: 'Feature', properties: route ? { route_rank: i + 1 } : { rank_line: i + 1 },
        geometry: route || { type: 'LineString', coordinates: [from, f.geometry.coordinates] } });
  });
  map.getSource('nearest').setData({ type: 'FeatureCollection', features: out });
  const b = bboxOf({ coordinates: out.map((f) => f.geometry.coordinates) });
  map.fitBounds(b, { padding: 40, maxZoom: 14, duration: 0 });
}

// The 30-minute reach by road, when situd has a road network.
async function reach() {
  const p = st.point;
  const r = await ask('reach', `/reach?lon=${p.lon.toFixed(5)}&lat=${p.lat.toFixed(5)}&minutes=30`);
  if (!r.ok || p !== st.point) return;
  S.lastReach = r.data;
  $('map-note').hidden = false;
  $('map-note').textContent = t('m_reach');
  if (S.map) S.map.getSource('reach').setData(r.data); // else drawn when the map has loaded
}

// ---- offline: the service worker ------------------------------------------------------

async function afterFirstList() {
  loadMap();
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('sw.js');
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'tiles-kept') S.keptTiles = e.data.n;
      if (e.data && e.data.type === 'villages-kept') S.keptVillages = e.data.n;
    });
    keepTiles();
  } catch (e) {
    console.warn('service worker:', e.message);
  }
}

// Asks the service worker to keep my township's tiles, z10 to z14, and the villages around it.
async function keepTiles() {
  if (!('serviceWorker' in navigator) || !st.township || !st.township.bbox) return;
  const reg = await navigator.serviceWorker.ready;
  if (reg.active) reg.active.postMessage({ type: 'township', code: st.township.code, bbox: st.township.bbox });
}

// ---- start -----------------------------------------------------------------------

function words() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.title = t('m_title');
  $('title').textContent = t('m_title');
  const q = new URLSearchParams(location.search);
  if (lang === 'en') q.delete('lang'); else q.set('lang', 'en');
  $('lang').textContent = t('lang_switch');
  $('lang').href = `?${q}`;
  $('locate').textContent = t('m_locate');
  $('pick').textContent = t('m_pick');
  $('q').placeholder = t('m_search');
  $('tab-item').textContent = t('m_supplies');
  $('tab-team').textContent = t('m_teams');
  $('qty-word').textContent = t('m_qty');
}

function wire() {
  $('locate').onclick = locateMe;
  $('pick').onclick = startPicking;
  $('tab-item').onclick = () => setMode('item');
  $('tab-team').onclick = () => setMode('team');
  $('more').onchange = (e) => { if (e.target.value) choose('item', e.target.value); };
  $('qty').onchange = (e) => { st.qty = Math.max(0, Math.floor(Number(e.target.value) || 0)); run(); };
  $('q').addEventListener('input', debounce(onSearch, 150));
  $('q').addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    const hits = await searchHits($('q').value);
    if (hits && hits.length) goHit(hits[0]);
  });
}

async function start() {
  words();
  wire();
  renderPickers();
  locateMe();
  const sch = await ask('schema', 'schema.json');
  st.schema = sch.ok ? sch.data : sch.last && sch.last.data;
  renderPickers();
  live();
}

start();
