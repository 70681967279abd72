// i18n.js: the map wall's words, Chinese by default and English with ?lang=en.
// Field titles and the names of items and departments come from
// /web/schema.json (the collection table); this file holds the interface's
// own words and the labels of the schema's enumerated values.

const p2 = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const zh = {
  title: '一网四图 · 应急指挥',
  layers: '图层',
  legend: '图例',
  townships: '乡镇(街道)',
  risk_zones: '自然灾害风险分布图',
  hazards: '重大事故隐患分布图',
  hazard_sources: '重大危险源分布图',
  resources: '队伍物资分布图',
  stations: '监测站点',
  alerts: '预警信息',
  feeds: '部门接入',
  cameras: '视频监控',
  online: '在线',
  offline: '离线',
  state_ok: '正常',
  state_stale: '迟报',
  state_silent: '中断',
  state_unknown: '未知',
  state_never: '从未上报',
  cameras_offline: '离线摄像头',
  search: '搜索乡镇(街道)名称',
  no_match: '无匹配乡镇',
  nearest: '最近物资',
  nearest_hint: '点击地图查询最近的队伍和物资',
  item: '物资',
  any_item: '全部(队伍和仓库)',
  min_qty: '最少数量',
  results: '查询结果',
  no_results: '附近没有满足条件的队伍或仓库',
  distance: '距离',
  here: '所在位置',
  details: '详情',
  summary: '四图概况',
  close: '关闭',
  risk_level: '风险等级',
  level_n: (n) => `${n}级`,
  risk_level_n: (n) => `${n}级风险`,
  grade_n: (n) => `${n}级`,
  overdue: '逾期未整改',
  impact_radius: '影响范围',
  teams: '救援队伍',
  depots: '物资仓库',
  cluster: (n) => `此处聚合 ${n} 个要素，放大查看`,
  count: '数量',
  total: '合计',
  open: '未整改',
  personnel: '人',
  active_alerts: '生效预警',
  no_alerts: '当前无生效预警',
  live: '实时',
  live_lost: '连接中断，正在重连…',
  unavailable: (what, status) => `${what}暂不可用（${status}）`,
  tiles: '矢量瓦片',
  events_route: '实时推送',
  feeds_route: '部门接入状态',
  nearest_route: '邻近查询',
  roads: '道路网',
  closures: '道路管制',
  reach: '通行可达范围',
  bridge: '桥梁',
  closure_area: '管制区域',
  within_min: (m) => `${m}分钟可达`,
  by_road: '按道路',
  straight: '按直线',
  minutes: (s) => s < 60 ? `${Math.max(1, Math.round(s))}秒` : `${Math.round(s / 60)}分钟`,
  by_road_km: (m) => `路程${zh.km(m)}`,
  straight_km: (m) => `直线${zh.km(m)}`,
  unreachable_n: (n) => `另有${n}处道路不通`,
  all_reachable: '全部可经道路到达',
  reach_hint: '点击地图绘制10/20/30分钟可达范围',
  reach_route: '可达范围',
  closure: '道路管制',
  reason: '原因',
  until: '预计恢复',
  until_unknown: '未定',
  closed_by: '管制部门',
  segments_closed: '封闭路段',
  radius_m: '半径',
  events_24h: (n) => `24小时内${n}条`,
  last_event: '最近上报',
  never: '从未',
  ago: (s) => s < 90 ? `${Math.round(s)}秒前` : s < 5400 ? `${Math.round(s / 60)}分钟前` : s < 172800 ? `${Math.round(s / 3600)}小时前` : `${Math.round(s / 86400)}天前`,
  km: (m) => m < 1000 ? `${Math.round(m)}米` : `${(m / 1000).toFixed(1)}公里`,
  bearing: (d) => ['北', '东北', '东', '东南', '南', '西南', '西', '西北'][Math.round(((d % 360) + 360) % 360 / 45) % 8],
  // the township officer's phone page (/m/)
  m_title: '应急 · 乡镇',
  m_locating: '正在定位…',
  m_denied: '无法获取位置（未授权或不可用）：请在地图上选点，或搜索乡镇',
  m_here_gps: '当前位置',
  m_here_pick: '地图选点',
  m_here_search: '搜索结果',
  m_search: '搜索乡镇或村名称',
  m_no_match: '无匹配乡镇或村',
  m_outside: '您在本市范围外：以下为市内最近的',
  m_locate: '定位',
  m_pick: '地图选点',
  m_pick_hint: '在地图上点一下您的位置',
  m_supplies: '物资',
  m_teams: '队伍',
  m_all_teams: '全部队伍',
  m_more: '更多物资…',
  m_qty: '至少',
  m_call: '拨打',
  m_road: (s) => `车程约${Math.max(1, Math.round(s / 60))}分钟`,
  m_reach: '30分钟车程可达范围',
  m_my_township: '我的乡镇',
  m_overdue_first: '逾期未整改隐患',
  m_failed: (why) => `查询失败：${why}`,
  m_offline: '无法连接服务器',
  m_last: (age) => `显示${age}的结果`,
  m_saved: (age) => `离线：显示${age}保存的结果`,
  m_new_alert: '新预警',
  m_dismiss: '知道了',
  m_none_alerts: '此处无生效预警',
  // a drill (/?drill=ID, #19): the marking itself is in both languages on every page
  exercise: '演练 EXERCISE',
  drill_title: (title) => `演练 EXERCISE · ${title}`,
  drill_notice: '演练画面，非实际险情',
  drill_time: '情景时间',
  drill_speed: (n) => (n === 'max' ? '最快速度' : `${n}倍速`),
  drill_injects: (done, total) => `注入 ${done}/${total}`,
  drill_status_lost: (status) => `演练状态暂不可用（${status}）`,
  drill_bad_id: '地址中的演练编号无效（只能含字母、数字、“-”和“_”）',
  drill_unknown: (id) => `没有编号为“${id}”的演练`,
  drill_live: '返回实时画面',
  lang_switch: 'English',
  wall_title: '永州市应急管理指挥中心',
  weekday: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
  date: (z) => `${z.month}月${z.day}日 ${p2(z.hour)}:${p2(z.minute)}`,
  clock: (z) => `${z.year}年${z.month}月${z.day}日 ${zh.weekday[z.weekday]} ${p2(z.hour)}:${p2(z.minute)}:${p2(z.second)}`,
};

