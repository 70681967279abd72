/* load.c: placeholder until the loader lands. */
#include "situ/load.h"

int situ_load_file(situ_store *s, const char *path, const situ_load_opts *o,
                   situ_load_stats *out_stats, situ_err *err)
{
    (void)s, (void)path, (void)o, (void)out_stats;
    return situ_err_set(err, SITU_EINVAL, "loader not built yet");
}

int situ_load_dir(situ_store *s, const char *dir, const situ_load_opts *o,
                  situ_load_stats out_stats[SITU_NCOLLECTIONS], int *out_nfiles, situ_err *err)
{
    (void)s, (void)dir, (void)o, (void)out_stats, (void)out_nfiles;
    return situ_err_set(err, SITU_EINVAL, "loader not built yet");
}
