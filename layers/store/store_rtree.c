/*
 * store_rtree.c: a spatial index packed in one pass, for a bulk write into
 * an empty collection (store_bulk.c). SQLite's R-tree inserts row by row
 * with the R* algorithm (choose a leaf, split or reinsert); here the rows'
 * boxes are gathered first (situ__rtree_add), sorted into nodes by
 * Sort-Tile-Recursive level by level, and the nodes written straight into
 * the R-tree's shadow tables in SQLite's on-disk format (ext/rtree/rtree.c)
 * by situ__rtree_write:
 *   <t>_node(nodeno, data)      node 1 is the root; data is 2 bytes of depth
 *                               (the root's; 0 elsewhere), 2 of cell count,
 *                               then cells of an 8-byte id (a row's rowid in
 *                               a leaf, a child's nodeno above) and float32
 *                               xmin, xmax, ymin, ymax, all big-endian, the
 *                               rest zeros: every node as long as the root
 *   <t>_parent(nodeno, parent)  every node but the root
 *   <t>_rowid(rowid, nodeno)    every row: its leaf
 * A row's bounds are those the per-row path stores (RTreeAlign's "%1.12f"
 * text of each, read back as a double, then SQLite's float32 rounding: min
 * down, max up), so the index holds the same (rowid, bounds) as one built
 * row by row, and SQLite's own code inserts, moves and deletes in it later.
 */
#include "store_private.h"

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rtree.c's rounding of a double to a float32 bound */
#define RND_TOWARDS (1.0 - 1.0 / 8388608.0)
#define RND_AWAY (1.0 + 1.0 / 8388608.0)

/* The float32 SQLite's R-tree stores for a lower (up 0) or upper (up 1)
 * bound d: the nearest float, or, when that lies inside the box, d scaled
 * outwards by about one float step (rtree.c's rtreeValueDown/Up). */
static float rtree_value(double d, int up)
{
    float f = (float)d;
    if (up ? f < d : f > d)
        f = (float)(d * ((d < 0) != up ? RND_AWAY : RND_TOWARDS));
    return f;
}

/* 1 when rtree_value is the same for every double in [lo, hi]: no float,
 * half-way point between floats or scaled rounding step lies inside. */
static int rtree_value_stable(double lo, double hi, int up)
{
    if ((lo < 0) != (hi < 0))
        return 0;
    float flo = (float)lo, fhi = (float)hi;
    if (flo != fhi)
        return 0;
    int wlo = up ? flo < lo : flo > lo, whi = up ? fhi < hi : fhi > hi;
    if (wlo != whi)
        return 0;
    double k = (lo < 0) != up ? RND_AWAY : RND_TOWARDS;
    return !wlo || (float)(lo * k) == (float)(hi * k);
}

/* The bound SQLite stores for x through RTreeAlign: x printed "%1.12f", read
 * back, rounded by rtree_value. That text moves x by less than delta (12
 * decimals, at most 16 significant digits, then one rounding); when no step
 * of rtree_value lies within delta of x, x gives the same float directly.
 * Otherwise SQLite computes it (r->align). Returns an SQLite code. */
static int align(situ__rtree_rows *r, sqlite3 *db, double x, int up, float *out)
{
    double delta = 2e-12 + fabs(x) * 1e-14;
    if (rtree_value_stable(x - delta, x + delta, up)) {
        *out = rtree_value(x, up);
        return SQLITE_OK;
    }
    int rc = SQLITE_OK;
    if (!r->align)
        rc = sqlite3_prepare_v2(db, "SELECT CAST(printf('%1.12f', ?1) AS REAL)", -1, &r->align,
                                NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_double(r->align, 1, x);
    if (sqlite3_step(r->align) == SQLITE_ROW)
        *out = rtree_value(sqlite3_column_double(r->align, 0), up);
    rc = sqlite3_reset(r->align);
    r->nslow++;
    return rc;
}

int situ__rtree_add(situ__rtree_rows *r, sqlite3 *db, long long id, const double mbr[4])
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        situ__rtree_cell *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return SQLITE_NOMEM;
        r->v = v, r->cap = cap;
    }
    situ__rtree_cell *c = &r->v[r->n];
    c->id = id;
    /* cells hold xmin, xmax, ymin, ymax; mbr is minx, miny, maxx, maxy */
    static const int from[4] = {0, 2, 1, 3};
    for (int i = 0; i < 4; i++) {
        int rc = align(r, db, mbr[from[i]], i & 1, &c->b[i]);
        if (rc != SQLITE_OK)
            return rc;
    }
    r->n++;
    return SQLITE_OK;
}

