/*
 * db_private.h: private to layers/store. The PostgreSQL half of situ_db
 * (db_pg.c), which db.c's public functions forward to when a connection's
 * engine is SITU_DB_POSTGRES.
 */
#ifndef SITU_DB_PRIVATE_H
#define SITU_DB_PRIVATE_H

#include "situ/db.h"

typedef struct situ__pg situ__pg;
typedef struct situ__pg_stmt situ__pg_stmt;

int situ__pg_connect(const char *conninfo, situ__pg **out, situ_err *err);
void situ__pg_free(situ__pg *pg);
int situ__pg_prepare(situ__pg *pg, const char *sql, situ__pg_stmt **out, situ_err *err);
int situ__pg_exec(situ__pg *pg, const char *sql, situ_err *err);
long long situ__pg_changes(situ__pg *pg);
const char *situ__pg_errmsg(situ__pg *pg);
int situ__pg_errcode(situ__pg *pg);
const char *situ__pg_where(situ__pg *pg);
int situ__pg_break_if_stalled(situ__pg *pg, double seconds);

void situ__pg_bind(situ__pg_stmt *st, int k, situ_db_type type, long long i, double d,
                   const void *p, int n);
int situ__pg_step(situ__pg_stmt *st);
situ_db_type situ__pg_column_type(situ__pg_stmt *st, int i);
long long situ__pg_column_int64(situ__pg_stmt *st, int i);
double situ__pg_column_double(situ__pg_stmt *st, int i);
const char *situ__pg_column_text(situ__pg_stmt *st, int i);
const void *situ__pg_column_blob(situ__pg_stmt *st, int i);
int situ__pg_column_bytes(situ__pg_stmt *st, int i);
void situ__pg_reset(situ__pg_stmt *st);
void situ__pg_clear_bindings(situ__pg_stmt *st);
void situ__pg_finalize(situ__pg_stmt *st);

/* Rewrites portable SQL for PostgreSQL: ? and ?N become $N outside quotes
 * and comments, ST_MinX/MinY/MaxX/MaxY become ST_XMin/YMin/XMax/YMax.
 * Returns a malloc'd string (NULL: out of memory) and the highest
 * parameter number in *out_nparams. */
char *situ__pg_rewrite(const char *sql, int *out_nparams);

#endif
