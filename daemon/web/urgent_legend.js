// urgent_legend.js: the legend of the symbols that demand attention (#16),
// its own section of the wall's legend, apart from the per-map rows of
// layers.js: a station in alarm (the large red disc labelled with its reading,
// "62 mm"), an overdue hidden danger, a grade-1 hazard source, an offline
// camera, a red and an orange alert's thick outline. Each swatch takes its
// colour from the layer the map draws (read from the map once the layers
// exist), so the legend cannot say another colour than the map.

import { lang } from './i18n.js';
import { COLORS, SEVERITY } from './layers.js';
import { el } from './util.js';

const W = (zh, en) => (lang === 'en' ? en : zh);
const CAMERA_OFF = '#8a8f96'; // glance.js's offline camera, layers.js's camera-off icon

// The colour a layer's paint property holds, when it is a plain colour.
function paint(map, layer, prop, fallback) {
  const v = map.getLayer(layer) ? map.getPaintProperty(layer, prop) : null;
  return typeof v === 'string' ? v : fallback;
}

// Rows [key, swatch style, label] of the urgent symbols as map draws them.
export function urgentRows(map) {
  const red = SEVERITY.red || '#e60012', orange = SEVERITY.orange || '#ff7a00';
  const alarm = paint(map, 'stations-alarm', 'circle-color', red);
  const overdue = paint(map, 'hazards-overdue', 'circle-stroke-color', red);
  const grade1 = (COLORS.LEVEL || {})['1'] || red;
  return [
    ['alarm', { background: alarm, borderRadius: '50%', width: '1.3em', height: '1.3em', border: '2px solid #fff', boxShadow: '0 0 0 1px #0006' },
      W('站点报警 (显示读数, 如 62 毫米)', 'Station in alarm (with its reading, e.g. 62 mm)')],
    ['overdue', { background: `${overdue}2e`, borderRadius: '50%', width: '1em', height: '1em', border: `2px solid ${overdue}` },
      W('逾期未整改隐患', 'Overdue hidden danger')],
    ['grade1', { background: grade1, width: '0.75em', height: '0.75em', transform: 'rotate(45deg)', border: '1px solid #fff' },
      W('一级重大危险源', 'Grade-1 hazard source')],
    ['camera_off', { background: CAMERA_OFF, borderRadius: '2px', width: '1em', height: '0.7em', border: '1px solid #000' },
      W('摄像头离线', 'Camera offline')],
    ['alert_red', { background: `${red}33`, height: '0.8em', border: `4px solid ${red}` }, W('红色预警 (横幅与提示音)', 'Red alert (banner and chime)')],
    ['alert_orange', { background: `${orange}33`, height: '0.8em', border: `4px solid ${orange}` }, W('橙色预警 (横幅与提示音)', 'Orange alert (banner and chime)')],
  ];
}

// The legend section of the urgent symbols: a <details> like the map groups'.
export function urgentLegend(map) {
  return el('details', { class: 'group urgent', open: true },
    el('summary', {}, W('紧急标识', 'Urgent symbols')),
    el('ul', { class: 'legend urgent' }, urgentRows(map).map(([key, style, label]) =>
      el('li', { 'data-urgent': key }, el('i', { class: 'sw', style }), label))));
}
