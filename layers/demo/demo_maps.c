/*
 * demo_maps.c: three of the four maps of the demo. Owns the natural-hazard
 * risk zones (irregular star-shaped polygons: floods along the rivers,
 * landslides, debris flows and collapses in the hills, forest fires in the
 * forest counties), the major accident hidden dangers (a ledger with
 * rectification dates fixed relative to SITU_DEMO_AS_OF) and the major hazard
 * sources (GB 18218 grades, R values, impact radii). Each kind is a row of
 * a table; where a thing goes is a situ__demo_place rule of demo_city.c.
 */
#include "demo_int.h"

#include <stdio.h>
#include <string.h>

/* ---- risk zones ----------------------------------------------------------- */

typedef struct rz_kind {
    const char *type, *zh;
    int count; /* per copy */
    situ__demo_place place;
    double a_min, a_max; /* semi-major axis, km */
    double e_min, e_max; /* elongation a / b */
    double level_w[4];   /* risk level 1 (highest) .. 4 */
    double exposed;      /* share of the township's density exposed */
    int exp_min, exp_max;
    const char *name;
    const char *const *measures; /* NULL-terminated */
} rz_kind;

static const char *const m_flood[] = {"汛期落实专人24小时巡堤查险",
                                      "设置警示标志和水位标尺",
                                      "制定人员转移避险预案并每年组织演练",
                                      "储备冲锋舟、救生衣等防汛物资",
                                      "强降雨和洪水预警发布后提前转移受威胁群众",
                                      NULL};
static const char *const m_waterlog[] = {
    "汛前疏通排水管网和雨水口", "低洼路段设置积水警示和临时封闭措施",
    "配备移动抽水泵并落实值守人员", "地下车库入口设置挡水板", NULL};
static const char *const m_geo[] = {
    "落实群测群防监测员，雨季加密巡查", "设置警示牌，划定危险区范围",
    "安装裂缝计和雨量监测预警设备",     "明确预警信号和转移路线，组织避险演练",
    "实施排水和削坡减载工程治理",       NULL};
static const char *const m_fire[] = {"清明、春节等重点时段设卡巡查，严禁野外用火",
                                     "开设和维护生物防火隔离带", "林区设置防火宣传牌和视频监控",
                                     "组建半专业扑火队并储备风力灭火机", NULL};
static const char *const m_drought[] = {"加强水源工程管护，保障人饮安全",
                                        "制定分区供水和应急送水方案", "推广节水灌溉，调整种植结构",
                                        NULL};
static const char *const m_weather[] = {"加强气象预警信息发布和接收", "加固农业设施、大棚和广告牌",
                                        "落实转移安置点和应急物资储备",
                                        "组织人员避险，暂停户外作业", NULL};
static const char *const m_quake[] = {"开展农村民居抗震加固", "编制地震应急预案并组织演练",
                                      "明确应急避难场所", NULL};

