/*
 * schema.c: the tables that say what situ stores. Every module that reads or
 * writes features walks these rows instead of switching on a collection, so
 * adding a field or a collection is an edit here (and, for a new column in an
 * existing file, a migration in store.c).
 */
#include "situ/schema.h"

#include <string.h>

#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const situ_field township_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"county_code", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, NULL, "区县代码"},
    {"county_name", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "区县"},
    {"kind", SITU_FT_TEXT, SITU_FF_FILTER, "town|township|subdistrict", "类别"},
    {"area_km2", SITU_FT_REAL, 0, NULL, "面积(平方公里)"},
    {"population", SITU_FT_INT, 0, NULL, "人口"},
};

static const situ_field risk_zone_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"hazard_type", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER,
     "flood|waterlogging|landslide|debris_flow|collapse|subsidence|forest_fire|earthquake|"
     "drought|wind_hail|snow_ice",
     "灾种"},
    {"risk_level", SITU_FT_INT, SITU_FF_REQUIRED | SITU_FF_FILTER, "1..4", "风险等级"},
    {"population_exposed", SITU_FT_INT, 0, NULL, "受威胁人口"},
    {"households", SITU_FT_INT, 0, NULL, "受威胁户数"},
    {"area_km2", SITU_FT_REAL, 0, NULL, "面积(平方公里)"},
    {"measures", SITU_FT_TEXT, 0, NULL, "防范措施"},
    {"responsible_person", SITU_FT_TEXT, 0, NULL, "责任人"},
    {"phone", SITU_FT_TEXT, 0, NULL, "电话"},
};

static const situ_field hazard_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"category", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER,
     "hazardous_chemicals|mining|fireworks|construction|road_traffic|fire_safety|gas|"
     "reservoir_dam|tailings|crowded_place|industrial_trade|special_equipment",
     "类别"},
    {"level", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, "major|general", "隐患等级"},
    {"status", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, "open|rectifying|rectified",
     "整改状态"},
    {"found_on", SITU_FT_TEXT, 0, NULL, "发现日期"},
    {"deadline", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "整改期限"},
    {"rectified_on", SITU_FT_TEXT, 0, NULL, "整改完成日期"},
    {"responsible_unit", SITU_FT_TEXT, 0, NULL, "责任单位"},
    {"responsible_person", SITU_FT_TEXT, 0, NULL, "责任人"},
    {"phone", SITU_FT_TEXT, 0, NULL, "电话"},
    {"description", SITU_FT_TEXT, 0, NULL, "隐患描述"},
};

static const situ_field hazard_source_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"enterprise", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "企业"},
    {"grade", SITU_FT_INT, SITU_FF_REQUIRED | SITU_FF_FILTER, "1..4", "危险源等级"},
    {"industry", SITU_FT_TEXT, SITU_FF_FILTER,
     "hazardous_chemicals|mining|fireworks|gas|oil_depot|metallurgy|power|pharmaceutical", "行业"},
    {"substances", SITU_FT_TEXT, 0, NULL, "危险物质"},
    {"r_value", SITU_FT_REAL, 0, NULL, "R值"},
    {"impact_radius_m", SITU_FT_REAL, SITU_FF_REQUIRED, NULL, "影响半径(米)"},
    {"contact", SITU_FT_TEXT, 0, NULL, "联系人"},
    {"phone", SITU_FT_TEXT, 0, NULL, "电话"},
};

static const situ_field resource_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"category", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, "team|depot", "类别"},
    {"team_type", SITU_FT_TEXT, SITU_FF_FILTER,
     "water_rescue|fire_rescue|forest_fire|mine_rescue|hazmat|medical|geological|power|"
     "communications|militia|volunteer|road",
     "队伍类型"},
    {"level", SITU_FT_TEXT, SITU_FF_FILTER, "city|county|township", "级别"},
    {"personnel", SITU_FT_INT, 0, NULL, "人数"},
    {"status", SITU_FT_TEXT, SITU_FF_FILTER, "available|deployed|standby", "状态"},
    {"contact", SITU_FT_TEXT, 0, NULL, "联系人"},
    {"phone", SITU_FT_TEXT, 0, NULL, "电话"},
    {"address", SITU_FT_TEXT, 0, NULL, "地址"},
};

static const situ_field station_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
    {"dept", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, NULL, "部门"},
    {"kind", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER,
     "rain_gauge|water_level|reservoir|geological|weather|camera|forest_fire|air_quality|"
     "traffic|power",
     "类型"},
    {"metric", SITU_FT_TEXT, 0, NULL, "指标"},
    {"value", SITU_FT_REAL, 0, NULL, "最新值"},
    {"observed_at", SITU_FT_TEXT, 0, NULL, "观测时间"},
    {"threshold", SITU_FT_REAL, 0, NULL, "预警阈值"},
    {"online", SITU_FT_BOOL, SITU_FF_FILTER, NULL, "在线"},
    {"status", SITU_FT_TEXT, SITU_FF_FILTER, "normal|warning|alarm|offline", "状态"},
};

