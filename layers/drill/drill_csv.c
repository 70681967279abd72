/*
 * drill_csv.c: the scenario as planners write it, a spreadsheet saved as
 * CSV (see situ_drill_import_csv in situ/drill.h). Owns the text encoding
 * (a UTF-8 BOM, UTF-8, else GBK read as GB18030 the way `situ load` reads
 * undeclared text), RFC 4180 records (quotes, "" escapes, line breaks in a
 * cell, CRLF), the header's English and Chinese column names, and turning
 * each row into the inject object of a JSON scenario, which drill.c reads:
 * one reader, one set of checks for both forms.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_int.h"

enum { COL_ID, COL_OFFSET, COL_DEPT, COL_KIND, COL_PAYLOAD, COL_FILE, COL_EXPECTED, NCOLS };

/* Column names (lower case, spaces for '_'), English then Chinese. */
static const char *const col_names[NCOLS][9] = {
    [COL_ID] = {"id", "inject id", "inject", "编号", "序号", NULL},
    [COL_OFFSET] = {"offset", "time offset", "time", "时间", "时间偏移", "时间节点", "偏移", NULL},
    [COL_DEPT] = {"dept", "department", "sender", "sender department", "发送部门", "部门",
                  "发送单位", NULL},
    [COL_KIND] = {"kind", "inject kind", "type", "类型", "注入类型", "事件类型", NULL},
    [COL_PAYLOAD] = {"payload", "payload or payload file", "内容", "载荷", "消息内容", NULL},
    [COL_FILE] = {"payload file", "载荷文件", "文件", NULL},
    [COL_EXPECTED] = {"expected action", "expected", "预期行动", "预期响应", "预期处置", NULL},
};

/* Inject kinds as planners name them. */
static const char *const kind_alias[][2] = {
    {"观测", "observation"},
    {"监测", "observation"},
    {"监测数据", "observation"},
    {"视频", "camera"},
    {"摄像头", "camera"},
    {"视频监控", "camera"},
    {"要素更新", "feature_update"},
    {"数据更新", "feature_update"},
    {"预警", "alert"},
    {"站点", "station"},
    {"封路", "closure"},
    {"道路封闭", "closure"},
    {"交通管制", "closure"},
    {"解除封闭", "closure_end"},
    {"恢复通行", "closure_end"},
    {"CAP", "cap"},
    {"备注", "note"},
    {"导调", "note"},
    {"导调说明", "note"},
    {"控制员备注", "note"},
    {"说明", "note"},
};

/* ---- text --------------------------------------------------------------------------- */

/* The text as UTF-8 (to free): as it is, past a BOM, or read as GBK. */
static char *to_utf8(const char *p, size_t n, int *out_gbk, situ_err *err)
{
    int bom = n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3);
    char *copy = memchr(p, '\0', n) ? NULL : malloc(n + 1);
    *out_gbk = 0;
    if (copy) {
        memcpy(copy, p + 3 * bom, n - 3 * (size_t)bom);
        copy[n - 3 * (size_t)bom] = '\0';
        if (situ_utf8_valid(copy))
            return copy;
        free(copy);
        if (bom)
            return situ_err_set(err, SITU_EFORMAT,
                                "the CSV opens with a UTF-8 BOM but is not "
                                "UTF-8"),
                   NULL;
    }
    char *gbk = situ_utf8_from("GB18030", p, n);
    if (!gbk)
        return situ_err_set(err, SITU_EFORMAT, "the CSV is neither UTF-8 nor GBK text"), NULL;
    *out_gbk = 1;
    return gbk;
}

/* ---- records ------------------------------------------------------------------------ */

typedef struct csv {
    const char *p;
    char sep;
    int line; /* of the next record */
} csv;

/* Reads one record's cells (to free, each and the array) into *out; the
 * count, 0 at the end, -1 for a quote left open. */
