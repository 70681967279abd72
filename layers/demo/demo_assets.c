/*
 * demo_assets.c: the rescue teams and material depots (the fourth map) and
 * the monitoring stations of the demo. Owns the programmes (which city,
 * county or township has which team or depot, from the make-up of its
 * county: forest, mining, industry, rivers), the kits of items a depot or
 * team holds (codes of the schema's item vocabulary, quantities by level)
 * and the station kinds of each department, 22 cameras among them.
 */
#include "demo_int.h"

#include <stdio.h>
#include <string.h>

/* ---- kits ---------------------------------------------------------------- */

typedef struct kit_item {
    const char *item; /* a code of situ_schema_item */
    int min, max, step;
    double chance;
} kit_item;

static const kit_item k_depot_township[] = {{"sandbag", 500, 3000, 100, 1},
                                            {"life_jacket", 50, 300, 10, 1},
                                            {"lifebuoy", 20, 100, 10, 1},
                                            {"inflatable_boat", 1, 3, 1, 0.3},
                                            {"water_pump", 2, 10, 1, 1},
                                            {"generator", 1, 5, 1, 1},
                                            {"tent", 20, 100, 5, 1},
                                            {"quilt", 50, 300, 10, 1},
                                            {"folding_bed", 20, 100, 5, 0.8},
                                            {"drinking_water", 50, 300, 10, 1},
                                            {"instant_food", 50, 300, 10, 1},
                                            {"medical_kit", 10, 50, 5, 1},
                                            {"chainsaw", 2, 6, 1, 0.4},
                                            {"searchlight", 5, 20, 1, 1},
                                            {"fire_extinguisher", 20, 100, 5, 0.8},
                                            {"wind_extinguisher", 5, 20, 1, 0.3},
                                            {"raincoat", 50, 200, 10, 1},
                                            {"rubber_boots", 50, 200, 10, 1},
                                            {"shovel", 50, 300, 10, 1},
                                            {"geotextile", 200, 2000, 100, 0.7},
                                            {"rope", 200, 1000, 50, 1},
                                            {NULL, 0, 0, 0, 0}};
static const kit_item k_depot_county[] = {{"sandbag", 10000, 50000, 1000, 1},
                                          {"life_jacket", 500, 2000, 50, 1},
                                          {"lifebuoy", 200, 800, 50, 1},
                                          {"rescue_boat", 2, 8, 1, 1},
                                          {"inflatable_boat", 5, 20, 1, 1},
                                          {"water_pump", 20, 60, 5, 1},
                                          {"generator", 10, 40, 5, 1},
                                          {"tent", 300, 1000, 50, 1},
                                          {"quilt", 1000, 5000, 100, 1},
                                          {"folding_bed", 300, 1500, 50, 1},
                                          {"drinking_water", 1000, 5000, 100, 1},
                                          {"instant_food", 1000, 5000, 100, 1},
                                          {"medical_kit", 100, 500, 10, 1},
                                          {"chainsaw", 20, 60, 5, 1},
                                          {"searchlight", 30, 100, 5, 1},
                                          {"fire_extinguisher", 200, 800, 50, 1},
                                          {"wind_extinguisher", 50, 200, 10, 1},
                                          {"raincoat", 500, 2000, 50, 1},
                                          {"rubber_boots", 500, 2000, 50, 1},
                                          {"shovel", 500, 2000, 50, 1},
                                          {"geotextile", 5000, 20000, 500, 1},
                                          {"rope", 2000, 10000, 500, 1},
                                          {NULL, 0, 0, 0, 0}};