const en = {
  title: 'One network, four maps',
  layers: 'Layers',
  legend: 'Legend',
  townships: 'Townships',
  risk_zones: 'Natural-disaster risk zones',
  hazards: 'Major accident hidden dangers',
  hazard_sources: 'Major hazard sources',
  resources: 'Rescue teams and depots',
  stations: 'Monitoring stations',
  alerts: 'Warnings',
  feeds: 'Department feeds',
  cameras: 'Cameras',
  online: 'online',
  offline: 'offline',
  state_ok: 'ok',
  state_stale: 'stale',
  state_silent: 'silent',
  state_unknown: 'unknown',
  state_never: 'never reported',
  cameras_offline: 'Offline cameras',
  search: 'Search a township by name',
  no_match: 'No township matches',
  nearest: 'Nearest supplies',
  nearest_hint: 'Click the map for the nearest teams and supplies',
  item: 'Item',
  any_item: 'Any (teams and depots)',
  min_qty: 'At least',
  results: 'Results',
  no_results: 'No team or depot nearby meets this',
  distance: 'Distance',
  here: 'Here',
  details: 'Details',
  summary: 'Four-map summary',
  close: 'Close',
  risk_level: 'Risk level',
  level_n: (n) => `level ${n}`,
  risk_level_n: (n) => `risk level ${n}`,
  grade_n: (n) => `grade ${n}`,
  overdue: 'overdue',
  impact_radius: 'impact radius',
  teams: 'Rescue teams',
  depots: 'Material depots',
  cluster: (n) => `${n} features here: zoom in`,
  count: 'Count',
  total: 'Total',
  open: 'open',
  personnel: 'people',
  active_alerts: 'Active warnings',
  no_alerts: 'No active warnings',
  live: 'live',
  live_lost: 'Connection lost, reconnecting…',
  unavailable: (what, status) => `${what} unavailable (${status})`,
  tiles: 'Vector tiles',
  events_route: 'Live events',
  feeds_route: 'Feed states',
  nearest_route: 'Proximity',
  roads: 'Road network',
  closures: 'Road closures',
  reach: 'Reach by road',
  bridge: 'bridge',
  closure_area: 'closure area',
  within_min: (m) => `within ${m} min`,
  by_road: 'By road',
  straight: 'Straight line',
  minutes: (s) => s < 60 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`,
  by_road_km: (m) => `${en.km(m)} by road`,
  straight_km: (m) => `${en.km(m)} straight`,
  unreachable_n: (n) => `${n} more unreachable by road`,
  all_reachable: 'all reachable by road',
  reach_hint: 'Click the map for the 10/20/30-minute reach',
  reach_route: 'Reach',
  closure: 'Road closure',
  reason: 'Reason',
  until: 'Expected to reopen',
  until_unknown: 'not known',
  closed_by: 'Closed by',
  segments_closed: 'Segments closed',
  radius_m: 'Radius',
  events_24h: (n) => `${n} in 24 h`,
  last_event: 'last event',
  never: 'never',
  ago: (s) => s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : s < 172800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`,
  km: (m) => m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`,
  bearing: (d) => ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'][Math.round(((d % 360) + 360) % 360 / 45) % 8],
  m_title: 'Emergency · township',
  m_locating: 'Locating…',
  m_denied: 'No location (denied or unavailable): pick a point on the map or search a township',
  m_here_gps: 'You are here',
  m_here_pick: 'Picked on the map',
  m_here_search: 'Search result',
  m_search: 'Search a township or village',
  m_no_match: 'No township or village matches',
  m_outside: 'You are outside the city: the nearest inside it',
  m_locate: 'Locate me',
  m_pick: 'Pick on map',
  m_pick_hint: 'Tap your position on the map',
  m_supplies: 'Supplies',
  m_teams: 'Teams',
  m_all_teams: 'All teams',
  m_more: 'More items…',
  m_qty: 'At least',
  m_call: 'Call',
  m_road: (s) => `about ${Math.max(1, Math.round(s / 60))} min by road`,
  m_reach: 'Reached by road within 30 min',
  m_my_township: 'My township',
  m_overdue_first: 'Overdue hidden dangers',
  m_failed: (why) => `The query failed: ${why}`,
  m_offline: 'situd cannot be reached',
  m_last: (age) => `showing the answer of ${age}`,
  m_saved: (age) => `offline: showing the answer saved ${age}`,
  m_new_alert: 'New warning',
  m_dismiss: 'OK',
  m_none_alerts: 'No active warning here',
  exercise: '演练 EXERCISE',
  drill_title: (title) => `演练 EXERCISE · ${title}`,
  drill_notice: 'Exercise picture: not the real situation',
  drill_time: 'Scenario time',
  drill_speed: (n) => (n === 'max' ? 'flat out' : `${n}× speed`),
  drill_injects: (done, total) => `injects ${done}/${total}`,
  drill_status_lost: (status) => `exercise status unavailable (${status})`,
  drill_bad_id: 'The address names no valid drill (letters, digits, "-" and "_" only)',
  drill_unknown: (id) => `There is no drill "${id}"`,
  drill_live: 'Back to the live picture',
  lang_switch: '中文',
  wall_title: 'Yongzhou emergency command centre',
  weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
  date: (z) => `${z.day} ${MONTHS[z.month - 1]} ${p2(z.hour)}:${p2(z.minute)}`,
  clock: (z) => `${en.weekday[z.weekday]} ${z.day} ${MONTHS[z.month - 1]} ${z.year} ${p2(z.hour)}:${p2(z.minute)}:${p2(z.second)}`,
};

// Labels of enumerated values, by field name: [zh, en].
const values = {
  drill_state: {
    running: ['进行中', 'running'], paused: ['已暂停', 'paused'], finished: ['已结束', 'finished'], stopped: ['已终止', 'stopped'],
  },
  hazard_type: {
    flood: ['洪涝', 'flood'], waterlogging: ['内涝', 'waterlogging'], landslide: ['滑坡', 'landslide'],
    debris_flow: ['泥石流', 'debris flow'], collapse: ['崩塌', 'collapse'], subsidence: ['地面塌陷', 'subsidence'],
    forest_fire: ['森林火灾', 'forest fire'], earthquake: ['地震', 'earthquake'], drought: ['干旱', 'drought'],
    wind_hail: ['风雹', 'wind and hail'], snow_ice: ['低温雨雪冰冻', 'snow and ice'],
  },
  category: {
    hazardous_chemicals: ['危险化学品', 'hazardous chemicals'], mining: ['矿山', 'mining'], fireworks: ['烟花爆竹', 'fireworks'],
    construction: ['建筑施工', 'construction'], road_traffic: ['道路交通', 'road traffic'], fire_safety: ['消防', 'fire safety'],
    gas: ['燃气', 'gas'], reservoir_dam: ['水库大坝', 'reservoir dam'], tailings: ['尾矿库', 'tailings'],
    crowded_place: ['人员密集场所', 'crowded place'], industrial_trade: ['工贸', 'industry and trade'],
    special_equipment: ['特种设备', 'special equipment'], team: ['救援队伍', 'team'], depot: ['物资仓库', 'depot'],
  },
  level: {
    major: ['重大', 'major'], general: ['一般', 'general'],
    city: ['市级', 'city'], county: ['县级', 'county'], township: ['乡镇级', 'township'],
  },
  status: {
    open: ['未整改', 'open'], rectifying: ['整改中', 'rectifying'], rectified: ['已整改', 'rectified'],
    available: ['待命', 'available'], deployed: ['已出动', 'deployed'], standby: ['备勤', 'standby'],
    normal: ['正常', 'normal'], warning: ['预警', 'warning'], alarm: ['报警', 'alarm'], offline: ['离线', 'offline'],
    active: ['生效', 'active'], cancelled: ['已解除', 'cancelled'],
  },
  industry: {
    hazardous_chemicals: ['危险化学品', 'hazardous chemicals'], mining: ['矿山', 'mining'], fireworks: ['烟花爆竹', 'fireworks'],
    gas: ['燃气', 'gas'], oil_depot: ['油库', 'oil depot'], metallurgy: ['冶金', 'metallurgy'], power: ['电力', 'power'],
    pharmaceutical: ['医药', 'pharmaceutical'],
  },
  team_type: {
    water_rescue: ['水上救援', 'water rescue'], fire_rescue: ['消防救援', 'fire rescue'], forest_fire: ['森林消防', 'forest fire'],
    mine_rescue: ['矿山救护', 'mine rescue'], hazmat: ['危化品救援', 'hazmat'], medical: ['医疗救护', 'medical'],
    geological: ['地质灾害救援', 'geological'], power: ['电力抢修', 'power repair'], communications: ['通信保障', 'communications'],
    militia: ['民兵应急', 'militia'], volunteer: ['社会志愿', 'volunteer'], road: ['道路抢通', 'road repair'],
  },
  kind: {
    rain_gauge: ['雨量站', 'rain gauge'], water_level: ['水位站', 'water level'], reservoir: ['水库', 'reservoir'],
    geological: ['地灾监测点', 'geological monitor'], weather: ['气象站', 'weather station'], camera: ['视频监控', 'camera'],
    forest_fire: ['森林防火监测', 'forest fire watch'], air_quality: ['空气质量', 'air quality'], traffic: ['交通监测', 'traffic'],
    power: ['电力监测', 'power'], town: ['镇', 'town'], township: ['乡', 'township'], subdistrict: ['街道', 'sub-district'],
  },
  severity: {
    blue: ['蓝色', 'blue'], yellow: ['黄色', 'yellow'], orange: ['橙色', 'orange'], red: ['红色', 'red'],
  },
  event: {
    rainstorm: ['暴雨', 'rainstorm'], typhoon: ['台风', 'typhoon'], flood: ['洪水', 'flood'], gale: ['大风', 'gale'],
    geological_hazard: ['地质灾害', 'geological hazard'], forest_fire: ['森林火险', 'forest fire danger'],
    high_temperature: ['高温', 'heat'], cold_wave: ['寒潮', 'cold wave'], hail: ['冰雹', 'hail'],
    thunderstorm: ['雷电', 'thunderstorm'], fog: ['大雾', 'fog'], drought: ['干旱', 'drought'],
    snowstorm: ['暴雪', 'snowstorm'], road_icing: ['道路结冰', 'road icing'], mountain_torrent: ['山洪', 'mountain torrent'],
    waterlogging: ['城市内涝', 'waterlogging'],
  },
  online: { true: ['在线', 'online'], false: ['离线', 'offline'] },
  road_class: {
    expressway: ['高速公路', 'expressway'], national: ['国道', 'national road'], provincial: ['省道', 'provincial road'],
    county: ['县道', 'county road'], township: ['乡道', 'township road'], village: ['村道', 'village road'],
    urban: ['城市道路', 'urban road'], service: ['专用道路', 'service road'], ferry: ['渡口航线', 'ferry'],
  },
  road_status: { open: ['通行', 'open'], closed: ['封闭', 'closed'], restricted: ['限行', 'restricted'] },
  metric: {
    rain_1h_mm: ['1小时雨量', 'rain in 1 h'], displacement_mm: ['位移', 'displacement'],
    water_level_m: ['水位', 'water level'], reservoir_level_m: ['库水位', 'reservoir level'],
    wind_speed_ms: ['风速', 'wind speed'], load_mw: ['负荷', 'load'], traffic_flow_veh_h: ['车流量', 'traffic flow'],
    aqi: ['空气质量指数', 'air quality index'], fire_risk_level: ['森林火险等级', 'forest fire danger level'],
  },
};

// Units of a station's metric (its value and threshold), [zh, en]; none for an index.
export const metricUnits = {
  rain_1h_mm: ['毫米', 'mm'], displacement_mm: ['毫米', 'mm'], water_level_m: ['米', 'm'], reservoir_level_m: ['米', 'm'],
  wind_speed_ms: ['米/秒', 'm/s'], load_mw: ['兆瓦', 'MW'], traffic_flow_veh_h: ['辆/小时', 'vehicles/h'],
};

// Units of the stock items (schema.json's unit codes): [zh, en one, en many].
const itemUnits = {
  bag: ['袋', 'bag', 'bags'], piece: ['件', 'piece', 'pieces'], boat: ['艘', 'boat', 'boats'], set: ['台', 'set', 'sets'],
  box: ['箱', 'box', 'boxes'], kit: ['个', 'kit', 'kits'], pair: ['双', 'pair', 'pairs'], m: ['米', 'm', 'm'], m2: ['平方米', 'm²', 'm²'],
};

// Titles of the columns every collection has, which the schema does not list.
const commonZh = { id: '编号', township_code: '所属乡镇(街道)', updated_at: '更新时间' };

// English titles of fields whose name does not read well as it is.
const fieldsEn = {
  r_value: 'R value', impact_radius_m: 'Impact radius (m)', area_km2: 'Area (km²)',
  township_code: 'Township', team_type: 'Team type', found_on: 'Found on',
  rectified_on: 'Rectified on', cap_identifier: 'CAP identifier',
};

export const lang = new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh';
const words = lang === 'en' ? en : zh;
const li = lang === 'en' ? 1 : 0;

// The wall's time zone: ?tz= (an IANA name such as Asia/Urumqi), else
// situd's [web] timezone (schema.json's timezone, given by setServedZone),
// else Asia/Shanghai. Every time on the wall is shown in it, whatever the
// zone of the browser that shows it.
const DEFAULT_ZONE = 'Asia/Shanghai';
const askedZone = new URLSearchParams(location.search).get('tz');
export let timeZone = zoneOf(askedZone);
let zoneParts = partsIn(timeZone);

// Sets the zone situd serves; ?tz= still wins.
export function setServedZone(z) {
  timeZone = zoneOf(askedZone || z);
  zoneParts = partsIn(timeZone);
}

function zoneOf(z) {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: z || DEFAULT_ZONE }).resolvedOptions().timeZone;
  } catch {
    return DEFAULT_ZONE; // not a zone this browser knows
  }
}

function partsIn(zone) {
  return new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric',
    hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short', hourCycle: 'h23' });
}

// Instant d's calendar fields in the wall's zone: {year, month (1-12), day,
// hour, minute, second, weekday (0 = Sunday)}.
export function zoned(d) {
  const o = {};
  for (const p of zoneParts.formatToParts(d)) o[p.type] = p.value;
  return { year: +o.year, month: +o.month, day: +o.day, hour: +o.hour % 24, minute: +o.minute, second: +o.second,
    weekday: en.weekday.indexOf(o.weekday) };
}

// A time (RFC 3339 text or a Date) in the wall's zone: "6 Dec 18:21",
// "12月6日 18:21"; v itself when it is not a time.
export function localTime(v) {
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : words.date(zoned(d));
}

// qty of stock item unit `unit`, as read: "2,300 袋", "2,300 bags".
export function qtyUnit(qty, unit) {
  const n = Number(qty);
  const u = itemUnits[unit];
  const word = !u ? unit || '' : li === 0 ? u[0] : n === 1 ? u[1] : u[2];
  return `${n.toLocaleString(lang === 'en' ? 'en' : 'zh-CN')}${word ? ` ${word}` : ''}`;
}

// A station reading v of metric `metric` with its unit: "31.2 毫米", "31.2 mm".
export function reading(v, metric) {
  const u = metricUnits[metric];
  return u ? `${Number(v).toLocaleString()} ${u[li]}` : String(v);
}

// The word for key; functions are called with args.
export function t(key, ...args) {
  const w = words[key];
  return typeof w === 'function' ? w(...args) : w ?? key;
}

// The label of value v of field `field`, or v itself.
export function tv(field, v) {
  const row = values[field] && values[field][String(v)];
  return row ? row[li] : String(v);
}

// The title of a field: the schema's Chinese title, or an English one.
export function tf(schemaField, name) {
  if (li === 0 && schemaField && schemaField.title_zh) return schemaField.title_zh;
  if (li === 0 && commonZh[name]) return commonZh[name];
  if (fieldsEn[name]) return fieldsEn[name];
  return name.charAt(0).toUpperCase() + name.slice(1).replaceAll('_', ' ');
}

// The name of a schema row with name_zh / name_en (items, departments, collections).
export function tn(row) {
  if (!row) return '';
  return (li ? row.name_en || row.title_en : row.name_zh || row.title_zh) || row.code || row.id;
}
