/* nearest.c: `situ nearest`; placeholder until the proximity module lands. */
#include <stdio.h>

#include "cli.h"

int situ_cli_nearest(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "situ nearest: not built yet\n");
    return 1;
}