static const kit_item k_depot_city[] = {{"sandbag", 100000, 200000, 5000, 1},
                                        {"life_jacket", 5000, 10000, 500, 1},
                                        {"lifebuoy", 1000, 3000, 100, 1},
                                        {"rescue_boat", 10, 30, 1, 1},
                                        {"inflatable_boat", 20, 60, 5, 1},
                                        {"water_pump", 100, 300, 10, 1},
                                        {"generator", 50, 150, 10, 1},
                                        {"tent", 2000, 5000, 100, 1},
                                        {"quilt", 10000, 30000, 1000, 1},
                                        {"folding_bed", 2000, 6000, 100, 1},
                                        {"drinking_water", 10000, 30000, 1000, 1},
                                        {"instant_food", 10000, 30000, 1000, 1},
                                        {"medical_kit", 1000, 3000, 100, 1},
                                        {"chainsaw", 100, 300, 10, 1},
                                        {"searchlight", 200, 500, 10, 1},
                                        {"fire_extinguisher", 1000, 3000, 100, 1},
                                        {"wind_extinguisher", 300, 800, 50, 1},
                                        {"raincoat", 5000, 10000, 500, 1},
                                        {"rubber_boots", 5000, 10000, 500, 1},
                                        {"shovel", 5000, 10000, 500, 1},
                                        {"geotextile", 50000, 100000, 5000, 1},
                                        {"rope", 20000, 50000, 1000, 1},
                                        {NULL, 0, 0, 0, 0}};
static const kit_item k_water[] = {
    {"rescue_boat", 1, 4, 1, 1}, {"inflatable_boat", 2, 6, 1, 1}, {"life_jacket", 30, 100, 5, 1},
    {"lifebuoy", 20, 60, 5, 1},  {"rope", 500, 2000, 100, 1},     {"searchlight", 4, 12, 1, 1},
    {"generator", 1, 3, 1, 0.7}, {"medical_kit", 5, 15, 1, 0.8},  {NULL, 0, 0, 0, 0}};
static const kit_item k_fire[] = {{"fire_extinguisher", 50, 200, 10, 1},
                                  {"water_pump", 2, 6, 1, 1},
                                  {"generator", 2, 6, 1, 1},
                                  {"searchlight", 6, 20, 1, 1},
                                  {"rope", 500, 2000, 100, 1},
                                  {"medical_kit", 10, 30, 1, 1},
                                  {"life_jacket", 20, 60, 5, 0.6},
                                  {"inflatable_boat", 1, 3, 1, 0.5},
                                  {NULL, 0, 0, 0, 0}};
static const kit_item k_forest[] = {{"wind_extinguisher", 10, 40, 1, 1},
                                    {"chainsaw", 2, 10, 1, 1},
                                    {"fire_extinguisher", 20, 80, 5, 1},
                                    {"shovel", 20, 60, 5, 1},
                                    {"rope", 200, 1000, 50, 0.5},
                                    {"searchlight", 2, 8, 1, 1},
                                    {"medical_kit", 2, 10, 1, 1},
                                    {"tent", 5, 20, 1, 0.6},
                                    {NULL, 0, 0, 0, 0}};
static const kit_item k_mine[] = {{"medical_kit", 20, 50, 1, 1}, {"rope", 1000, 3000, 100, 1},
                                  {"searchlight", 10, 30, 1, 1}, {"generator", 2, 5, 1, 1},
                                  {"water_pump", 2, 8, 1, 1},    {NULL, 0, 0, 0, 0}};
static const kit_item k_hazmat[] = {
    {"medical_kit", 10, 30, 1, 1}, {"fire_extinguisher", 50, 150, 10, 1},
    {"searchlight", 5, 15, 1, 1},  {"generator", 1, 4, 1, 1},
    {"rope", 200, 800, 50, 1},     {NULL, 0, 0, 0, 0}};
static const kit_item k_medical[] = {
    {"medical_kit", 50, 200, 10, 1},      {"tent", 5, 20, 1, 1},
    {"folding_bed", 10, 40, 1, 1},        {"generator", 1, 3, 1, 1},
    {"drinking_water", 20, 100, 10, 0.7}, {NULL, 0, 0, 0, 0}};
static const kit_item k_geo[] = {{"searchlight", 2, 6, 1, 1},
                                 {"generator", 1, 2, 1, 1},
                                 {"rope", 200, 500, 50, 1},
                                 {"medical_kit", 2, 10, 1, 1},
                                 {NULL, 0, 0, 0, 0}};
static const kit_item k_power[] = {{"generator", 5, 20, 1, 1}, {"searchlight", 10, 30, 1, 1},
                                   {"chainsaw", 2, 8, 1, 1},   {"rope", 200, 1000, 50, 1},
                                   {"raincoat", 20, 60, 5, 1}, {NULL, 0, 0, 0, 0}};
static const kit_item k_comms[] = {{"generator", 2, 8, 1, 1},
                                   {"searchlight", 2, 6, 1, 1},
                                   {"raincoat", 10, 30, 5, 1},
                                   {NULL, 0, 0, 0, 0}};
