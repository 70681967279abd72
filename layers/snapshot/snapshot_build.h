/* snapshot_build.h: private to layers/snapshot/snapshot*.c. Building a situ_coll. */
#ifndef SITU_SNAPSHOT_BUILD_H
#define SITU_SNAPSHOT_BUILD_H

#include "situ/snapshot.h"

/* Frees a situ_coll and everything it owns, whatever its refs. */
void situ__coll_free(situ_coll *c);

#endif