static int record(csv *c, char ***out, int *out_line)
{
    if (!*c->p)
        return 0;
    *out_line = c->line;
    char **cells = NULL;
    size_t ncells = 0, cap = 0;
    for (;;) {
        situ_buf b;
        situ_buf_init(&b);
        if (*c->p == '"') {
            for (c->p++;; c->p++) {
                if (!*c->p) {
                    situ_buf_dispose(&b);
                    goto open_quote;
                }
                if (*c->p == '"' && c->p[1] != '"')
                    break;
                if (*c->p == '"')
                    c->p++;
                c->line += *c->p == '\n';
                situ_buf_addc(&b, *c->p);
            }
            c->p++;
        }
        while (*c->p && *c->p != c->sep && *c->p != '\n' && *c->p != '\r')
            situ_buf_addc(&b, *c->p++);
        situ_buf_addc(&b, '\0');
        if (b.oom || situ_array_grow((void **)&cells, &cap, ncells, 1, sizeof *cells)) {
            situ_buf_dispose(&b);
            goto open_quote;
        }
        cells[ncells++] = situ_buf_steal(&b, NULL);
        if (*c->p != c->sep)
            break;
        c->p++;
    }
    if (*c->p == '\r')
        c->p++;
    if (*c->p == '\n')
        c->p++;
    c->line++;
    *out = cells;
    return (int)ncells;
open_quote:
    for (size_t i = 0; i < ncells; i++)
        free(cells[i]);
    free(cells);
    return -1;
}

