/*
 * fuzz_cap.c: libFuzzer target for layers/feeds/cap.c, the CAP 1.2 reader (the
 * DOCTYPE refusal, libxml2 without network or entities, the element walk,
 * polygons, circles, township geocodes against the demo's townships,
 * references, times), and for what layers/feeds/feed_apply.c does with an
 * alert read (Alert, Update, Cancel on the demo store, rolled back after
 * each input: support/feed_store.c). Seeds: corpus/cap/.
 *   clang -fsanitize=fuzzer,address ... && ./fuzz_cap corpus/cap
 */
#include <stddef.h>
#include <stdint.h>

#include "feed_store.h"
#include "situ/cap.h"

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
    const situ_coll *towns = feed_store_snapshot()->colls[SITU_C_TOWNSHIPS];
    if (situ_cap_parse("meteorology", (const char *)data, size, towns, &b, &err) == 0) {
        feed_store_apply(b);
        situ_feed_batch_free(b);
    }
    return 0;
}
