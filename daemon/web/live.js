// live.js: the one network, live. Owns the active alerts (GeoJSON from
// /collections/alerts/items, drawn on the map and run in the ticker), the
// departments panel (/feeds), the Server-Sent Events stream (/events) that
// says what changed, and recovery when situd goes away and comes back.
//
//   connecting --open--> live --error--> lost (polling /healthz) --open--> live
//        \--503 / closed--> waiting (backoff 2 s .. 60 s) --> connecting
//   back to live after /healthz failed while lost: recover() (the wall reloads)
//
// An event's data names the collection it touched ({"seq", "collection",
// "id", "kind", "dept", "at", "bbox"}); alerts are refetched, a tiled
// collection's tiles are reloaded, and the departments panel is refreshed.
// A road closure (collection "closures", from a closure or closure_end
// event) or a change to the roads (a feature_update closing or opening one)
// refetches the closure areas (/closures) and tells onRoads, which asks an
// answer by road again.
// An event this page cannot read refreshes everything live.

import { t, tv, tn, localTime } from './i18n.js';
import { SEVERITY, TILED } from './layers.js';
import { getJSON, getAllItems, el, fill, debounce, api } from './util.js';

const SEVERITY_RANK = { red: 0, orange: 1, yellow: 2, blue: 3 };
const FEED_TYPES = { alert: ['alerts'], observation: ['stations'], camera: ['stations'] };

// 1 when alert properties p are in force now (as situd's summary decides).
export function alertActive(p, now = Date.now()) {
  if (p.status === 'cancelled') return false;
  if (p.expires && Date.parse(p.expires) <= now) return false;
  if (p.onset && Date.parse(p.onset) > now) return false;
  return true;
}

// The collections an event's data names, or null when it names none.
export function collectionsOf(d) {
  if (!d || typeof d !== 'object') return null;
  const c = d.collection || d.coll || d.layer;
  if (typeof c === 'string') return [c];
  if (Array.isArray(d.collections)) return d.collections.map(String);
  if (FEED_TYPES[d.type]) return FEED_TYPES[d.type];
  if (d.feature && d.feature.collection) return [d.feature.collection];
  return null;
}

export class Live {
  // map: the MapLibre map; schema: /web/schema.json; ui: the {feeds, ticker}
  // elements; onAlerts(features) after each alert refresh; onRecover() when
  // situd is back after an outage; onStatus(route, http status).
  // onPick(feature): a ticker item was clicked; onCamera(feature): an
  // offline camera of the list was clicked. now(): the time alerts are in
  // force at (ms; a drill's scenario time), asked again every alertsEveryMs.
  // mark: a word put before the ticker's label (a drill's marking), or null.
  constructor({ map, schema, ui, onAlerts, onRecover, onStatus, onRoads, onPick, onCamera, now = Date.now, alertsEveryMs = 60000, mark = null }) {
    Object.assign(this, { map, schema, ui, onAlerts, onRecover, onStatus, onRoads, onPick, onCamera, now, alertsEveryMs, mark });
    this.alerts = [];
    this.backoff = 2000;
    this.lost = false; // the stream failed and has not reopened
    this.down = false; // /healthz failed while the stream was lost
    this.refreshAlerts = debounce(() => this.loadAlerts(), 80);
    this.refreshFeeds = debounce(() => this.loadFeeds(), 1000);
    this.refreshClosures = debounce(() => this.loadClosures(true), 80);
    this.closures = [];
    this.tileTimers = {};
  }

  start() {
    this.loadAlerts();
    this.loadClosures(false);
    this.loadFeeds();
    this.connect();
    setInterval(() => this.loadAlerts(), this.alertsEveryMs); // expiries pass without events
    setInterval(() => this.loadClosures(false), 60000);
    setInterval(() => this.loadFeeds(), 30000); // ok -> stale -> silent is a matter of time
  }

  // ---- alerts ---------------------------------------------------------------

  async loadAlerts() {
    const r = await getAllItems('/collections/alerts/items?limit=1000', 5000);
    mark('alerts_fetched');
    if (!r.ok) return this.onStatus('alerts', r.status);
    this.onStatus('alerts', 200);
    const now = this.now();
    this.alerts = r.features.filter((f) => alertActive(f.properties || {}, now))
      .sort((a, b) => (SEVERITY_RANK[a.properties.severity] ?? 9) - (SEVERITY_RANK[b.properties.severity] ?? 9));
    const src = this.map.getSource('alerts');
    if (src) src.setData({ type: 'FeatureCollection', features: this.alerts.map((f) => ({ ...f, properties: { ...f.properties, id: f.id } })) });
    mark('alerts_set');
    this.renderTicker();
    if (this.onAlerts) this.onAlerts(this.alerts);
  }

