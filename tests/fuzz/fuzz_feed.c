/*
 * fuzz_feed.c: libFuzzer target for layers/feeds/feed.c, the reader of a
 * department's {"events": [...]} batch (JSON syntax, the envelope, every
 * event type's validation, the JSON answer), and for
 * layers/feeds/feed_apply.c, which applies what was read to the demo store
 * (stations created and moved, readings, feature updates, alerts, road
 * closures and their ends, the event log and duplicates), rolled back after
 * each input (support/feed_store.c). Seeds: corpus/feed/.
 *   clang -fsanitize=fuzzer,address ... && ./fuzz_feed corpus/feed
 */
#include <stddef.h>
#include <stdint.h>

#include "feed_store.h"
#include "situ/feed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    feed_store_snapshot();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    if (situ_feed_parse("meteorology", (const char *)data, size, &b, &err) == 0) {
        feed_store_apply(b);
        situ_buf out;
        situ_buf_init(&out);
        situ_feed_batch_json(b, &out);
        situ_buf_dispose(&out);
        situ_feed_batch_free(b);
    }
    return 0;
}
