/*
 * demo_text.c: the demo generator's randomness and words. Owns the PRNG
 * (xoshiro256** seeded through splitmix64: never the clock, never rand())
 * and the Chinese names, phone numbers, village and brand names and dates
 * that a real Yongzhou ledger would hold. Knows nothing of geometry.
 */
#include "demo_int.h"

#include <stdio.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void situ__demo_rng_init(situ__demo_rng *r, uint64_t seed, uint64_t stream, uint64_t sub)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL) ^ (sub * 0x8CB92BA72F3D8DD7ULL);
    splitmix64(&x);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t situ__demo_rng_next(situ__demo_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double situ__demo_rng_unit(situ__demo_rng *r)
{
    return (double)(situ__demo_rng_next(r) >> 11) * 0x1.0p-53;
}

double situ__demo_rng_range(situ__demo_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * situ__demo_rng_unit(r);
}

int situ__demo_rng_int(situ__demo_rng *r, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)(situ__demo_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Box-Muller; one of the pair is dropped to keep the state simple. */
double situ__demo_rng_normal(situ__demo_rng *r)
{
    double u = situ__demo_rng_unit(r), v = situ__demo_rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

int situ__demo_rng_chance(situ__demo_rng *r, double p)
{
    return situ__demo_rng_unit(r) < p;
}

int situ__demo_rng_weighted(situ__demo_rng *r, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i];
    double x = situ__demo_rng_unit(r) * sum;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ---- words -------------------------------------------------------------- */

/* Common surnames of southern Hunan, the Yao ones (盘, 奉, 赵) included. */
static const char *const surnames[] = {"蒋",   "唐", "李", "王", "陈", "刘", "周", "杨", "张", "黄",
                                       "邓",   "何", "胡", "雷", "彭", "谢", "文", "罗", "廖", "朱",
                                       "曾",   "伍", "盘", "奉", "赵", "冯", "郑", "吴", "曹", "宋",
                                       "欧阳", "邹", "龙", "田", "钟", "秦", "毛", "汤"};
static const char *const given[] = {
    "建", "国", "华", "明", "军", "平", "伟", "勇", "强", "志", "红", "芳", "丽", "英",
    "敏", "娟", "霞", "玲", "辉", "文", "斌", "杰", "林", "波", "峰", "涛", "鹏", "海",
    "燕", "春", "秋", "云", "新", "亮", "刚", "宏", "友", "德", "成", "荣", "桂", "秀",
    "兰", "金", "玉", "永", "湘", "潇", "胜", "利", "清", "卫", "东", "晓", "俊", "超"};

char *situ__demo_person(situ__demo_rng *r, char *buf, size_t n)
{
    if (situ__demo_rng_chance(r, 0.25))
        snprintf(buf, n, "%s%s", SITU_DEMO_PICK(r, surnames), SITU_DEMO_PICK(r, given));
    else
        snprintf(buf, n, "%s%s%s", SITU_DEMO_PICK(r, surnames), SITU_DEMO_PICK(r, given),
                 SITU_DEMO_PICK(r, given));
    return buf;
}

char *situ__demo_mobile(situ__demo_rng *r, char *buf, size_t n)
{
    static const char *const prefix[] = {
        "139", "138", "137", "135", "158", "159", "150", "151", "152", "157", "182", "187", "188",
        "130", "131", "155", "156", "186", "133", "153", "180", "189", "177", "199", "173", "191"};
    snprintf(buf, n, "%s%08d", SITU_DEMO_PICK(r, prefix), situ__demo_rng_int(r, 0, 99999999));
    return buf;
}

/* Yongzhou's area code is 0746; local numbers have 7 digits. */
char *situ__demo_landline(situ__demo_rng *r, char *buf, size_t n)
{
    snprintf(buf, n, "0746-%d%06d", situ__demo_rng_int(r, 2, 8), situ__demo_rng_int(r, 0, 999999));
    return buf;
}

char *situ__demo_village(situ__demo_rng *r, char *buf, size_t n)
{
    static const char *const first[] = {
        "大", "小", "新", "老", "上", "下", "石", "马", "黄", "白", "枫", "竹", "桐", "松",
        "梅", "桃", "龙", "凤", "双", "三", "五", "九", "金", "青", "清", "长", "高", "东",
        "南", "西", "北", "中", "茶", "杉", "樟", "柑", "牛", "羊", "鹿", "花", "田", "沙"};
    static const char *const second[] = {
        "塘", "坪", "冲", "岭", "田", "湾", "江", "桥", "铺", "山", "洞", "源", "头", "坝", "岗",
        "口", "溪", "湖", "井", "洲", "岩", "圩", "庄", "园", "市", "坳", "峒", "垌", "背", "边"};
    if (situ__demo_rng_chance(r, 0.2))
        snprintf(buf, n, "%s家%s", SITU_DEMO_PICK(r, surnames), SITU_DEMO_PICK(r, second));
    else
        snprintf(buf, n, "%s%s", SITU_DEMO_PICK(r, first), SITU_DEMO_PICK(r, second));
    return buf;
}

char *situ__demo_brand(situ__demo_rng *r, char *buf, size_t n)
{
    static const char *const chars[] = {"湘", "永", "潇", "舜", "恒", "鑫", "盛", "达", "兴",
                                        "宏", "源", "泰", "华", "瑞", "丰", "祥", "安", "通",
                                        "金", "宝", "福", "顺", "康", "旺", "隆", "昌", "嘉",
                                        "瑶", "诚", "信", "宇", "创", "德", "新", "科", "力"};
    const char *a = SITU_DEMO_PICK(r, chars), *b = SITU_DEMO_PICK(r, chars);
    while (b == a)
        b = SITU_DEMO_PICK(r, chars);
    snprintf(buf, n, "%s%s", a, b);
    return buf;
}

char *situ__demo_road(situ__demo_rng *r, char *buf, size_t n)
{
    static const char *const roads[] = {"潇湘路",   "人民路",   "建设路", "解放路", "中山路",
                                        "文化路",   "新华路",   "迎宾路", "河西路", "滨江路",
                                        "车站路",   "工业路",   "学院路", "凤凰路", "育才路",
                                        "长丰大道", "零陵北路", "舜德路", "九嶷路", "濂溪路"};
    snprintf(buf, n, "%s", SITU_DEMO_PICK(r, roads));
    return buf;
}

/* Howard Hinnant's days_from_civil and civil_from_days (proleptic Gregorian). */
long situ__demo_day(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

char *situ__demo_date(long day, char *buf, size_t n)
{
    long z = day + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);
    snprintf(buf, n, "%04ld-%02ld-%02ld", y, m, d);
    return buf;
}