  renderTicker() {
    const items = this.alerts.map((f) => {
      const p = f.properties;
      const dept = this.schema.departments.find((d) => d.code === p.dept);
      const until = p.expires ? localTime(p.expires) : '';
      return el('span', { class: 'tick', 'data-alert': f.id, role: 'button', onclick: () => this.onPick && this.onPick(f) },
        el('b', { class: 'sev', style: { background: SEVERITY[p.severity] || '#888' } }, tv('severity', p.severity)),
        ` ${p.headline || tv('event', p.event)}`,
        dept ? ` · ${tn(dept)}` : '', until ? ` · → ${until}` : '');
    });
    const track = el('div', { class: 'track' }, items.length ? items : el('span', { class: 'tick quiet' }, t('no_alerts')));
    fill(this.ui.ticker, this.mark ? el('span', { class: 'exercise' }, this.mark) : null,
      el('span', { class: 'label' }, `${t('active_alerts')} ${this.alerts.length}`), el('div', { class: 'viewport' }, track));
    // scroll only when the line does not fit
    requestAnimationFrame(() => {
      const over = track.scrollWidth > track.parentNode.clientWidth;
      track.classList.toggle('scroll', over);
      if (over) track.style.animationDuration = `${Math.max(20, track.scrollWidth / 60)}s`;
    });
  }

  // ---- road closures ------------------------------------------------------------

  // The active closure areas from /closures, a point with its radius drawn as
  // a circle; changed: the roads changed, so onRoads is told.
  async loadClosures(changed) {
    const r = await getJSON('/closures');
    if (r.status === 404) return; // a situd without roads
    if (!r.ok || !r.data || !Array.isArray(r.data.features)) return this.onStatus('closures', r.status);
    if (this.onStatus) this.onStatus('closures', 200);
    this.closures = r.data.features.map(closureArea).filter(Boolean);
    const src = this.map.getSource('closures');
    if (src) src.setData({ type: 'FeatureCollection', features: [...this.closures, ...this.closures.map(closureMarker)] });
    if (changed && this.onRoads) this.onRoads();
  }

  // ---- departments ----------------------------------------------------------

  async loadFeeds() {
    const [r, offline] = await Promise.all([getJSON('/feeds'), getAllItems('/collections/stations/items?kind=camera&online=false&limit=1000', 5000)]);
    this.onStatus('feeds', r.status);
    const rows = r.ok ? feedRows(r.data) : [];
    const byCode = Object.fromEntries(rows.map((x) => [x.code, x]));
    const now = Date.now();
    const depts = this.schema.departments.map((d) => {
      const x = byCode[d.code] || {};
      const last = Number.isFinite(x.age) ? x.age : x.last ? (now - Date.parse(x.last)) / 1000 : null;
      return { d, x, last, state: deptState(x, last) };
    }).sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (b.last ?? -1) - (a.last ?? -1));
    const list = depts.map(({ d, x, last, state }) =>
      el('li', { class: `dept ${state}`, 'data-dept': d.code, 'data-state': state, title: d.code },
        el('span', { class: 'lamp' }), el('span', { class: 'name' }, tn(d)),
        el('span', { class: 'st' }, t(`state_${state}`)),
        el('span', { class: 'meta' }, [last === null || Number.isNaN(last) ? null : t('ago', Math.max(0, last)),
          x.n24 > 0 ? t('events_24h', x.n24) : null].filter(Boolean).join(' · '))));
    const cams = r.ok ? cameraCounts(r.data) : null;
    fill(this.ui.feeds,
      el('h3', {}, t('feeds'), r.ok ? null : el('span', { class: 'warn' }, ` ${t('unavailable', t('feeds_route'), r.status || 'offline')}`)),
      el('ul', { class: 'depts' }, list),
      cams ? el('div', { class: 'cams' }, `${t('cameras')}: `, el('b', { class: 'on' }, `${cams.online} ${t('online')}`), ' / ',
        el('b', { class: 'off' }, `${cams.offline} ${t('offline')}`)) : null,
      offline.ok && offline.features.length ? this.offlineCameras(offline.features) : null);
  }

  // The offline cameras by name, oldest report first; a click flies to one.
  offlineCameras(features) {
    const at = (f) => Date.parse(f.properties.observed_at || f.properties.updated_at || '') || 0;
    const now = Date.now();
    return el('details', { class: 'cams-off', open: true },
      el('summary', {}, `${t('cameras_offline')} (${features.length})`),
      el('ul', {}, [...features].sort((a, b) => at(a) - at(b)).map((f) => el('li', {
        'data-id': f.id, role: 'button', onclick: () => this.onCamera && this.onCamera(f),
      }, el('span', { class: 'name' }, f.properties.name || f.id),
      at(f) ? el('span', { class: 'meta' }, ` ${t('ago', Math.max(0, (now - at(f)) / 1000))}`) : null))));
  }

  // ---- events ---------------------------------------------------------------

  connect() {
    clearTimeout(this.retryTimer);
    const es = new EventSource(api('/events'));
    this.es = es;
    es.onmessage = (e) => this.onEvent(e);
    es.onopen = () => {
      this.backoff = 2000;
      this.onStatus('events', 200);
      if (!this.lost) return;
      this.lost = false;
      if (this.down) this.onRecover(); // situd itself was away: start over
      else this.refreshAlerts(); // a dropped stream only: the stream replays what it missed
      this.down = false;
    };
    es.onerror = () => {
      this.onStatus('events', 0);
      if (!this.lost) {
        this.lost = true;
        this.watchHealth();
      }
      if (es.readyState === EventSource.CLOSED) this.retry();
    };
  }

  // While the stream is lost, asks /healthz every 2 s; a failure means situd
  // is down (or restarting), so the page recovers in full when it is back.
  async watchHealth() {
    while (this.lost) {
      const h = await getJSON('/healthz');
      if (!h.ok) this.down = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  // The stream was refused (situd down, or /events not served): try again later.
  async retry() {
    this.es.close();
    this.onStatus('events', await probe(api('/events')));
    this.retryTimer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 60000);
  }

  onEvent(e) {
    let d = null;
    try { d = JSON.parse(e.data); } catch { d = null; }
    const colls = collectionsOf(d) || ['alerts', 'stations'];
    for (const c of colls) {
      if (c === 'alerts') {
        mark('alert_event');
        this.refreshAlerts();
      }
      else if (TILED.includes(c)) this.reloadTiles(c);
      if (c === 'closures' || c === 'roads') this.refreshClosures();
    }
    this.refreshFeeds();
  }

  // Reloads the tiles of collection id, at most twice a second.
  reloadTiles(id) {
    if (this.tileTimers[id]) return;
    this.tileTimers[id] = setTimeout(() => {
      delete this.tileTimers[id];
      if (this.map.getSource(id)) this.map.refreshTiles(id);
    }, 500);
  }
}