static const kit_item k_militia[] = {{"sandbag", 200, 1000, 50, 1},
                                     {"shovel", 20, 80, 5, 1},
                                     {"life_jacket", 20, 60, 5, 1},
                                     {"raincoat", 20, 60, 5, 1},
                                     {"rubber_boots", 20, 60, 5, 1},
                                     {"searchlight", 2, 6, 1, 1},
                                     {"chainsaw", 1, 4, 1, 0.5},
                                     {"wind_extinguisher", 2, 10, 1, 0.5},
                                     {NULL, 0, 0, 0, 0}};
static const kit_item k_volunteer[] = {
    {"life_jacket", 10, 40, 5, 1}, {"rope", 200, 1000, 50, 1},        {"medical_kit", 5, 20, 1, 1},
    {"searchlight", 2, 8, 1, 1},   {"inflatable_boat", 1, 2, 1, 0.4}, {NULL, 0, 0, 0, 0}};
static const kit_item k_road[] = {{"shovel", 30, 100, 5, 1},
                                  {"chainsaw", 2, 8, 1, 1},
                                  {"generator", 2, 6, 1, 1},
                                  {"searchlight", 5, 15, 1, 1},
                                  {"sandbag", 500, 2000, 100, 1},
                                  {"raincoat", 20, 60, 5, 1},
                                  {NULL, 0, 0, 0, 0}};

/* Writes the kit as the JSON array of the `items` property into the record;
 * returns SITU_EINVAL when a code is not in the vocabulary, SITU_ELIMIT
 * when the array outgrows its buffer. */
static int kit_json(situ__demo_gen *g, const kit_item *kit)
{
    char json[4096];
    size_t n = 0;
    json[n++] = '[';
    for (const kit_item *k = kit; k->item; k++) {
        int i = situ_schema_item_index(k->item);
        if (i < 0)
            return SITU_EINVAL;
        if (!situ__demo_rng_chance(&g->rng, k->chance))
            continue;
        int q = k->step * situ__demo_rng_int(&g->rng, k->min / k->step, k->max / k->step);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"item\":\"%s\",\"qty\":%d,\"unit\":\"%s\"}", n > 1 ? "," : "",
                              k->item, q, situ_schema_item(i)->unit);
        if (n >= sizeof json - 2)
            return SITU_ELIMIT;
    }
    json[n++] = ']';
    json[n] = '\0';
    g->feat.items_json = situ__demo_feat_printf(&g->feat, "%s", json);
    return 0;
}

/* ---- programmes ----------------------------------------------------------------- */

typedef enum rs_scope { PER_CITY, PER_COUNTY, PER_TOWNSHIP } rs_scope;

typedef int (*rs_test)(const situ__demo_city *c, int county, int township);

typedef struct rs_program {
    rs_scope scope;
    const char *team_type; /* NULL: a depot */
    rs_test eligible;      /* NULL: everywhere */
    double chance;
    const char *name; /* template */
    int pmin, pmax;   /* personnel */
    const kit_item *kit;
} rs_program;

static int on_river_county(const situ__demo_city *c, int k, int t)
{
    (void)t;
    return situ__demo_city_river_km(c, c->counties[k].seat_lon, c->counties[k].seat_lat, 1) < 6;
}
static int on_river_township(const situ__demo_city *c, int k, int t)
{
    (void)k;
    const situ__demo_township *tw = &c->townships[t];
    return situ__demo_city_river_km(c, tw->seat_lon, tw->seat_lat, 1) < 3 ||
           situ__demo_city_river_km(c, tw->seat_lon, tw->seat_lat, 2) < 1.5;
}
static int forest_county(const situ__demo_city *c, int k, int t)
{
    (void)t;
    return c->counties[k].forest >= 1;
}
static int forest_township(const situ__demo_city *c, int k, int t)
{
    return c->counties[k].forest >= 2 && c->townships[t].kind != SITU_DEMO_SUBDISTRICT;
}
static int mining_county(const situ__demo_city *c, int k, int t)
{
    (void)t;
    return c->counties[k].mining >= 2;
}
static int industry_county(const situ__demo_city *c, int k, int t)
{
    (void)t;
    return c->counties[k].industry >= 2;
}
static int hilly_county(const situ__demo_city *c, int k, int t)
{
    (void)t;
    return c->counties[k].hilly >= 1;
}
static int big_township(const situ__demo_city *c, int k, int t)
{
    (void)k;
    return c->townships[t].population >= 40000 && c->townships[t].kind != SITU_DEMO_SUBDISTRICT;
}

