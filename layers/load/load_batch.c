/*
 * load_batch.c: the features of one source on their way into the store,
 * SITU_STORE_BATCH_ROWS at a time. On PostgreSQL a feature written alone
 * costs two round trips (does its id exist, the upsert); a batch is one
 * multi-row upsert (situ_store_upsert_many). The loader reads each feature
 * into buffers it reuses, so a batch keeps its own copy of every feature
 * until it is flushed. On SpatiaLite batches go to the writer thread
 * (load_pipe.c), which writes them while the next is read.
 */
#include <stdlib.h>
#include <string.h>

#include "load_int.h"

struct situ__batch {
    const situ_collection *c;
    situ_feature_in f[SITU_STORE_BATCH_ROWS];
    situ_value *values;               /* SITU_STORE_BATCH_ROWS * c->nfields */
    int item0[SITU_STORE_BATCH_ROWS]; /* f[i]'s first item in items */
    situ_item_qty *items;
    int nitems, capitems;
    int n;
    situ__arena arena; /* every string and geometry of the batch */
};

/* Fields of the widest collection: a batch may be any collection's. */
static size_t widest(void)
{
    int n = 1;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        const situ_collection *c = situ_schema_collection((situ_coll_id)i);
        n = c->nfields > n ? c->nfields : n;
    }
    return (size_t)n;
}

int situ__batch_new(const situ_collection *c, situ__batch **out_b)
{
    situ__batch *b = calloc(1, sizeof *b);
    size_t nv = (size_t)SITU_STORE_BATCH_ROWS * widest();
    if (!b || !(b->values = calloc(nv, sizeof *b->values))) {
        free(b);
        return SITU_ENOMEM;
    }
    b->c = c;
    *out_b = b;
    return 0;
}

void situ__batch_free(situ__batch *b)
{
    if (!b)
        return;
    situ__arena_dispose(&b->arena);
    free(b->values);
    free(b->items);
    free(b);
}

/* A copy of text s in the batch's arena (NULL stays NULL); *oom on failure. */
static const char *keep(situ__batch *b, const char *s, int *oom)
{
    const char *p = s ? situ__arena_strndup(&b->arena, s, strlen(s)) : NULL;
    *oom |= s && !p;
    return p;
}

static int keep_items(situ__batch *b, const situ_feature_in *fin, int *oom)
{
    if (b->nitems + fin->nitems > b->capitems) {
        int cap = (b->nitems + fin->nitems) * 2 + 64;
        situ_item_qty *p = realloc(b->items, (size_t)cap * sizeof *p);
        if (!p)
            return SITU_ENOMEM;
        b->items = p, b->capitems = cap;
    }
    b->item0[b->n] = b->nitems;
    for (int i = 0; i < fin->nitems; i++) {
        situ_item_qty q = fin->items[i];
        q.item = keep(b, q.item, oom);
        q.unit = keep(b, q.unit, oom);
        b->items[b->nitems++] = q;
    }
    return *oom ? SITU_ENOMEM : 0;
}

int situ__batch_add(situ__batch *b, const situ_feature_in *fin)
{
    situ_feature_in *f = &b->f[b->n];
    situ_value *v = b->values + (size_t)b->n * (size_t)b->c->nfields;
    int oom = 0;
    *f = *fin;
    f->id = keep(b, fin->id, &oom);
    f->township_code = keep(b, fin->township_code, &oom);
    f->extra_json = keep(b, fin->extra_json, &oom);
    f->updated_at = keep(b, fin->updated_at, &oom);
    f->wkb =
        (const unsigned char *)situ__arena_strndup(&b->arena, (const char *)fin->wkb, fin->nwkb);
    oom |= !f->wkb;
    for (int i = 0; fin->values && i < b->c->nfields; i++) {
        v[i] = fin->values[i];
        if (v[i].type == SITU_FT_TEXT)
            v[i].u.s = keep(b, v[i].u.s, &oom);
    }
    f->values = fin->values ? v : NULL;
    if (oom || keep_items(b, fin, &oom))
        return SITU_ENOMEM;
    b->n++;
    return b->n == SITU_STORE_BATCH_ROWS;
}

void situ__batch_for(situ__batch *b, const situ_collection *c)
{
    situ__batch_reset(b);
    b->c = c;
}

const situ_collection *situ__batch_collection(const situ__batch *b)
{
    return b->c;
}

int situ__batch_size(const situ__batch *b)
{
    return b->n;
}

void situ__batch_reset(situ__batch *b)
{
    b->n = 0, b->nitems = 0;
    situ__arena_reset(&b->arena);
}

int situ__batch_flush(situ__batch *b, situ_store *s, long long *out_inserted, long long *out_n,
                      situ_err *err)
{
    long long inserted = 0;
    for (int i = 0; i < b->n; i++)
        b->f[i].items = b->f[i].nitems ? b->items + b->item0[i] : NULL;
    int rc = b->n ? situ_store_upsert_many(s, b->c, b->f, b->n, &inserted, err) : 0;
    *out_inserted = inserted;
    *out_n = b->n;
    situ__batch_reset(b);
    return rc;
}
