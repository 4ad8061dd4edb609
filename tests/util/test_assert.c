/* FW_ASSERT (util/fw_assert.h): on, a false condition prints file:line, the function and the
 * condition (and FW_ASSERT_MSG's message) and aborts; a true one does nothing, evaluating its
 * condition once. Built a second time with FW_ASSERTS 0 (test_assert_off): nothing fires and the
 * condition is not evaluated. Each failure is provoked in a forked child whose stderr is a pipe. */
#include "fw_assert.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
static int evaluated;

static void check(int cond, const char *what)
{
    printf("%s - %s\n", cond ? "ok" : "not ok", what);
    if (!cond)
        failures++;
}

static int count(int v)
{
    evaluated++;
    return v;
}

static const int plain_line = __LINE__ + 3;
static void plain(int x)
{
    FW_ASSERT(count(x) < 3);
}

static const int msg_line = __LINE__ + 3;
static void with_msg(int x)
{
    FW_ASSERT_MSG(x < 3, "x is %d, past %s", x, "the limit");
}

/* Run fn(arg) in a child; its stderr into out; 1 when it died of SIGABRT. */
static int child_aborts(void (*fn)(int), int arg, char *out, size_t outlen)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        close(p[0]);
        dup2(p[1], 2);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outlen && (r = read(p[0], out + n, outlen - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

int main(void)
{
    char out[4096], want[512];
#if FW_ASSERTS
    evaluated = 0;
    plain(1);
    with_msg(2);
    check(evaluated == 1, "a true FW_ASSERT returns, its condition evaluated once");

    check(child_aborts(plain, 7, out, sizeof out) == 1, "a false FW_ASSERT aborts");
    snprintf(want, sizeof want, "test_assert.c:%d: plain: FW_ASSERT(count(x) < 3) failed\n", plain_line);
    check(strstr(out, "fairway: ") == out && strstr(out, want) != NULL, "and prints file:line, function and condition");
    printf("# %s", out);

    check(child_aborts(with_msg, 5, out, sizeof out) == 1, "a false FW_ASSERT_MSG aborts");
    snprintf(want, sizeof want, "test_assert.c:%d: with_msg: FW_ASSERT(x < 3) failed: x is 5, past the limit\n",
             msg_line);
    check(strstr(out, want) != NULL, "and prints its message after the condition");
    printf("# %s", out);
#else
    printf("# this build has FW_ASSERTS 0: the checks of the off form\n");
    evaluated = 0;
    check(child_aborts(plain, 7, out, sizeof out) == 0 && out[0] == '\0', "FW_ASSERTS 0: a false FW_ASSERT does nothing");
    check(child_aborts(with_msg, 5, out, sizeof out) == 0 && out[0] == '\0', "FW_ASSERTS 0: nor FW_ASSERT_MSG");
    plain(7);
    check(evaluated == 0, "FW_ASSERTS 0: the condition is not evaluated");
    (void)want;
    (void)plain_line;
    (void)msg_line;
#endif
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