#define ADDR_COUNTY "永州市{county}{road}{n}号"

static const rs_program programs[] = {
    {PER_CITY, NULL, NULL, 1, "永州市应急物资储备库", 8, 20, k_depot_city},
    {PER_CITY, NULL, NULL, 1, "永州市防汛抗旱物资储备中心库", 8, 20, k_depot_city},
    {PER_CITY, "fire_rescue", NULL, 1, "永州市消防救援支队特勤大队", 60, 90, k_fire},
    {PER_CITY, "water_rescue", NULL, 1, "永州市水上应急救援队", 40, 60, k_water},
    {PER_CITY, "mine_rescue", NULL, 1, "永州市矿山救护队", 30, 50, k_mine},
    {PER_CITY, "hazmat", NULL, 1, "永州市危险化学品应急救援队", 30, 50, k_hazmat},
    {PER_CITY, "medical", NULL, 1, "永州市紧急医学救援队", 30, 60, k_medical},
    {PER_CITY, "forest_fire", NULL, 1, "永州市森林消防专业队", 50, 80, k_forest},
    {PER_CITY, "volunteer", NULL, 1, "永州市蓝天救援队", 80, 150, k_volunteer},
    {PER_CITY, "power", NULL, 1, "国网永州供电公司应急抢修队", 40, 80, k_power},
    {PER_CITY, "geological", NULL, 1, "永州市地质灾害应急技术支撑队", 15, 30, k_geo},
    {PER_CITY, "road", NULL, 1, "永州市公路应急保障中心", 30, 60, k_road},
    {PER_CITY, "communications", NULL, 1, "中国铁塔永州分公司应急通信保障队", 20, 40, k_comms},
    {PER_COUNTY, NULL, NULL, 1, "{county}应急物资储备库|{county}防汛抗旱物资仓库", 4, 12,
     k_depot_county},
    {PER_COUNTY, "fire_rescue", NULL, 1, "{county}消防救援大队", 30, 60, k_fire},
    {PER_COUNTY, "water_rescue", on_river_county, 1, "{short}水上救援队", 20, 40, k_water},
    {PER_COUNTY, "forest_fire", forest_county, 1, "{short}森林消防专业扑火队", 30, 50, k_forest},
    {PER_COUNTY, "mine_rescue", mining_county, 1, "{short}矿山救护中队", 15, 30, k_mine},
    {PER_COUNTY, "hazmat", industry_county, 1, "{short}危化品应急救援队", 15, 30, k_hazmat},
    {PER_COUNTY, "medical", NULL, 1, "{short}人民医院紧急医学救援队", 15, 30, k_medical},
    {PER_COUNTY, "medical", NULL, 0.6, "{short}中医医院医疗救护队", 10, 20, k_medical},
    {PER_COUNTY, "geological", hilly_county, 1, "{short}地质灾害应急技术支撑队", 6, 15, k_geo},
    {PER_COUNTY, "power", NULL, 1, "国网{short}供电公司应急抢修队", 20, 50, k_power},
    {PER_COUNTY, "communications", NULL, 1, "中国移动{short}分公司应急通信保障队", 6, 15, k_comms},
    {PER_COUNTY, "communications", NULL, 1, "中国电信{short}分公司应急通信保障队", 6, 15, k_comms},
    {PER_COUNTY, "communications", NULL, 1, "中国联通{short}分公司应急通信保障队", 6, 15, k_comms},
    {PER_COUNTY, "road", NULL, 1, "{short}公路应急抢险保障队", 20, 40, k_road},
    {PER_COUNTY, "volunteer", NULL, 0.8, "{short}蓝天救援队", 20, 60, k_volunteer},
    {PER_COUNTY, "militia", NULL, 1, "{short}应急民兵连", 50, 100, k_militia},
    {PER_TOWNSHIP, NULL, NULL, 1, "{town}应急物资储备点", 2, 5, k_depot_township},
    {PER_TOWNSHIP, "militia", NULL, 1, "{town}应急民兵分队", 20, 40, k_militia},
    {PER_TOWNSHIP, "forest_fire", forest_township, 0.7, "{town}半专业森林扑火队", 15, 30, k_forest},
    {PER_TOWNSHIP, "water_rescue", on_river_township, 1, "{town}水上应急救援分队", 10, 20, k_water},
    {PER_TOWNSHIP, "fire_rescue", big_township, 1, "{town}专职消防队", 8, 20, k_fire},
    {PER_TOWNSHIP, "medical", NULL, 0.25, "{town}卫生院医疗救护队", 5, 12, k_medical},
    {PER_TOWNSHIP, "volunteer", NULL, 0.35, "{town}应急志愿者服务队", 15, 50, k_volunteer},
};

