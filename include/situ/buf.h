/*
 * situ/buf.h: a growable byte buffer for writers (GeoJSON, MVT, HTTP bodies).
 *
 * A buffer that failed to grow remembers it (oom) and ignores further writes,
 * so a writer checks once at the end instead of after every append.
 */
#ifndef SITU_BUF_H
#define SITU_BUF_H

#include <iconv.h>
#include <stddef.h>

typedef struct situ_buf {
    char *p;
    size_t n;
    size_t cap;
    int oom;
} situ_buf;

void situ_buf_init(situ_buf *b);
/* Frees the bytes; the buffer may be reused after situ_buf_init. */
void situ_buf_dispose(situ_buf *b);
/* Ensures room for `more` bytes beyond n; returns 0 or SITU_ENOMEM. */
int situ_buf_reserve(situ_buf *b, size_t more);
void situ_buf_add(situ_buf *b, const void *p, size_t n);
void situ_buf_adds(situ_buf *b, const char *s);
void situ_buf_addc(situ_buf *b, char c);
void situ_buf_printf(situ_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD. */
void situ_buf_add_json_str(situ_buf *b, const char *s);
/* 1 when the NUL-terminated s is valid UTF-8 (no overlongs, no surrogates). */
int situ_utf8_valid(const char *s);
/* p[0..n) decoded strictly from encoding `from` (an iconv name: "GB18030"
 * reads GBK and GB2312 too) into NUL-terminated UTF-8 to free; NULL when a
 * byte sequence is not of that encoding (or it holds a NUL, or out of
 * memory). */
char *situ_utf8_from(const char *from, const char *p, size_t n);
/* The same through a converter to UTF-8 the caller keeps open (an iconv_t,
 * reset here), for callers that decode many strings; cd may be
 * (iconv_t)-1, which gives NULL. */
char *situ_utf8_convert(iconv_t cd, const char *p, size_t n);
/* Appends a double with at most `decimals` decimals, trailing zeros dropped. */
void situ_buf_add_num(situ_buf *b, double v, int decimals);
/* Grows the array *arr of elem-byte elements, which holds n of *cap, so
 * that n + more fit (doubling, from 16); returns 0, or -1 leaving it as it
 * was when out of memory. */
int situ_array_grow(void **arr, size_t *cap, size_t n, size_t more, size_t elem);
/* Takes the bytes (NUL-terminated); the buffer is left empty. */
char *situ_buf_steal(situ_buf *b, size_t *out_n);

#endif