void situ__rtree_rows_dispose(situ__rtree_rows *r)
{
    free(r->v);
    sqlite3_finalize(r->align);
    memset(r, 0, sizeof *r);
}

/* ---- packing ------------------------------------------------------------ */

/* Sort keys: twice the centre on x (b[0] + b[1]) or y, ties by id. */
static int by_x(const void *a, const void *b)
{
    const situ__rtree_cell *p = a, *q = b;
    double kp = (double)p->b[0] + p->b[1], kq = (double)q->b[0] + q->b[1];
    return kp < kq ? -1 : kp > kq ? 1 : (p->id > q->id) - (p->id < q->id);
}

static int by_y(const void *a, const void *b)
{
    const situ__rtree_cell *p = a, *q = b;
    double kp = (double)p->b[2] + p->b[3], kq = (double)q->b[2] + q->b[3];
    return kp < kq ? -1 : kp > kq ? 1 : (p->id > q->id) - (p->id < q->id);
}

/* One level of the tree: its cells (those of its nodes, in node order) and
 * where each node starts (node k holds cell[start[k] .. start[k + 1])). */
typedef struct level {
    situ__rtree_cell *cell;
    size_t ncell, nnode;
    size_t *start; /* nnode + 1 */
} level;

/* Sort-Tile-Recursive: orders cells into nodes of at most m, each (but in
 * a tree of one level) at least half full: sqrt(nodes) vertical slices by
 * centre x, each cut by centre y. Fills L->start and L->nnode. */
static int pack(level *L, size_t m)
{
    size_t n = L->ncell, want = (n + m - 1) / m;
    size_t nslice = (size_t)ceil(sqrt((double)want)), k = 0;
    L->start = malloc((want + nslice + 1) * sizeof *L->start);
    if (!L->start)
        return SQLITE_NOMEM;
    qsort(L->cell, n, sizeof *L->cell, by_x);
    for (size_t s = 0; s < nslice; s++) {
        size_t lo = n * s / nslice, len = n * (s + 1) / nslice - lo;
        size_t q = (len + m - 1) / m;
        qsort(L->cell + lo, len, sizeof *L->cell, by_y);
        for (size_t j = 0; j < q; j++)
            L->start[k++] = lo + len * j / q;
    }
    L->start[k] = n;
    L->nnode = k;
    return SQLITE_OK;
}

/* The cells of the level above L: one per node of L, its id the node's index
 * in L, its box the union of the node's cells. Malloc'd; NULL when out of
 * memory. */
static situ__rtree_cell *parents(const level *L)
{
    situ__rtree_cell *up = malloc((L->nnode ? L->nnode : 1) * sizeof *up);
    for (size_t k = 0; up && k < L->nnode; k++) {
        const situ__rtree_cell *c = &L->cell[L->start[k]];
        up[k] = (situ__rtree_cell){.id = (long long)k, .b = {c->b[0], c->b[1], c->b[2], c->b[3]}};
        for (c++; c < &L->cell[L->start[k + 1]]; c++) {
            up[k].b[0] = fminf(up[k].b[0], c->b[0]), up[k].b[1] = fmaxf(up[k].b[1], c->b[1]);
            up[k].b[2] = fminf(up[k].b[2], c->b[2]), up[k].b[3] = fmaxf(up[k].b[3], c->b[3]);
        }
    }
    return up;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct writer {
    sqlite3 *db;
    sqlite3_stmt *node, *parent, *rowid;
    unsigned char *blob;
    int size; /* bytes per node */
} writer;

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static int step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int rc2 = sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc2 != SQLITE_OK ? rc2 : rc;
}

/* Writes node nodeno of depth depth (written on the root only) holding
 * cells c[0..n), child ids offset by id0 (0 in a leaf: rowids). */
