/* The persistent compile cache (fw_bench.h, "compile cache"). One file per entry, named by the
 * content key, under dir/<2 hex>/<30 hex>.bin. Files are written to a temporary name and renamed, so
 * a reader sees either no entry or a whole one even when two workers (or a crash) race; a damaged
 * file (disk error, a truncating copy, a hand edit) is caught by the header's length and checksum,
 * removed, and reported as a miss so the caller compiles again. */
#include "fw_bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fw_util.h"

#define MAGIC "FWCCACHE"
#define HDR_BYTES 64u

struct fw_ccache {
    char *dir;
    uint64_t max_bytes;
    uint64_t bytes;          /* estimate of the directory's entry bytes; rescanned on eviction */
    uint64_t tmp_counter;
    pthread_mutex_t lock;
    fw_ccache_stats stats;
};

/* Header: magic[8], version u32, reserved u32, payload length u64, payload checksum u64
 * (FNV-1a 64), key[32] (the name, so a file copied under another name is not trusted). */
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

static int mkdirs(const char *path)
{
    char *p = fw_strdup(path);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            int e = -errno;
            free(p);
            return e;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
    free(p);
    return rc;
}

int fw_ccache_default_dir(char *buf, size_t len)
{
    const char *x = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (x && *x == '/')
        n = snprintf(buf, len, "%s/fairway/compile", x);
    else if (home && *home)
        n = snprintf(buf, len, "%s/.cache/fairway/compile", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

typedef struct ent { char *path; uint64_t size; struct timespec mtime; } ent;

static int ent_cmp(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Every entry file (not temporaries) with size and mtime; the caller frees. */
static int scan(const char *dir, ent **out, size_t *n, uint64_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        DIR *s = opendir(sub);
        if (!s)
            continue;
        struct dirent *fe;
        while ((fe = readdir(s))) {
            size_t l = strlen(fe->d_name);
            if (fe->d_name[0] == '.' || l < 5 || strcmp(fe->d_name + l - 4, ".bin") != 0)
                continue;
            char path[4096 + 256];
            snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
            struct stat st;
            if (stat(path, &st) < 0)
                continue;
            if (*n == cap) {
                cap = cap ? 2 * cap : 64;
                ent *e = realloc(*out, cap * sizeof *e);
                if (!e) { rc = -ENOMEM; break; }
                *out = e;
            }
            (*out)[*n].path = fw_strdup(path);
            (*out)[*n].size = (uint64_t)st.st_size;
            (*out)[*n].mtime = st.st_mtim;
            if (!(*out)[*n].path) { rc = -ENOMEM; break; }
            *total += (uint64_t)st.st_size;
            (*n)++;
        }
        closedir(s);
    }
    closedir(d);
    return rc;
}

static void ents_free(ent *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].path);
    free(e);
}

int fw_ccache_open(const char *dir, uint64_t max_bytes, fw_ccache **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!dir || !*dir)
        return fw_errf(err, errlen, -EINVAL, "the compile cache needs a directory");
    int rc = mkdirs(dir);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot create the compile cache directory %s: %s "
                       "(give another with --cache-dir, or --no-cache)", dir, strerror(-rc));
    fw_ccache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = fw_strdup(dir))) {
        free(c);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    ent *e;
    size_t n;
    scan(dir, &e, &n, &c->bytes);
    ents_free(e, n);
    *out = c;
    return 0;
}

void fw_ccache_close(fw_ccache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->dir);
    free(c);
}

const char *fw_ccache_dir(const fw_ccache *c) { return c ? c->dir : NULL; }

void fw_ccache_get_stats(fw_ccache *c, fw_ccache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    out->bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}

static void entry_path(const fw_ccache *c, const char key[FW_CCACHE_KEY_LEN + 1], char *buf, size_t len)
{
    snprintf(buf, len, "%s/%.2s/%s.bin", c->dir, key, key + 2);
}

