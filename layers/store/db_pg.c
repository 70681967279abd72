/*
 * db_pg.c: situ_db over libpq (PostgreSQL 15 + PostGIS 3). Private to
 * layers/store; db.c forwards to it. It rewrites portable SQL (? -> $N,
 * SpatiaLite's bounding-box names -> PostGIS's), prepares named statements,
 * sends parameters and reads results in binary, and maps SQLSTATEs to
 * situ's codes. Messages name the server, never a password.
 *
 * A statement's life:
 *   BOUND --step--> (first time: PREPARE + describe) --send--> STREAMING
 *   STREAMING --step--> one row per step (single-row mode: memory holds one
 *                       row, however big the scan) ... --> DONE
 *   STREAMING --another statement needs the connection--> BUFFERED (the
 *                       rest of its rows read into memory; steps go on)
 *   any --reset--> BOUND (rows left unread are drained)
 */
#include "db_private.h"

#include <ctype.h>
#include <endian.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Type OIDs (pg_type.dat), fixed since PostgreSQL 7. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_UNKNOWN = 705,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_NUMERIC = 1700,
};

struct situ__pg {
    PGconn *conn;
    char where[256];    /* "host=... port=... dbname=... user=...", no password */
    char password[128]; /* scrubbed from every message */
    char errmsg[1024];
    char warned[512];        /* a warning that makes the current call's durability unknown */
    int last_code;           /* situ's code of the last call's failure, 0 if it succeeded */
    long long busy_since_ms; /* a call waiting on the server began then (0: none); atomic */
    long long changes;
    unsigned long long next_id; /* names statements s1, s2, ... */
    situ__pg_stmt *streaming;   /* the statement whose rows are on the wire */
};

typedef struct bound {
    situ_db_type type;
    long long i;
    double d;
    const void *p;
    int n;
} bound;

struct situ__pg_stmt {
    situ__pg *pg;
    char *sql; /* rewritten */
    char name[32];
    int nparams;
    int prepared;
    Oid *ptypes; /* as the server settled them */
    bound *b;
    char (*num)[32]; /* per parameter: its encoded number or text */
    char **tmp;      /* per parameter: a NUL-terminated copy, when sent as text */
    int active;      /* sent, not yet at its end */
    PGresult *row;   /* the current row (one-row result) */
    PGresult **buf;  /* BUFFERED: the rows read ahead */
    size_t nbuf, ibuf;
    char (*cell)[40]; /* per column: a number written as text */
};

/* ---- messages ------------------------------------------------------------------------ */

/* Copies msg into pg->errmsg on one line (libpq's line breaks and the
 * indents after them become one space, for one log line per message) and
 * with the password (if any) replaced by ***. */
static void set_errmsg(situ__pg *pg, const char *msg)
{
    char *o = pg->errmsg;
    size_t cap = sizeof pg->errmsg - 1, n = 0, plen = strlen(pg->password);
    for (const char *c = msg ? msg : "unknown error"; *c && n < cap;) {
        if (*c == '\n') {
            while (*c == '\n' || *c == '\t' || *c == ' ')
                c++;
            o[n++] = ' ';
        } else if (plen && strncmp(c, pg->password, plen) == 0) {
            for (const char *r = "***"; *r && n < cap; r++)
                o[n++] = *r;
            c += plen;
        } else {
            o[n++] = *c++;
        }
    }
    while (n && (o[n - 1] == '\n' || o[n - 1] == ' '))
        n--;
    o[n] = '\0';
}

const char *situ__pg_where(situ__pg *pg)
{
    return pg->where;
}

const char *situ__pg_errmsg(situ__pg *pg)
{
    return pg->errmsg;
}

int situ__pg_errcode(situ__pg *pg)
{
    return pg->last_code;
}

long long situ__pg_changes(situ__pg *pg)
{
    return pg->changes;
}