static int write_node(writer *w, long long nodeno, int depth, const situ__rtree_cell *c, size_t n,
                      long long id0)
{
    memset(w->blob, 0, (size_t)w->size);
    put_be(w->blob, nodeno == 1 ? (uint64_t)depth : 0, 2);
    put_be(w->blob + 2, n, 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = w->blob + 4 + 24 * i;
        put_be(p, (uint64_t)(c[i].id + id0), 8);
        for (int j = 0; j < 4; j++) {
            uint32_t u;
            memcpy(&u, &c[i].b[j], 4);
            put_be(p + 8 + 4 * j, u, 4);
        }
    }
    sqlite3_bind_int64(w->node, 1, nodeno);
    sqlite3_bind_blob(w->node, 2, w->blob, w->size, SQLITE_STATIC);
    return step(w->node);
}

/* A cell's node: its rowid or child, and the node it sits on. */
typedef struct link {
    long long id, node;
} link;

static int by_id(const void *a, const void *b)
{
    const link *p = a, *q = b;
    return (p->id > q->id) - (p->id < q->id);
}

/* Orders l by id: by counting when the ids are dense (a new table's fids,
 * node numbers), else by sorting. Returns 0, or -1 when out of memory. */
static int order_by_id(link *l, size_t n)
{
    long long lo = n ? l[0].id : 0, hi = lo;
    for (size_t i = 1; i < n; i++)
        lo = l[i].id < lo ? l[i].id : lo, hi = l[i].id > hi ? l[i].id : hi;
    if (n < 2 || (unsigned long long)(hi - lo) > 2 * (unsigned long long)n + 64) {
        qsort(l, n, sizeof *l, by_id);
        return 0;
    }
    size_t span = (size_t)(hi - lo) + 1, k = 0;
    long long *node = calloc(span, sizeof *node); /* 0: no such id (nodes are >= 1) */
    if (!node)
        return -1;
    for (size_t i = 0; i < n; i++)
        node[l[i].id - lo] = l[i].node;
    for (size_t j = 0; j < span; j++)
        if (node[j])
            l[k++] = (link){lo + (long long)j, node[j]};
    free(node);
    return 0;
}

/* Writes pairs (id, node), ids distinct, into st (the _rowid or _parent
 * table) in id order, which SQLite appends fastest. Reorders l. */
static int write_links(sqlite3_stmt *st, link *l, size_t n)
{
    int rc = order_by_id(l, n) ? SQLITE_NOMEM : SQLITE_OK;
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        sqlite3_bind_int64(st, 1, l[i].id);
        sqlite3_bind_int64(st, 2, l[i].node);
        rc = step(st);
    }
    return rc;
}

/* Writes the nodes of levels lv[0..depth) below the root and the root
 * (holding root[0..nroot)), numbered breadth first from the root (1): level
 * d's node k is base[d] + k. The links of every cell go to _rowid (leaves)
 * and _parent. */
static int write_tree(writer *w, level *lv, int depth, const situ__rtree_cell *root, size_t nroot)
{
    long long base[64];
    size_t nlink = 0, nrow = depth ? lv[0].ncell : nroot;
    for (int d = depth - 1; d >= 0; d--)
        base[d] = d == depth - 1 ? 2 : base[d + 1] + (long long)lv[d + 1].nnode;
    for (int d = 1; d < depth; d++)
        nlink += lv[d].ncell;
    link *rows = malloc((nrow ? nrow : 1) * sizeof *rows);
    link *kids = malloc((nlink + nroot + 1) * sizeof *kids);
    int rc = rows && kids ? SQLITE_OK : SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = write_node(w, 1, depth, root, nroot, depth ? base[depth - 1] : 0);
    nlink = 0;
    for (size_t i = 0; rc == SQLITE_OK && i < nroot; i++)
        if (depth)
            kids[nlink++] = (link){root[i].id + base[depth - 1], 1};
        else
            rows[i] = (link){root[i].id, 1};
    for (int d = depth - 1; d >= 0 && rc == SQLITE_OK; d--) {
        for (size_t k = 0; k < lv[d].nnode && rc == SQLITE_OK; k++) {
            long long nodeno = base[d] + (long long)k;
            size_t a = lv[d].start[k], b = lv[d].start[k + 1];
            rc = write_node(w, nodeno, 0, &lv[d].cell[a], b - a, d ? base[d - 1] : 0);
            for (size_t i = a; i < b; i++)
                if (d)
                    kids[nlink++] = (link){lv[d].cell[i].id + base[d - 1], nodeno};
                else
                    rows[i] = (link){lv[d].cell[i].id, nodeno};
        }
    }
    if (rc == SQLITE_OK)
        rc = write_links(w->rowid, rows, nrow);
    if (rc == SQLITE_OK)
        rc = write_links(w->parent, kids, nlink);
    free(rows);
    free(kids);
    return rc;
}

