/* export.c: `situ export`; placeholder until the export module lands. */
#include <stdio.h>

#include "cli.h"

int situ_cli_export(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "situ export: not built yet\n");
    return 1;
}