/* One kind a row reads better than clang-format's one number a line. */
/* clang-format off */
static const rz_kind rz_kinds[] = {
    /* type, zh, count, place, a km, elongation, level weights, exposed, min, max, name, measures */
    {"flood", "洪水", 330, SITU_DEMO_AT_RIVER, 0.6, 3.0, 2.0, 4.5, {12, 28, 35, 25}, 1.2, 20, 20000,
     "{river}{town}段洪水风险区", m_flood},
    {"waterlogging", "内涝", 150, SITU_DEMO_URBAN, 0.15, 0.7, 1.0, 2.0, {5, 20, 40, 35}, 2.0, 30, 15000,
     "{town}{road}低洼易涝区", m_waterlog},
    {"landslide", "滑坡", 400, SITU_DEMO_HILLS, 0.08, 0.4, 1.0, 2.0, {8, 22, 35, 35}, 0.8, 3, 600,
     "{town}{village}村滑坡风险区", m_geo},
    {"debris_flow", "泥石流", 120, SITU_DEMO_HILLS, 0.3, 1.5, 2.5, 5.0, {10, 25, 35, 30}, 0.6, 5, 1500,
     "{town}{village}沟泥石流风险区", m_geo},
    {"collapse", "崩塌", 150, SITU_DEMO_HILLS, 0.05, 0.25, 1.0, 2.0, {6, 20, 40, 34}, 0.8, 3, 300,
     "{town}{village}村崩塌风险区", m_geo},
    {"subsidence", "地面塌陷", 40, SITU_DEMO_MINING, 0.1, 0.5, 1.0, 1.5, {5, 20, 40, 35}, 0.8, 5, 800,
     "{town}{village}岩溶塌陷风险区", m_geo},
    {"forest_fire", "森林火灾", 180, SITU_DEMO_FOREST, 1.2, 4.5, 1.0, 2.0, {10, 30, 35, 25}, 0.15, 10, 3000,
     "{town}{village}林区森林火灾风险区", m_fire},
    {"drought", "干旱", 40, SITU_DEMO_ANYWHERE, 3.0, 7.0, 1.0, 1.6, {5, 25, 40, 30}, 0.8, 500, 60000,
     "{town}干旱风险区", m_drought},
    {"wind_hail", "风雹", 40, SITU_DEMO_ANYWHERE, 1.5, 5.0, 1.5, 3.0, {3, 17, 40, 40}, 0.8, 100, 30000,
     "{town}风雹灾害风险区", m_weather},
    {"snow_ice", "低温雨雪冰冻", 30, SITU_DEMO_HILLS, 1.0, 3.5, 1.0, 2.0, {5, 20, 40, 35}, 0.5, 50, 10000,
     "{town}{village}低温雨雪冰冻风险区", m_weather},
    {"earthquake", "地震", 20, SITU_DEMO_ANYWHERE, 2.0, 6.0, 2.0, 4.0, {0, 5, 35, 60}, 0.6, 200, 50000,
     "{short}{village}断裂带地震风险区", m_quake},
};
/* clang-format on */

#define RZ_MAX_VERTS 60

/* An irregular polygon around (lon, lat), star-shaped from its centre and
 * counter-clockwise: a noisy ellipse turned by angle. Returns its size. */
static int zone_ring(situ__demo_rng *r, const rz_kind *k, double lon, double lat, double angle,
                     double *xs, double *ys)
{
    double a = situ__demo_rng_range(r, k->a_min, k->a_max),
           b = a / situ__demo_rng_range(r, k->e_min, k->e_max);
    int n = 12 + (int)(2.5 * sqrt(a / 0.1)) + situ__demo_rng_int(r, 0, 3);
    n = n > RZ_MAX_VERTS ? RZ_MAX_VERTS : n;
    double amp[4], ph[4];
    for (int h = 0; h < 4; h++)
        amp[h] = situ__demo_rng_range(r, 0, 0.16) / (1 + h * 0.5),
        ph[h] = situ__demo_rng_range(r, 0, 2 * M_PI);
    for (int i = 0; i < n; i++) {
        double t = 2 * M_PI * (i + situ__demo_rng_range(r, -0.3, 0.3)) / n;
        double rad = 1 + situ__demo_rng_range(r, -0.06, 0.06);
        for (int h = 0; h < 4; h++)
            rad += amp[h] * cos((h + 2) * t + ph[h]);
        rad = rad < 0.35 ? 0.35 : rad;
        double ex = a * rad * cos(t), ey = b * rad * sin(t);
        double x = ex * cos(angle) - ey * sin(angle), y = ex * sin(angle) + ey * cos(angle);
        xs[i] = situ__demo_snap(lon + x / SITU_DEMO_KM_PER_DEG_LON);
        ys[i] = situ__demo_snap(lat + y / SITU_DEMO_KM_PER_DEG_LAT);
    }
    return n;
}

/* 1 when the ring is a valid polygon inside the city's outline. */
static int zone_ok(const situ__demo_city *c, const double *xs, const double *ys, int n)
{
    double x[RZ_MAX_VERTS + 1], y[RZ_MAX_VERTS + 1];
    memcpy(x, xs, (size_t)n * sizeof *x), memcpy(y, ys, (size_t)n * sizeof *y);
    x[n] = xs[0], y[n] = ys[0];
    GEOSCoordSequence *s = GEOSCoordSeq_copyFromArrays_r(c->gh, x, y, NULL, NULL, (unsigned)n + 1);
    GEOSGeometry *ring = s ? GEOSGeom_createLinearRing_r(c->gh, s) : NULL;
    GEOSGeometry *poly = ring ? GEOSGeom_createPolygon_r(c->gh, ring, NULL, 0) : NULL;
    int ok = poly && GEOSisValid_r(c->gh, poly) == 1 &&
             GEOSPreparedContains_r(c->gh, c->outline_prep, poly) == 1;
    GEOSGeom_destroy_r(c->gh, poly);
    return ok;
}