/* 1 when this server takes no more writes on this connection, which is as
 * good as lost (SITU_EIO): a connection exception (08...), a read-only
 * transaction (25006: a standby, or the old primary after a failover), a
 * server shutting down or restarting (57P01..57P03). Reconnecting with
 * target_session_attrs=read-write is the cure for all of them. */
static int connection_gone(const char *state)
{
    return !state || strncmp(state, "08", 2) == 0 || strcmp(state, "25006") == 0 ||
           strncmp(state, "57P0", 4) == 0;
}

/* situ's code for a failed result (NULL: the connection failed). */
static int code_of(situ__pg *pg, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(pg->conn) == CONNECTION_BAD || connection_gone(state))
        return SITU_EIO;
    /* a constraint violated (23), a value of the wrong type or size (22) */
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return SITU_ECONFLICT;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
        return SITU_EBUSY;
    if (!strcmp(state, "53200"))
        return SITU_ENOMEM;
    return SITU_EDB;
}

/* Records the failure of res (NULL: of the connection) and returns its code. */
static int fail(situ__pg *pg, const PGresult *res)
{
    int rc = pg->last_code = code_of(pg, res);
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(pg->conn);
    if (rc == SITU_EIO) {
        char m[1024];
        snprintf(m, sizeof m, "PostgreSQL (%s): %s", pg->where, msg);
        set_errmsg(pg, m);
    } else {
        set_errmsg(pg, msg);
    }
    return rc;
}

/* ---- connecting ---------------------------------------------------------------------- */

/* Fills pg->where and pg->password from conninfo (a URL or key=value). */
static int describe(situ__pg *pg, const char *conninfo, situ_err *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        /* libpq's message quotes a bad option's name, not the values */
        situ_err_set(err, SITU_EINVAL, "bad PostgreSQL connection string: %s",
                     perr ? perr : "out of memory");
        PQfreemem(perr);
        return SITU_EINVAL;
    }
    const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host") || (!strcmp(o->keyword, "hostaddr") && !host))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
        else if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "password"))
            snprintf(pg->password, sizeof pg->password, "%s", o->val);
    }
    snprintf(pg->where, sizeof pg->where, "host=%s port=%s dbname=%s user=%s",
             host ? host : "(default)", port ? port : "5432", db ? db : "(default)",
             user ? user : "(default)");
    PQconninfoFree(opts);
    return 0;
}

/* libpq prints the server's notices and warnings on stderr; libsitu prints
 * nothing. One warning matters: a COMMIT whose wait for the synchronous
 * standby was cancelled (by pg_cancel_backend, or a shutdown) returns OK
 * with a WARNING that the transaction "has already committed locally, but
 * might not have been replicated to the standby". situ__pg_exec turns it
 * into SITU_EIO: an ack would promise what a failover may lose. */
static void on_notice(void *arg, const PGresult *res)
{
    situ__pg *pg = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorMessage(res);
    if (sev && !strcmp(sev, "WARNING") && msg && strstr(msg, "synchronous replication"))
        snprintf(pg->warned, sizeof pg->warned, "%s", msg);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Marks the start (on) and end of a call that waits on the server. */
static void busy(situ__pg *pg, int on)
{
    __atomic_store_n(&pg->busy_since_ms, on ? mono_ms() : 0, __ATOMIC_RELAXED);
}

int situ__pg_break_if_stalled(situ__pg *pg, double seconds)
{
    long long since = __atomic_load_n(&pg->busy_since_ms, __ATOMIC_RELAXED);
    if (!since || (double)(mono_ms() - since) < seconds * 1e3)
        return 0;
    int fd = PQsocket(pg->conn);
    return fd >= 0 && shutdown(fd, SHUT_RDWR) == 0;
}

int situ__pg_connect(const char *conninfo, situ__pg **out, situ_err *err)
{
    situ__pg *pg = calloc(1, sizeof *pg);
    if (!pg)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (describe(pg, conninfo, err)) {
        free(pg);
        return SITU_EINVAL;
    }
    /* a server that accepts but never answers (stopped, not dead) must not
     * hold a connect forever: 10 s per host unless conninfo says otherwise
     * (its own connect_timeout, expanded after this one, wins) */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {"10", conninfo, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        fail(pg, NULL);
        situ_err_set(err, SITU_EIO, "cannot connect: %s", pg->errmsg);
        situ__pg_free(pg);
        return SITU_EIO;
    }
    PQsetNoticeReceiver(pg->conn, on_notice, pg);
    /* situ's text is UTF-8; times are computed in C, so the zone is moot */
    PGresult *r = PQexec(pg->conn, "SET client_encoding = 'UTF8'; SET client_min_messages = "
                                   "warning");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(pg, r);
    PQclear(r);
    if (rc) {
        situ_err_set(err, rc, "PostgreSQL (%s): %s", pg->where, pg->errmsg);
        situ__pg_free(pg);
        return rc;
    }
    *out = pg;
    return 0;
}

void situ__pg_free(situ__pg *pg)
{
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg);
}

