/*
 * load_pipe.c: a SpatiaLite load on two cores. The loader's thread reads
 * (GDAL), checks, repairs (GEOS) and places features into batches; a writer
 * thread upserts each full batch into the store, in order, inside the load's
 * transaction, and adds its rows to an empty collection's spatial index
 * (situ_store_bulk_step), while the next is read. At most PIPE_DEPTH batches wait, so
 * memory stays bounded however fast the reader is. The writer alone uses
 * the store's connection between situ__pipe_start and situ__pipe_finish.
 * A failure on either side stops both; the caller rolls back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "load_int.h"

#define PIPE_DEPTH 4                  /* full batches queued for the writer */
#define PIPE_BATCHES (PIPE_DEPTH + 2) /* + the one being read + the one being written */

struct situ__pipe {
    situ_store *s;
    const situ_collection *c;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    situ__batch *pool[PIPE_BATCHES];
    situ__batch *full[PIPE_BATCHES]; /* FIFO */
    int head, nfull;
    situ__batch *empty[PIPE_BATCHES]; /* stack */
    int nempty;
    int done;   /* the reader sends no more */
    int failed; /* the writer's error code, 0 */
    situ_err err;
    long long inserted, written;
};

static void *writer_main(void *arg)
{
    situ__pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->nfull && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->nfull)
            break;
        situ__batch *b = p->full[p->head];
        p->head = (p->head + 1) % PIPE_BATCHES, p->nfull--;
        int failed = p->failed;
        pthread_mutex_unlock(&p->mu);
        long long inserted = 0, n = 0;
        situ_err err = {0};
        int rc = 0;
        if (failed) /* after a failure batches are dropped, not written */
            situ__batch_reset(b);
        else
            rc = situ__batch_flush(b, p->s, &inserted, &n, &err);
        if (!rc && !failed) /* an empty collection's spatial index grows with it */
            rc = situ_store_bulk_step(p->s, p->c, &err);
        pthread_mutex_lock(&p->mu);
        if (rc && !p->failed)
            p->failed = rc, p->err = err;
        p->inserted += inserted, p->written += n;
        p->empty[p->nempty++] = b;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pipe_free(situ__pipe *p)
{
    for (int i = 0; i < PIPE_BATCHES; i++)
        situ__batch_free(p->pool[i]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int situ__pipe_start(situ_store *s, const situ_collection *c, situ__pipe **out_p,
                     situ__batch **out_b, situ_err *err)
{
    situ__pipe *p = calloc(1, sizeof *p);
    if (!p)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    p->s = s, p->c = c;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < PIPE_BATCHES; i++)
        if (situ__batch_new(c, &p->pool[i])) {
            pipe_free(p);
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        }
    for (int i = 1; i < PIPE_BATCHES; i++)
        p->empty[p->nempty++] = p->pool[i];
    if (pthread_create(&p->writer, NULL, writer_main, p)) {
        pipe_free(p);
        return situ_err_set(err, SITU_ENOMEM, "cannot start the writer thread");
    }
    *out_p = p, *out_b = p->pool[0];
    return 0;
}

int situ__pipe_send(situ__pipe *p, situ__batch **b, situ_err *err)
{
    pthread_mutex_lock(&p->mu);
    p->full[(p->head + p->nfull) % PIPE_BATCHES] = *b;
    p->nfull++;
    pthread_cond_broadcast(&p->cv);
    while (!p->nempty)
        pthread_cond_wait(&p->cv, &p->mu);
    *b = p->empty[--p->nempty];
    int rc = p->failed;
    if (rc && err)
        *err = p->err;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int situ__pipe_finish(situ__pipe *p, long long *out_inserted, long long *out_n, situ_err *err)
{
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->writer, NULL);
    int rc = p->failed;
    if (rc && err)
        *err = p->err;
    *out_inserted = p->inserted, *out_n = p->written;
    pipe_free(p);
    return rc;
}
