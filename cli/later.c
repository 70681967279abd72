/* later.c: commands whose libsitu modules have not landed yet. */
#include <stdio.h>

#include "cli.h"

int situ_cli_export(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "situ export: not built yet\n");
    return 1;
}

int situ_cli_nearest(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "situ nearest: not built yet\n");
    return 1;
}