/* One or two different measures of the kind, joined by "；". */
static const char *measures(situ__demo_gen *g, const char *const *m)
{
    int n = 0;
    while (m[n])
        n++;
    int i = situ__demo_rng_int(&g->rng, 0, n - 1), j = situ__demo_rng_int(&g->rng, 0, n - 2);
    j += j >= i;
    if (situ__demo_rng_chance(&g->rng, 0.5))
        return m[i];
    return situ__demo_feat_printf(&g->feat, "%s；%s", m[i], m[j]);
}

static void zone_fields(situ__demo_gen *g, const rz_kind *k, int t, double area)
{
    situ__demo_feat *f = &g->feat;
    const situ__demo_township *tw = &g->city->townships[t];
    char buf[64];
    double density = (double)tw->population / (tw->area_km2 > 0 ? tw->area_km2 : 1);
    double exposed = area * density * k->exposed * situ__demo_rng_range(&g->rng, 0.5, 1.6);
    exposed = fmax(k->exp_min, fmin(k->exp_max, exposed));
    long people = (long)nearbyint(exposed);
    long households = (long)nearbyint((double)people / situ__demo_rng_range(&g->rng, 2.7, 3.5));
    situ__demo_feat_text(f, "name", situ__demo_gen_expand(g, k->name, t));
    situ__demo_feat_text(f, "hazard_type", k->type);
    situ__demo_feat_int(f, "risk_level", 1 + situ__demo_rng_weighted(&g->rng, k->level_w, 4));
    situ__demo_feat_int(f, "population_exposed", people);
    situ__demo_feat_int(f, "households", households < 1 ? 1 : households);
    situ__demo_feat_real(f, "area_km2", area, 4);
    situ__demo_feat_text(f, "measures", measures(g, k->measures));
    situ__demo_feat_text(f, "responsible_person", situ__demo_person(&g->rng, buf, sizeof buf));
    situ__demo_feat_text(f, "phone", situ__demo_mobile(&g->rng, buf, sizeof buf));
}

static int one_zone(situ__demo_gen *g, const rz_kind *k, situ_err *err)
{
    const situ__demo_city *c = g->city;
    double xs[RZ_MAX_VERTS], ys[RZ_MAX_VERTS];
    for (int attempt = 0; attempt < 200; attempt++) {
        double lon, lat, angle;
        int t = situ__demo_city_place(c, &g->rng, k->place, &lon, &lat, &angle, &g->river);
        if (t < 0)
            break;
        int n = zone_ring(&g->rng, k, lon, lat, angle, xs, ys);
        if (!zone_ok(c, xs, ys, n))
            continue;
        situ__demo_gen_new(g, "RZ", t);
        zone_fields(g, k, t, situ__demo_ring_area_km2(xs, ys, n, g->dy));
        situ__demo_gen_polygon(g, xs, ys, n);
        return situ__demo_gen_emit(g, err);
    }
    return situ_err_set(err, SITU_EGEOM, "demo: no room for a %s risk zone", k->type);
}

int situ__demo_gen_risk_zones(situ__demo_gen *g, situ_err *err)
{
    situ__demo_gen_begin(g, SITU_C_RISK_ZONES);
    for (size_t i = 0; i < sizeof rz_kinds / sizeof rz_kinds[0]; i++)
        for (int j = 0; j < rz_kinds[i].count; j++) {
            int rc = one_zone(g, &rz_kinds[i], err);
            if (rc)
                return rc;
        }
    return 0;
}

/* ---- hidden dangers ---------------------------------------------------------- */

typedef struct hz_defect {
    const char *label, *detail;
} hz_defect;

typedef struct hz_kind {
    const char *category;
    double weight, major; /* share of the ledger; share rated major */
    situ__demo_place place;
    const char *site;         /* template of where it is */
    const char *unit;         /* template of who answers for it; NULL: the site */
    const hz_defect *defects; /* up to a NULL label */
} hz_kind;

