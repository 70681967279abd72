// zooms.js: what each zoom carries (#20), read from the townships' and the
// hazards' TileJSON so the page and situd cannot disagree: below the
// townships' lowest zoom their counties, then provinces (drawn here as
// outlines with names), and below `aggregate_below` the four maps as
// per-cell counts, with overdue hidden dangers themselves from `urgent_from`
// and below it in urgent marks merged within `urgent_mark_cell` units.
// A legend block of its own, beside the layer legend. Words are kept here
// (both languages) so this file stands alone.

import { lang } from './i18n.js';
import { el } from './util.js';

const WORDS = {
  zh: {
    title: '各级缩放显示内容', provinces: '省界', counties: '区县界', townships: '乡镇(街道)界',
    aggregates: '四图按网格汇总(数量、等级、状态)', individual: '四图逐个要素', urgent: '逾期隐患逐个显示',
    marks: (px) => `逾期隐患标记(${px}像素内合并, 每处一个, 均不隐藏)`,
    stations: '监测站点仅显示报警站点(按网格计数), 离线摄像头自乡镇级起显示',
    zooms: (a, b) => (b == null ? `${a}级及以上` : `${a}–${b}级`),
  },
  en: {
    title: 'What each zoom shows', provinces: 'Province outlines', counties: 'County outlines', townships: 'Township outlines',
    aggregates: 'Four maps as per-cell counts (by level, status)', individual: 'Four maps, each feature', urgent: 'Overdue hidden dangers, each one',
    marks: (px) => `Overdue hidden dangers as marks (merged within ${px} px; every place shown, none hidden)`,
    stations: 'Stations: only those in alarm (per-cell counts); offline cameras from the townships\' zoom',
    zooms: (a, b) => (b == null ? `z${a}+` : `z${a}–${b}`),
  },
};
const w = (k, ...a) => { const v = (WORDS[lang] || WORDS.zh)[k]; return typeof v === 'function' ? v(...a) : v; };

// The vector layer `id` of a TileJSON, or undefined.
const layerOf = (tj, id) => ((tj && tj.vector_layers) || []).find((l) => l.id === id);

// Rows [label, from zoom, to zoom or null] from the TileJSON answers;
// stationsBelow: the zoom below which the wall (glance.js) draws only the
// stations in alarm, or null.
export function zoomRows(tilejson, stationsBelow = null) {
  const rows = [];
  for (const id of ['provinces', 'counties', 'townships']) {
    const l = layerOf(tilejson.townships, id);
    if (l) rows.push([w(id), l.minzoom, l.maxzoom >= 22 ? null : l.maxzoom]);
  }
  const cl = (layerOf(tilejson.hazards, 'hazards') || {}).clustering || {};
  if (cl.aggregate_below > 0) {
    rows.push([w('aggregates'), 0, cl.aggregate_below - 1], [w('individual'), cl.aggregate_below, null]);
    if (cl.urgent_mark_cell > 0 && cl.urgent_from > 0) {
      const px = cl.urgent_mark_cell / ((tilejson.hazards.extent || 4096) / 512); // a tile is 512 px
      rows.push([w('marks', px), 0, cl.urgent_from - 1]);
    }
    if (cl.urgent_from != null) rows.push([w('urgent'), cl.urgent_from, null]);
  }
  if (stationsBelow > 0) rows.push([w('stations'), 0, stationsBelow - 1]);
  return rows;
}

// The legend block, appended to node.
export function renderZoomLegend(node, tilejson, stationsBelow = null) {
  const rows = zoomRows(tilejson, stationsBelow);
  if (!rows.length) return;
  node.append(el('details', { class: 'group zooms', open: true }, el('summary', {}, w('title')),
    el('ul', { class: 'legend zooms' }, rows.map(([label, a, b]) => el('li', {}, el('b', {}, w('zooms', a, b)), ` ${label}`)))));
}

// County and province outlines with their names, from the townships source.
export function addAdminOutlines(map, tilejson, dark) {
  if (!map.getSource('townships')) return;
  const color = dark ? '#9fb3c8' : '#5b6570';
  for (const [id, width] of [['provinces', 1.6], ['counties', 1]]) {
    const l = layerOf(tilejson.townships, id);
    if (!l) continue;
    const zooms = { minzoom: l.minzoom, maxzoom: l.maxzoom + 1 };
    map.addLayer({ id: `${id}-line`, type: 'line', source: 'townships', 'source-layer': id, ...zooms,
      paint: { 'line-color': color, 'line-width': width } });
    map.addLayer({ id: `${id}-label`, type: 'symbol', source: 'townships', 'source-layer': id, ...zooms,
      layout: { 'text-field': ['get', 'name'], 'text-font': ['Noto Sans CJK SC', 'WenQuanYi Zen Hei'], 'text-size': 12 },
      paint: { 'text-color': color, 'text-halo-color': dark ? '#0b1220' : '#ffffff', 'text-halo-width': 1.2 } });
  }
}
