/* kill -9 of the writing process between or during puts: on reopen every stored measurement is
 * whole (row + all its samples), seqs are 0..n-1 without holes, and at least every put the child
 * reported as committed is there. The child reports each commit on a pipe; the parent kills it
 * after a fixed number of reports, while it is in the middle of later puts (no sleeps, no timing). */
#include "db_test.h"

#include <signal.h>
#include <sys/wait.h>

#define NSAMP 50
#define KILL_AFTER 40

static void child(const char *path, int wfd)
{
    char err[256];
    fw_db *db = NULL;
    if (fw_db_open(path, &db, err, sizeof err) != 0) _exit(3);
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new j = job_template(spec, 5);
    int64_t job = 0;
    if (fw_db_job_create(db, &j, &job) != 0 || job != 1) _exit(4);
    for (int seq = 0; seq < 1000000; seq++) {
        char vk[32];
        snprintf(vk, sizeof vk, "TILE_N=%d", seq);
        if (put(db, job, 0, make_rec(seq, 0, "M=64", "gemm", "k", vk, "ok", 1000 + seq, NSAMP)) != 0)
            _exit(5);
        char c = 'x';
        if (write(wfd, &c, 1) != 1) _exit(6);
    }
    _exit(0);
}

int main(void)
{
    char path[512], err[512];
    test_path("kill.db", path, sizeof path);
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(path, p[1]);
    }
    close(p[1]);
    int acked = 0;
    char c;
    while (acked < KILL_AFTER && read(p[0], &c, 1) == 1) acked++;
    CHECK(acked == KILL_AFTER);
    CHECK(kill(pid, SIGKILL) == 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(p[0]);

    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    int64_t *seqs = NULL;
    size_t n = 0;
    CHECK_RC(db, fw_db_measured_seqs(db, 1, &seqs, &n), 0);
    CHECK(n >= KILL_AFTER);
    for (size_t i = 0; i < n; i++) CHECK(seqs[i] == (int64_t)i);
    free(seqs);
    printf("killed after %d acknowledged puts; %zu stored\n", KILL_AFTER, n);
    /* every stored measurement has all of its samples, and no orphan samples exist */
    CHECK(count_sql(db, "SELECT COUNT(*) FROM samples") == (long long)n * NSAMP);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements m WHERE (SELECT COUNT(*) FROM samples s "
                        "WHERE s.measurement = m.id) <> 50") == 0);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM variants") == (long long)n);
    /* the job resumes: the next seq lands, a repeated one is refused */
    CHECK_RC(db, put(db, 1, 0, make_rec((int)n, 0, "M=64", "gemm", "k", "TILE_N=next", "ok", 5, NSAMP)), 0);
    CHECK_RC(db, put(db, 1, 0, make_rec(0, 0, "M=64", "gemm", "k", "TILE_N=0", "ok", 5, NSAMP)), -EEXIST);
    fw_db_close(db);
    printf("db kill: ok\n");
    return 0;
}
