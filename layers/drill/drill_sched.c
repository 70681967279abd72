/*
 * drill_sched.c: the drill's clock (state diagram in situ/drill.h). Pure:
 * no clock of its own, no I/O; integers only, so the same calls give the
 * same injects in the same order on any machine. Owns each inject's state
 * (pending, issued, skipped), the inject-now queue, pause, speed and skip.
 * Applying what falls due is the caller's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"

struct situ_drill_sched {
    const situ_drill_scenario *s;
    int speed;       /* 1..60, or SITU_DRILL_SPEED_MAX */
    long long wall0; /* wall ms at which the scenario time was scen0 */
    long long scen0; /* scenario ms at wall0 (paused: the time it stopped at) */
    int paused;
    unsigned char *state; /* situ_drill_state per inject */
    int next;             /* every inject before it is issued or skipped */
    int npending;
    int *queue; /* inject-now requests, in the order asked */
    int nqueue;
};

static int speed_ok(int speed)
{
    return speed == SITU_DRILL_SPEED_MAX || (speed >= 1 && speed <= 60);
}

int situ_drill_sched_new(const situ_drill_scenario *s, int speed, long long wall_ms,
                         situ_drill_sched **out, situ_err *err)
{
    if (!speed_ok(speed))
        return situ_err_set(err, SITU_EINVAL, "speed %d must be 1 to 60, or max", speed);
    situ_drill_sched *c = calloc(1, sizeof *c);
    if (c) {
        c->state = calloc((size_t)s->n + 1, 1);
        c->queue = calloc((size_t)s->n + 1, sizeof *c->queue);
    }
    if (!c || !c->state || !c->queue) {
        situ_drill_sched_free(c);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    c->s = s, c->speed = speed, c->wall0 = wall_ms, c->npending = s->n;
    *out = c;
    return 0;
}

void situ_drill_sched_free(situ_drill_sched *c)
{
    if (!c)
        return;
    free(c->state);
    free(c->queue);
    free(c);
}

long long situ_drill_sched_time(const situ_drill_sched *c, long long wall_ms)
{
    if (c->paused || c->speed == SITU_DRILL_SPEED_MAX || wall_ms <= c->wall0)
        return c->scen0;
    return c->scen0 + (wall_ms - c->wall0) * c->speed;
}

/* Restarts the running clock at wall_ms from the time it shows then. */
static void rebase(situ_drill_sched *c, long long wall_ms)
{
    c->scen0 = situ_drill_sched_time(c, wall_ms);
    c->wall0 = wall_ms;
}

static int finished(const situ_drill_sched *c, situ_err *err)
{
    return c->npending ? 0 : situ_err_set(err, SITU_ECONFLICT, "the drill has finished");
}

int situ_drill_sched_pause(situ_drill_sched *c, long long wall_ms, situ_err *err)
{
    if (finished(c, err))
        return SITU_ECONFLICT;
    if (c->paused)
        return situ_err_set(err, SITU_ECONFLICT, "the drill is paused already");
    rebase(c, wall_ms);
    c->paused = 1;
    return 0;
}

int situ_drill_sched_resume(situ_drill_sched *c, long long wall_ms, situ_err *err)
{
    if (finished(c, err))
        return SITU_ECONFLICT;
    if (!c->paused)
        return situ_err_set(err, SITU_ECONFLICT, "the drill is running, not paused");
    c->paused = 0;
    c->wall0 = wall_ms;
    return 0;
}

int situ_drill_sched_set_speed(situ_drill_sched *c, int speed, long long wall_ms, situ_err *err)
{
    if (finished(c, err))
        return SITU_ECONFLICT;
    if (!speed_ok(speed))
        return situ_err_set(err, SITU_EINVAL, "speed %d must be 1 to 60, or max", speed);
    rebase(c, wall_ms);
    c->speed = speed;
    return 0;
}

static void issue(situ_drill_sched *c, int i, situ_drill_state st)
{
    c->state[i] = (unsigned char)st;
    c->npending--;
    if (c->speed == SITU_DRILL_SPEED_MAX && st == SITU_DRILL_ISSUED &&
        c->s->injects[i].offset_ms > c->scen0)
        c->scen0 = c->s->injects[i].offset_ms;
    while (c->next < c->s->n && c->state[c->next] != SITU_DRILL_PENDING)
        c->next++;
}

int situ_drill_sched_skip(situ_drill_sched *c, long long offset_ms, situ_drill_skip_mode mode,
                          long long wall_ms, situ_err *err)
{
    if (finished(c, err))
        return SITU_ECONFLICT;
    long long now = situ_drill_sched_time(c, wall_ms);
    char a[48], b[48];
    situ_drill_duration_format(offset_ms, a);
    situ_drill_duration_format(now, b);
    if (offset_ms < now || offset_ms > SITU_DRILL_MAX_OFFSET_MS)
        return situ_err_set(err, SITU_EINVAL,
                            "offset %s: a drill skips forward only, and it is at %s", a, b);
    for (int i = c->next; mode == SITU_DRILL_SKIP_DROP && i < c->s->n; i++)
        if (c->s->injects[i].offset_ms < offset_ms && c->state[i] == SITU_DRILL_PENDING)
            issue(c, i, SITU_DRILL_SKIPPED);
    c->scen0 = offset_ms;
    c->wall0 = wall_ms;
    return 0;
}

int situ_drill_sched_inject_now(situ_drill_sched *c, const char *id, situ_err *err)
{
    static const char *const was[] = {"", "issued", "skipped"};
    for (int i = 0; id && i < c->s->n; i++) {
        if (strcmp(c->s->injects[i].id, id))
            continue;
        if (c->state[i] != SITU_DRILL_PENDING)
            return situ_err_set(err, SITU_EINVAL, "inject '%.128s' was %s already", id,
                                was[c->state[i]]);
        for (int k = 0; k < c->nqueue; k++)
            if (c->queue[k] == i)
                return situ_err_set(err, SITU_EINVAL, "inject '%.128s' is queued already", id);
        c->queue[c->nqueue++] = i;
        return 0;
    }
    return situ_err_set(err, SITU_EINVAL, "no inject '%.128s' in the scenario", id ? id : "");
}

int situ_drill_sched_due(situ_drill_sched *c, long long wall_ms, int *out, int max)
{
    int k = 0, q = 0;
    for (; q < c->nqueue && k < max; q++) {
        if (c->state[c->queue[q]] == SITU_DRILL_PENDING) {
            issue(c, c->queue[q], SITU_DRILL_ISSUED);
            out[k++] = c->queue[q];
        }
    }
    memmove(c->queue, c->queue + q, (size_t)(c->nqueue - q) * sizeof *c->queue);
    c->nqueue -= q;
    if (c->paused)
        return k;
    long long now = situ_drill_sched_time(c, wall_ms);
    for (int i = c->next; i < c->s->n && k < max; i++) {
        if (c->state[i] != SITU_DRILL_PENDING)
            continue;
        if (c->speed != SITU_DRILL_SPEED_MAX && c->s->injects[i].offset_ms > now)
            break;
        issue(c, i, SITU_DRILL_ISSUED);
        out[k++] = i;
    }
    return k;
}

long long situ_drill_sched_next_wall(const situ_drill_sched *c, long long wall_ms)
{
    if (c->nqueue)
        return wall_ms;
    if (c->paused || !c->npending)
        return -1;
    int i = c->next;
    while (i < c->s->n && c->state[i] != SITU_DRILL_PENDING)
        i++;
    if (i == c->s->n)
        return -1;
    long long ahead = c->s->injects[i].offset_ms - situ_drill_sched_time(c, wall_ms);
    if (c->speed == SITU_DRILL_SPEED_MAX || ahead <= 0)
        return wall_ms;
    long long at = c->s->injects[i].offset_ms - c->scen0; /* > 0: running, ahead of now */
    return c->wall0 + (at + c->speed - 1) / c->speed;
}

situ_drill_state situ_drill_sched_state(const situ_drill_sched *c, int i)
{
    return i >= 0 && i < c->s->n ? (situ_drill_state)c->state[i] : SITU_DRILL_PENDING;
}

int situ_drill_sched_paused(const situ_drill_sched *c)
{
    return c->paused;
}

int situ_drill_sched_finished(const situ_drill_sched *c)
{
    return c->npending == 0;
}