/* ---- SQL rewriting ------------------------------------------------------------------- */

static const struct {
    const char *from, *to;
} renames[] = {
    {"ST_MinX", "ST_XMin"},
    {"ST_MinY", "ST_YMin"},
    {"ST_MaxX", "ST_XMax"},
    {"ST_MaxY", "ST_YMax"},
};

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

char *situ__pg_rewrite(const char *sql, int *out_nparams)
{
    size_t len = strlen(sql);
    char *o = malloc(len * 4 + 16); /* "?" -> "$NNN" at most quadruples */
    if (!o)
        return NULL;
    size_t n = 0;
    int maxp = 0;
    for (const char *c = sql; *c;) {
        if (*c == '\'' || *c == '"') { /* a literal or quoted name, '' and "" inside */
            char q = *c;
            o[n++] = *c++;
            while (*c && !(*c == q && c[1] != q)) {
                if (*c == q)
                    o[n++] = *c++;
                o[n++] = *c++;
            }
            if (*c)
                o[n++] = *c++;
        } else if (c[0] == '-' && c[1] == '-') {
            while (*c && *c != '\n')
                o[n++] = *c++;
        } else if (*c == '?') {
            c++;
            int k = 0;
            if (isdigit((unsigned char)*c))
                k = (int)strtol(c, (char **)&c, 10);
            else
                k = maxp + 1;
            if (k > maxp)
                maxp = k;
            n += (size_t)sprintf(o + n, "$%d", k);
        } else if ((c == sql || !ident_char(c[-1])) && (c[0] == 'S' || c[0] == 's')) {
            size_t i = 0;
            for (; i < sizeof renames / sizeof renames[0]; i++)
                if (strncasecmp(c, renames[i].from, 7) == 0 && !ident_char(c[7]))
                    break;
            if (i < sizeof renames / sizeof renames[0]) {
                memcpy(o + n, renames[i].to, 7);
                n += 7;
                c += 7;
            } else {
                o[n++] = *c++;
            }
        } else {
            o[n++] = *c++;
        }
    }
    o[n] = '\0';
    *out_nparams = maxp;
    return o;
}

/* ---- statements ---------------------------------------------------------------------- */

static int prepare_on_server(situ__pg_stmt *st, int typed);
static void buffer_rest(situ__pg *pg);