static const char *const rs_level[] = {"city", "county", "township"};

static void resource_fields(situ__demo_gen *g, const rs_program *p, int t)
{
    situ__demo_feat *f = &g->feat;
    char buf[64];
    static const double status_w[] = {80, 15, 5};
    static const char *const status[] = {"available", "standby", "deployed"};
    situ__demo_feat_text(f, "name", situ__demo_gen_expand(g, p->name, t));
    situ__demo_feat_text(f, "category", p->team_type ? "team" : "depot");
    situ__demo_feat_text(f, "team_type", p->team_type);
    situ__demo_feat_text(f, "level", rs_level[p->scope]);
    situ__demo_feat_int(f, "personnel", situ__demo_rng_int(&g->rng, p->pmin, p->pmax));
    situ__demo_feat_text(f, "status",
                         p->team_type ? status[situ__demo_rng_weighted(&g->rng, status_w, 3)]
                                      : "available");
    situ__demo_feat_text(f, "contact", situ__demo_person(&g->rng, buf, sizeof buf));
    if (p->scope != PER_TOWNSHIP && situ__demo_rng_chance(&g->rng, 0.5))
        situ__demo_feat_text(f, "phone", situ__demo_landline(&g->rng, buf, sizeof buf));
    else
        situ__demo_feat_text(f, "phone", situ__demo_mobile(&g->rng, buf, sizeof buf));
    int urban = g->city->townships[t].kind == SITU_DEMO_SUBDISTRICT;
    const char *addr =
        p->scope != PER_TOWNSHIP || urban ? ADDR_COUNTY : "永州市{county}{town}{village}村";
    situ__demo_feat_text(f, "address", situ__demo_gen_expand(g, addr, t));
}

/* The point of a team or depot whose programme runs at township t: a
 * township depot at the seat, the others near it and in the same township
 * when they can be. Returns the township the point is in. */
static int resource_point(situ__demo_gen *g, const rs_program *p, int t, double *lon, double *lat)
{
    static const double sigma_km[] = {2.0, 1.2, 0.6};
    const situ__demo_township *tw = &g->city->townships[t];
    if (p->scope == PER_TOWNSHIP && !p->team_type) {
        *lon = tw->seat_lon, *lat = tw->seat_lat;
        return t;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        int at = situ__demo_city_near_seat(g->city, &g->rng, t, sigma_km[p->scope], lon, lat);
        if (at == t || (at >= 0 && p->scope != PER_TOWNSHIP))
            return at;
    }
    *lon = tw->seat_lon, *lat = tw->seat_lat;
    return t;
}

static int one_resource(situ__demo_gen *g, const rs_program *p, int t, situ_err *err)
{
    double lon, lat;
    int at = resource_point(g, p, t, &lon, &lat);
    situ__demo_gen_new(g, "RS", at);
    resource_fields(g, p, t);
    int rc = kit_json(g, p->kit);
    if (rc)
        return situ_err_set(err, rc, "demo: the kit of %s: %s",
                            p->team_type ? p->team_type : "depot",
                            rc == SITU_EINVAL ? "an item not in the vocabulary" : "too many items");
    situ__demo_gen_point(g, lon, lat);
    return situ__demo_gen_emit(g, err);
}

/* Runs programme p (row `row` of its scope) once per city, county or
 * township that is eligible, by chance. */
