/*
 * buf.c: the growable byte buffer and the two number/string writers every
 * text encoder shares (JSON string escaping, shortest fixed-point numbers) and strict decoding
 * of other text encodings into UTF-8.
 */
#include "situ/buf.h"

#include <iconv.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/err.h"

void situ_buf_init(situ_buf *b)
{
    memset(b, 0, sizeof *b);
}

void situ_buf_dispose(situ_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int situ_buf_reserve(situ_buf *b, size_t more)
{
    if (b->oom)
        return SITU_ENOMEM;
    if (b->n + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return SITU_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void situ_buf_add(situ_buf *b, const void *p, size_t n)
{
    if (situ_buf_reserve(b, n))
        return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void situ_buf_adds(situ_buf *b, const char *s)
{
    situ_buf_add(b, s, strlen(s));
}

void situ_buf_addc(situ_buf *b, char c)
{
    if (situ_buf_reserve(b, 1))
        return;
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
}

void situ_buf_printf(situ_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || situ_buf_reserve(b, (size_t)k))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong or surrogate */
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
        return 0;
    return n;
}

int situ_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (int n; *p; p += n)
        if (!(n = utf8_len(p)))
            return 0;
    return 1;
}

char *situ_utf8_convert(iconv_t cd, const char *p, size_t n)
{
    size_t cap = 4 * n + 1, left = cap - 1;
    char *out = cd == (iconv_t)-1 ? NULL : malloc(cap), *in = (char *)p, *o = out;
    if (!out)
        return NULL;
    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &in, &n, &o, &left) == (size_t)-1 || iconv(cd, NULL, NULL, &o, &left))
        goto fail;
    *o = '\0';
    if (situ_utf8_valid(out))
        return out;
fail:
    free(out);
    return NULL;
}

char *situ_utf8_from(const char *from, const char *p, size_t n)
{
    if (memchr(p, '\0', n))
        return NULL;
    iconv_t cd = iconv_open("UTF-8", from);
    char *out = situ_utf8_convert(cd, p, n);
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    return out;
}

/* Length of the run at p that goes out as it is: printable ASCII other than
 * '"' and '\\', and whole valid UTF-8 sequences. */
static size_t plain_run(const unsigned char *p)
{
    const unsigned char *q = p;
    for (;;) {
        if (*q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\') {
            q++;
        } else if (*q >= 0x80) {
            int n = utf8_len(q);
            if (!n)
                break;
            q += n;
        } else {
            break;
        }
    }
    return (size_t)(q - p);
}

void situ_buf_add_json_str(situ_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    situ_buf_addc(b, '"');
    while (*p) {
        size_t run = plain_run(p);
        situ_buf_add(b, p, run);
        p += run;
        if (!*p)
            break;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            situ_buf_add(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            situ_buf_add(b, esc, 6);
        } else {
            situ_buf_add(b, "\xEF\xBF\xBD", 3); /* invalid UTF-8 byte */
        }
        p++;
    }
    situ_buf_addc(b, '"');
}

/* Writes the decimal digits of u backwards ending at end; returns the start. */
static char *digits(char *end, unsigned long long u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

void situ_buf_add_num(situ_buf *b, double v, int decimals)
{
    if (!isfinite(v)) {
        situ_buf_adds(b, "null");
        return;
    }
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (decimals >= 0 && decimals <= 9 && fabs(v) * pow10[decimals] < 9e15) {
        /* fixed point without printf: round to `decimals`, drop trailing zeros */
        long long scaled = llround(fabs(v) * pow10[decimals]);
        unsigned long long ip = (unsigned long long)scaled / (unsigned long long)pow10[decimals];
        unsigned long long fp = (unsigned long long)scaled % (unsigned long long)pow10[decimals];
        char tmp[48], *end = tmp + sizeof tmp, *w = end;
        int d = decimals;
        while (d > 0 && fp % 10 == 0)
            fp /= 10, d--;
        if (d > 0) {
            for (int k = 0; k < d; k++, fp /= 10)
                *--w = (char)('0' + fp % 10);
            *--w = '.';
        }
        w = digits(w, ip);
        if (v < 0 && scaled != 0)
            *--w = '-';
        situ_buf_add(b, w, (size_t)(end - w));
        return;
    }
    /* past the exact range: printf's digits straight into b (up to 309 of
     * them before the point), then the fraction's trailing zeros dropped */
    size_t start = b->n;
    situ_buf_printf(b, "%.*f", decimals, v);
    if (b->oom || b->n == start || !strchr(b->p + start, '.'))
        return;
    while (b->p[b->n - 1] == '0')
        b->n--;
    if (b->p[b->n - 1] == '.')
        b->n--;
    if (b->n - start == 2 && b->p[start] == '-' && b->p[start + 1] == '0')
        b->p[start] = '0', b->n--;
    b->p[b->n] = '\0';
}

int situ_array_grow(void **arr, size_t *cap, size_t n, size_t more, size_t elem)
{
    if (n + more <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n + more)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

char *situ_buf_steal(situ_buf *b, size_t *out_n)
{
    if (situ_buf_reserve(b, 0)) {
        situ_buf_dispose(b);
        return NULL;
    }
    char *p = b->p;
    if (out_n)
        *out_n = b->n;
    memset(b, 0, sizeof *b);
    return p;
}