int situ__pg_prepare(situ__pg *pg, const char *sql, situ__pg_stmt **out, situ_err *err)
{
    situ__pg_stmt *st = calloc(1, sizeof *st);
    pg->last_code = 0;
    if (!st)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    st->pg = pg;
    st->sql = situ__pg_rewrite(sql, &st->nparams);
    int np = st->nparams ? st->nparams : 1;
    st->b = calloc((size_t)np, sizeof *st->b);
    st->num = calloc((size_t)np, sizeof *st->num);
    st->tmp = calloc((size_t)np, sizeof *st->tmp);
    st->ptypes = calloc((size_t)np, sizeof *st->ptypes);
    if (!st->sql || !st->b || !st->num || !st->tmp || !st->ptypes) {
        situ__pg_finalize(st);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    snprintf(st->name, sizeof st->name, "situ%llu", ++pg->next_id);
    if (pg->streaming)
        buffer_rest(pg);
    busy(pg, 1);
    int rc = prepare_on_server(st, 0);
    busy(pg, 0);
    if (rc < 0) {
        situ_err_set(err, rc, "%s (in: %.120s)", pg->errmsg, sql);
        situ__pg_finalize(st);
        return rc;
    }
    *out = st;
    return 0;
}

void situ__pg_bind(situ__pg_stmt *st, int k, situ_db_type type, long long i, double d,
                   const void *p, int n)
{
    if (k < 1 || k > st->nparams)
        return;
    st->b[k - 1] = (bound){.type = type, .i = i, .d = d, .p = p, .n = n};
    if (type == SITU_DB_TEXT && n < 0)
        st->b[k - 1].n = (int)strlen(p);
    if ((type == SITU_DB_TEXT || type == SITU_DB_BLOB) && !p)
        st->b[k - 1].type = SITU_DB_NULL;
}

void situ__pg_clear_bindings(situ__pg_stmt *st)
{
    memset(st->b, 0, (size_t)st->nparams * sizeof *st->b);
}

/* The type the first binding of a parameter suggests (0: let the server infer). */
static Oid suggested_type(const bound *b)
{
    switch (b->type) {
    case SITU_DB_INTEGER:
        return OID_INT8;
    case SITU_DB_FLOAT:
        return OID_FLOAT8;
    case SITU_DB_BLOB:
        return OID_BYTEA;
    default:
        return 0;
    }
}

/* PREPAREs the statement on the server and reads back the parameter types it
 * settled on. typed: suggest types from the current bindings (for a
 * parameter whose type the SQL alone does not tell, as in SELECT ?). */
static int prepare_on_server(situ__pg_stmt *st, int typed)
{
    situ__pg *pg = st->pg;
    for (int k = 0; k < st->nparams; k++)
        st->ptypes[k] = typed ? suggested_type(&st->b[k]) : 0;
    PGresult *r = PQprepare(pg->conn, st->name, st->sql, st->nparams, st->ptypes);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(pg, r);
    const char *state = rc ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!typed && state && !strcmp(state, "42P18"))
        rc = 1; /* indeterminate type: prepared at the first step, typed by its bindings */
    PQclear(r);
    if (rc)
        return rc;
    r = PQdescribePrepared(pg->conn, st->name);
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(pg, r);
    for (int k = 0; !rc && k < st->nparams && k < PQnparams(r); k++)
        st->ptypes[k] = PQparamtype(r, k);
    PQclear(r);
    st->prepared = !rc;
    return rc;
}

/* Encodes parameter k for sending: binary where situ's type and the server's
 * agree (int8, float8, bytea, text), else as text for the server to parse. */
