/*
 * situ/err.h: error codes and the error buffer every libsitu call may fill.
 *
 * Functions return 0 or a negative SITU_E... code and, when the caller passes
 * a situ_err, write a one-line human message into it. libsitu never prints and
 * never exits; the faces (situ, situd) decide what to show.
 */
#ifndef SITU_ERR_H
#define SITU_ERR_H

#include <stddef.h>

enum {
    SITU_OK = 0,
    SITU_EINVAL = -1,    /* bad argument or input */
    SITU_ENOMEM = -2,    /* allocation failed */
    SITU_EIO = -3,       /* file or database I/O failed */
    SITU_ENOTFOUND = -4, /* no such collection, feature or file */
    SITU_EDB = -5,       /* SQLite / SpatiaLite error */
    SITU_EGEOM = -6,     /* geometry could not be read, projected or repaired */
    SITU_EFORMAT = -7,   /* input not in the expected format */
    SITU_ECONFLICT = -8, /* duplicate or conflicting data */
    SITU_EBUSY = -9,     /* resource busy, try again */
    SITU_ELIMIT = -10,   /* a size or count limit was exceeded */
    SITU_EAUTH = -11,    /* missing or wrong credentials */
    SITU_EPERM = -12,    /* credentials valid but not allowed */
};

#define SITU_ERR_MSG_MAX 512

typedef struct situ_err {
    int code;
    char msg[SITU_ERR_MSG_MAX];
} situ_err;

/* Sets err (if not NULL) to code and a printf-style message; returns code. */
int situ_err_set(situ_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (if not NULL). */
void situ_err_clear(situ_err *err);

/* A short constant name for a code ("EINVAL"). */
const char *situ_err_name(int code);

#endif