static const situ_field alert_fields[] = {
    {"dept", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "发布部门"},
    {"event", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, NULL, "预警事件"},
    {"severity", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER, "blue|yellow|orange|red",
     "预警级别"},
    {"headline", SITU_FT_TEXT, 0, NULL, "标题"},
    {"description", SITU_FT_TEXT, 0, NULL, "内容"},
    {"onset", SITU_FT_TEXT, 0, NULL, "生效时间"},
    {"expires", SITU_FT_TEXT, 0, NULL, "失效时间"},
    {"status", SITU_FT_TEXT, SITU_FF_FILTER, "active|cancelled", "状态"},
    {"source", SITU_FT_TEXT, 0, "json|cap", "来源"},
    {"cap_identifier", SITU_FT_TEXT, 0, NULL, "CAP标识"},
};

static const situ_field road_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "道路名称"},
    {"ref", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "路线编号"},
    {"class", SITU_FT_TEXT, SITU_FF_REQUIRED | SITU_FF_FILTER,
     "expressway|national|provincial|county|township|village|urban|service|ferry", "道路等级"},
    {"oneway", SITU_FT_TEXT, SITU_FF_FILTER, "no|yes|reverse", "单行"},
    {"speed_kmh", SITU_FT_REAL, 0, NULL, "限速(km/h)"},
    {"duration_s", SITU_FT_REAL, 0, NULL, "渡运时长(秒)"},
    {"bridge", SITU_FT_BOOL, SITU_FF_FILTER, NULL, "桥梁"},
    {"tunnel", SITU_FT_BOOL, SITU_FF_FILTER, NULL, "隧道"},
    {"layer", SITU_FT_INT, 0, NULL, "层"},
    {"status", SITU_FT_TEXT, SITU_FF_FILTER, "open|closed|restricted", "通行状态"},
    {"closed_reason", SITU_FT_TEXT, 0, NULL, "封闭原因"},
    {"closed_by", SITU_FT_TEXT, SITU_FF_FILTER, NULL, "封闭部门"},
    {"closed_until", SITU_FT_TEXT, 0, NULL, "预计恢复时间"},
};

static const situ_collection collections[SITU_NCOLLECTIONS] = {
    {SITU_C_TOWNSHIPS, "townships", "乡镇(街道)", "Townships",
     "Township and sub-district boundaries with their statistical codes", SITU_GT_MULTIPOLYGON,
     township_fields, NFIELDS(township_fields), 0},
    {SITU_C_RISK_ZONES, "risk_zones", "自然灾害风险分布图", "Natural-disaster risk zones",
     "Areas exposed to a natural hazard, risk level 1 (highest) to 4", SITU_GT_MULTIPOLYGON,
     risk_zone_fields, NFIELDS(risk_zone_fields), 6},
    {SITU_C_HAZARDS, "hazards", "重大事故隐患分布图", "Major accident hidden dangers",
     "Hidden dangers found at sites, with rectification status and deadline", SITU_GT_POINT,
     hazard_fields, NFIELDS(hazard_fields), 6},
    {SITU_C_HAZARD_SOURCES, "hazard_sources", "重大危险源分布图", "Major hazard sources",
     "Major hazard sources (GB 18218 grade 1-4) with their impact radius", SITU_GT_POINT,
     hazard_source_fields, NFIELDS(hazard_source_fields), 0},
    {SITU_C_RESOURCES, "resources", "队伍物资分布图", "Rescue teams and material depots",
     "Rescue teams and material depots with their items", SITU_GT_POINT, resource_fields,
     NFIELDS(resource_fields), 0},
    {SITU_C_STATIONS, "stations", "监测站点", "Monitoring stations",
     "Rain gauges, water levels, geological monitors and cameras with their latest reading",
     SITU_GT_POINT, station_fields, NFIELDS(station_fields), 6},
    {SITU_C_ALERTS, "alerts", "预警信息", "Warnings",
     "Warning areas pushed by departments (JSON or CAP 1.2)", SITU_GT_MULTIPOLYGON, alert_fields,
     NFIELDS(alert_fields), 0},
    {SITU_C_ROADS, "roads", "道路交通网", "Roads",
     "The road network with its live status: closed and restricted roads, their reason and "
     "expected reopening",
     SITU_GT_MULTILINESTRING, road_fields, NFIELDS(road_fields), 6},
};

