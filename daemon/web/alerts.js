// alerts.js: alerts that demand attention, and their impact. Owns
//  - the attention banner: a new orange or red alert (one that arrives while
//    the page runs, or one left unacknowledged before a reload) flashes a
//    full-width banner and chimes (WebAudio, no file) every few seconds until
//    someone acknowledges it; the map flies to it at once, and the wall's
//    rotation waits while the banner is up;
//  - the alerts' look: the outline above the points, thick, on a casing; one
//    label per alert, at a point inside its largest polygon ('alert-labels');
//  - a station in alarm: a large symbol of its own with its value and unit;
//  - the impact panel of an alert, from situd's /alerts/{id}/impact.
//
//   quiet --new orange/red alert--> attention (banner, chime, fly) --ack--> quiet
//
// window.__situ.attention says which alerts wait for acknowledgement.

import { t, tv, lang, localTime, reading, metricUnits } from './i18n.js';
import { SEVERITY, CLICKABLE } from './layers.js';
import { labelPoint } from './labels.js';
import { getJSON, el, fill, bboxOf } from './util.js';

const URGENT = ['red', 'orange'];
const PENDING_KEY = 'situ.alerts.pending';
const CHIME_EVERY_MS = 4000;
const W = (zh, en) => (lang === 'en' ? en : zh);

// A station in alarm's label: "62 mm" (its value and the unit of its metric).
function alarmLabel() {
  const li = lang === 'en' ? 1 : 0;
  const units = Object.entries(metricUnits).flatMap(([m, u]) => [m, u[li]]);
  return ['concat', ['number-format', ['to-number', ['get', 'value']], { 'max-fraction-digits': 1 }],
    ['match', ['get', 'metric'], ...units.flatMap((x, i) => (i % 2 ? [` ${x}`] : [x])), '']];
}

export class AlertWatch {
  // map, panels (panels.js), situ (window.__situ), wall: the video wall.
  constructor({ map, panels, situ, wall }) {
    Object.assign(this, { map, panels, situ, wall });
    this.seen = null; // alert ids known; null before the first list
    this.byId = new Map();
    this.pending = loadPending();
    this.chimer = null;
    this.audio = null;
    situ.attention = [];
    situ.chimes = 0;
    this.banner = el('div', { id: 'alert-banner', hidden: true, role: 'alert' });
    // in the page's flow under the top bar: the map shrinks, nothing is covered
    document.getElementById('top').after(this.banner);
  }

  // Adds the layers this module draws; call once the style is loaded.
  install() {
    const map = this.map;
    map.addSource('alert-labels', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    const label = map.getStyle().layers.find((l) => l.id === 'alerts-label');
    if (label) {
      map.removeLayer('alerts-label');
      map.addLayer({ ...label, source: 'alert-labels', layout: { ...label.layout, 'text-allow-overlap': true } });
    }
    const top = map.getLayer('alerts-label') ? 'alerts-label' : undefined;
    map.moveLayer('alerts-line', top); // above the points
    map.setPaintProperty('alerts-line', 'line-width', ['interpolate', ['linear'], ['zoom'], 7, 4, 13, 6]);
    map.setPaintProperty('alerts-line', 'line-dasharray', [1, 0]);
    map.addLayer({ id: 'alerts-casing', type: 'line', source: 'alerts', metadata: { 'situ:group': 'alerts' },
      paint: { 'line-color': this.wall ? '#000' : '#fff', 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 8, 13, 11], 'line-opacity': 0.85 } }, 'alerts-line');
    const alarm = ['all', ['!=', ['get', 'cluster'], true], ['==', ['get', 'status'], 'alarm']];
    map.addLayer({ id: 'stations-alarm', type: 'circle', source: 'stations', 'source-layer': 'stations', filter: alarm,
      metadata: { 'situ:group': 'stations' },
      paint: { 'circle-radius': this.wall ? 16 : 13, 'circle-color': SEVERITY.red || '#e60012', 'circle-stroke-color': '#fff', 'circle-stroke-width': 3 } }, top);
    map.addLayer({ id: 'stations-alarm-label', type: 'symbol', source: 'stations', 'source-layer': 'stations', filter: alarm,
      metadata: { 'situ:group': 'stations' },
      layout: { 'text-field': alarmLabel(), 'text-font': ['Noto Sans CJK SC', 'WenQuanYi Zen Hei'], 'text-size': this.wall ? 22 : 17,
        'text-offset': [0, -1.6], 'text-anchor': 'bottom', 'text-allow-overlap': true, 'text-ignore-placement': true },
      paint: { 'text-color': this.wall ? '#ffd6da' : '#b00010', 'text-halo-color': this.wall ? '#000' : '#fff', 'text-halo-width': 2.5 } }, top);
    CLICKABLE.unshift('stations-alarm', 'alerts-label', 'alerts-line');
  }

