// glance.js: the city at a glance. Below GLANCE_Z (the opening city view,
// z8–z10, where thousands of points cannot be told apart) townships are
// shaded by what the officer picks (overdue major hidden dangers, the
// highest risk level, active alerts: /townships' "glance" and "counts"),
// the four maps' points wait until GLANCE_Z, and only the urgent items stay
// as symbols on top: overdue hidden dangers, stations in alarm and offline
// cameras (/collections/*/items, a few hundred) and grade-1 hazard sources
// (their tiles); below the townships' zoom the hidden dangers' aggregates
// and the tiles' urgent marks instead (#20). The worst townships are listed beside the map; a row flies
// to its township. Also the base map from situ's own data (the rivers, a
// static GeoJSON CMake copies to /web/), coordinates typed in the search
// box (WGS84, or GCJ-02 with the switch) and the cursor's coordinates.
// Words are kept here (both languages) so this file stands alone.

import { lang } from './i18n.js';
import { getJSON, el, fill } from './util.js';

export const GLANCE_Z = 11;
const RIVERS_URL = '/web/yongzhou_rivers.geojson';
// The four maps' point layers, which wait for GLANCE_Z while the glance is on.
const POINT_GROUPS = ['hazards', 'hazard_sources', 'resources', 'stations'];
const POINT_LAYER = /-(point|cluster|cluster-count|team|depot|camera|overdue|radius)$/;
const METRICS = ['overdue_major', 'top_risk_level', 'alerts'];
// The urgent layers (mountUrgent) and what each shows.
export const URGENT_LAYERS = { 'glance-urgent-overdue': 'overdue', 'glance-urgent-alarm': 'alarm', 'glance-urgent-camera': 'camera_off' };
// A hidden danger not rectified whose deadline passed (the style's `today`).
const OVERDUE = ['all', ['!=', ['get', 'status'], 'rectified'], ['has', 'deadline'], ['<', ['to-string', ['get', 'deadline']], ['global-state', 'today']]];
// Shades from none to worst (day theme; the dark wall uses its own).
const RAMP = { day: ['#ffffff', '#fde0c5', '#f9a66c', '#e8542c', '#a50f15'], dark: ['#16233a', '#4a2c2a', '#8a3b22', '#c4451c', '#ff3b30'] };
const RISK_SHADE = { 1: 4, 2: 3, 3: 2, 4: 1 };

const WORDS = {
  zh: {
    glance: '全市概览', shade_by: '着色依据', overdue_major: '逾期重大隐患', top_risk_level: '最高风险等级', alerts: '生效预警',
    worst: '最需关注的乡镇', none: '暂无', level: (n) => `${n}级`, urgent: '紧急要素', overdue: '逾期隐患', alarm: '站点报警',
    camera_off: '摄像头离线', grade1: '一级危险源', coords: '坐标', gcj02: 'GCJ-02', coords_hint: '或输入经纬度 111.61, 26.42',
    bad_coords: '坐标超出范围', rivers: '河流', team_type: '队伍类型', any_team: '全部队伍', available_only: '仅可调用',
    status: { available: '可调用', deployed: '已出动', standby: '待命' }, contact: '联系人', phone: '电话',
    straight_line: '直线距离', by_road: '道路距离', drill_export: '导出演练数据', drill_format: '导出格式', print: '打印',
    fmt_geojson: 'GeoJSON', fmt_gpkg: 'GeoPackage', 'fmt_shp.zip': 'Shapefile (zip)', fmt_csv: 'CSV 表格', fmt_xlsx: 'Excel (xlsx)', fmt_kml: 'KML (Google 地球)',
  },
  en: {
    glance: 'City at a glance', shade_by: 'Shade by', overdue_major: 'Overdue major hidden dangers', top_risk_level: 'Highest risk level', alerts: 'Active alerts',
    worst: 'Townships needing attention', none: 'None', level: (n) => `Level ${n}`, urgent: 'Urgent items', overdue: 'Overdue hidden danger', alarm: 'Station in alarm',
    camera_off: 'Camera offline', grade1: 'Grade-1 hazard source', coords: 'Coordinates', gcj02: 'GCJ-02', coords_hint: 'or lon, lat: 111.61, 26.42',
    bad_coords: 'Coordinates out of range', rivers: 'Rivers', team_type: 'Team type', any_team: 'Any team', available_only: 'Available only',
    status: { available: 'available', deployed: 'deployed', standby: 'standby' }, contact: 'Contact', phone: 'Phone',
    straight_line: 'straight line', by_road: 'by road', drill_export: 'Drill export', drill_format: 'Export format', print: 'Print',
    fmt_geojson: 'GeoJSON', fmt_gpkg: 'GeoPackage', 'fmt_shp.zip': 'Shapefile (zip)', fmt_csv: 'CSV table', fmt_xlsx: 'Excel (xlsx)', fmt_kml: 'KML (Google Earth)',
  },
};
export const gw = (k, ...a) => {
  const v = WORDS[lang === 'en' ? 'en' : 'zh'][k];
  return typeof v === 'function' ? v(...a) : v ?? k;
};

