/* The Metal backend: see fw_metal.h for the choices it makes.
 *
 * This file never calls objc_msgSend itself: every message goes through the fw_metal_rt table, so
 * the same logic runs against the real runtime on macOS and against tests/metal's recording fake on
 * Linux. Ownership follows Cocoa's rule without ARC: alloc/new.../Create results are +1 and are
 * released here; everything else is +0 and lives until the enclosing autorelease pool pops, which
 * is why each entry point pushes one and pops it on every path out.
 */
#include "fw_metal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every selector and class this backend sends or looks up. metal/selectors.txt is the reviewed
 * copy of this list (each entry checked against Apple's documentation / metal-cpp); tests/metal
 * compares the two both ways, so a new selector cannot slip in unreviewed. */
#define FW_METAL_SELECTORS(X)                                                   \
    X(new_, "new")                                                              \
    X(release, "release")                                                       \
    X(respondsToSelector, "respondsToSelector:")                                \
    X(stringWithUTF8String, "stringWithUTF8String:")                            \
    X(UTF8String, "UTF8String")                                                 \
    X(numberWithLongLong, "numberWithLongLong:")                                \
    X(dictionaryWithObjects, "dictionaryWithObjects:forKeys:count:")            \
    X(localizedDescription, "localizedDescription")                             \
    X(code, "code")                                                             \
    X(processInfo, "processInfo")                                               \
    X(operatingSystemVersionString, "operatingSystemVersionString")             \
    X(name, "name")                                                             \
    X(maxThreadsPerThreadgroup, "maxThreadsPerThreadgroup")                     \
    X(maxThreadgroupMemoryLength, "maxThreadgroupMemoryLength")                 \
    X(recommendedMaxWorkingSetSize, "recommendedMaxWorkingSetSize")             \
    X(maxBufferLength, "maxBufferLength")                                       \
    X(supportsFamily, "supportsFamily:")                                        \
    X(newCommandQueue, "newCommandQueue")                                       \
    X(setPreprocessorMacros, "setPreprocessorMacros:")                          \
    X(setLanguageVersion, "setLanguageVersion:")                                \
    X(setFastMathEnabled, "setFastMathEnabled:")                                \
    X(setMathMode, "setMathMode:")                                              \
    X(newLibraryWithSource, "newLibraryWithSource:options:error:")              \
    X(newFunctionWithName, "newFunctionWithName:")                              \
    X(newComputePipelineState, "newComputePipelineStateWithFunction:error:")    \
    X(maxTotalThreadsPerThreadgroup, "maxTotalThreadsPerThreadgroup")           \
    X(threadExecutionWidth, "threadExecutionWidth")                             \
    X(staticThreadgroupMemoryLength, "staticThreadgroupMemoryLength")           \
    X(newBufferWithLength, "newBufferWithLength:options:")                      \
    X(contents, "contents")                                                     \
    X(commandBuffer, "commandBuffer")                                           \
    X(computeCommandEncoder, "computeCommandEncoder")                           \
    X(setComputePipelineState, "setComputePipelineState:")                      \
    X(setBuffer, "setBuffer:offset:atIndex:")                                   \
    X(setBytes, "setBytes:length:atIndex:")                                     \
    X(setThreadgroupMemoryLength, "setThreadgroupMemoryLength:atIndex:")        \
    X(dispatchThreadgroups, "dispatchThreadgroups:threadsPerThreadgroup:")      \
    X(endEncoding, "endEncoding")                                               \
    X(commit, "commit")                                                         \
    X(waitUntilCompleted, "waitUntilCompleted")                                 \
    X(status, "status")                                                         \
    X(error, "error")                                                           \
    X(GPUStartTime, "GPUStartTime")                                             \
    X(GPUEndTime, "GPUEndTime")

#define FW_METAL_CLASSES(X)                                                     \
    X(NSString, "NSString")                                                     \
    X(NSNumber, "NSNumber")                                                     \
    X(NSDictionary, "NSDictionary")                                             \
    X(NSProcessInfo, "NSProcessInfo")                                           \
    X(MTLCompileOptions, "MTLCompileOptions")

typedef struct sels {
#define X(field, text) SEL field;
    FW_METAL_SELECTORS(X)
#undef X
} sels;

typedef struct classes {
#define X(field, text) id field;
    FW_METAL_CLASSES(X)
#undef X
} classes;

struct fw_device {
    const fw_metal_rt *rt;
    sels s;
    classes c;
    id device;            /* +1 */
    id queue;             /* +1 */
    fw_nsuint language;   /* default MTLLanguageVersion */
    char *err;
};

struct fw_program {
    id pipeline;          /* +1 */
    fw_resources res;
};

struct fw_buffer {
    id buffer;            /* +1 */
    size_t bytes;         /* what the caller asked for (the Metal buffer may be larger) */
    unsigned char *host;  /* -contents of the shared-storage buffer */
};

static const fw_metal_rt *installed;

void fw_metal_set_runtime(const fw_metal_rt *rt)
{
    installed = rt;
}

const fw_metal_rt *fw_metal_runtime(void)
{
    if (installed)
        return installed;
#if defined(FW_METAL_REAL_RUNTIME)
    return &fw_metal_objc_runtime;
#else
    return NULL;
#endif
}

static int set_err(fw_device *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(fw_device *d, int code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(d->err);
    d->err = malloc(strlen(msg) + 1);
    if (d->err)
        memcpy(d->err, msg, strlen(msg) + 1);
    return code;
}

static int errf(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Selectors and classes are looked up once per device: sel_registerName takes a lock. */
static int load_names(const fw_metal_rt *rt, sels *s, classes *c, char *err, size_t errlen)
{
#define X(field, text) s->field = rt->sel(text);
    FW_METAL_SELECTORS(X)
#undef X
#define X(field, text)                                                                                 \
    c->field = (id)rt->get_class(text);                                                                \
    if (!c->field)                                                                                     \
        return errf(err, errlen, -ENODEV, "the Objective-C class %s is not loaded: link Foundation "   \
                    "and Metal (the worker's build does this on macOS)", text);
    FW_METAL_CLASSES(X)
#undef X
    return 0;
}

static void copy_cstr(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* The NSError's localizedDescription copied into buf (the string is +0: copy before the pool pops). */
static void error_text(fw_device *d, id error, char *buf, size_t len, fw_nsint *code)
{
    const fw_metal_rt *rt = d->rt;
    *code = error ? rt->send_int(error, d->s.code) : 0;
    id desc = error ? rt->send_id(error, d->s.localizedDescription) : NULL;
    const char *t = desc ? rt->send_cstr(desc, d->s.UTF8String) : NULL;
    copy_cstr(buf, len, t && *t ? t : "(Metal gave no description)");
}

static id nsstring(fw_device *d, const char *s)
{
    return d->rt->send_id_cstr(d->c.NSString, d->s.stringWithUTF8String, s);
}

static int metal_device_count(void)
{
    const fw_metal_rt *rt = fw_metal_runtime();
    if (!rt || rt->version != FW_METAL_RT_VERSION)
        return 0;
    void *pool = rt->pool_push();
    id dev = rt->create_device();
    int n = dev != NULL;
    if (dev)
        rt->send_void(dev, rt->sel("release"));
    rt->pool_pop(pool);
    return n;
}

static void metal_close(fw_device *d)
{
    if (!d)
        return;
    if (d->rt) {
        void *pool = d->rt->pool_push();
        if (d->queue)
            d->rt->send_void(d->queue, d->s.release);
        if (d->device)
            d->rt->send_void(d->device, d->s.release);
        d->rt->pool_pop(pool);
    }
    free(d->err);
    free(d);
}

static void device_info(fw_device *d, fw_device_info *info)
{
    const fw_metal_rt *rt = d->rt;
    memset(info, 0, sizeof *info);
    copy_cstr(info->backend, sizeof info->backend, "metal");
    copy_cstr(info->dialect, sizeof info->dialect, "metal");
    copy_cstr(info->vendor, sizeof info->vendor, "Apple");
    id name = rt->send_id(d->device, d->s.name);
    copy_cstr(info->name, sizeof info->name, name ? rt->send_cstr(name, d->s.UTF8String) : "");
    /* The compiler ships with the OS, so the OS version is the driver/compiler identity. */
    id pinfo = rt->send_id(d->c.NSProcessInfo, d->s.processInfo);
    id osv = pinfo ? rt->send_id(pinfo, d->s.operatingSystemVersionString) : NULL;
    copy_cstr(info->driver, sizeof info->driver, osv ? rt->send_cstr(osv, d->s.UTF8String) : "");
    snprintf(info->compiler, sizeof info->compiler, "Metal %lu.%lu", d->language >> 16, d->language & 0xffff);
    copy_cstr(info->arch, sizeof info->arch, "");
    for (fw_nsint f = FW_MTL_GPU_FAMILY_APPLE9; f >= FW_MTL_GPU_FAMILY_APPLE1; f--)
        if (rt->send_bool_int(d->device, d->s.supportsFamily, f)) {
            snprintf(info->arch, sizeof info->arch, "apple%ld", f - FW_MTL_GPU_FAMILY_APPLE1 + 1);
            break;
        }
    fw_mtl_size mt = rt->send_size(d->device, d->s.maxThreadsPerThreadgroup);
    info->max_threads = (int64_t)mt.width;
    info->shared_bytes = (int64_t)rt->send_uint(d->device, d->s.maxThreadgroupMemoryLength);
    /* Apple GPUs run SIMD groups of 32; pipelines report their own threadExecutionWidth. */
    info->simd_width = 32;
    info->compute_units = 0;   /* Metal does not report GPU cores */
    info->global_mem_bytes = (int64_t)rt->send_uint(d->device, d->s.recommendedMaxWorkingSetSize);
    info->max_alloc_bytes = (int64_t)rt->send_uint(d->device, d->s.maxBufferLength);
}

static int metal_open(int index, fw_device **out, fw_device_info *info, char *err, size_t errlen)
{
    *out = NULL;
    const fw_metal_rt *rt = fw_metal_runtime();
    if (!rt)
        return errf(err, errlen, -ENODEV, "the Metal backend runs on macOS only (this build has no "
                    "Objective-C runtime)");
    if (rt->version != FW_METAL_RT_VERSION)
        return errf(err, errlen, -ENODEV, "the Metal runtime table has version %d, this backend needs %d",
                    rt->version, FW_METAL_RT_VERSION);
    if (index != 0)
        return errf(err, errlen, -ENODEV, "Metal device %d does not exist: fairway uses the system "
                    "default device, index 0", index);
    fw_device *d = calloc(1, sizeof *d);
    if (!d)
        return errf(err, errlen, -ENOMEM, "out of memory");
    d->rt = rt;
    d->language = (3UL << 16) | 0UL;   /* Metal 3.0: macOS 13, the oldest system fairway supports */
    void *pool = rt->pool_push();
    int rc = load_names(rt, &d->s, &d->c, err, errlen);
    if (rc == 0) {
        d->device = rt->create_device();
        if (!d->device)
            rc = errf(err, errlen, -ENODEV, "MTLCreateSystemDefaultDevice returned nil: this Mac has no "
                      "Metal GPU, or the process does not link CoreGraphics (the worker's build links it)");
    }
    if (rc == 0) {
        d->queue = rt->send_id(d->device, d->s.newCommandQueue);
        if (!d->queue)
            rc = errf(err, errlen, -ENODEV, "the Metal device gave no command queue (newCommandQueue returned nil)");
    }
    if (rc == 0)
        device_info(d, info);
    rt->pool_pop(pool);
    if (rc < 0) {
        metal_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

static const char *metal_last_error(fw_device *d)
{
    return d && d->err ? d->err : "";
}

static void metal_program_free(fw_device *d, fw_program *p)
{
    if (!p)
        return;
    if (p->pipeline) {
        void *pool = d->rt->pool_push();
        d->rt->send_void(p->pipeline, d->s.release);
        d->rt->pool_pop(pool);
    }
    free(p);
}

/* Compile options: "-std=metalX.Y", "-ffast-math", "-fno-fast-math", separated by spaces. */
static int parse_options(fw_device *d, const char *options, fw_nsuint *language, int *fast)
{
    *language = d->language;
    *fast = 1;   /* Metal's own default: what an application compiling the same source gets */
    const char *p = options ? options : "";
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " \t");
        char tok[64];
        if (n >= sizeof tok)
            return set_err(d, -EINVAL, "Metal compile option '%.*s...' is too long", 32, p);
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += n;
        unsigned maj, min;
        char extra;
        if (strcmp(tok, "-ffast-math") == 0)
            *fast = 1;
        else if (strcmp(tok, "-fno-fast-math") == 0)
            *fast = 0;
        else if (sscanf(tok, "-std=metal%u.%u%c", &maj, &min, &extra) == 2 && maj >= 1 && maj < 100 && min < 100)
            *language = ((fw_nsuint)maj << 16) | min;
        else
            return set_err(d, -EINVAL, "unknown Metal compile option '%s' (known: -std=metalX.Y, -ffast-math, "
                           "-fno-fast-math)", tok);
    }
    return 0;
}

/* The preprocessorMacros dictionary: NSString name -> NSNumber for an integer value (what the
 * MSL compiler substitutes as a literal), NSString otherwise, NSNumber 1 for a bare NAME. +0. */
static int macros_dict(fw_device *d, const char *const *macros, size_t n, id *dict)
{
    const fw_metal_rt *rt = d->rt;
    *dict = NULL;
    if (n == 0)
        return 0;
    id *keys = calloc(n, sizeof *keys), *vals = calloc(n, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return set_err(d, -ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *m = macros[i], *eq = strchr(m, '=');
        size_t nl = eq ? (size_t)(eq - m) : strlen(m);
        char name[128];
        if (nl == 0 || nl >= sizeof name) {
            rc = set_err(d, -EINVAL, "macro '%s' has no name or a name over 127 characters", m);
            break;
        }
        memcpy(name, m, nl);
        name[nl] = '\0';
        keys[i] = nsstring(d, name);
        if (!eq) {
            vals[i] = rt->send_id_llong(d->c.NSNumber, d->s.numberWithLongLong, 1);
        } else {
            char *end;
            errno = 0;
            long long v = strtoll(eq + 1, &end, 10);
            if (eq[1] && !*end && errno == 0)
                vals[i] = rt->send_id_llong(d->c.NSNumber, d->s.numberWithLongLong, v);
            else
                vals[i] = nsstring(d, eq + 1);
        }
        if (!keys[i] || !vals[i])
            rc = set_err(d, -ENOMEM, "out of memory building the Metal macro '%s'", name);
    }
    if (rc == 0) {
        *dict = rt->send_id_objs_keys_count(d->c.NSDictionary, d->s.dictionaryWithObjects, vals, keys, n);
        if (!*dict)
            rc = set_err(d, -ENOMEM, "out of memory building the Metal macro dictionary");
    }
    free(keys);
    free(vals);
    return rc;
}

static int compile_in_pool(fw_device *d, const char *source, const char *const *macros, size_t nmacros,
                           const char *options, const char *entry, fw_program **out)
{
    const fw_metal_rt *rt = d->rt;
    fw_nsuint language;
    int fast;
    int rc = parse_options(d, options, &language, &fast);
    if (rc < 0)
        return rc;
    id dict;
    if ((rc = macros_dict(d, macros, nmacros, &dict)) < 0)
        return rc;
    id src = nsstring(d, source);
    id name = nsstring(d, entry);
    /* stringWithUTF8String: answers nil for bytes that are not UTF-8 (and when memory runs out). */
    if (!src || !name)
        return set_err(d, -EINVAL, "the %s is not valid UTF-8 text, which Metal requires",
                       !src ? "kernel source" : "entry name");
    id opts = rt->send_id(d->c.MTLCompileOptions, d->s.new_);   /* +1 */
    if (!opts)
        return set_err(d, -ENOMEM, "MTLCompileOptions could not be created");
    if (dict)
        rt->send_void_id(opts, d->s.setPreprocessorMacros, dict);
    rt->send_void_uint(opts, d->s.setLanguageVersion, language);
    /* fastMathEnabled is deprecated in favour of mathMode on recent SDKs; use what this OS has. */
    if (rt->send_bool_sel(opts, d->s.respondsToSelector, d->s.setMathMode))
        rt->send_void_int(opts, d->s.setMathMode, fast ? FW_MTL_MATH_MODE_FAST : FW_MTL_MATH_MODE_SAFE);
    else
        rt->send_void_bool(opts, d->s.setFastMathEnabled, (fw_objc_bool)(fast ? 1 : 0));

    id error = NULL;
    id lib = rt->send_id_id_id_err(d->device, d->s.newLibraryWithSource, src, opts, &error);   /* +1 */
    rt->send_void(opts, d->s.release);
    char text[16384];
    fw_nsint code;
    if (!lib) {
        error_text(d, error, text, sizeof text, &code);
        return set_err(d, -EINVAL, "Metal compile failed (MTLLibraryError %ld):\n%s", (long)code, text);
    }
    /* A library together with an error object compiled with warnings (MTLLibraryErrorCompileWarning):
     * a success. Keep the text where a caller looking for it will find it. */
    if (error) {
        error_text(d, error, text, sizeof text, &code);
        set_err(d, 0, "Metal compiled with warnings (MTLLibraryError %ld):\n%s", (long)code, text);
    }
    id fn = rt->send_id_id(lib, d->s.newFunctionWithName, name);   /* +1, nil without an error */
    rt->send_void(lib, d->s.release);
    if (!fn)
        return set_err(d, -EINVAL, "the Metal library compiled but has no function named '%s' "
                       "(check the source's entry names)", entry);
    error = NULL;
    id pso = rt->send_id_id_err(d->device, d->s.newComputePipelineState, fn, &error);   /* +1 */
    rt->send_void(fn, d->s.release);
    if (!pso) {
        error_text(d, error, text, sizeof text, &code);
        return set_err(d, -EINVAL, "Metal could not build a compute pipeline for '%s' (error %ld):\n%s",
                       entry, (long)code, text);
    }
    fw_program *p = calloc(1, sizeof *p);
    if (!p) {
        rt->send_void(pso, d->s.release);
        return set_err(d, -ENOMEM, "out of memory");
    }
    p->pipeline = pso;
    p->res.max_threads = (int64_t)rt->send_uint(pso, d->s.maxTotalThreadsPerThreadgroup);
    p->res.simd_width = (int64_t)rt->send_uint(pso, d->s.threadExecutionWidth);
    p->res.static_shared_bytes = (int64_t)rt->send_uint(pso, d->s.staticThreadgroupMemoryLength);
    if (p->res.max_threads <= 0 || p->res.simd_width <= 0) {
        long long max_threads = (long long)p->res.max_threads, width = (long long)p->res.simd_width;
        metal_program_free(d, p);
        return set_err(d, -EINVAL, "the Metal pipeline for '%s' reports %lld max threads per threadgroup "
                       "and execution width %lld: it cannot be launched", entry, max_threads, width);
    }
    *out = p;
    return 0;
}

static int metal_compile(fw_device *d, const char *source, const char *const *macros, size_t nmacros,
                         const char *options, const char *entry, fw_program **out)
{
    *out = NULL;
    if (!source || !entry || !*entry)
        return set_err(d, -EINVAL, "compile needs a source text and an entry point name");
    void *pool = d->rt->pool_push();
    int rc = compile_in_pool(d, source, macros, nmacros, options, entry, out);
    d->rt->pool_pop(pool);
    return rc;
}

static int metal_resources(fw_device *d, fw_program *p, fw_resources *out)
{
    (void)d;
    *out = p->res;
    return 0;
}

static int metal_buffer_new(fw_device *d, size_t bytes, fw_buffer **out)
{
    const fw_metal_rt *rt = d->rt;
    *out = NULL;
    fw_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return set_err(d, -ENOMEM, "out of memory");
    void *pool = rt->pool_push();
    /* Metal refuses zero-length buffers; an empty workload buffer still needs a handle to bind. */
    b->buffer = rt->send_id_uint_uint(d->device, d->s.newBufferWithLength, (fw_nsuint)(bytes ? bytes : 4),
                                      FW_MTL_STORAGE_SHARED);
    b->host = b->buffer ? rt->send_ptr(b->buffer, d->s.contents) : NULL;
    if (b->buffer && !b->host)
        rt->send_void(b->buffer, d->s.release);
    rt->pool_pop(pool);
    if (!b->host) {
        free(b);
        return set_err(d, -ENOMEM, "Metal could not allocate a shared buffer of %zu bytes", bytes);
    }
    b->bytes = bytes;
    *out = b;
    return 0;
}

static int range_ok(fw_device *d, fw_buffer *b, size_t off, size_t n)
{
    if (off > b->bytes || n > b->bytes - off)
        return set_err(d, -ERANGE, "buffer access [%zu, %zu) is outside the %zu-byte buffer", off, off + n,
                       b->bytes);
    return 0;
}

static int metal_buffer_write(fw_device *d, fw_buffer *b, size_t off, const void *src, size_t n)
{
    int rc = range_ok(d, b, off, n);
    if (rc == 0 && n)
        memcpy(b->host + off, src, n);
    return rc;
}

static int metal_buffer_read(fw_device *d, fw_buffer *b, size_t off, void *dst, size_t n)
{
    int rc = range_ok(d, b, off, n);
    if (rc == 0 && n)
        memcpy(dst, b->host + off, n);
    return rc;
}

static int metal_buffer_fill(fw_device *d, fw_buffer *b, uint32_t pattern, size_t bytes)
{
    int rc = range_ok(d, b, 0, bytes);
    if (rc < 0)
        return rc;
    size_t i = 0;
    for (; i + 4 <= bytes; i += 4)
        memcpy(b->host + i, &pattern, 4);
    if (i < bytes)
        memcpy(b->host + i, &pattern, bytes - i);
    return 0;
}

static void metal_buffer_free(fw_device *d, fw_buffer *b)
{
    if (!b)
        return;
    if (b->buffer) {
        void *pool = d->rt->pool_push();
        d->rt->send_void(b->buffer, d->s.release);
        d->rt->pool_pop(pool);
    }
    free(b);
}

static int launch_in_pool(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *elapsed_ns)
{
    const fw_metal_rt *rt = d->rt;
    id cb = rt->send_id(d->queue, d->s.commandBuffer);   /* +0 */
    if (!cb)
        return set_err(d, -EIO, "the Metal queue gave no command buffer (commandBuffer returned nil)");
    id enc = rt->send_id(cb, d->s.computeCommandEncoder);   /* +0 */
    if (!enc)
        return set_err(d, -EIO, "the Metal command buffer gave no compute encoder");
    rt->send_void_id(enc, d->s.setComputePipelineState, p->pipeline);
    fw_nsuint tg = 0;   /* the next [[threadgroup(k)]] index of a local-memory argument */
    for (size_t i = 0; i < l->nargs; i++) {
        const fw_arg *a = &l->args[i];
        if (a->kind == FW_ARG_BUFFER)
            rt->send_void_id_uint_uint(enc, d->s.setBuffer, ((fw_buffer *)a->buffer)->buffer, 0, (fw_nsuint)i);
        else if (a->kind == FW_ARG_LOCAL)
            rt->send_void_uint_uint(enc, d->s.setThreadgroupMemoryLength, (fw_nsuint)((a->size + 15u) & ~(size_t)15u),
                                    tg++);
        else
            rt->send_void_ptr_uint_uint(enc, d->s.setBytes, a->bytes, (fw_nsuint)a->size, (fw_nsuint)i);
    }
    if (l->dynamic_shared_bytes)
        rt->send_void_uint_uint(enc, d->s.setThreadgroupMemoryLength,
                                (fw_nsuint)((l->dynamic_shared_bytes + 15u) & ~15u), 0);
    fw_mtl_size grid = {l->grid[0], l->grid[1], l->grid[2]};
    fw_mtl_size group = {l->group[0], l->group[1], l->group[2]};
    rt->send_void_size_size(enc, d->s.dispatchThreadgroups, grid, group);
    rt->send_void(enc, d->s.endEncoding);
    rt->send_void(cb, d->s.commit);
    rt->send_void(cb, d->s.waitUntilCompleted);
    fw_nsuint status = rt->send_uint(cb, d->s.status);
    if (status != FW_MTL_CB_STATUS_COMPLETED) {
        char text[2048];
        fw_nsint code;
        error_text(d, rt->send_id(cb, d->s.error), text, sizeof text, &code);
        /* A page fault or a lost device leaves nothing trustworthy: the worker exits and the daemon
         * records the variant as crashed. A timeout or an out-of-memory fails only this variant. */
        int sticky = code == FW_MTL_CB_ERROR_PAGE_FAULT || code == FW_MTL_CB_ERROR_DEVICE_REMOVED;
        return set_err(d, sticky ? -EFAULT : -EIO, "the Metal command buffer ended with status %lu "
                       "(MTLCommandBufferError %ld%s): %s", status, (long)code,
                       code == FW_MTL_CB_ERROR_TIMEOUT ? ", the GPU watchdog's timeout" :
                       code == FW_MTL_CB_ERROR_PAGE_FAULT ? ", a page fault" :
                       code == FW_MTL_CB_ERROR_OUT_OF_MEMORY ? ", out of memory" :
                       code == FW_MTL_CB_ERROR_DEVICE_REMOVED ? ", device removed" : "", text);
    }
    if (elapsed_ns) {
        double t0 = rt->send_double(cb, d->s.GPUStartTime), t1 = rt->send_double(cb, d->s.GPUEndTime);
        if (!(t1 > t0) || !(t0 > 0.0))
            return set_err(d, -EIO, "the Metal command buffer completed without GPU timestamps "
                           "(GPUStartTime %.9f, GPUEndTime %.9f)", t0, t1);
        *elapsed_ns = (uint64_t)((t1 - t0) * 1e9 + 0.5);
    }
    return 0;
}

static int metal_launch(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *elapsed_ns)
{
    uint64_t threads = (uint64_t)l->group[0] * l->group[1] * l->group[2];
    if (threads == 0 || (uint64_t)l->grid[0] * l->grid[1] * l->grid[2] == 0)
        return set_err(d, -EINVAL, "a Metal dispatch needs at least one threadgroup of at least one thread");
    if (p->res.max_threads > 0 && threads > (uint64_t)p->res.max_threads)
        return set_err(d, -EINVAL, "the dispatch asks for %llu threads per threadgroup; this pipeline allows "
                       "%lld (maxTotalThreadsPerThreadgroup)", (unsigned long long)threads,
                       (long long)p->res.max_threads);
    /* Checked before anything is encoded, so no encoder is ever left open. */
    for (size_t i = 0; i < l->nargs; i++) {
        const fw_arg *a = &l->args[i];
        if (a->kind == FW_ARG_BUFFER && !a->buffer)
            return set_err(d, -EINVAL, "argument %zu is a buffer argument without a buffer", i);
        if (a->kind == FW_ARG_BYTES && (!a->bytes || a->size == 0 || a->size > FW_MTL_SET_BYTES_MAX))
            return set_err(d, -EINVAL, "argument %zu passes %zu bytes by value; Metal's setBytes takes 1 to %d",
                           i, a->size, FW_MTL_SET_BYTES_MAX);
        if (a->kind == FW_ARG_LOCAL && (a->size == 0 || l->dynamic_shared_bytes))
            return set_err(d, -EINVAL, "argument %zu is threadgroup memory of %zu bytes%s", i, a->size,
                           a->size ? ", and the launch has dynamic_shared_bytes too: both would be threadgroup(0)"
                                   : "; it needs at least 1");
        if (a->kind != FW_ARG_BUFFER && a->kind != FW_ARG_BYTES && a->kind != FW_ARG_LOCAL)
            return set_err(d, -EINVAL, "argument %zu has an unknown kind %d", i, (int)a->kind);
    }
    void *pool = d->rt->pool_push();
    int rc = launch_in_pool(d, p, l, elapsed_ns);
    d->rt->pool_pop(pool);
    return rc;
}

const fw_backend fw_metal_backend = {
    .version = FW_BACKEND_VERSION,
    .name = "metal",
    .device_count = metal_device_count,
    .open = metal_open,
    .close = metal_close,
    .last_error = metal_last_error,
    .compile = metal_compile,
    .resources = metal_resources,
    .program_free = metal_program_free,
    .program_binary = NULL,
    .program_load = NULL,
    .buffer_new = metal_buffer_new,
    .buffer_write = metal_buffer_write,
    .buffer_read = metal_buffer_read,
    .buffer_fill = metal_buffer_fill,
    .buffer_free = metal_buffer_free,
    .launch = metal_launch,
};
