// layers.js: the map's style as the wall uses it. The look itself (every
// layer's paint and layout, both themes) is situd's /styles/{day,dark}.json,
// resolved from the one template daemon/web/style.json; this file adapts that
// document: the base (township polygons and names) and the four maps come from
// situd's vector tiles, one source per collection (/tiles/{id}.json), so an
// event that touches one collection reloads only its tiles; the live alerts
// come as GeoJSON (they are few and change by the minute). Each map is a group
// of layers (metadata situ:group) the duty officer toggles, with the legend
// rows that explain it. No glyphs URL: labels are drawn with the machine's own
// CJK font, so nothing leaves situd.

import { t, tv } from './i18n.js';

export const IDEOGRAPH_FONT = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif";

// The colour tables of the style (its metadata "situ:colors", from the
// template daemon/web/style.json): SEVERITY (Chinese warning colours), LEVEL
// (levels 1, highest, to 4), HAZARD_TYPE, HAZARD_STATUS, TEAM_TYPE,
// STATION_STATUS. Filled by wallStyle before the map, the legend or a panel
// reads them.
export const COLORS = {};
export const SEVERITY = {};
const DEPOT = '#7b4a12';

// The tiled collections, bottom to top, and the toggles over them.
export const TILED = ['townships', 'risk_zones', 'roads', 'resources', 'hazard_sources', 'hazards', 'stations'];
export const GROUPS = ['risk_zones', 'hazards', 'hazard_sources', 'resources', 'stations', 'alerts', 'roads', 'closures', 'reach'];
// Groups off until the officer turns them on: reach areas are drawn from a
// clicked point only while their toggle is on.
export const OFF_AT_START = ['reach'];
// Layers whose features open a details panel when clicked.
export const CLICKABLE = [
  'hazards-point', 'hazards-cluster', 'hazard_sources-point', 'hazard_sources-cluster',
  'resources-team', 'resources-depot', 'resources-cluster', 'stations-point',
  'stations-camera', 'stations-cluster', 'risk_zones-point', 'risk_zones-cluster',
  'roads-closed', 'closures-line', 'closures-marker',
];
// The travel times of the reach areas, in minutes (the REACH colour table).
export const REACH_MINUTES = [10, 20, 30];

const EMPTY = { type: 'FeatureCollection', features: [] };

// The vector source of collection id from its TileJSON answer (tj, or null
// when /tiles/{id}.json failed: the contract's URL template then stands in,
// so the rest of the map still loads and a failed tile is asked again later).
// Tile URLs are kept on this page's origin, whatever host situd names.
export function vectorSource(id, tj) {
  const own = (u) => {
    const x = new URL(u, location.href);
    return `${location.origin}${decodeURI(x.pathname)}${x.search}`;
  };
  const tiles = tj && Array.isArray(tj.tiles) && tj.tiles.length ? tj.tiles.map(own) : [`${location.origin}/tiles/${id}/{z}/{x}/{y}.mvt`];
  const src = { type: 'vector', tiles, minzoom: tj?.minzoom ?? 0, maxzoom: tj?.maxzoom ?? 14 };
  if (Array.isArray(tj?.bounds) && tj.bounds.length === 4) src.bounds = tj.bounds;
  return src;
}

// The wall's style from situd's style document (/styles/{day,dark}.json):
// its colour tables kept for the legend and panels, each tiled source from
// its TileJSON answer (tilejson: {id: TileJSON or null}), the live GeoJSON
// sources empty until live.js fills them, and `today` (YYYY-MM-DD) for overdue.
export function wallStyle(doc, tilejson, today) {
  const colors = (doc.metadata && doc.metadata['situ:colors']) || {};
  Object.assign(COLORS, colors);
  Object.assign(SEVERITY, colors.SEVERITY || {});
  const style = { ...doc, sources: { ...doc.sources }, state: { ...doc.state, today: { default: today } } };
  for (const id of TILED) style.sources[id] = vectorSource(id, tilejson[id]);
  for (const id of ['alerts', 'nearest', 'township-labels', 'closures', 'reach']) style.sources[id] = { type: 'geojson', data: EMPTY };
  return style;
}

// ---- icons: drawn on a canvas, so no sprite is fetched -------------------------

