/*
 * service.h: private to daemon/. What situd owes the system it runs on:
 * never serving as root (it binds its port, then becomes --user), and
 * telling systemd (Type=notify) when it is ready and when it stops.
 */
#ifndef SITUD_SERVICE_H
#define SITUD_SERVICE_H

#include <stddef.h>

#include "config.h"

/* Checks, before anything is opened, that the process may go on: as root
 * only with a user to become (which must exist); not root, --user may only
 * name the current user. 0, or -1 with a message in msg. */
int situd_service_check_user(const situd_config *cfg, char *msg, size_t nmsg);
/* As root: becomes cfg->user (its groups, then its gid and uid) for good,
 * with no way back and no new privileges. Does nothing when not root.
 * 0, or -1 with a message in msg. */
int situd_service_drop_privileges(const situd_config *cfg, char *msg, size_t nmsg);
/* Tells the service manager (sd_notify; nothing without libsystemd or
 * outside systemd): "READY=1", "STOPPING=1", "STATUS=...". */
void situd_service_notify(const char *state);

#endif
