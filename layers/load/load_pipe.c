/*
 * load_pipe.c: a SpatiaLite load on two cores. The loader's thread reads
 * (GDAL), checks, repairs (GEOS) and places features into batches; one
 * writer thread, for the whole load, upserts each full batch into the store,
 * in order, inside the load's transaction, and adds its rows to an empty
 * collection's spatial index (situ_store_bulk_step), while the next is read.
 * A load of several sources is one stream of jobs: a collection's bulk
 * write begins, its batches, it ends (situ_store_bulk_end); so while the
 * writer finishes one collection the reader already opens and reads the
 * next. At most PIPE_BATCHES batches exist, so memory stays bounded however
 * fast the reader is. The writer alone uses the store's connection between
 * situ__pipe_start and situ__pipe_finish, except while situ__pipe_sync has
 * it idle. A failure on either side stops both; the caller rolls back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "load_int.h"

#define PIPE_DEPTH 4                  /* full batches queued for the writer */
#define PIPE_BATCHES (PIPE_DEPTH + 2) /* + the one being read + the one being written */
#define PIPE_JOBS (PIPE_BATCHES + 8)  /* + begin and end marks */

typedef enum job_kind { JOB_BEGIN, JOB_BATCH, JOB_END } job_kind;

typedef struct job {
    job_kind kind;
    const situ_collection *c;
    situ__batch *b; /* JOB_BATCH */
} job;

struct situ__pipe {
    situ_store *s;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    situ__batch *pool[PIPE_BATCHES];
    job jobs[PIPE_JOBS]; /* FIFO */
    int head, njobs;
    situ__batch *empty[PIPE_BATCHES]; /* stack */
    int nempty;
    int busy;   /* the writer is doing a job */
    int done;   /* the reader sends no more */
    int failed; /* the writer's error code, 0 */
    situ_err err;
    long long inserted[SITU_NCOLLECTIONS], written[SITU_NCOLLECTIONS];
};

/* Does job j on the store (outside the lock); *ins of *n rows were new. */
static int do_job(situ__pipe *p, const job *j, long long *ins, long long *n, situ_err *err)
{
    if (j->kind == JOB_BEGIN) /* an empty collection's spatial index is filled at its end */
        return situ_store_bulk_begin(p->s, j->c, err);
    if (j->kind == JOB_END)
        return situ_store_bulk_end(p->s, j->c, err);
    int rc = situ__batch_flush(j->b, p->s, ins, n, err);
    /* an empty collection's spatial index grows with it */
    return rc ? rc : situ_store_bulk_step(p->s, j->c, err);
}

static void *writer_main(void *arg)
{
    situ__pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->njobs && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->njobs)
            break;
        job j = p->jobs[p->head];
        p->head = (p->head + 1) % PIPE_JOBS, p->njobs--;
        int failed = p->failed;
        p->busy = 1;
        pthread_mutex_unlock(&p->mu);
        long long inserted = 0, n = 0;
        situ_err err = {0};
        int rc = 0;
        if (failed && j.b) /* after a failure batches are dropped, not written */
            situ__batch_reset(j.b);
        else if (!failed)
            rc = do_job(p, &j, &inserted, &n, &err);
        pthread_mutex_lock(&p->mu);
        if (rc && !p->failed)
            p->failed = rc, p->err = err;
        p->inserted[j.c->cid] += inserted, p->written[j.c->cid] += n;
        if (j.b)
            p->empty[p->nempty++] = j.b;
        p->busy = 0;
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

int situ__pipe_start(situ_store *s, situ__pipe **out_p, situ_err *err)
{
    situ__pipe *p = calloc(1, sizeof *p);
    if (!p)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    p->s = s;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < PIPE_BATCHES; i++)
        if (situ__batch_new(situ_schema_collection((situ_coll_id)0), &p->pool[i])) {
            pipe_free(p);
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        }
    for (int i = 0; i < PIPE_BATCHES; i++)
        p->empty[p->nempty++] = p->pool[i];
    if (pthread_create(&p->writer, NULL, writer_main, p)) {
        pipe_free(p);
        return situ_err_set(err, SITU_ENOMEM, "cannot start the writer thread");
    }
    *out_p = p;
    return 0;
}

/* Queues job j (the lock held), waiting while the queue is full. */
static void enqueue(situ__pipe *p, job j)
{
    while (p->njobs == PIPE_JOBS)
        pthread_cond_wait(&p->cv, &p->mu);
    p->jobs[(p->head + p->njobs) % PIPE_JOBS] = j;
    p->njobs++;
    pthread_cond_broadcast(&p->cv);
}

/* An empty batch for collection c (the lock held), waiting for one. */
static situ__batch *take_empty(situ__pipe *p, const situ_collection *c)
{
    while (!p->nempty)
        pthread_cond_wait(&p->cv, &p->mu);
    situ__batch *b = p->empty[--p->nempty];
    situ__batch_for(b, c);
    return b;
}

/* The writer's failure (the lock held), its message into err. */
static int failure(situ__pipe *p, situ_err *err)
{
    if (p->failed && err)
        *err = p->err;
    return p->failed;
}

/* Queues job j and puts an empty batch of j's collection in *out_b.
 * Returns the writer's failure so far. */
static int queue_and_take(situ__pipe *p, job j, situ__batch **out_b, situ_err *err)
{
    pthread_mutex_lock(&p->mu);
    enqueue(p, j);
    *out_b = take_empty(p, j.c);
    int rc = failure(p, err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int situ__pipe_begin(situ__pipe *p, const situ_collection *c, situ__batch **out_b, situ_err *err)
{
    return queue_and_take(p, (job){.kind = JOB_BEGIN, .c = c}, out_b, err);
}

int situ__pipe_send(situ__pipe *p, situ__batch **b, situ_err *err)
{
    job j = {.kind = JOB_BATCH, .c = situ__batch_collection(*b), .b = *b};
    return queue_and_take(p, j, b, err);
}

int situ__pipe_end(situ__pipe *p, situ__batch **b, situ_err *err)
{
    const situ_collection *c = situ__batch_collection(*b);
    pthread_mutex_lock(&p->mu);
    if (situ__batch_size(*b))
        enqueue(p, (job){.kind = JOB_BATCH, .c = c, .b = *b});
    else
        p->empty[p->nempty++] = *b;
    *b = NULL;
    enqueue(p, (job){.kind = JOB_END, .c = c});
    int rc = failure(p, err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int situ__pipe_sync(situ__pipe *p, situ_err *err)
{
    pthread_mutex_lock(&p->mu);
    while (p->njobs || p->busy)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = failure(p, err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int situ__pipe_finish(situ__pipe *p, long long out_inserted[SITU_NCOLLECTIONS],
                      long long out_n[SITU_NCOLLECTIONS], situ_err *err)
{
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->writer, NULL);
    int rc = failure(p, err);
    memcpy(out_inserted, p->inserted, sizeof p->inserted);
    memcpy(out_n, p->written, sizeof p->written);
    pipe_free(p);
    return rc;
}