static int run_program(situ__demo_gen *g, const rs_program *p, int row, situ_err *err)
{
    const situ__demo_city *c = g->city;
    int rc = 0;
    if (p->scope == PER_CITY) {
        int seats[64], n = 0;
        for (int k = 0; k < c->ncounties && n < 64; k++)
            if (c->counties[k].city_seat)
                seats[n++] = k;
        int k = n ? seats[row % n] : 0;
        return one_resource(g, p, c->counties[k].seat_township, err);
    }
    for (int k = 0; p->scope == PER_COUNTY && !rc && k < c->ncounties; k++) {
        int t = c->counties[k].seat_township;
        if ((!p->eligible || p->eligible(c, k, t)) && situ__demo_rng_chance(&g->rng, p->chance))
            rc = one_resource(g, p, t, err);
    }
    for (int t = 0; p->scope == PER_TOWNSHIP && !rc && t < c->ntownships; t++) {
        int k = c->townships[t].county;
        if ((!p->eligible || p->eligible(c, k, t)) && situ__demo_rng_chance(&g->rng, p->chance))
            rc = one_resource(g, p, t, err);
    }
    return rc;
}

int situ__demo_gen_resources(situ__demo_gen *g, situ_err *err)
{
    situ__demo_gen_begin(g, SITU_C_RESOURCES);
    int row[3] = {0, 0, 0};
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        int rc = run_program(g, &programs[i], row[programs[i].scope]++, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- stations ---------------------------------------------------------------------- */

typedef struct st_kind {
    const char *kind, *dept;
    int count; /* per copy; 0: one per county, near its seat */
    situ__demo_place place;
    const char *name;   /* template */
    const char *metric; /* NULL: a camera, which has no reading */
    double vmin, vmax;
    double threshold; /* > 0: fixed; < 0: the value plus 0.5 .. -threshold */
    int decimals;
} st_kind;

static const st_kind st_kinds[] = {
    {"rain_gauge", "meteorology", 40, SITU_DEMO_ANYWHERE, "{town}{village}自动雨量站", "rain_1h_mm",
     0, 35, 50, 1},
    {"rain_gauge", "water_resources", 30, SITU_DEMO_HILLS, "{town}{village}雨量站", "rain_1h_mm", 0,
     35, 50, 1},
    {"water_level", "water_resources", 30, SITU_DEMO_AT_RIVER, "{river}{town}水位站",
     "water_level_m", 65, 110, -4, 2},
    {"reservoir", "water_resources", 15, SITU_DEMO_HILLS, "{town}{village}水库水位站",
     "reservoir_level_m", 150, 400, -3, 2},
    {"geological", "natural_resources", 28, SITU_DEMO_HILLS, "{town}{village}地质灾害监测点",
     "displacement_mm", 0, 20, 30, 1},
    {"weather", "meteorology", 0, SITU_DEMO_URBAN, "{short}国家气象观测站", "wind_speed_ms", 0, 12,
     17.2, 1},
    {"forest_fire", "forestry", 12, SITU_DEMO_FOREST, "{town}{village}森林防火瞭望台",
     "fire_risk_level", 1, 5, 4, 0},
    {"air_quality", "ecology_environment", 8, SITU_DEMO_URBAN, "{short}{town}空气质量监测站", "aqi",
     20, 160, 200, 0},
    {"traffic", "transport", 6, SITU_DEMO_URBAN, "{short}{road}交通流量监测点",
     "traffic_flow_veh_h", 200, 2500, 3000, 0},
    {"power", "power_grid", 5, SITU_DEMO_URBAN, "{short}{town}变电站负荷监测", "load_mw", 20, 180,
     220, 1},
    {"camera", "emergency_management", 6, SITU_DEMO_URBAN, "{town}{road}应急视频监控点", NULL, 0, 0,
     0, 0},
    {"camera", "water_resources", 5, SITU_DEMO_AT_RIVER, "{river}{town}段视频监控", NULL, 0, 0, 0,
     0},
    {"camera", "forestry", 4, SITU_DEMO_FOREST, "{town}{village}林区视频监控", NULL, 0, 0, 0, 0},
    {"camera", "natural_resources", 3, SITU_DEMO_HILLS, "{town}{village}地灾点视频监控", NULL, 0, 0,
     0, 0},
    {"camera", "transport", 2, SITU_DEMO_URBAN, "{short}{road}交通视频监控", NULL, 0, 0, 0, 0},
    {"camera", "public_security", 2, SITU_DEMO_URBAN, "{town}{road}治安视频监控", NULL, 0, 0, 0, 0},
};

/* The latest reading: a few near or over the threshold. */
static void reading(situ__demo_gen *g, const st_kind *k, int online)
{
    situ__demo_feat *f = &g->feat;
    double v = situ__demo_rng_range(&g->rng, k->vmin, k->vmax), th = k->threshold;
    if (th < 0)
        th = v + situ__demo_rng_range(&g->rng, 0.5, -k->threshold);
    if (situ__demo_rng_chance(&g->rng, 0.08))
        v = k->threshold < 0 ? th - situ__demo_rng_range(&g->rng, -0.2, 0.6)
                             : th * situ__demo_rng_range(&g->rng, 0.88, 1.05);
    double k10 = pow(10, k->decimals);
    v = nearbyint(v * k10) / k10;
    int warn = k->threshold < 0 ? th - v < 0.5 : v >= 0.85 * th;
    situ__demo_feat_text(f, "metric", k->metric);
    situ__demo_feat_real(f, "value", v, k->decimals);
    situ__demo_feat_real(f, "threshold", th, 2);
    situ__demo_feat_text(f, "status",
                         !online   ? "offline"
                         : v >= th ? "alarm"
                         : warn    ? "warning"
                                   : "normal");
}

static void station_fields(situ__demo_gen *g, const st_kind *k, int t)
{
    situ__demo_feat *f = &g->feat;
    int online = situ__demo_rng_chance(&g->rng, k->metric ? 0.96 : 0.88);
    long day = situ__demo_day(SITU_DEMO_AS_OF_Y, SITU_DEMO_AS_OF_M, SITU_DEMO_AS_OF_D);
    int minutes = 8 * 60 - 5 * situ__demo_rng_int(&g->rng, 0, 12);
    if (!online)
        day -= situ__demo_rng_int(&g->rng, 1, 10),
            minutes = 5 * situ__demo_rng_int(&g->rng, 0, 287);
    char date[16];
    situ__demo_date(day, date, sizeof date);
    situ__demo_feat_text(f, "name", situ__demo_gen_expand(g, k->name, t));
    situ__demo_feat_text(f, "dept", k->dept);
    situ__demo_feat_text(f, "kind", k->kind);
    situ__demo_feat_text(
        f, "observed_at",
        situ__demo_feat_printf(f, "%sT%02d:%02d:00Z", date, minutes / 60, minutes % 60));
    situ__demo_feat_bool(f, "online", online);
    if (k->metric)
        reading(g, k, online);
    else
        situ__demo_feat_text(f, "status", online ? "normal" : "offline");
}

/* One station of kind k: placed by its rule, or near the seat of county
 * when county >= 0. */
static int one_station(situ__demo_gen *g, const st_kind *k, int county, situ_err *err)
{
    double lon, lat, angle;
    int t = -1;
    g->river = -1;
    for (int a = 0; county >= 0 && t < 0 && a < 20; a++)
        t = situ__demo_city_near_seat(g->city, &g->rng, g->city->counties[county].seat_township,
                                      3.0, &lon, &lat);
    if (county < 0)
        t = situ__demo_city_place(g->city, &g->rng, k->place, &lon, &lat, &angle, &g->river);
    if (t < 0)
        return situ_err_set(err, SITU_EGEOM, "demo: no place for a %s station", k->kind);
    situ__demo_gen_new(g, "ST", t);
    station_fields(g, k, t);
    situ__demo_gen_point(g, lon, lat);
    return situ__demo_gen_emit(g, err);
}

int situ__demo_gen_stations(situ__demo_gen *g, situ_err *err)
{
    situ__demo_gen_begin(g, SITU_C_STATIONS);
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof st_kinds / sizeof st_kinds[0]; i++) {
        const st_kind *k = &st_kinds[i];
        if (situ_schema_dept_index(k->dept) < 0)
            return situ_err_set(err, SITU_EINVAL, "demo: no department %s", k->dept);
        for (int j = 0; !rc && j < k->count; j++)
            rc = one_station(g, k, -1, err);
        for (int c = 0; !rc && k->count == 0 && c < g->city->ncounties; c++)
            rc = one_station(g, k, c, err);
    }
    return rc;
}