static int valid_key(const char *key)
{
    if (!key || strlen(key) != FW_CCACHE_KEY_LEN)
        return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static void drop(fw_ccache *c, const char *path, uint64_t size)
{
    if (unlink(path) == 0) {
        pthread_mutex_lock(&c->lock);
        c->stats.dropped++;
        c->bytes = c->bytes > size ? c->bytes - size : 0;
        pthread_mutex_unlock(&c->lock);
    }
}

int fw_ccache_get(fw_ccache *c, const char *key, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!c || !valid_key(key))
        return -EINVAL;
    char path[4096 + 64];
    entry_path(c, key, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pthread_mutex_lock(&c->lock);
        c->stats.misses++;
        pthread_mutex_unlock(&c->lock);
        return -ENOENT;
    }
    struct stat st;
    unsigned char hdr[HDR_BYTES];
    unsigned char *buf = NULL;
    int bad = 1;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)HDR_BYTES &&
        read(fd, hdr, HDR_BYTES) == (ssize_t)HDR_BYTES && memcmp(hdr, MAGIC, 8) == 0 &&
        get_u32(hdr + 8) == FW_CCACHE_FORMAT && memcmp(hdr + 32, key, FW_CCACHE_KEY_LEN) == 0) {
        uint64_t n = get_u64(hdr + 16);
        if (n == (uint64_t)st.st_size - HDR_BYTES && (buf = malloc(n ? n : 1))) {
            size_t got = 0;
            while (got < n) {
                ssize_t r = read(fd, buf + got, n - got);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            if (got == n && fw_hash64(FW_HASH64_INIT, buf, n) == get_u64(hdr + 24))
                bad = 0;
        }
        if (!bad) {
            *data = buf;
            *len = n;
        }
    }
    close(fd);
    if (bad) {
        free(buf);
        drop(c, path, (uint64_t)st.st_size);
        pthread_mutex_lock(&c->lock);
        c->stats.misses++;
        pthread_mutex_unlock(&c->lock);
        return -EBADMSG;
    }
    /* mtime is the recency eviction reads (atime is often off or relaxed on Linux mounts) */
    utimensat(AT_FDCWD, path, NULL, 0);
    pthread_mutex_lock(&c->lock);
    c->stats.hits++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Remove least recently used entries until the directory holds at most 90 % of the bound (a
 * margin, so eviction does not rescan the directory on every put once full). */
static void evict(fw_ccache *c)
{
    ent *e;
    size_t n;
    uint64_t total;
    if (scan(c->dir, &e, &n, &total) < 0) {
        ents_free(e, n);
        return;
    }
    qsort(e, n, sizeof *e, ent_cmp);
    uint64_t target = c->max_bytes / 10 * 9;
    uint64_t evicted = 0;
    for (size_t i = 0; i < n && total > target; i++) {
        if (unlink(e[i].path) == 0) {
            total -= e[i].size;
            evicted++;
        }
    }
    ents_free(e, n);
    pthread_mutex_lock(&c->lock);
    c->bytes = total;
    c->stats.evicted += evicted;
    pthread_mutex_unlock(&c->lock);
}

int fw_ccache_put(fw_ccache *c, const char *key, const void *data, size_t len)
{
    if (!c || !valid_key(key) || (!data && len))
        return -EINVAL;
    if (c->max_bytes && len + HDR_BYTES > c->max_bytes)
        return -EFBIG;    /* one entry larger than the whole bound: not worth keeping */
    char path[4096 + 64], tmp[4096 + 128], sub[4096 + 8];
    entry_path(c, key, path, sizeof path);
    snprintf(sub, sizeof sub, "%s/%.2s", c->dir, key);
    if (mkdir(sub, 0700) < 0 && errno != EEXIST)
        return -errno;
    pthread_mutex_lock(&c->lock);
    uint64_t k = ++c->tmp_counter;
    pthread_mutex_unlock(&c->lock);
    snprintf(tmp, sizeof tmp, "%s/.tmp.%ld.%" PRIu64, sub, (long)getpid(), k);
    unsigned char hdr[HDR_BYTES];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, MAGIC, 8);
    put_u32(hdr + 8, FW_CCACHE_FORMAT);
    put_u64(hdr + 16, (uint64_t)len);
    put_u64(hdr + 24, fw_hash64(FW_HASH64_INIT, data, len));
    memcpy(hdr + 32, key, FW_CCACHE_KEY_LEN);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    const unsigned char *parts[2] = { hdr, data };
    size_t lens[2] = { HDR_BYTES, len };
    for (int i = 0; i < 2 && rc == 0; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = write(fd, parts[i] + off, lens[i] - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            off += (size_t)w;
        }
    }
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    pthread_mutex_lock(&c->lock);
    c->stats.stores++;
    c->bytes += len + HDR_BYTES;
    int over = c->max_bytes && c->bytes > c->max_bytes;
    pthread_mutex_unlock(&c->lock);
    if (over)
        evict(c);
    return 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fw_ccache_key(const char *identity, const char *arch, const char *source, const char *const *macros,
                  size_t nmacros, const char *options, const char *entry, char out[FW_CCACHE_KEY_LEN + 1])
{
    const char **sorted = malloc((nmacros ? nmacros : 1) * sizeof *sorted);
    if (!sorted)
        return -ENOMEM;
    if (nmacros)
        memcpy(sorted, macros, nmacros * sizeof *sorted);
    qsort(sorted, nmacros, sizeof *sorted, cmp_strp);
    /* two FNV-1a streams with different starting points: 128 bits of name, so an accidental
     * collision between two variants' code is out of reach */
    uint64_t h[2] = { FW_HASH64_INIT, FW_HASH64_INIT ^ 0x9e3779b97f4a7c15ULL };
    for (int k = 0; k < 2; k++) {
        char fmt[8];
        snprintf(fmt, sizeof fmt, "v%d", FW_CCACHE_FORMAT);
        h[k] = fw_hash64_str(h[k], fmt);
        const char *fields[] = { identity, arch, options, entry };
        for (size_t i = 0; i < 4; i++) {
            h[k] = fw_hash64(h[k], "\x1f", 1);
            h[k] = fw_hash64_str(h[k], fields[i] ? fields[i] : "");
        }
        for (size_t i = 0; i < nmacros; i++) {
            h[k] = fw_hash64(h[k], "\x1e", 1);
            h[k] = fw_hash64_str(h[k], sorted[i]);
        }
        h[k] = fw_hash64(h[k], "\x1d", 1);
        h[k] = fw_hash64_str(h[k], source ? source : "");
    }
    free(sorted);
    fw_hash64_hex(h[0], out);
    fw_hash64_hex(h[1], out + 16);
    out[FW_CCACHE_KEY_LEN] = '\0';
    return 0;
}