static const hz_defect d_chem[] = {
    {"储罐区防火堤破损", "储罐区防火堤多处开裂破损，围堰容积不满足要求，泄漏后可能漫流扩散"},
    {"可燃气体报警器失效", "生产装置区可燃有毒气体检测报警器未定期检定，部分探头失效"},
    {"重点监管工艺未实现自动化控制",
     "涉及重点监管危险化工工艺的装置未按要求装设自动化控制系统和紧急停车系统"},
    {"危化品仓库超量储存", "危险化学品仓库超量、超品种储存，禁忌物料混存"},
    {"特殊作业审批不规范", "动火、受限空间等特殊作业未严格履行审批手续，现场无专人监护"},
    {NULL, NULL}};
static const hz_defect d_mining[] = {
    {"井下通风系统不完善", "井下局部通风机未实现双风机双电源自动切换，存在瓦斯积聚风险"},
    {"采空区未按设计处理", "采空区未按设计要求及时充填或封闭，存在冒顶片帮风险"},
    {"边坡台阶超高", "露天采场边坡台阶高度、坡面角超过设计，局部存在浮石"},
    {"安全出口不畅通", "井下安全出口巷道局部垮塌，未保持两个畅通的安全出口"},
    {"监测监控系统故障", "安全监测监控系统部分传感器故障，数据未按规定上传"},
    {NULL, NULL}};
static const hz_defect d_fireworks[] = {
    {"超量储存烟花爆竹", "零售店超量储存烟花爆竹，且与居住场所未有效隔离"},
    {"仓库防雷设施未检测", "仓库防雷装置未按期检测，部分接地电阻不合格"},
    {"违规销售超标产品", "店内发现销售超标违禁烟花爆竹产品"},
    {NULL, NULL}};
static const hz_defect d_build[] = {
    {"深基坑支护不到位", "深基坑未按专项方案进行支护，未开展变形监测"},
    {"高支模未验收即浇筑", "高大模板支撑体系未经验收即进行混凝土浇筑"},
    {"塔吊安全装置失效", "塔式起重机力矩限制器、高度限位器失效"},
    {"脚手架连墙件缺失", "外脚手架连墙件设置数量不足，部分立杆悬空"},
    {"临时用电不规范", "施工现场临时用电未采用TN-S系统，配电箱未设漏电保护"},
    {NULL, NULL}};
static const hz_defect d_road[] = {
    {"急弯陡坡路段防护缺失", "临水临崖急弯陡坡路段未设置波形护栏和警示标志"},
    {"平交路口视距不良", "平交道口视距不良，未设置减速带和让行标志"},
    {"桥梁护栏损坏", "桥梁防撞护栏局部损坏，伸缩缝堵塞"},
    {"边坡落石隐患", "公路边坡存在危岩落石，未设置防护网"},
    {NULL, NULL}};
static const hz_defect d_fire[] = {
    {"疏散通道堵塞", "安全出口锁闭，疏散通道堆放杂物，应急照明损坏"},
    {"消防设施损坏", "室内消火栓无水，自动喷水灭火系统处于关闭状态"},
    {"电动车违规充电", "电动自行车在楼道内停放充电，私拉乱接电线"},
    {"三合一场所未分隔", "生产、储存、经营与住宿场所设置在同一建筑物内，未有效分隔"},
    {"彩钢板违规搭建", "违规使用易燃可燃彩钢夹芯板搭建库房"},
    {NULL, NULL}};
static const hz_defect d_gas[] = {
    {"燃气管道占压", "中压燃气管道被违章建筑占压，存在泄漏隐患"},
    {"未安装燃气泄漏报警装置", "餐饮场所使用瓶装液化石油气未安装可燃气体报警和自动切断装置"},
    {"气瓶超期未检", "供应站存放超期未检验钢瓶，充装记录不全"},
    {"调压设施腐蚀", "调压箱体及进出口管道锈蚀严重，阀门内漏"},
    {NULL, NULL}};
