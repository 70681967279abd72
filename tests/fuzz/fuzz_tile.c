/*
 * fuzz_tile.c: libFuzzer target for the tile address parser (layers/tiles/tile.c:
 * situ_tile_parse_path and situ_tile_set_parse, which see the URL parts of
 * GET /tiles/{set}/{z}/{x}/{y}.mvt) and, with the same bytes, the MVT decoder
 * of layers/tiles/mvt.c. Seeds: corpus/tile/.
 *   clang -fsanitize=fuzzer,address ... && ./fuzz_tile corpus/tile
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "situ/mvt.h"
#include "situ/tile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    situ_tile_xyz t;
    situ_err err = {0};
    int set;
    char *slash = strchr(s, '/');
    if (slash) {
        *slash = '\0';
        situ_tile_set_parse(s, &set, &err);
        if (situ_tile_parse_path(slash + 1, ".mvt", &t, &err) == 0 &&
            (t.z > SITU_TILE_MAXZOOM || t.x >> t.z || t.y >> t.z))
            abort(); /* accepted a tile that does not exist */
    }
    free(s);
    situ_mvt_tile *mt = NULL;
    if (situ_mvt_decode(data, size, &mt, &err) == 0) {
        for (size_t l = 0; l < mt->nlayers; l++)
            for (size_t f = 0; f < mt->layers[l].nfeats; f++) {
                int32_t *xy;
                uint32_t *parts;
                size_t npts, nparts;
                if (!situ_mvt_geom_decode(&mt->layers[l].feats[f], &xy, &npts, &parts, &nparts,
                                          &err))
                    free(xy), free(parts);
            }
        situ_mvt_tile_free(mt);
    }
    return 0;
}