static int encode(situ__pg_stmt *st, int k, const char **val, int *len, int *fmt)
{
    const bound *b = &st->b[k];
    Oid t = st->ptypes[k];
    char *num = st->num[k];
    *fmt = 1;
    switch (b->type) {
    case SITU_DB_NULL:
        *val = NULL, *len = 0;
        return 0;
    case SITU_DB_INTEGER:
        if (t == OID_INT8) {
            uint64_t be = htobe64((uint64_t)b->i);
            memcpy(num, &be, 8), *val = num, *len = 8;
            return 0;
        }
        snprintf(num, 32, "%lld", b->i);
        break;
    case SITU_DB_FLOAT:
        if (t == OID_FLOAT8) {
            uint64_t u;
            memcpy(&u, &b->d, 8);
            u = htobe64(u);
            memcpy(num, &u, 8), *val = num, *len = 8;
            return 0;
        }
        snprintf(num, 32, "%.17g", b->d);
        break;
    case SITU_DB_BLOB:
        if (t == OID_BYTEA) {
            *val = b->p, *len = b->n;
            return 0;
        }
        /* a blob where text is expected is sent as its bytes */
        __attribute__((fallthrough));
    case SITU_DB_TEXT:
        if (t == OID_TEXT || t == OID_VARCHAR || t == OID_BPCHAR || t == OID_NAME ||
            t == OID_UNKNOWN) {
            *val = b->p, *len = b->n;
            return 0;
        }
        free(st->tmp[k]);
        st->tmp[k] = malloc((size_t)b->n + 1);
        if (!st->tmp[k])
            return SITU_ENOMEM;
        memcpy(st->tmp[k], b->p, (size_t)b->n);
        st->tmp[k][b->n] = '\0';
        *val = st->tmp[k], *len = b->n, *fmt = 0;
        return 0;
    }
    *val = num, *len = (int)strlen(num), *fmt = 0;
    return 0;
}

static void drop_row(situ__pg_stmt *st)
{
    PQclear(st->row);
    st->row = NULL;
}

/* Reads the next result of st off the wire (NULL at its end). */
static PGresult *next_result(situ__pg_stmt *st)
{
    return PQgetResult(st->pg->conn);
}

/* BUFFERED: reads the rest of the streaming statement's results into memory,
 * so that the connection is free for another statement. */
static void buffer_rest(situ__pg *pg)
{
    situ__pg_stmt *st = pg->streaming;
    pg->streaming = NULL;
    PGresult *r;
    while ((r = next_result(st))) {
        PGresult **v = realloc(st->buf, (st->nbuf + 1) * sizeof *v);
        if (!v) {
            PQclear(r);
            continue;
        }
        st->buf = v;
        st->buf[st->nbuf++] = r;
    }
}

/* The statement's next result: from its read-ahead buffer or the wire. */
static PGresult *take_result(situ__pg_stmt *st)
{
    if (st->buf) {
        if (st->ibuf < st->nbuf)
            return st->buf[st->ibuf++];
        return NULL;
    }
    return next_result(st);
}

static void free_buffer(situ__pg_stmt *st)
{
    for (size_t i = st->ibuf; i < st->nbuf; i++)
        PQclear(st->buf[i]);
    free(st->buf);
    st->buf = NULL;
    st->nbuf = st->ibuf = 0;
}

/* Ends the statement's run: drains what is left of it. */
static void finish(situ__pg_stmt *st)
{
    drop_row(st);
    if (st->pg->streaming == st) {
        PGresult *r;
        while ((r = next_result(st)))
            PQclear(r);
        st->pg->streaming = NULL;
    }
    free_buffer(st);
    st->active = 0;
}

static int send_stmt(situ__pg_stmt *st)
{
    situ__pg *pg = st->pg;
    if (pg->streaming)
        buffer_rest(pg);
    if (!st->prepared) {
        int rc = prepare_on_server(st, 1);
        if (rc)
            return rc;
    }
    int np = st->nparams ? st->nparams : 1;
    const char **vals = calloc((size_t)np, sizeof *vals);
    int *lens = calloc((size_t)np, sizeof *lens), *fmts = calloc((size_t)np, sizeof *fmts);
    int rc = vals && lens && fmts ? 0 : SITU_ENOMEM;
    for (int k = 0; !rc && k < st->nparams; k++)
        rc = encode(st, k, &vals[k], &lens[k], &fmts[k]);
    if (!rc && !PQsendQueryPrepared(pg->conn, st->name, st->nparams, vals, lens, fmts, 1))
        rc = fail(pg, NULL);
    free(vals), free(lens), free(fmts);
    if (rc) {
        if (rc == SITU_ENOMEM)
            set_errmsg(pg, "out of memory");
        return rc;
    }
    PQsetSingleRowMode(pg->conn);
    pg->streaming = st;
    st->active = 1;
    return 0;
}