static const situ_item items[] = {
    {"sandbag", "编织袋(沙袋)", "sandbags", "bag"},
    {"life_jacket", "救生衣", "life jackets", "piece"},
    {"lifebuoy", "救生圈", "lifebuoys", "piece"},
    {"rescue_boat", "冲锋舟", "rescue boats", "boat"},
    {"inflatable_boat", "橡皮艇", "inflatable boats", "boat"},
    {"water_pump", "抽水泵", "water pumps", "set"},
    {"generator", "发电机", "generators", "set"},
    {"tent", "帐篷", "tents", "piece"},
    {"quilt", "棉被", "quilts", "piece"},
    {"folding_bed", "折叠床", "folding beds", "piece"},
    {"drinking_water", "饮用水", "drinking water", "box"},
    {"instant_food", "方便食品", "instant food", "box"},
    {"medical_kit", "急救包", "medical kits", "kit"},
    {"chainsaw", "油锯", "chainsaws", "piece"},
    {"searchlight", "探照灯", "searchlights", "piece"},
    {"fire_extinguisher", "灭火器", "fire extinguishers", "piece"},
    {"wind_extinguisher", "风力灭火机", "forest-fire blowers", "piece"},
    {"raincoat", "雨衣", "raincoats", "piece"},
    {"rubber_boots", "雨靴", "rubber boots", "pair"},
    {"shovel", "铁锹", "shovels", "piece"},
    {"geotextile", "土工布", "geotextile", "m2"},
    {"rope", "救援绳", "rescue rope", "m"},
};

static const situ_dept depts[] = {
    {"meteorology", "气象局", "Meteorology", 600},
    {"water_resources", "水利局", "Water Resources", 300},
    {"natural_resources", "自然资源和规划局", "Natural Resources", 900},
    {"forestry", "林业局", "Forestry", 1800},
    {"emergency_management", "应急管理局", "Emergency Management", 3600},
    {"fire_rescue", "消防救援支队", "Fire and Rescue", 3600},
    {"public_security", "公安局", "Public Security", 3600},
    {"transport", "交通运输局", "Transport", 1800},
    {"housing", "住房和城乡建设局", "Housing and Urban-Rural Development", 7200},
    {"ecology_environment", "生态环境局", "Ecology and Environment", 3600},
    {"health", "卫生健康委员会", "Health", 7200},
    {"agriculture", "农业农村局", "Agriculture and Rural Affairs", 7200},
    {"civil_affairs", "民政局", "Civil Affairs", 86400},
    {"education", "教育局", "Education", 86400},
    {"culture_tourism", "文化旅游广电局", "Culture and Tourism", 7200},
    {"commerce", "商务局", "Commerce", 86400},
    {"reserves", "粮食和物资储备局", "Grain and Material Reserves", 86400},
    {"power_grid", "国网永州供电公司", "State Grid power supply", 900},
    {"telecom", "通信管理(电信运营商)", "Telecommunications", 900},
};

const situ_collection *situ_schema_collection(situ_coll_id cid)
{
    if ((int)cid < 0 || cid >= SITU_NCOLLECTIONS)
        return NULL;
    return &collections[cid];
}

const situ_collection *situ_schema_find(const char *id)
{
    for (int i = 0; id && i < SITU_NCOLLECTIONS; i++)
        if (strcmp(collections[i].id, id) == 0)
            return &collections[i];
    return NULL;
}

int situ_schema_field_index(const situ_collection *c, const char *name)
{
    for (int i = 0; c && name && i < c->nfields; i++)
        if (strcmp(c->fields[i].name, name) == 0)
            return i;
    return -1;
}

/* A "lo..hi" domain constrains integers and is checked by the caller's parse;
 * a "a|b|c" domain lists the allowed text values exactly. */
int situ_schema_domain_ok(const situ_field *f, const char *v)
{
    if (!f->domain || strstr(f->domain, ".."))
        return 1;
    if (!v)
        return 0;
    size_t n = strlen(v);
    for (const char *p = f->domain; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

int situ_schema_nitems(void)
{
    return NFIELDS(items);
}

const situ_item *situ_schema_item(int i)
{
    return i >= 0 && i < NFIELDS(items) ? &items[i] : NULL;
}

int situ_schema_item_index(const char *code)
{
    for (int i = 0; code && i < NFIELDS(items); i++)
        if (strcmp(items[i].code, code) == 0)
            return i;
    return -1;
}

int situ_schema_ndepts(void)
{
    return NFIELDS(depts);
}

const situ_dept *situ_schema_dept(int i)
{
    return i >= 0 && i < NFIELDS(depts) ? &depts[i] : NULL;
}

int situ_schema_dept_index(const char *code)
{
    for (int i = 0; code && i < NFIELDS(depts); i++)
        if (strcmp(depts[i].code, code) == 0)
            return i;
    return -1;
}