static const hz_defect d_dam[] = {{"坝体渗漏", "大坝背水坡出现散浸渗漏，坝脚有湿润区"},
                                  {"溢洪道淤堵", "溢洪道被杂物和淤积物堵塞，泄洪能力不足"},
                                  {"放水设施损坏", "放水涵管启闭设施锈蚀损坏，无法正常启闭"},
                                  {"无雨水情监测设施", "病险水库未安装雨水情监测和视频监控设施"},
                                  {NULL, NULL}};
static const hz_defect d_tailings[] = {
    {"干滩长度不足", "尾矿库干滩长度不足，安全超高不满足设计要求"},
    {"排洪设施堵塞", "排洪井、排洪隧洞局部堵塞，汛期排洪能力不足"},
    {"坝体浸润线偏高", "坝体浸润线埋深小于控制值，在线监测数据异常"},
    {NULL, NULL}};
static const hz_defect d_crowd[] = {
    {"消防车通道占用", "消防车通道被车辆占用，消防登高场地设置障碍物"},
    {"大型活动应急预案缺失", "大型活动未制定应急疏散预案，未配备足够安保人员"},
    {"疏散指示标志缺失", "部分楼层疏散指示标志和应急照明缺失，防火门闭门器损坏"},
    {NULL, NULL}};
static const hz_defect d_school[] = {
    {"校舍墙体开裂", "部分校舍墙体开裂，未进行安全鉴定"},
    {"食堂燃气无报警装置", "学校食堂使用燃气未安装可燃气体报警和自动切断装置"},
    {"宿舍消防器材过期", "学生宿舍灭火器过期失效，应急照明不亮"},
    {NULL, NULL}};
static const hz_defect d_scenic[] = {
    {"游步道护栏缺失", "景区临崖游步道护栏缺失，未设置安全警示标志"},
    {"游客超载无管控", "节假日游客超过最大承载量，未落实预约限流措施"},
    {"涉水项目救生设施不足", "涉水游乐项目未配备足够救生员和救生器材"},
    {NULL, NULL}};
static const hz_defect d_trade[] = {
    {"粉尘涉爆除尘系统不合规", "粉尘涉爆作业场所除尘系统未采取防爆措施，未定期清扫积尘"},
    {"有限空间作业无审批", "污水池等有限空间作业未执行先通风、再检测、后作业"},
    {"涉氨制冷车间隐患", "涉氨制冷车间未设置氨气泄漏报警装置，车间内人员密集"},
    {"机械防护缺失", "冲压、剪切设备防护罩缺失，未安装双手操作装置"},
    {"外包作业管理混乱", "外包施工队伍未纳入统一安全管理，作业前无安全交底"},
    {NULL, NULL}};
static const hz_defect d_equip[] = {
    {"电梯超期未检", "电梯超期未检验，紧急报警装置失效"},
    {"锅炉安全附件失效", "锅炉安全阀、压力表未定期校验，水位计不清晰"},
    {"起重机械带病运行", "桥式起重机制动器磨损严重，限位装置失效"},
    {"压力容器未登记", "压力容器未办理使用登记，操作人员无证上岗"},
    {NULL, NULL}};

