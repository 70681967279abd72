/* buf_test.c: tests layers/buf.c: JSON string escaping and number output. */
#include "testlib.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "situ/buf.h"

static void json_strings_escape_and_repair_utf8(void **state)
{
    (void)state;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_add_json_str(&b, "a\"b\\c\n\x01永州");
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001永州\"");
    b.n = 0;
    situ_buf_add_json_str(&b, "bad\xff\xc0\xaf" "end\xe6\x9c"); /* invalid, overlong, truncated */
    assert_string_equal(b.p, "\"bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "end\xEF\xBF\xBD\xEF\xBF\xBD\"");
    situ_buf_dispose(&b);
}

static void numbers_are_short_and_finite(void **state)
{
    (void)state;
    situ_buf b;
    situ_buf_init(&b);
    double v[] = {111.6, -0.00000001, 26.123456789, 42, 1e20, NAN, 0.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        situ_buf_add_num(&b, v[i], 7);
        situ_buf_addc(&b, ' ');
    }
    assert_string_equal(b.p, "111.6 0 26.1234568 42 100000000000000000000 null 0.5 ");
    situ_buf_dispose(&b);
}

/* Numbers past the fixed-point path are printed whole: 1e308 read 316 bytes
 * out of a 64-byte stack array until fuzz_http sent /nearest?min_qty=1e308
 * (tests/fuzz/corpus/http/nearest_min_qty_1e308), and an integer's own
 * zeros were taken for trailing ones when there were no decimals. */
static void huge_numbers_are_whole(void **state)
{
    (void)state;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_add_num(&b, 1e308, 6);
    assert_int_equal(b.n, 309);
    assert_int_equal(strspn(b.p, "0123456789"), 309);
    b.n = 0;
    situ_buf_add_num(&b, -DBL_MAX, 9);
    assert_int_equal(b.n, 310);
    assert_true(b.p[0] == '-' && strspn(b.p + 1, "0123456789") == 309);
    b.n = 0;
    situ_buf_add_num(&b, 1e20, 0);
    situ_buf_addc(&b, ' ');
    situ_buf_add_num(&b, 12345678.25, 9);
    situ_buf_addc(&b, ' ');
    situ_buf_add_num(&b, -1e-12, 11);
    assert_string_equal(b.p, "100000000000000000000 12345678.25 0");
    situ_buf_dispose(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(json_strings_escape_and_repair_utf8),
    cmocka_unit_test(numbers_are_short_and_finite),
    cmocka_unit_test(huge_numbers_are_whole),
};

SITU_TEST_MAIN("buf", tests)
