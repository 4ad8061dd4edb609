/* fw_db_fault.c - a full disk on demand, for tests only (FAIRWAY_TEST_DB_FULL, see fw_db_internal.h).
 *
 * A commit hook turns every commit into a rollback while the fault is on; fw_db.c reports such a
 * commit as SQLite's own "database or disk is full" (-ENOSPC), so callers see what a full disk gives
 * them, and the test decides when the disk is full again and when it has room. */
#include "fw_db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

static int commit_hook(void *arg)
{
    fw_db_fault *f = arg;
    if (!f->armed || access(f->path, F_OK) != 0)
        return 0;
    f->fired = 1;
    return 1;
}

void fw_db_fault_setup(fw_db_fault *f, struct sqlite3 *h)
{
    memset(f, 0, sizeof *f);
    const char *v = getenv("FAIRWAY_TEST_DB_FULL");
    if (!v || !*v)
        return;
    char *end;
    long long k = strtoll(v, &end, 10);
    if (end == v || *end != ':' || !end[1] || strlen(end + 1) >= sizeof f->path)
        return;
    f->min_seq = k;
    snprintf(f->path, sizeof f->path, "%s", end + 1);
    sqlite3_commit_hook(h, commit_hook, f);
}

void fw_db_fault_seq(fw_db_fault *f, long long seq)
{
    if (f->path[0] && seq >= f->min_seq)
        f->armed = 1;
}

int fw_db_fault_take(fw_db_fault *f, int rc)
{
    if (rc != SQLITE_CONSTRAINT_COMMITHOOK || !f->fired)
        return 0;
    f->fired = 0;
    return 1;
}
