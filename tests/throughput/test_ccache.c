/* The persistent compile cache on its own (no device): keys, hit after miss, damaged entries
 * (a flipped byte, a truncated file) detected, dropped and rebuilt, and the size bound kept by
 * evicting the least recently used entries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fw_bench.h"
#include "../bench/test_util.h"

static char tmpdir[] = "/tmp/fw-test-ccache-XXXXXX";

static void key_of(int i, char key[FW_CCACHE_KEY_LEN + 1])
{
    char src[64];
    snprintf(src, sizeof src, "kernel source %d", i);
    const char *m[] = { "B=2", "A=1" };
    CHECK(fw_ccache_key("opencl|v|dev|1.0|OpenCL C 1.2", "x86", src, m, 2, NULL, "k", key) == 0);
}

static char *entry_file(const fw_ccache *c, const char *key)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%.2s/%s.bin", fw_ccache_dir(c), key, key + 2);
    return path;
}

static void test_keys(void)
{
    char a[FW_CCACHE_KEY_LEN + 1], b[FW_CCACHE_KEY_LEN + 1];
    const char *m1[] = { "A=1", "B=2" }, *m2[] = { "B=2", "A=1" }, *m3[] = { "A=1", "B=3" };
    CHECK(fw_ccache_key("id", "arch", "src", m1, 2, "-O2", "k", a) == 0);
    CHECK(strlen(a) == FW_CCACHE_KEY_LEN);
    CHECK(fw_ccache_key("id", "arch", "src", m2, 2, "-O2", "k", b) == 0);
    CHECK(strcmp(a, b) == 0);      /* macro order does not matter */
    CHECK(fw_ccache_key("id", "arch", "src", m3, 2, "-O2", "k", b) == 0);
    CHECK(strcmp(a, b) != 0);      /* a macro value does */
    CHECK(fw_ccache_key("id2", "arch", "src", m1, 2, "-O2", "k", b) == 0);
    CHECK(strcmp(a, b) != 0);      /* the device / compiler version does */
    CHECK(fw_ccache_key("id", "arch", "src", m1, 2, NULL, "k", b) == 0);
    CHECK(strcmp(a, b) != 0);      /* the options do */
    CHECK(fw_ccache_key("id", "arch", "src ", m1, 2, "-O2", "k", b) == 0);
    CHECK(strcmp(a, b) != 0);      /* the source does */
}

static void test_hit_corrupt_truncate(void)
{
    char dir[256], err[512];
    snprintf(dir, sizeof dir, "%s/a/b", tmpdir);   /* parents are created */
    fw_ccache *c = NULL;
    CHECKF(fw_ccache_open(dir, 0, &c, err, sizeof err) == 0, "%s", err);
    char key[FW_CCACHE_KEY_LEN + 1];
    key_of(1, key);
    void *data = NULL;
    size_t len = 0;
    CHECK(fw_ccache_get(c, key, &data, &len) == -ENOENT);
    unsigned char payload[3000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + 3);
    CHECK(fw_ccache_put(c, key, payload, sizeof payload) == 0);
    CHECK(fw_ccache_get(c, key, &data, &len) == 0);
    CHECK(len == sizeof payload && memcmp(data, payload, len) == 0);
    free(data);

    /* flip one payload byte: detected, dropped (the file is gone), a miss */
    const char *path = entry_file(c, key);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    unsigned char byte;
    CHECK(pread(fd, &byte, 1, 64 + 1000) == 1);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, 64 + 1000) == 1);
    close(fd);
    CHECK(fw_ccache_get(c, key, &data, &len) == -EBADMSG && data == NULL);
    CHECK(access(path, F_OK) != 0);
    fw_ccache_stats st;
    fw_ccache_get_stats(c, &st);
    CHECK(st.dropped == 1 && st.hits == 1);
    /* rebuilt: the next put stores a good entry */
    CHECK(fw_ccache_put(c, key, payload, sizeof payload) == 0);
    CHECK(fw_ccache_get(c, key, &data, &len) == 0 && len == sizeof payload);
    free(data);

    /* truncate: detected the same way */
    CHECK(truncate(path, 64 + 100) == 0);
    CHECK(fw_ccache_get(c, key, &data, &len) == -EBADMSG);
    CHECK(access(path, F_OK) != 0);
    /* a damaged header (shorter than one) too */
    CHECK(fw_ccache_put(c, key, payload, sizeof payload) == 0);
    CHECK(truncate(path, 10) == 0);
    CHECK(fw_ccache_get(c, key, &data, &len) == -EBADMSG);
    /* an entry copied under another key's name is not trusted */
    char key2[FW_CCACHE_KEY_LEN + 1];
    key_of(2, key2);
    CHECK(fw_ccache_put(c, key, payload, sizeof payload) == 0);
    char path2[1024];
    snprintf(path2, sizeof path2, "%s", entry_file(c, key2));
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%.2s", dir, key2);
    mkdir(sub, 0700);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", entry_file(c, key), path2);
    CHECK(system(cmd) == 0);
    CHECK(fw_ccache_get(c, key2, &data, &len) == -EBADMSG);
    fw_ccache_get_stats(c, &st);
    CHECK(st.dropped == 4);
    /* a new handle on the same directory sees the entry (persistence) */
    fw_ccache_close(c);
    CHECK(fw_ccache_open(dir, 0, &c, err, sizeof err) == 0);
    CHECK(fw_ccache_get(c, key, &data, &len) == 0 && len == sizeof payload);
    free(data);
    fw_ccache_close(c);
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        DIR *s = opendir(sub);
        struct dirent *fe;
        while (s && (fe = readdir(s))) {
            char p[2048];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", sub, fe->d_name);
            if (fe->d_name[0] != '.' && stat(p, &st) == 0)
                total += (uint64_t)st.st_size;
        }
        if (s)
            closedir(s);
    }
    closedir(d);
    return total;
}