/* Builds the levels over r's cells (reordering them) and writes the tree. */
static int build(writer *w, situ__rtree_rows *r)
{
    size_t m = (size_t)(w->size - 4) / 24;
    level lv[64] = {0};
    int depth = 0, rc = SQLITE_OK;
    situ__rtree_cell *cell = r->v;
    size_t n = r->n;
    while (n > m && rc == SQLITE_OK && depth < 63) {
        level *L = &lv[depth];
        L->cell = cell, L->ncell = n;
        depth++;
        rc = pack(L, m);
        cell = rc == SQLITE_OK ? parents(L) : NULL;
        n = L->nnode;
        if (rc == SQLITE_OK && !cell)
            rc = SQLITE_NOMEM;
    }
    if (rc == SQLITE_OK)
        rc = write_tree(w, lv, depth, cell, n);
    for (int d = 0; d < depth; d++) {
        free(lv[d].start);
        if (d)
            free(lv[d].cell);
    }
    if (cell != r->v)
        free(cell);
    return rc;
}

/* Prepares "sql" with the R-tree's table name t in place of %s. */
static int prepare(sqlite3 *db, const char *fmt, const char *t, sqlite3_stmt **out)
{
    char *sql = sqlite3_mprintf(fmt, t);
    int rc = sql ? sqlite3_prepare_v2(db, sql, -1, out, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

/* The length of the R-tree's root node: every node's (0 if none). */
static int node_size(sqlite3 *db, const char *t, int *out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT length(data) FROM \"%w_node\" WHERE nodeno = 1", t, &st);
    if (rc != SQLITE_OK)
        return rc;
    *out = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    return sqlite3_finalize(st);
}

/* Empties the shadow tables. First SQLite's R-tree drops the nodes it may
 * keep in memory for the open transaction (its xRollbackTo does; recent
 * versions cache nodes a write read) and its blob handle (xSavepoint). */
static int clear(sqlite3 *db, const char *t)
{
    char *sql = sqlite3_mprintf("SAVEPOINT situ_rtree; ROLLBACK TO situ_rtree; RELEASE situ_rtree; "
                                "DELETE FROM \"%w_node\"; DELETE FROM \"%w_parent\"; "
                                "DELETE FROM \"%w_rowid\"",
                                t, t, t);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

int situ__rtree_write(situ__rtree_rows *r, sqlite3 *db, const char *table, situ_err *err)
{
    writer w = {.db = db};
    int rc = node_size(db, table, &w.size);
    if (rc == SQLITE_OK && (w.size < 4 + 24 * 3 || w.size > 65536))
        return situ_err_set(err, SITU_EDB, "%s: its root node is %d bytes", table, w.size);
    if (rc == SQLITE_OK)
        rc = clear(db, table);
    if (rc == SQLITE_OK)
        rc = prepare(db, "INSERT INTO \"%w_node\" (nodeno, data) VALUES (?1, ?2)", table, &w.node);
    if (rc == SQLITE_OK)
        rc = prepare(db, "INSERT INTO \"%w_parent\" (nodeno, parentnode) VALUES (?1, ?2)", table,
                     &w.parent);
    if (rc == SQLITE_OK)
        rc = prepare(db, "INSERT INTO \"%w_rowid\" (rowid, nodeno) VALUES (?1, ?2)", table,
                     &w.rowid);
    if (rc == SQLITE_OK)
        rc = (w.blob = malloc((size_t)w.size)) ? build(&w, r) : SQLITE_NOMEM;
    if (rc != SQLITE_OK)
        rc = situ_err_set(err, rc == SQLITE_NOMEM ? SITU_ENOMEM : SITU_EDB,
                          "%s: cannot write its packed nodes: %s", table,
                          rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
    free(w.blob);
    sqlite3_finalize(w.node);
    sqlite3_finalize(w.parent);
    sqlite3_finalize(w.rowid);
    return rc;
}
