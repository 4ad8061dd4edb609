/* The store's own safety at open: a new store and its -wal/-shm are created 0600 whatever the umask
 * (job specs hold users' kernel sources); a store with one damaged page is refused with a sentence
 * that says what to do, and the file is left as it was. The test switch FAIRWAY_TEST_DB_FULL makes
 * commits fail as on a full disk, from a chosen seq on, while a file exists; nothing is half-stored. */
#include "db_test.h"

#include <fcntl.h>
#include <sys/stat.h>

#define NSAMP 300

static unsigned file_mode(const char *path)
{
    struct stat st;
    CHECK(stat(path, &st) == 0);
    return (unsigned)(st.st_mode & 0777);
}

static void fill(const char *path, int nrec)
{
    char err[512];
    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new j = job_template(spec, 1);
    int64_t job = 0, dev = 0;
    CHECK_RC(db, fw_db_job_create(db, &j, &job), 0);
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|x|y|z|w", NULL, &dev), 0);
    for (int seq = 0; seq < nrec; seq++) {
        char vk[32];
        snprintf(vk, sizeof vk, "TILE_N=%d", seq);
        CHECK_RC(db, put(db, job, dev, make_rec(seq, 0, "M=64", "gemm", "gemm_tiled", vk, "ok", 1000 + seq,
                                                NSAMP)), 0);
    }
    cJSON_Delete(spec);
    fw_db_close(db);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    CHECK(a && b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) CHECK(fwrite(buf, 1, n, b) == n);
    fclose(a);
    CHECK(fclose(b) == 0);
}

static void test_modes(void)
{
    char path[512], wal[600], shm[600], err[512];
    mode_t old = umask(022);
    test_path("modes.db", path, sizeof path);
    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    CHECK_RC(db, fw_db_source_put(db, "h", "__kernel void k(void) {}"), 0);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    CHECK(file_mode(path) == 0600);
    CHECK(file_mode(wal) == 0600);
    CHECK(file_mode(shm) == 0600);
    fw_db_close(db);
    umask(old);
}

static void test_damaged_page(void)
{
    char path[512], bad[512], err[1024];
    test_path("whole.db", path, sizeof path);
    fill(path, 200);
    test_path("damaged.db", bad, sizeof bad);
    copy_file(path, bad);
    struct stat st;
    CHECK(stat(bad, &st) == 0);
    long pages = (long)(st.st_size / 4096);
    CHECK(pages > 20);
    /* One page in the middle (a samples or measurements b-tree page) overwritten with garbage. */
    int fd = open(bad, O_WRONLY);
    CHECK(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    CHECK(pwrite(fd, junk, sizeof junk, (off_t)(pages / 2) * 4096) == (ssize_t)sizeof junk);
    close(fd);
    CHECK(stat(bad, &st) == 0);
    off_t size = st.st_size;

    fw_db *db = NULL;
    int rc = fw_db_open(bad, &db, err, sizeof err);
    if (rc != -EIO) fprintf(stderr, "open of a damaged store: %d: %s\n", rc, err);
    CHECK(rc == -EIO);
    CHECK(db == NULL);
    CHECK(strstr(err, "is damaged") != NULL);
    CHECK(strstr(err, "Restore a copy") != NULL);
    CHECK(strstr(err, bad) != NULL);
    CHECK(stat(bad, &st) == 0 && st.st_size == size);

    /* The undamaged original still opens. */
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements") == 200);
    fw_db_close(db);
}

static void test_full_fault(void)
{
    char path[512], flag[512], err[512];
    test_path("fault.db", path, sizeof path);
    test_path("full", flag, sizeof flag);
    FILE *f = fopen(flag, "w");
    CHECK(f && fclose(f) == 0);
    char env[600];
    snprintf(env, sizeof env, "2:%s", flag);
    setenv("FAIRWAY_TEST_DB_FULL", env, 1);
    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    unsetenv("FAIRWAY_TEST_DB_FULL");
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new j = job_template(spec, 1);
    int64_t job = 0;
    CHECK_RC(db, fw_db_job_create(db, &j, &job), 0);
    CHECK_RC(db, fw_db_job_set_state(db, job, "running", NULL), 0);   /* not armed before seq 2 */
    for (int seq = 0; seq < 2; seq++)
        CHECK_RC(db, put(db, job, 0, make_rec(seq, 0, "M=64", "gemm", "k", "A=1", "ok", 100, 3)), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(db, put(db, job, 0, make_rec(2, 0, "M=64", "gemm", "k", "A=2", "ok", 90, 3)), -ENOSPC);
        CHECK(strstr(fw_db_error(db), "database or disk is full") != NULL);
    }
    CHECK_RC(db, fw_db_job_set_state(db, job, "done", NULL), -ENOSPC);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements") == 2);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM samples") == 6);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM jobs WHERE state = 'running'") == 1);
    CHECK(unlink(flag) == 0);   /* room again */
    CHECK_RC(db, put(db, job, 0, make_rec(2, 0, "M=64", "gemm", "k", "A=2", "ok", 90, 3)), 0);
    CHECK_RC(db, fw_db_job_set_state(db, job, "done", NULL), 0);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements") == 3);
    cJSON_Delete(spec);
    fw_db_close(db);
}

int main(void)
{
    test_full_fault();
    test_modes();
    test_damaged_page();
    printf("ok\n");
    return 0;
}