static const hz_kind hz_kinds[] = {
    {"fire_safety", 20, 0.08, SITU_DEMO_URBAN,
     "{town}{brand}商贸城|{short}{brand}大酒店|{town}农贸市场|{short}{brand}KTV|{town}{brand}超市|"
     "{short}{brand}宾馆|{town}敬老院|{short}{brand}服装厂",
     NULL, d_fire},
    {"industrial_trade", 14, 0.10, SITU_DEMO_INDUSTRY,
     "{short}{brand}食品有限公司|{short}{brand}建材有限公司|永州{brand}纺织有限公司|"
     "{short}{brand}木业有限公司|永州{brand}粉末冶金有限公司|{short}{brand}铝业有限公司|"
     "{short}{brand}机械制造有限公司",
     NULL, d_trade},
    {"construction", 12, 0.12, SITU_DEMO_URBAN,
     "{short}{brand}建设工程有限公司{town}项目工地|{short}{road}改造工程项目部|"
     "{brand}置业{village}安置小区建设项目",
     NULL, d_build},
    {"road_traffic", 10, 0.10, SITU_DEMO_ANYWHERE,
     "G207国道{town}段|G322国道{town}段|S216省道{town}段|S322省道{town}段|县道{town}至{village}段|"
     "二广高速{short}段|泉南高速{short}段|厦蓉高速{short}段",
     "{short}公路建设养护中心", d_road},
    {"crowded_place", 5, 0.08, SITU_DEMO_URBAN,
     "{short}人民医院|{short}{brand}购物广场|{short}汽车站|{short}体育馆", NULL, d_crowd},
    {"crowded_place", 3, 0.08, SITU_DEMO_URBAN, "{town}中心学校|{short}第{k}中学", NULL, d_school},
    {"crowded_place", 2, 0.08, SITU_DEMO_HILLS, "{town}{village}景区", NULL, d_scenic},
    {"gas", 8, 0.12, SITU_DEMO_URBAN,
     "{short}华润燃气有限公司{town}门站|{town}{brand}液化气供应站|{short}{brand}燃气有限公司调压站|"
     "{town}{road}餐饮一条街",
     NULL, d_gas},
    {"hazardous_chemicals", 7, 0.25, SITU_DEMO_INDUSTRY,
     "永州{brand}化工有限公司|{short}{brand}化学品有限公司|{short}{brand}危险化学品经营部", NULL,
     d_chem},
    {"special_equipment", 7, 0.10, SITU_DEMO_INDUSTRY,
     "{short}{brand}锅炉房|{brand}{village}物流园|{short}{brand}商住楼|{brand}气体有限公司充装站",
     NULL, d_equip},
    {"reservoir_dam", 4, 0.25, SITU_DEMO_HILLS,
     "{town}{village}水库|{short}{village}山塘|{town}{village}电站拦河坝", "{town}水利管理站",
     d_dam},
    {"mining", 4, 0.25, SITU_DEMO_MINING,
     "{short}{village}煤矿|{brand}矿业有限公司{village}锰矿|{short}{village}石灰石矿|"
     "{brand}矿业有限公司{village}铅锌矿",
     NULL, d_mining},
    {"fireworks", 3, 0.12, SITU_DEMO_URBAN,
     "{town}{brand}烟花爆竹经营部|{short}{brand}烟花爆竹批发有限公司仓库", NULL, d_fireworks},
    {"tailings", 1, 0.35, SITU_DEMO_MINING,
     "{brand}矿业有限公司{village}尾矿库|{short}{village}尾矿库", NULL, d_tailings},
};

#define HZ_PER_COPY 3000

/* Found, deadline and rectified dates of one ledger entry, in days; the
 * open and rectifying ones are recent, and some of them are overdue. */
static void ledger_dates(situ__demo_gen *g, const char **status, long *found, long *deadline,
                         long *rectified)
{
    static const double w[] = {55, 27, 18};
    static const char *const st[] = {"rectified", "rectifying", "open"};
    long today = situ__demo_day(SITU_DEMO_AS_OF_Y, SITU_DEMO_AS_OF_M, SITU_DEMO_AS_OF_D);
    int s = situ__demo_rng_weighted(&g->rng, w, 3);
    *status = st[s];
    *rectified = -1;
    if (s == 0) {
        *found = today - situ__demo_rng_int(&g->rng, 30, 540);
        *deadline = *found + situ__demo_rng_int(&g->rng, 15, 120);
        *rectified = *found + situ__demo_rng_int(&g->rng, 3, (int)(*deadline - *found) + 20);
        *rectified = *rectified >= today ? today - 1 : *rectified;
    } else if (s == 1) {
        *found = today - situ__demo_rng_int(&g->rng, 5, 240);
        *deadline = *found + situ__demo_rng_int(&g->rng, 20, 180);
    } else {
        *found = today - situ__demo_rng_int(&g->rng, 1, 150);
        *deadline = *found + situ__demo_rng_int(&g->rng, 7, 90);
    }
}

