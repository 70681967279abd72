/*
 * fs.c: durable file operations (see situ/fs.h). No policy here: the
 * callers decide what is written where and what a failure means.
 */
#include "situ/fs.h"

#include <fcntl.h>
#include <unistd.h>

int situ_fs_sync(const char *path, int directory)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}