static void test_eviction(void)
{
    char dir[256], err[512];
    snprintf(dir, sizeof dir, "%s/evict", tmpdir);
    fw_ccache *c = NULL;
    const uint64_t bound = 10 * 1024;
    CHECKF(fw_ccache_open(dir, bound, &c, err, sizeof err) == 0, "%s", err);
    unsigned char payload[1000 - 64];
    memset(payload, 0xab, sizeof payload);
    char keys[30][FW_CCACHE_KEY_LEN + 1];
    /* 9 entries of 1000 bytes fit; give them distinct, increasing mtimes (recency) */
    for (int i = 0; i < 9; i++) {
        key_of(100 + i, keys[i]);
        CHECK(fw_ccache_put(c, keys[i], payload, sizeof payload) == 0);
        struct timespec ts[2] = { { 1000000 + i, 0 }, { 1000000 + i, 0 } };
        CHECK(utimensat(AT_FDCWD, entry_file(c, keys[i]), ts, 0) == 0);
    }
    CHECK(dir_bytes(dir) == 9000);
    /* using entry 0 makes it the most recent: it must survive the eviction below */
    void *data;
    size_t len;
    CHECK(fw_ccache_get(c, keys[0], &data, &len) == 0);
    free(data);
    for (int i = 9; i < 30; i++) {
        key_of(100 + i, keys[i]);
        CHECK(fw_ccache_put(c, keys[i], payload, sizeof payload) == 0);
        CHECK(dir_bytes(dir) <= bound);
    }
    fw_ccache_stats st;
    fw_ccache_get_stats(c, &st);
    CHECK(st.evicted > 0);
    CHECK(access(entry_file(c, keys[1]), F_OK) != 0);    /* the least recently used went first */
    CHECK(access(entry_file(c, keys[29]), F_OK) == 0);   /* the newest stays */
    CHECK(fw_ccache_get(c, keys[29], &data, &len) == 0);
    free(data);
    /* an entry bigger than the whole bound is refused, not stored */
    unsigned char *big = calloc(1, bound);
    CHECK(fw_ccache_put(c, keys[1], big, bound) == -EFBIG);
    free(big);
    fw_ccache_close(c);
}

static void test_default_dir(void)
{
    char buf[512];
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    CHECK(fw_ccache_default_dir(buf, sizeof buf) == 0 && strcmp(buf, "/x/cache/fairway/compile") == 0);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(fw_ccache_default_dir(buf, sizeof buf) == 0 && strcmp(buf, "/home/u/.cache/fairway/compile") == 0);
}

int main(void)
{
    CHECK(mkdtemp(tmpdir));
    test_keys();
    test_hit_corrupt_truncate();
    test_eviction();
    test_default_dir();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    printf("ccache ok\n");
    return 0;
}