// ---- coordinates -----------------------------------------------------------------

// [lon, lat] from text such as "111.61, 26.42" or "111.61 26.42" (also
// "26.42, 111.61" when only that order is a point in China's longitudes),
// or null when the text is not a pair of numbers; {error} when the pair is
// no point on Earth.
export function parseCoords(text) {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text || '');
  if (!m) return null;
  let a = Number(m[1]), b = Number(m[2]);
  if (Math.abs(a) <= 90 && Math.abs(b) > 90 && Math.abs(b) <= 180) [a, b] = [b, a];
  if (Math.abs(a) > 180 || Math.abs(b) > 90) return { error: gw('bad_coords') };
  return [a, b];
}

// The WGS84 point of GCJ-02 [lon, lat], from situd (/nearest echoes the
// point it converted as query.wgs84), so the one conversion is libsitu's;
// null when situd could not answer.
export async function fromGcj02([lon, lat]) {
  const r = await getJSON(`/nearest?lon=${lon}&lat=${lat}&crs=gcj02&collection=resources&k=1`);
  const w = r.ok && r.data && r.data.query && r.data.query.wgs84;
  return Array.isArray(w) && w.length === 2 ? w : null;
}

// Marks the point [lon, lat] found by the search box (one at a time).
export function markPoint(map, c) {
  const data = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } }] };
  if (map.getSource('glance-here')) return map.getSource('glance-here').setData(data);
  map.addSource('glance-here', { type: 'geojson', data });
  map.addLayer({ id: 'glance-here', type: 'circle', source: 'glance-here',
    paint: { 'circle-radius': 8, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#0050b3', 'circle-stroke-width': 3 } });
}

// Shows the cursor's lon/lat in node as it moves over the map.
export function wireCursor(map, node) {
  map.on('mousemove', (e) => { node.textContent = `${e.lngLat.lng.toFixed(5)}, ${e.lngLat.lat.toFixed(5)}`; });
  map.getCanvas().addEventListener('mouseleave', () => { node.textContent = ''; });
}

// ---- the base map -----------------------------------------------------------------

// Adds the rivers (under the roads) and their names from z9.
export function addBaseMap(map, dark) {
  map.addSource('rivers', { type: 'geojson', data: RIVERS_URL });
  const before = map.getLayer('roads-casing') ? 'roads-casing' : undefined;
  map.addLayer({ id: 'rivers-line', type: 'line', source: 'rivers', layout: { 'line-cap': 'round', 'line-join': 'round' },
    paint: { 'line-color': dark ? '#1f5f99' : '#7fb3e6', 'line-width': ['interpolate', ['linear'], ['zoom'], 7, ['match', ['get', 'rank'], 1, 2.5, 1.2], 14, ['match', ['get', 'rank'], 1, 9, 4]] } }, before);
  map.addLayer({ id: 'rivers-label', type: 'symbol', source: 'rivers', minzoom: 9,
    layout: { 'symbol-placement': 'line', 'text-field': lang === 'en' ? ['coalesce', ['get', 'name_en'], ['get', 'name']] : ['get', 'name'],
      'text-font': ['Noto Sans CJK SC', 'WenQuanYi Zen Hei'], 'text-size': 12, 'symbol-spacing': 400 },
    paint: { 'text-color': dark ? '#7fb3e6' : '#1f5f99', 'text-halo-color': dark ? '#0b1220' : '#ffffff', 'text-halo-width': 1.4 } });
}

// ---- the city at a glance ------------------------------------------------------------

// The value of metric m for township row x of /townships (0 when none; for
// the risk level, 5 - level, so higher is worse everywhere).
function score(x, m) {
  const g = x.glance || {};
  if (m === 'top_risk_level') return g.top_risk_level ? 5 - g.top_risk_level : 0;
  if (m === 'alerts') return (x.counts && x.counts.alerts) || 0;
  return g[m] || 0;
}

function label(x, m) {
  if (m === 'top_risk_level') return x.glance && x.glance.top_risk_level ? gw('level', x.glance.top_risk_level) : gw('none');
  return String(score(x, m));
}

// The shade step (0 none … 4 worst) of score s when the worst township scores max.
function step(s, max, m) {
  if (!s) return 0;
  if (m === 'top_risk_level') return RISK_SHADE[5 - s] || 0;
  return Math.min(4, 1 + Math.floor((3 * s) / Math.max(1, max)));
}

export class Glance {
  // map: the MapLibre map; node: the section beside the map for the list;
  // dark: the wall's theme; onPick(code): a row was clicked.
  // countyBelow: the townships' lowest zoom (their TileJSON layer's minzoom).
  constructor({ map, node, dark, onPick, countyBelow = 6 }) {
    Object.assign(this, { map, node, dark, onPick, countyBelow });
    const saved = localStorage.getItem('situ.glance');
    this.metric = METRICS.includes(saved) ? saved : METRICS[0];
    this.list = [];
    this.on = new URLSearchParams(location.search).get('glance') !== '0';
  }

  // Adds the shading and the urgent layers and holds the points back until
  // GLANCE_Z; list is /townships' rows.
  mount(list) {
    const map = this.map;
    if (!this.on) return;
    map.addLayer({ id: 'glance-fill', type: 'fill', source: 'townships', 'source-layer': 'townships', maxzoom: GLANCE_Z,
      paint: { 'fill-color': RAMP[this.dark ? 'dark' : 'day'][0], 'fill-opacity': 0.85, 'fill-antialias': false },
      metadata: { 'situ:group': 'townships' } }, map.getLayer('risk_zones-fill') ? 'risk_zones-fill' : undefined);
    for (const layer of map.getStyle().layers) {
      const g = layer.metadata && layer.metadata['situ:group'];
      if ((POINT_GROUPS.includes(g) && POINT_LAYER.test(layer.id)) || g === 'risk_zones') map.setLayerZoomRange(layer.id, GLANCE_Z, 24);
    }
    this.mountCountry();
    map.addLayer({ id: 'glance-sources', type: 'symbol', source: 'hazard_sources', 'source-layer': 'hazard_sources', maxzoom: GLANCE_Z,
      filter: ['all', ['!=', ['get', 'cluster'], true], ['==', ['to-number', ['get', 'grade']], 1]],
      layout: { 'icon-image': 'source-1', 'icon-allow-overlap': true, 'icon-size': 1.1 }, metadata: { 'situ:group': 'hazard_sources' } });
    this.mountUrgent();
    this.update(list);
  }

  // #20: below the townships' lowest zoom (counties, then provinces: the
  // whole country) there are no townships to shade, so the hidden dangers'
  // aggregates stand in (the style's hazards-cluster: sized by their count,
  // darker as more of them are overdue, numbers from z5), under the urgent
  // marks the tiles carry there (hazards-mark: every overdue one in a mark).
  mountCountry() {
    const map = this.map;
    const before = map.getLayer('hazards-mark') ? 'hazards-mark' : undefined;
    for (const id of ['hazards-cluster', 'hazards-cluster-count']) {
      const l = map.getStyle().layers.find((x) => x.id === id);
      if (l) map.addLayer({ ...l, id: `glance-${id}`, minzoom: 0, maxzoom: this.countyBelow }, before);
    }
  }

  // The urgent items drawn below GLANCE_Z, from the tiles (bounded at any
  // scale, as the view asks; #20): overdue hidden dangers (each one from the
  // townships' zoom up, or the clusters holding them: below it the tiles'
  // urgent marks, hazards-mark, show them), stations in alarm (each one, or
  // the aggregates counting them, sized by that count: at every zoom, as a
  // water level over its warning level is what the wall is for) and offline
  // cameras (from the townships' zoom: a country of them would hide the rest).
  mountUrgent() {
    const map = this.map;
    const cluster = ['==', ['get', 'cluster'], true];
    const count = (k) => ['to-number', ['get', k], 0];
    // a radius r(base) by zoom: base at the country, the townships' zoom and the city view
    const radius = (r) => ['interpolate', ['linear'], ['zoom'], 3, r(1.2), this.countyBelow, r(3), GLANCE_Z - 1, r(5)];
    const stroke = this.dark ? '#ffffff' : '#000000';
    map.addLayer({ id: 'glance-urgent-overdue', type: 'circle', source: 'hazards', 'source-layer': 'hazards', minzoom: this.countyBelow, maxzoom: GLANCE_Z,
      filter: ['any', ['all', ['!', cluster], ['!', ['has', 'urgent']], OVERDUE], ['all', cluster, ['>', count('overdue'), 0]]],
      paint: { 'circle-radius': ['case', cluster, ['+', 3.5, ['min', 4, ['sqrt', count('overdue')]]], 3.5], 'circle-color': '#e60012',
        'circle-stroke-color': stroke, 'circle-stroke-width': 0.8 }, metadata: { 'situ:group': 'hazards' } });
    map.addLayer({ id: 'glance-urgent-alarm', type: 'circle', source: 'stations', 'source-layer': 'stations', maxzoom: GLANCE_Z,
      filter: ['any', ['all', ['!', cluster], ['==', ['get', 'status'], 'alarm']], ['all', cluster, ['>', count('status_alarm'), 0]]],
      paint: { 'circle-radius': radius((r) => ['case', cluster, ['+', r, ['min', r, ['*', r / 4, ['sqrt', count('status_alarm')]]]], r]),
        'circle-color': '#ff00ff', 'circle-stroke-color': stroke, 'circle-stroke-width': radius((r) => r / 3) }, metadata: { 'situ:group': 'stations' } });
    map.addLayer({ id: 'glance-urgent-camera', type: 'circle', source: 'stations', 'source-layer': 'stations', minzoom: this.countyBelow, maxzoom: GLANCE_Z,
      filter: ['all', ['!', cluster], ['==', ['get', 'kind'], 'camera'], ['any', ['==', ['get', 'online'], false], ['==', ['get', 'status'], 'offline']]],
      paint: { 'circle-radius': radius((r) => r * 0.8), 'circle-color': '#8a8f96', 'circle-stroke-color': stroke, 'circle-stroke-width': 1 }, metadata: { 'situ:group': 'stations' } });
    this.urgent = URGENT_LAYERS;
  }

  // New /townships rows: the shading and the list follow.
  update(list) {
    this.list = list;
    if (!this.on) return;
    const m = this.metric;
    const max = Math.max(0, ...list.map((x) => score(x, m)));
    const ramp = RAMP[this.dark ? 'dark' : 'day'];
    const pairs = list.filter((x) => score(x, m)).flatMap((x) => [x.code, ramp[step(score(x, m), max, m)]]);
    this.map.setPaintProperty('glance-fill', 'fill-color', pairs.length ? ['match', ['get', 'township_code'], ...pairs, ramp[0]] : ramp[0]);
    this.render();
  }

  worst(n = 10) {
    const m = this.metric;
    return this.list.filter((x) => score(x, m) > 0).sort((a, b) => score(b, m) - score(a, m) || (a.code < b.code ? -1 : 1)).slice(0, n);
  }

  render() {
    const m = this.metric;
    const picker = el('select', { class: 'glance-metric', onchange: (e) => {
      this.metric = e.target.value;
      localStorage.setItem('situ.glance', this.metric);
      this.update(this.list);
    } }, METRICS.map((k) => el('option', { value: k, selected: k === m }, gw(k))));
    const rows = this.worst();
    fill(this.node, el('h3', {}, gw('glance')), el('label', { class: 'glance-by' }, `${gw('shade_by')} `, picker),
      el('h4', {}, gw('worst')),
      rows.length ? el('ol', { class: 'worst' }, rows.map((x) => el('li', { 'data-code': x.code, onclick: () => this.onPick(x.code) },
        el('span', { class: 'wname' }, `${x.county_name || ''} ${x.name}`), el('b', { class: 'wval' }, label(x, m)))))
        : el('p', {}, gw('none')));
  }
}