  // The active alerts changed (live.js): labels, and attention for new ones.
  update(alerts) {
    this.byId = new Map(alerts.map((f) => [f.id, f]));
    const src = this.map.getSource('alert-labels');
    if (src) src.setData({ type: 'FeatureCollection', features: alerts.map(labelFeature).filter(Boolean) });
    const fresh = [];
    for (const f of alerts) {
      if (this.seen && !this.seen.has(f.id) && URGENT.includes(f.properties.severity)) fresh.push(f.id);
    }
    this.seen = new Set(alerts.map((f) => f.id));
    this.pending = [...this.pending.filter((id) => this.byId.has(id)), ...fresh.filter((id) => !this.pending.includes(id))];
    savePending(this.pending);
    this.render();
    if (fresh.length) this.situ.bannerAt = Date.now();
    if (fresh.length) this.flyWhenDrawn(this.byId.get(fresh[fresh.length - 1]));
  }

  // Flies to f once the alerts source has its new data drawn (a frame after
  // it loads, 300 ms at the latest): the alert shows where it is first, then
  // the flight's tiles load.
  flyWhenDrawn(f) {
    const map = this.map;
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      map.off('sourcedata', loaded);
      this.flyTo(f);
    };
    const loaded = (e) => { if (e.sourceId === 'alerts' && map.isSourceLoaded('alerts')) map.once('render', go); };
    map.on('sourcedata', loaded);
    setTimeout(go, 300);
  }

  // Shows or hides the banner for the alerts waiting for acknowledgement.
  render() {
    const list = this.pending.map((id) => this.byId.get(id)).filter(Boolean);
    this.situ.attention = list.map((f) => f.id);
    this.banner.hidden = !list.length;
    document.body.classList.toggle('attention', list.length > 0);
    if (!list.length) {
      clearInterval(this.chimer);
      this.chimer = null;
      return fill(this.banner);
    }
    const worst = list.find((f) => f.properties.severity === 'red') || list[0];
    const p = worst.properties;
    this.banner.className = `sev-${p.severity}`;
    fill(this.banner,
      el('b', { class: 'sev' }, tv('severity', p.severity)),
      el('span', { class: 'what' }, `${p.headline || tv('event', p.event)}${p.expires ? ` · → ${localTime(p.expires)}` : ''}`),
      list.length > 1 ? el('span', { class: 'more' }, W(`另有 ${list.length - 1} 条`, `+${list.length - 1} more`)) : null,
      el('button', { class: 'impact', onclick: () => this.pick(worst) }, W('影响范围', 'Impact')),
      el('button', { class: 'ack', onclick: () => this.ack() }, W('确认', 'Acknowledge')));
    if (!this.chimer) {
      this.chime();
      this.chimer = setInterval(() => this.chime(), CHIME_EVERY_MS);
    }
  }

  // Acknowledges every alert on the banner: it and its chime stop.
  ack() {
    this.pending = [];
    savePending(this.pending);
    this.situ.ackedAt = performance.now();
    this.render();
  }

  // Two short tones; the browser may hold sound back until a first click.
  chime() {
    this.situ.chimes++;
    try {
      this.audio = this.audio || new AudioContext();
      const ctx = this.audio;
      if (ctx.state === 'suspended') ctx.resume().catch(() => {});
      [[880, 0], [660, 0.28]].forEach(([hz, at]) => {
        const o = ctx.createOscillator(), g = ctx.createGain(), t0 = ctx.currentTime + at;
        o.frequency.value = hz;
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.35, t0 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.25);
        o.connect(g).connect(ctx.destination);
        o.start(t0);
        o.stop(t0 + 0.26);
      });
    } catch (e) {
      console.warn('chime:', e.message);
    }
  }

  flyTo(f) {
    if (!f) return;
    this.map.fitBounds(bboxOf(f.geometry), { padding: this.wall ? 120 : 70, duration: 900, maxZoom: 12 });
    Object.assign(this.situ, { flownTo: f.id, flyAt: Date.now() });
  }

  // An alert chosen (ticker, map, banner): fly to it and open its impact.
  pick(f) {
    const a = typeof f === 'string' ? this.byId.get(f) : this.byId.get(f.id) || f;
    if (a && a.geometry) this.flyTo(a);
    this.impact(a ? a.id : f);
  }

  // The impact panel of alert id, from /alerts/{id}/impact.
  async impact(id) {
    const seq = ++this.panels.seq;
    const r = await getJSON(`/alerts/${encodeURIComponent(id)}/impact`);
    if (seq !== this.panels.seq) return;
    if (!r.ok || !r.data) return this.panels.show(W('预警影响', 'Alert impact'), el('p', { class: 'warn' }, t('unavailable', `/alerts/${id}/impact`, r.status || 'offline')));
    this.situ.impact = r.data;
    this.panels.show(`${tv('severity', r.data.alert.severity)} · ${r.data.alert.headline || tv('event', r.data.alert.event)}`, impactBody(r.data, (x) => this.map.flyTo({ center: [x.lon, x.lat], zoom: 14 })));
    this.panels.node.classList.add('impact-open');
  }
}