static int step(situ__pg_stmt *st)
{
    situ__pg *pg = st->pg;
    pg->last_code = 0;
    drop_row(st);
    if (!st->active) {
        int rc = send_stmt(st);
        if (rc)
            return rc;
    }
    PGresult *r = take_result(st);
    if (!r) { /* already at its end */
        finish(st);
        return SITU_DB_DONE;
    }
    switch (PQresultStatus(r)) {
    case PGRES_SINGLE_TUPLE:
        st->row = r;
        return SITU_DB_ROW;
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        pg->changes = atoll(PQcmdTuples(r));
        PQclear(r);
        finish(st);
        return SITU_DB_DONE;
    default: {
        int rc = fail(pg, r);
        PQclear(r);
        finish(st);
        return rc;
    }
    }
}

int situ__pg_step(situ__pg_stmt *st)
{
    busy(st->pg, 1);
    int rc = step(st);
    busy(st->pg, 0);
    return rc;
}

/* ---- columns ------------------------------------------------------------------------- */

static int is_null(situ__pg_stmt *st, int i)
{
    return !st->row || i < 0 || i >= PQnfields(st->row) || PQgetisnull(st->row, 0, i);
}

static uint64_t be_uint(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* A binary numeric (ndigits, weight, sign, dscale, base-10000 digits) as a double. */
static double numeric_value(const char *p, int len, int *out_integral)
{
    if (len < 8)
        return 0;
    int nd = (int16_t)be_uint(p, 2), weight = (int16_t)be_uint(p + 2, 2);
    unsigned sign = (unsigned)be_uint(p + 4, 2), dscale = (unsigned)be_uint(p + 6, 2);
    double v = 0;
    for (int i = 0; i < nd && 8 + 2 * i + 2 <= len; i++) {
        double scale = 1;
        int e = weight - i;
        for (int j = 0; j < (e < 0 ? -e : e); j++)
            scale *= 10000;
        double dig = (double)be_uint(p + 8 + 2 * i, 2);
        v += e < 0 ? dig / scale : dig * scale;
    }
    *out_integral = dscale == 0 && sign != 0xC000;
    if (sign == 0xC000)
        return 0.0 / 0.0;
    return sign == 0x4000 ? -v : v;
}

situ_db_type situ__pg_column_type(situ__pg_stmt *st, int i)
{
    if (is_null(st, i))
        return SITU_DB_NULL;
    int integral = 0;
    switch (PQftype(st->row, i)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return SITU_DB_INTEGER;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return SITU_DB_FLOAT;
    case OID_NUMERIC:
        numeric_value(PQgetvalue(st->row, 0, i), PQgetlength(st->row, 0, i), &integral);
        return integral ? SITU_DB_INTEGER : SITU_DB_FLOAT;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_UNKNOWN:
    case OID_JSON:
        return SITU_DB_TEXT;
    default:
        return SITU_DB_BLOB;
    }
}

double situ__pg_column_double(situ__pg_stmt *st, int i)
{
    if (is_null(st, i))
        return 0;
    const char *p = PQgetvalue(st->row, 0, i);
    int len = PQgetlength(st->row, 0, i), integral;
    switch (PQftype(st->row, i)) {
    case OID_BOOL:
        return len == 1 && p[0];
    case OID_INT2:
        return (int16_t)be_uint(p, 2);
    case OID_INT4:
        return (int32_t)be_uint(p, 4);
    case OID_INT8:
        return (double)(int64_t)be_uint(p, 8);
    case OID_FLOAT4: {
        uint32_t u = (uint32_t)be_uint(p, 4);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case OID_FLOAT8: {
        uint64_t u = be_uint(p, 8);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case OID_NUMERIC:
        return numeric_value(p, len, &integral);
    default:
        return situ__pg_column_type(st, i) == SITU_DB_TEXT ? strtod(p, NULL) : 0;
    }
}

long long situ__pg_column_int64(situ__pg_stmt *st, int i)
{
    if (is_null(st, i))
        return 0;
    const char *p = PQgetvalue(st->row, 0, i);
    switch (PQftype(st->row, i)) {
    case OID_INT8:
        return (long long)(int64_t)be_uint(p, 8);
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_UNKNOWN:
        return strtoll(p, NULL, 10);
    default:
        return (long long)situ__pg_column_double(st, i);
    }
}

const char *situ__pg_column_text(situ__pg_stmt *st, int i)
{
    situ_db_type t = situ__pg_column_type(st, i);
    if (t == SITU_DB_NULL)
        return NULL;
    if (t == SITU_DB_TEXT || t == SITU_DB_BLOB)
        return PQgetvalue(st->row, 0, i); /* libpq ends every value with a NUL */
    if (!st->cell) {
        st->cell = calloc((size_t)PQnfields(st->row), sizeof *st->cell);
        if (!st->cell)
            return NULL;
    }
    if (t == SITU_DB_INTEGER)
        snprintf(st->cell[i], sizeof st->cell[i], "%lld", situ__pg_column_int64(st, i));
    else
        snprintf(st->cell[i], sizeof st->cell[i], "%.17g", situ__pg_column_double(st, i));
    return st->cell[i];
}

const void *situ__pg_column_blob(situ__pg_stmt *st, int i)
{
    return is_null(st, i) ? NULL : PQgetvalue(st->row, 0, i);
}

int situ__pg_column_bytes(situ__pg_stmt *st, int i)
{
    situ_db_type t = situ__pg_column_type(st, i);
    if (t == SITU_DB_NULL)
        return 0;
    if (t == SITU_DB_INTEGER || t == SITU_DB_FLOAT)
        return (int)strlen(situ__pg_column_text(st, i));
    return PQgetlength(st->row, 0, i);
}

void situ__pg_reset(situ__pg_stmt *st)
{
    finish(st);
}

void situ__pg_finalize(situ__pg_stmt *st)
{
    if (!st)
        return;
    finish(st);
    if (st->prepared && PQstatus(st->pg->conn) == CONNECTION_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
        PQclear(PQexec(st->pg->conn, sql));
    }
    for (int k = 0; st->tmp && k < st->nparams; k++)
        free(st->tmp[k]);
    free(st->tmp), free(st->num), free(st->b), free(st->ptypes), free(st->cell), free(st->sql);
    free(st);
}

static int exec_sql(situ__pg *pg, const char *sql, situ_err *err)
{
    pg->last_code = 0;
    pg->warned[0] = '\0';
    if (pg->streaming)
        buffer_rest(pg);
    int np;
    char *q = situ__pg_rewrite(sql, &np);
    if (!q)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = PQsendQuery(pg->conn, q) ? 0 : fail(pg, NULL);
    PGresult *r;
    while (!rc && (r = PQgetResult(pg->conn))) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
            pg->changes = atoll(PQcmdTuples(r));
        else if (s != PGRES_EMPTY_QUERY && !rc)
            rc = fail(pg, r);
        PQclear(r);
    }
    while (rc && (r = PQgetResult(pg->conn))) /* what follows a failure */
        PQclear(r);
    if (!rc && pg->warned[0]) { /* see on_notice */
        char m[1024];
        snprintf(m, sizeof m, "PostgreSQL (%s): durability unknown: %s", pg->where, pg->warned);
        set_errmsg(pg, m);
        rc = pg->last_code = SITU_EIO;
    }
    free(q);
    if (rc)
        situ_err_set(err, rc, "%s (in: %.120s)", pg->errmsg, sql);
    return rc;
}

int situ__pg_exec(situ__pg *pg, const char *sql, situ_err *err)
{
    busy(pg, 1);
    int rc = exec_sql(pg, sql, err);
    busy(pg, 0);
    return rc;
}
