/*
 * fuzz_cap.c: libFuzzer target for layers/feeds/cap.c, the CAP 1.2 reader (the
 * DOCTYPE refusal, libxml2 without network or entities, the element walk,
 * polygons, circles, references, times). Seeds: corpus/cap/.
 *   clang -fsanitize=fuzzer,address ... && ./fuzz_cap corpus/cap
 */
#include <stddef.h>
#include <stdint.h>

#include "situ/cap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    if (situ_cap_parse("meteorology", (const char *)data, size, NULL, &b, &err) == 0)
        situ_feed_batch_free(b);
    return 0;
}