static void hazard_fields(situ__demo_gen *g, const hz_kind *k, int t)
{
    situ__demo_feat *f = &g->feat;
    char buf[64];
    int nd = 0;
    while (k->defects[nd].label)
        nd++;
    const hz_defect *d = &k->defects[situ__demo_rng_int(&g->rng, 0, nd - 1)];
    const char *site = situ__demo_gen_expand(g, k->site, t);
    situ__demo_feat_text(f, "name", situ__demo_feat_printf(f, "%s%s", site, d->label));
    situ__demo_feat_text(f, "category", k->category);
    situ__demo_feat_text(f, "level",
                         situ__demo_rng_chance(&g->rng, k->major) ? "major" : "general");
    const char *status;
    long found, deadline, rectified;
    ledger_dates(g, &status, &found, &deadline, &rectified);
    situ__demo_feat_text(f, "status", status);
    situ__demo_feat_text(f, "found_on", situ__demo_date(found, buf, sizeof buf));
    situ__demo_feat_text(f, "deadline", situ__demo_date(deadline, buf, sizeof buf));
    if (rectified >= 0)
        situ__demo_feat_text(f, "rectified_on", situ__demo_date(rectified, buf, sizeof buf));
    situ__demo_feat_text(f, "responsible_unit",
                         k->unit ? situ__demo_gen_expand(g, k->unit, t) : site);
    situ__demo_feat_text(f, "responsible_person", situ__demo_person(&g->rng, buf, sizeof buf));
    situ__demo_feat_text(f, "phone", situ__demo_mobile(&g->rng, buf, sizeof buf));
    situ__demo_feat_text(f, "description", situ__demo_feat_printf(f, "%s。", d->detail));
}

