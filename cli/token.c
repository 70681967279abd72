/*
 * token.c: `situ token add DEPT | list | revoke ID`, the departments' feed
 * tokens. `add` prints the new token alone on stdout, once (only its hash
 * is stored), so scripts can capture it; everything else goes to stderr.
 * The daemon picks up added and revoked tokens within a second.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "situ/schema.h"
#include "situ/token.h"

static const char usage[] = "(add DEPT [--label TEXT] | list | revoke ID) [--db FILE]";

static int token_add(situ_store *s, const char *dept, const char *label)
{
    char token[SITU_TOKEN_SIZE];
    long long id;
    situ_err err = {0};
    if (situ_token_add(s, dept, label, token, &id, &err)) {
        fprintf(stderr, "situ token: %s\n", err.msg);
        if (err.code == SITU_ENOTFOUND) {
            fprintf(stderr, "departments:");
            for (int i = 0; i < situ_schema_ndepts(); i++)
                fprintf(stderr, " %s", situ_schema_dept(i)->code);
            fprintf(stderr, "\n");
        }
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr, "token %lld for %s: shown once, keep it safe\n", id, dept);
    return 0;
}

static int token_list(situ_store *s)
{
    situ_token_info *list;
    int n;
    situ_err err = {0};
    if (situ_token_list(s, &list, &n, &err)) {
        fprintf(stderr, "situ token: %s\n", err.msg);
        return 1;
    }
    printf("%-5s %-22s %-16s %-20s %-20s %s\n", "id", "dept", "fingerprint", "created", "revoked",
           "label");
    for (int i = 0; i < n; i++)
        printf("%-5lld %-22s %-16s %-20s %-20s %s\n", list[i].id, list[i].dept, list[i].fingerprint,
               list[i].created_at, list[i].revoked_at[0] ? list[i].revoked_at : "-", list[i].label);
    free(list);
    return 0;
}

static int token_revoke(situ_store *s, const char *arg)
{
    char *end;
    long long id = strtoll(arg, &end, 10);
    situ_err err = {0};
    if (*end || end == arg || id <= 0) {
        fprintf(stderr, "situ token revoke: ID must be a token id (see situ token list)\n");
        return 2;
    }
    if (situ_token_revoke(s, id, &err)) {
        fprintf(stderr, "situ token: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "token %lld revoked\n", id);
    return 0;
}

int situ_cli_token(int argc, char **argv)
{
    const char *db = situ_cli_default_db(), *label = NULL;
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"label", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'l')
            label = optarg;
        else if (c == 'h')
            return printf("usage: situ token %s\nMakes, lists and revokes the departments' feed "
                          "tokens (POST /feeds/DEPT/...).\n",
                          usage),
                   0;
        else
            return fprintf(stderr, "usage: situ token %s\n", usage), 2;
    }
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    int want = !strcmp(verb, "list") ? 0 : !strcmp(verb, "add") || !strcmp(verb, "revoke") ? 1 : -1;
    if (want < 0 || nargs != want)
        return fprintf(stderr, "usage: situ token %s\n", usage), 2;
    situ_store *s;
    if (situ_cli_open(db, 0, &s))
        return 1;
    int rc = !strcmp(verb, "list")  ? token_list(s)
             : !strcmp(verb, "add") ? token_add(s, argv[optind + 1], label)
                                    : token_revoke(s, argv[optind + 1]);
    situ_store_close(s);
    return rc;
}
