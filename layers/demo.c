/* demo.c: placeholder until the demo generator lands. */
#include "situ/demo.h"

int situ_demo_write(const situ_demo_opts *o, situ_demo_stats *out_stats, situ_err *err)
{
    (void)o, (void)out_stats;
    return situ_err_set(err, SITU_EINVAL, "demo not built yet");
}