// When the last alert took each step on its way to the map (Date.now(), for
// the browser test's figures): window.__situ.alertPath.
function mark(step) {
  const s = window.__situ;
  if (s) s.alertPath = { ...s.alertPath, [step]: Date.now() };
}

// A closure of /closures as drawn: a Polygon as it is, a Point with radius_m
// as a 64-sided circle around it (properties kept, so its panel reads them).
export function closureArea(f) {
  const g = f && f.geometry;
  if (!g) return null;
  if (g.type !== 'Point') return { ...f, properties: { ...f.properties, id: f.id } };
  const r = Number(f.properties && f.properties.radius_m);
  if (!(r > 0)) return null;
  const [lon, lat] = g.coordinates;
  const dLat = r / 111320, dLon = dLat / Math.cos((lat * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i <= 64; i++) {
    const a = (i % 64) * (Math.PI / 32);
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', id: f.id, properties: { ...f.properties, id: f.id }, geometry: { type: 'Polygon', coordinates: [ring] } };
}

// A marker in the middle of closure area f (the mean of its outer ring's
// vertices), so that a closure a few metres wide shows at city zoom too.
function closureMarker(f) {
  const ring = f.geometry.coordinates[0].slice(0, -1);
  const mean = (i) => ring.reduce((sum, c) => sum + c[i], 0) / ring.length;
  return { type: 'Feature', properties: f.properties, geometry: { type: 'Point', coordinates: [mean(0), mean(1)] } };
}

// The status of GET url, read from its headers (the body is not waited for); 0 when unreachable.
async function probe(url) {
  const ac = new AbortController();
  try {
    const r = await fetch(url, { signal: ac.signal, cache: 'no-store' });
    ac.abort();
    return r.status;
  } catch {
    return 0;
  }
}

// The department rows of a /feeds answer, whatever the container's name.
function feedRows(doc) {
  const arr = Array.isArray(doc) ? doc : doc && (doc.departments || doc.feeds || doc.depts || doc.items);
  if (!Array.isArray(arr)) return [];
  return arr.map((x) => ({
    code: x.code || x.dept || x.department || x.id,
    state: x.state || x.status,
    last: x.last_event_at || x.last_event || x.last_seen || x.last,
    age: x.age_s,
    n24: x.events_24h ?? x.events_24 ?? x.count_24h,
  }));
}

// A department's state on the wall: "silent" with no report ever is
// "never" (grey, not an outage); problems first.
const STATE_RANK = { silent: 0, stale: 1, unknown: 2, ok: 3, never: 4 };
function deptState(x, last) {
  const state = ['ok', 'stale', 'silent'].includes(x.state) ? x.state : 'unknown';
  return state === 'silent' && (last === null || Number.isNaN(last)) ? 'never' : state;
}

function cameraCounts(doc) {
  const c = doc && doc.cameras;
  if (!c || typeof c !== 'object') return null;
  return { online: c.online ?? 0, offline: c.offline ?? 0 };
}
