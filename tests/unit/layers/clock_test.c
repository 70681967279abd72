/* clock_test.c: tests layers/clock.c, the monotonic clock and the backoff. */
#include "testlib.h"

#include "situ/clock.h"

static void the_clock_does_not_go_back(void **state)
{
    (void)state;
    double a = situ_clock_s(), b = situ_clock_s();
    assert_true(a > 0 && b >= a);
}

/* 0.2 s doubles to 0.4, 0.8, 1.6, then holds at the cap. */
static void backoff_doubles_up_to_its_cap(void **state)
{
    (void)state;
    static const double want[] = {0.4, 0.8, 1.6, 2.0, 2.0};
    double s = 0.2;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        s = situ_backoff_next(s, 2.0);
        assert_float_equal(s, want[i], 1e-12);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(the_clock_does_not_go_back),
    cmocka_unit_test(backoff_doubles_up_to_its_cap),
};

SITU_TEST_MAIN("clock", tests)