int situ__demo_gen_hazards(situ__demo_gen *g, situ_err *err)
{
    double w[sizeof hz_kinds / sizeof hz_kinds[0]];
    int nk = (int)(sizeof hz_kinds / sizeof hz_kinds[0]);
    for (int i = 0; i < nk; i++)
        w[i] = hz_kinds[i].weight;
    situ__demo_gen_begin(g, SITU_C_HAZARDS);
    for (int j = 0; j < HZ_PER_COPY; j++) {
        const hz_kind *k = &hz_kinds[situ__demo_rng_weighted(&g->rng, w, nk)];
        double lon, lat, angle;
        int t = situ__demo_city_place(g->city, &g->rng, k->place, &lon, &lat, &angle, NULL);
        if (t < 0)
            return situ_err_set(err, SITU_EGEOM, "demo: no place for a %s hazard", k->category);
        situ__demo_gen_new(g, "HZ", t);
        hazard_fields(g, k, t);
        situ__demo_gen_point(g, lon, lat);
        int rc = situ__demo_gen_emit(g, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- major hazard sources ------------------------------------------------------- */

typedef struct hs_kind {
    const char *industry;
    double weight;
    situ__demo_place place;
    const char *enterprise; /* template */
    const char *unit;       /* template: the installation */
    const char *substances; /* template: what it holds */
    double grade_w[4];      /* grade 1 (highest) .. 4 */
} hs_kind;

static const hs_kind hs_kinds[] = {
    {"hazardous_chemicals",
     30,
     SITU_DEMO_INDUSTRY,
     "永州{brand}化工有限公司|湖南{brand}化学工业有限公司|{short}{brand}精细化工有限公司",
     "罐区|生产装置区|仓库区",
     "液氨|液氯|甲醇|硫酸、盐酸|硝酸铵|苯、甲苯|过氧化氢|二硫化碳",
     {6, 16, 38, 40}},
    {"gas",
     20,
     SITU_DEMO_URBAN,
     "{short}华润燃气有限公司|{short}{brand}燃气有限公司|{short}{brand}液化气有限公司",
     "LNG储配站|液化石油气储配站|CNG加气母站",
     "液化石油气|天然气|液化天然气",
     {3, 12, 35, 50}},
    {"oil_depot",
     12,
     SITU_DEMO_INDUSTRY,
     "中国石化湖南永州{short}油库|中国石油{short}{brand}油库|{short}{brand}石油有限公司",
     "油库区|储油罐区",
     "汽油、柴油|汽油|柴油",
     {8, 20, 40, 32}},
    {"mining",
     10,
     SITU_DEMO_MINING,
     "{brand}矿业有限公司|{short}{brand}民爆器材有限公司",
     "炸药库|民爆物品仓库",
     "乳化炸药、雷管|硝酸铵|工业炸药",
     {2, 10, 38, 50}},
    {"fireworks",
     8,
     SITU_DEMO_ANYWHERE,
     "{short}{brand}烟花爆竹批发有限公司",
     "仓储区|成品仓库",
     "烟花爆竹成品|黑火药、烟火药",
     {2, 8, 40, 50}},
    {"metallurgy",
     6,
     SITU_DEMO_INDUSTRY,
     "{short}{brand}冶金有限公司|湖南{brand}钢铁有限公司",
     "煤气柜区|制氧站",
     "煤气(一氧化碳)|氧气|氢气",
     {10, 20, 40, 30}},
    {"power",
     5,
     SITU_DEMO_INDUSTRY,
     "国家电投永州{short}发电有限公司|湖南{brand}电力有限公司",
     "脱硝液氨储存区|制氢站",
     "液氨|氢气",
     {5, 20, 40, 35}},
    {"pharmaceutical",
     6,
     SITU_DEMO_INDUSTRY,
     "湖南{brand}药业有限公司|永州{brand}制药有限公司",
     "溶剂罐区|原料药车间",
     "乙醇|甲苯|丙酮|甲醇、乙醇",
     {2, 10, 40, 48}},
};

#define HS_PER_COPY 300

/* GB 18218-2018: R >= 100 grade 1, 50..100 grade 2, 10..50 grade 3, < 10
 * grade 4; the impact radius grows with the grade. */
static const double r_range[4][2] = {{100, 450}, {50, 100}, {10, 50}, {1, 10}};
static const double radius_range[4][2] = {{2000, 3000}, {1200, 2000}, {600, 1200}, {300, 600}};

static void source_fields(situ__demo_gen *g, const hs_kind *k, int t)
{
    situ__demo_feat *f = &g->feat;
    char buf[64];
    int grade = 1 + situ__demo_rng_weighted(&g->rng, k->grade_w, 4);
    const char *ent = situ__demo_gen_expand(g, k->enterprise, t);
    const char *unit = situ__demo_gen_expand(g, k->unit, t);
    situ__demo_feat_text(f, "name", situ__demo_feat_printf(f, "%s%s", ent, unit));
    situ__demo_feat_text(f, "enterprise", ent);
    situ__demo_feat_int(f, "grade", grade);
    situ__demo_feat_text(f, "industry", k->industry);
    situ__demo_feat_text(f, "substances", situ__demo_gen_expand(g, k->substances, t));
    situ__demo_feat_real(
        f, "r_value", situ__demo_rng_range(&g->rng, r_range[grade - 1][0], r_range[grade - 1][1]),
        2);
    double radius =
        situ__demo_rng_range(&g->rng, radius_range[grade - 1][0], radius_range[grade - 1][1]);
    situ__demo_feat_real(f, "impact_radius_m", 10 * nearbyint(radius / 10), 0);
    situ__demo_feat_text(f, "contact", situ__demo_person(&g->rng, buf, sizeof buf));
    if (situ__demo_rng_chance(&g->rng, 0.6))
        situ__demo_feat_text(f, "phone", situ__demo_landline(&g->rng, buf, sizeof buf));
    else
        situ__demo_feat_text(f, "phone", situ__demo_mobile(&g->rng, buf, sizeof buf));
}

int situ__demo_gen_hazard_sources(situ__demo_gen *g, situ_err *err)
{
    int nk = (int)(sizeof hs_kinds / sizeof hs_kinds[0]);
    double w[sizeof hs_kinds / sizeof hs_kinds[0]];
    for (int i = 0; i < nk; i++)
        w[i] = hs_kinds[i].weight;
    situ__demo_gen_begin(g, SITU_C_HAZARD_SOURCES);
    for (int j = 0; j < HS_PER_COPY; j++) {
        const hs_kind *k = &hs_kinds[situ__demo_rng_weighted(&g->rng, w, nk)];
        double lon, lat, angle;
        int t = situ__demo_city_place(g->city, &g->rng, k->place, &lon, &lat, &angle, NULL);
        if (t < 0)
            return situ_err_set(err, SITU_EGEOM, "demo: no place for a %s source", k->industry);
        situ__demo_gen_new(g, "HS", t);
        source_fields(g, k, t);
        situ__demo_gen_point(g, lon, lat);
        int rc = situ__demo_gen_emit(g, err);
        if (rc)
            return rc;
    }
    return 0;
}
