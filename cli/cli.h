/* cli.h: private to cli/. The commands that live in their own files. */
#ifndef SITU_CLI_H
#define SITU_CLI_H

#include "situ/store.h"

/* $SITU_DB, else var/situ.sqlite. */
const char *situ_cli_default_db(void);
/* 1 when db names a SpatiaLite file, 0 for a PostgreSQL URL
 * (postgresql://... or postgres://...), which has no folder, temporary
 * name or journal mode. */
int situ_cli_db_is_file(const char *db);
/* Opens db for a command, printing the error; returns 0 or 1. */
int situ_cli_open(const char *db, unsigned flags, situ_store **out);
/* db as messages may name it: the file, or the PostgreSQL server the open
 * store s is connected to, never a URL's password. */
const char *situ_cli_db_name(const char *db, situ_store *s);

int situ_cli_load(int argc, char **argv);
int situ_cli_export(int argc, char **argv);
int situ_cli_nearest(int argc, char **argv);
int situ_cli_route(int argc, char **argv);
int situ_cli_reach(int argc, char **argv);
int situ_cli_token(int argc, char **argv);
int situ_cli_backup(int argc, char **argv);
int situ_cli_retain(int argc, char **argv);
int situ_cli_drill(int argc, char **argv);
int situ_cli_migrate(int argc, char **argv);
/* Prints rows and bytes per table, the event log's span and the archive's
 * size (`situ check`); 0 or 1. */
int situ_cli_print_sizes(situ_store *s, const char *db);

#endif