// ---- the impact panel -------------------------------------------------------------

function section(kind, title, rows, head, row) {
  return el('section', { class: `impact-part ${kind}` },
    el('h4', {}, `${title} (${rows.length})`),
    rows.length ? el('table', {}, el('tr', {}, head.map((h) => el('th', {}, h))), rows.map(row)) : el('p', { class: 'none' }, W('无', 'none')));
}

function impactBody(d, fly) {
  const go = (x) => ({ 'data-id': x.id, class: 'go', onclick: () => fly(x) });
  const pop = d.townships.reduce((s, x) => s + (x.population || 0), 0);
  return el('div', { class: 'impact' },
    el('p', { class: 'impact-sum' }, W(`覆盖 ${d.townships.length} 个乡镇（街道），约 ${pop.toLocaleString()} 人`, `${d.townships.length} townships, about ${pop.toLocaleString()} people`)),
    section('townships', W('乡镇（街道）', 'Townships'), d.townships, [W('名称', 'Name'), W('人口', 'Population'), W('逾期隐患', 'Overdue dangers')],
      (x) => el('tr', { 'data-code': x.code }, el('td', {}, x.name), el('td', { class: 'num' }, x.population == null ? '—' : x.population.toLocaleString()), el('td', { class: 'num' }, String(x.hazards_overdue)))),
    section('stations', W('告警监测站', 'Stations in warning or alarm'), d.stations, [W('名称', 'Name'), W('读数', 'Reading'), W('状态', 'Status')],
      (x) => el('tr', go(x), el('td', {}, x.name), el('td', { class: 'num' }, x.value == null ? '—' : reading(x.value, x.metric)), el('td', { class: `st ${x.status}` }, tv('status', x.status)))),
    section('resources', W('队伍与物资库', 'Teams and depots'), d.resources, [W('名称', 'Name'), W('类别', 'Kind'), W('状态', 'Status')],
      (x) => el('tr', go(x), el('td', {}, x.name), el('td', {}, x.team_type ? tv('team_type', x.team_type) : tv('category', x.category)), el('td', {}, x.status ? tv('status', x.status) : '—'))),
    section('hazard_sources', W('影响可及的重大危险源', 'Hazard sources reaching it'), d.hazard_sources, [W('名称', 'Name'), W('等级', 'Grade'), W('距离', 'Distance')],
      (x) => el('tr', go(x), el('td', {}, x.name), el('td', {}, t('grade_n', x.grade)), el('td', { class: 'num' }, x.distance_m ? t('km', x.distance_m) : W('区内', 'inside')))),
    section('roads', W('道路', 'Roads'), d.roads, [W('道路', 'Road'), W('等级', 'Class'), W('通行', 'Status')],
      (x) => el('tr', { 'data-id': x.id }, el('td', {}, [x.ref, x.name].filter(Boolean).join(' ') || x.id), el('td', {}, tv('road_class', x.class)), el('td', {}, tv('road_status', x.status)))));
}

// ---- helpers -------------------------------------------------------------------------

function labelFeature(f) {
  const at = f.geometry && labelPoint(f.geometry);
  return at && { type: 'Feature', properties: { ...f.properties, id: f.id }, geometry: { type: 'Point', coordinates: at } };
}

function loadPending() {
  try {
    const v = JSON.parse(localStorage.getItem(PENDING_KEY) || '[]');
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

function savePending(ids) {
  try { localStorage.setItem(PENDING_KEY, JSON.stringify(ids)); } catch { /* private mode: kept in memory */ }
}