function canvasIcon(size, draw) {
  const ratio = 2;
  const c = document.createElement('canvas');
  c.width = c.height = size * ratio;
  const g = c.getContext('2d');
  g.scale(ratio, ratio);
  draw(g, size);
  return { image: g.getImageData(0, 0, c.width, c.height), options: { pixelRatio: ratio } };
}

function shape(g, size, kind) {
  const s = size, h = s / 2;
  g.beginPath();
  if (kind === 'diamond') {
    g.moveTo(h, 1); g.lineTo(s - 1, h); g.lineTo(h, s - 1); g.lineTo(1, h);
  } else {
    g.rect(2, 2, s - 4, s - 4);
  }
  g.closePath();
}

function sourceIcon(color) {
  return canvasIcon(16, (g, s) => {
    shape(g, s, 'diamond'); g.fillStyle = color; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#fff'; g.stroke();
  });
}

const ICONS = {
  depot: () => canvasIcon(14, (g, s) => {
    shape(g, s, 'square'); g.fillStyle = DEPOT; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#fff'; g.stroke();
    g.fillStyle = '#fff'; g.fillRect(5, 5, s - 10, s - 10);
  }),
  'camera-on': () => cameraIcon('#00a65a'),
  'camera-off': () => cameraIcon('#8a8f96'),
};

function cameraIcon(color) {
  return canvasIcon(16, (g) => {
    g.fillStyle = color; g.strokeStyle = '#fff'; g.lineWidth = 1.2;
    g.beginPath(); g.rect(1.5, 4, 10, 8); g.fill(); g.stroke();
    g.beginPath(); g.moveTo(11.5, 7); g.lineTo(15, 5); g.lineTo(15, 11); g.lineTo(11.5, 9); g.closePath(); g.fill(); g.stroke();
  });
}

// Adds icon `id` to the map when a layer asks for it.
export function addMissingIcon(map, id) {
  const grade = /^source-(\d)$/.exec(id);
  const level = grade && (COLORS.LEVEL || {})[grade[1]];
  const make = ICONS[id] || (level && (() => sourceIcon(level)));
  if (!make || map.hasImage(id)) return;
  const { image, options } = make();
  map.addImage(id, image, options);
}

// ---- the legend -----------------------------------------------------------------

// Legend rows per group: [swatch kind, colour, label].
export function legend() {
  const c = (name) => Object.entries(COLORS[name] || {});
  const rows = {};
  rows.risk_zones = [
    ...c('HAZARD_TYPE').map(([k, v]) => ['fill', v, tv('hazard_type', k)]),
    ...c('LEVEL').map(([n, v]) => ['line', v, t('risk_level_n', n)]),
  ];
  rows.hazards = [
    ...c('HAZARD_STATUS').map(([k, v]) => ['dot', v, tv('status', k)]),
    ['ring', '#e60012', t('overdue')],
  ];
  rows.hazard_sources = [
    ...c('LEVEL').map(([n, v]) => ['diamond', v, t('grade_n', n)]),
    ['ring', '#888', t('impact_radius')],
  ];
  rows.resources = [
    ['square', DEPOT, t('depots')],
    ...c('TEAM_TYPE').map(([k, v]) => ['dot', v, tv('team_type', k)]),
  ];
  rows.stations = [
    ...c('STATION_STATUS').map(([k, v]) => ['dot', v, tv('status', k)]),
    ['camera', '#00a65a', `${t('cameras')} · ${t('online')}`],
    ['camera', '#8a8f96', `${t('cameras')} · ${t('offline')}`],
  ];
  rows.alerts = c('SEVERITY').reverse().map(([k, v]) => ['fill', v, tv('severity', k)]);
  rows.roads = [
    ...c('ROAD_CLASS').map(([k, v]) => [k === 'ferry' ? 'dash' : 'road', v, tv('road_class', k)]),
    ['bridge', '#3d4650', t('bridge')],
  ];
  rows.closures = [
    ...c('ROAD_STATUS').map(([k, v]) => ['dash', v, tv('road_status', k)]),
    ['fill', '#e60012', t('closure_area')],
  ];
  rows.reach = c('REACH').map(([k, v]) => ['fill', v, t('within_min', k)]);
  return rows;
}
