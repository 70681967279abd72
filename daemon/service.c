/*
 * service.c: least privilege and the service manager. As root, situd binds
 * its port first (main.c), then drops to --user before it opens the
 * SpatiaLite file, so every file it creates (the -wal and -shm beside the
 * database) belongs to that user. It never runs with root's rights while
 * it reads what clients send.
 */
#include "service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef SITU_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static int fail(char *msg, size_t nmsg, const char *what, const char *user)
{
    snprintf(msg, nmsg, "%s %s: %s", what, user, strerror(errno));
    return -1;
}

int situd_service_check_user(const situd_config *cfg, char *msg, size_t nmsg)
{
    const char *user = cfg->user;
    if (geteuid() == 0 && !user[0]) {
        snprintf(msg, nmsg,
                 "refusing to run as root: pass --user NAME (or [server] user) "
                 "to serve as that user once the port is bound");
        return -1;
    }
    if (!user[0])
        return 0;
    errno = 0;
    const struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(msg, nmsg, "--user %s: %s", user, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(msg, nmsg, "--user %s is root; name an unprivileged user", user);
        return -1;
    }
    if (geteuid() != 0 && pw->pw_uid != geteuid()) {
        snprintf(msg, nmsg, "--user %s needs situd started as root (it runs as uid %u)", user,
                 (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int situd_service_drop_privileges(const situd_config *cfg, char *msg, size_t nmsg)
{
    if (geteuid() != 0)
        return 0;
    const char *user = cfg->user;
    const struct passwd *pw = getpwnam(user);
    if (!pw)
        return fail(msg, nmsg, "cannot find user", user);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (initgroups(user, gid))
        return fail(msg, nmsg, "cannot take the groups of", user);
    if (setgid(gid) || setuid(uid))
        return fail(msg, nmsg, "cannot become", user);
    if (setuid(0) == 0) {
        snprintf(msg, nmsg, "still able to become root after dropping to %s", user);
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    /* setuid() made the process undumpable; allow core files again (for the
     * post-mortem of a crash) and the sanitizers' leak checker. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    umask(027);
    return 0;
}

void situd_service_notify(const char *state)
{
#ifdef SITU_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}