static void free_cells(char **cells, int n)
{
    for (int i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

/* ---- the header --------------------------------------------------------------------- */

static void trim(char *s)
{
    char *e = s + strlen(s), *b = s;
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    while (isspace((unsigned char)*b))
        b++;
    memmove(s, b, strlen(b) + 1);
}

static int column_of(const char *name)
{
    char k[128];
    snprintf(k, sizeof k, "%s", name);
    for (char *p = k; *p; p++)
        *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
    for (int c = 0; c < NCOLS; c++)
        for (const char *const *a = col_names[c]; *a; a++)
            if (!strcmp(*a, k))
                return c;
    return -1;
}

static int read_header(char **cells, int n, int col[NCOLS], situ_err *err)
{
    for (int c = 0; c < NCOLS; c++)
        col[c] = -1;
    for (int i = 0; i < n; i++) {
        trim(cells[i]);
        int c = column_of(cells[i]);
        if (c < 0 && *cells[i])
            return situ_err_set(err, SITU_EFORMAT,
                                "CSV column %d '%.40s' is not offset (时间), dept (发送部门), "
                                "kind (类型), payload (内容), payload_file (载荷文件), "
                                "expected_action (预期行动) or id (编号)",
                                i + 1, cells[i]);
        if (c >= 0 && col[c] >= 0)
            return situ_err_set(err, SITU_EFORMAT, "CSV columns %d and %d are both %s", col[c] + 1,
                                i + 1, col_names[c][0]);
        if (c >= 0)
            col[c] = i;
    }
    static const int need[] = {COL_OFFSET, COL_DEPT, COL_KIND};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        if (col[need[k]] < 0)
            return situ_err_set(err, SITU_EFORMAT, "the CSV header names no %s column",
                                col_names[need[k]][0]);
    if (col[COL_PAYLOAD] < 0 && col[COL_FILE] < 0)
        return situ_err_set(err, SITU_EFORMAT, "the CSV header names no payload column");
    return 0;
}

/* ---- rows ---------------------------------------------------------------------------- */

/* "[T+]H:MM[:SS]" as ISO 8601 into out; 0, or -1 when it is not that form. */
static int clock_offset(const char *s, char out[48])
{
    long long v[3] = {0, 0, 0};
    int k = 0;
    if (!strncmp(s, "T+", 2))
        s += 2;
    for (size_t n; k < 3; k++) {
        n = strspn(s, "0123456789");
        if (n < 1 || n > (k ? 2u : 3u) || (k && n != 2))
            return -1;
        v[k] = strtoll(s, NULL, 10);
        s += n;
        if (*s != ':')
            break;
        s++;
    }
    if (*s || k == 0 || k > 2 || v[1] > 59 || v[2] > 59)
        return -1;
    situ_drill_duration_format((v[0] * 3600 + v[1] * 60 + v[2]) * 1000, out);
    return 0;
}

/* 1 when a payload cell is only a relative file name. */
static int names_file(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && !strpbrk(s, " \t\r\n{<\"") &&
           (!strcmp(s + n - 5, ".json") || !strcmp(s + n - 4, ".xml") ||
            !strcmp(s + n - 4, ".txt"));
}

static const char *kind_of(const char *k)
{
    for (size_t i = 0; i < sizeof kind_alias / sizeof kind_alias[0]; i++)
        if (!strcmp(kind_alias[i][0], k))
            return kind_alias[i][1];
    return k;
}

static void set_cell(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *row_inject(char **cells, int n, const int col[NCOLS], int line)
{
    const char *v[NCOLS];
    for (int i = 0; i < n; i++)
        trim(cells[i]);
    for (int c = 0; c < NCOLS; c++)
        v[c] = col[c] >= 0 && col[c] < n ? cells[col[c]] : "";
    char id[32], off[48];
    snprintf(id, sizeof id, "row-%d", line);
    json_t *o = json_object();
    set_cell(o, "id", *v[COL_ID] ? v[COL_ID] : id);
    set_cell(o, "offset", clock_offset(v[COL_OFFSET], off) ? v[COL_OFFSET] : off);
    set_cell(o, "dept", v[COL_DEPT]);
    set_cell(o, "kind", kind_of(v[COL_KIND]));
    int file = names_file(v[COL_PAYLOAD]);
    set_cell(o, file ? "payload_file" : "payload", v[COL_PAYLOAD]);
    set_cell(o, "payload_file", v[COL_FILE]);
    set_cell(o, "expected_action", v[COL_EXPECTED]);
    return o;
}

static int blank(char **cells, int n)
{
    for (int i = 0; i < n; i++)
        for (const char *p = cells[i]; *p; p++)
            if (!isspace((unsigned char)*p))
                return 0;
    return 1;
}

static json_t *list(const char *const *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The rows after the header as a JSON scenario document. */
static int read_rows(csv *c, const int col[NCOLS], const situ_drill_csv_opts *o, json_t *root,
                     situ_err *err)
{
    json_t *injects = json_array();
    json_object_set_new(root, "injects", injects);
    char **cells;
    int n, line;
    while ((n = record(c, &cells, &line)) > 0) {
        if (!blank(cells, n) && json_array_size(injects) == SITU_DRILL_MAX_INJECTS) {
            free_cells(cells, n);
            return situ_err_set(err, SITU_ELIMIT, "over %d injects", SITU_DRILL_MAX_INJECTS);
        }
        if (!blank(cells, n))
            json_array_append_new(injects, row_inject(cells, n, col, line));
        free_cells(cells, n);
    }
    if (n < 0)
        return situ_err_set(err, SITU_EFORMAT, "CSV line %d: a quoted cell is never closed",
                            c->line);
    set_cell(root, "exercise_id", o->exercise_id);
    set_cell(root, "title", o->title);
    if (o->nobjectives)
        json_object_set_new(root, "objectives", list(o->objectives, o->nobjectives));
    if (o->narea)
        json_object_set_new(root, "area", list(o->area, o->narea));
    return 0;
}

int situ_drill_import_csv(const char *text, size_t n, const char *base_dir,
                          const situ_drill_csv_opts *o, situ_drill_scenario **out, int *out_gbk,
                          situ_err *err)
{
    int gbk, col[NCOLS], rc;
    char *utf8 = to_utf8(text, n, &gbk, err), **cells = NULL;
    if (!utf8)
        return err ? err->code : SITU_EFORMAT;
    size_t first = strcspn(utf8, "\n");
    csv c = {utf8, memchr(utf8, '\t', first) && !memchr(utf8, ',', first) ? '\t' : ',', 1};
    int nh = record(&c, &cells, &(int){0});
    json_t *root = json_object();
    if (nh <= 0)
        rc = situ_err_set(err, SITU_EFORMAT, "the CSV has no header row");
    else if (!(rc = read_header(cells, nh, col, err)) && !(rc = read_rows(&c, col, o, root, err)))
        rc = situ__drill_from_json(root, base_dir, out, err);
    if (nh > 0)
        free_cells(cells, nh);
    json_decref(root);
    free(utf8);
    if (!rc && out_gbk)
        *out_gbk = gbk;
    return rc;
}
