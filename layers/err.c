/*
 * err.c: the situ_err buffer. Owns nothing but formatting; see situ/err.h.
 */
#include "situ/err.h"

#include <stdarg.h>
#include <stdio.h>

int situ_err_set(situ_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void situ_err_clear(situ_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *situ_err_name(int code)
{
    static const char *const names[] = {
        "OK",     "EINVAL",   "ENOMEM",    "EIO",   "ENOTFOUND", "EDB",  "EGEOM",
        "EFORMAT", "ECONFLICT", "EBUSY", "ELIMIT", "EAUTH", "EPERM",
    };
    int i = -code;
    if (i < 0 || i >= (int)(sizeof names / sizeof names[0]))
        return "EUNKNOWN";
    return names[i];
}
