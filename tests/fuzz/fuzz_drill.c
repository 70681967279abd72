/*
 * fuzz_drill.c: libFuzzer target for layers/drill/: a scenario read as JSON
 * (first byte even) or as the planners' CSV (odd; UTF-8, BOM or GBK), every
 * model check, the check of each inject through the feed and CAP parsers,
 * the scenario written back as JSON, each inject's feed body and batch at
 * a fixed time, and the clock run to the end at max speed. Payload files
 * are refused (no folder). Seeds: corpus/drill/.
 *   clang -fsanitize=fuzzer,address ... && ./fuzz_drill corpus/drill
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "situ/drill.h"

static void exercise(situ_drill_scenario *s)
{
    situ_err err = {0};
    situ_buf out;
    situ_buf_init(&out);
    if (situ_drill_check(s, NULL, &err))
        return;
    situ_drill_json(s, &out);
    situ_buf_dispose(&out);
    for (int i = 0; i < s->n; i++) {
        situ_feed_batch *b = NULL;
        if (situ_drill_inject_batch(&s->injects[i], 1781740800, NULL, &b, &err) == 0)
            situ_feed_batch_free(b);
    }
    situ_drill_sched *c = NULL;
    int idx[64];
    if (situ_drill_sched_new(s, SITU_DRILL_SPEED_MAX, 0, &c, &err) == 0) {
        while (situ_drill_sched_due(c, 0, idx, 64) == 64)
            ;
        situ_drill_sched_free(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const area[] = {"431103007"};
    static const situ_drill_csv_opts o = {
        .exercise_id = "F", .title = "f", .area = area, .narea = 1};
    if (size < 1)
        return 0;
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    const char *text = (const char *)data + 1;
    int rc = data[0] & 1 ? situ_drill_import_csv(text, size - 1, NULL, &o, &s, NULL, &err)
                         : situ_drill_parse(text, size - 1, NULL, &s, &err);
    if (rc == 0)
        exercise(s);
    situ_drill_free(s);
    return 0;
}
