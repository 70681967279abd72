/* buf_test.c: tests layers/buf.c: JSON string escaping and number output. */
#include "testlib.h"

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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(json_strings_escape_and_repair_utf8),
    cmocka_unit_test(numbers_are_short_and_finite),
};

SITU_TEST_MAIN("buf", tests)
