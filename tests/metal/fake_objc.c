/* fake_objc.c - the recording fake runtime of fake_objc.h. */
#include "fake_objc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_CLASS = 1, K_STRING, K_NUMBER, K_DICT, K_ERROR, K_PROCINFO, K_DEVICE, K_QUEUE, K_OPTIONS,
    K_LIBRARY, K_FUNCTION, K_PIPELINE, K_BUFFER, K_CMDBUF, K_ENCODER,
};

typedef struct fobj {
    struct objc_object_fake *pad;   /* never read: makes every object a distinct, aligned block */
    enum kind kind;
    const char *cls;                /* class name for K_CLASS */
    int rc;                         /* retain count; 0 = freed */
    int owned;                      /* created +1 (alloc/new/Create) */
    int pool;                       /* autorelease pool level it is registered in, 0 = none */
    char *str;                      /* K_STRING text; K_LIBRARY source */
    long long num;                  /* K_NUMBER value; K_ERROR code; K_BUFFER length */
    struct fobj *ref;               /* K_ERROR description; K_CMDBUF encoder */
    unsigned char *mem;             /* K_BUFFER contents */
    int ended, committed, waited, encoded_after_end;
    struct fobj *next_all;
} fobj;

#define MAX_SELS 256
#define MAX_POOLS 64

static struct {
    fake_script s;
    fake_record rec;
    fobj *all;
    char *sels[MAX_SELS];
    int nsels;
    int sent[MAX_SELS];
    int pool_depth, pushes, pops;
    int violations;
    char first[512];
    fobj classes[8];
    int nclasses;
} W;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    if (W.violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(W.first, sizeof W.first, fmt, ap);
        va_end(ap);
    }
}

static void free_world(void)
{
    fobj *o = W.all;
    while (o) {
        fobj *n = o->next_all;
        free(o->str);
        free(o->mem);
        free(o);
        o = n;
    }
    W.all = NULL;
    for (int i = 0; i < W.nsels; i++)
        free(W.sels[i]);
    W.nsels = 0;
}

void fake_reset(const fake_script *s)
{
    free_world();
    memset(&W, 0, sizeof W);
    if (s)
        W.s = *s;
    W.rec.math_mode = -1;
    W.rec.fast_math = -1;
    W.rec.buffer_options = 999;
}

fake_record *fake_rec(void) { return &W.rec; }
int fake_violations(void) { return W.violations; }
const char *fake_first_violation(void) { return W.first; }
int fake_pool_depth(void) { return W.pool_depth; }
int fake_pool_pushes(void) { return W.pushes; }
int fake_pool_pops(void) { return W.pops; }

int fake_owned_alive(void)
{
    int n = 0;
    for (fobj *o = W.all; o; o = o->next_all)
        n += o->owned && o->rc > 0;
    return n;
}

int fake_sent(const char *selector)
{
    for (int i = 0; i < W.nsels; i++)
        if (strcmp(W.sels[i], selector) == 0)
            return W.sent[i];
    return 0;
}

const char *fake_sel_outside(const char *const *allowed)
{
    for (int i = 0; i < W.nsels; i++) {
        int ok = 0;
        for (size_t j = 0; allowed[j]; j++)
            ok |= strcmp(allowed[j], W.sels[i]) == 0;
        if (!ok)
            return W.sels[i];
    }
    return NULL;
}

/* Objects. +1 objects are owned by the caller; +0 objects go to the innermost pool. */
static fobj *mk(enum kind k, int plus_one)
{
    fobj *o = calloc(1, sizeof *o);
    if (!o) {
        violation("the fake runtime ran out of memory");
        return NULL;
    }
    o->kind = k;
    o->rc = 1;
    o->owned = plus_one;
    if (!plus_one) {
        if (W.pool_depth == 0)
            violation("an object (kind %d) was autoreleased with no pool in place: it would leak", (int)k);
        o->pool = W.pool_depth;
    }
    o->next_all = W.all;
    W.all = o;
    return o;
}

static fobj *mkstr(const char *s, int plus_one)
{
    fobj *o = mk(K_STRING, plus_one);
    if (o)
        o->str = strdup(s ? s : "");
    return o;
}

static fobj *mkerr(long code, const char *text)
{
    fobj *e = mk(K_ERROR, 0);
    if (e) {
        e->num = code;
        e->ref = mkstr(text, 0);
    }
    return e;
}

static const char *selname(SEL s) { return (const char *)s; }

/* Every message: the receiver must be alive; count the selector. */
static fobj *recv(id self, SEL s, const char *shape)
{
    for (int i = 0; i < W.nsels; i++)
        if ((const char *)W.sels[i] == (const char *)s)
            W.sent[i]++;
    fobj *o = (fobj *)self;
    if (!o)
        return NULL;
    if (o->rc <= 0)
        violation("'%s' (%s) sent to an object that was already freed", selname(s), shape);
    return o;
}

/* An object passed as an argument: alive, not counted as a message. */
static fobj *argobj(id a, SEL s)
{
    fobj *o = (fobj *)a;
    if (o && o->rc <= 0)
        violation("a freed object was passed as an argument of '%s'", selname(s));
    return o;
}

static void unexpected(fobj *o, SEL s, const char *shape)
{
    violation("selector '%s' sent through the %s shape to an object of kind %d: wrong signature or receiver",
              selname(s), shape, o ? (int)o->kind : 0);
}

static int is(SEL s, const char *name) { return strcmp(selname(s), name) == 0; }

/* ---- C entry points ---------------------------------------------------------------------- */

static id f_create_device(void)
{
    if (W.s.no_device)
        return NULL;
    return (id)mk(K_DEVICE, 1);
}

static Class f_get_class(const char *name)
{
    if (W.s.missing_class && strcmp(name, "MTLCompileOptions") == 0)
        return NULL;
    for (int i = 0; i < W.nclasses; i++)
        if (strcmp(W.classes[i].cls, name) == 0)
            return (Class)&W.classes[i];
    if (W.nclasses == 8) {
        violation("too many classes looked up");
        return NULL;
    }
    fobj *c = &W.classes[W.nclasses++];
    c->kind = K_CLASS;
    c->cls = strcmp(name, "NSString") == 0 ? "NSString" : strcmp(name, "NSNumber") == 0 ? "NSNumber" :
             strcmp(name, "NSDictionary") == 0 ? "NSDictionary" : strcmp(name, "NSProcessInfo") == 0 ?
             "NSProcessInfo" : strcmp(name, "MTLCompileOptions") == 0 ? "MTLCompileOptions" : "?";
    c->rc = 1;
    return (Class)c;
}

static SEL f_sel(const char *name)
{
    for (int i = 0; i < W.nsels; i++)
        if (strcmp(W.sels[i], name) == 0)
            return (SEL)W.sels[i];
    if (W.nsels == MAX_SELS) {
        violation("too many selectors");
        return NULL;
    }
    W.sels[W.nsels] = strdup(name);
    return (SEL)W.sels[W.nsels++];
}

static void *f_pool_push(void)
{
    W.pushes++;
    return (void *)(size_t)++W.pool_depth;
}

static void f_pool_pop(void *p)
{
    W.pops++;
    int level = (int)(size_t)p;
    if (level != W.pool_depth) {
        violation("autorelease pool %d popped while pool %d is the innermost (pools must nest)", level,
                  W.pool_depth);
        return;
    }
    for (fobj *o = W.all; o; o = o->next_all)
        if (o->pool == level && o->rc > 0) {
            o->rc--;
            o->pool = 0;
        }
    W.pool_depth--;
}

/* ---- message shapes ---------------------------------------------------------------------- */

static id f_id(id self, SEL s)
{
    fobj *o = recv(self, s, "id (id, SEL)");
    if (!o)
        return NULL;
    if (o->kind == K_CLASS && is(s, "new") && strcmp(o->cls, "MTLCompileOptions") == 0)
        return (id)mk(K_OPTIONS, 1);
    if (o->kind == K_CLASS && is(s, "processInfo"))
        return (id)mk(K_PROCINFO, 0);
    if (o->kind == K_PROCINFO && is(s, "operatingSystemVersionString"))
        return (id)mkstr("Version 14.5 (Build 23F79)", 0);
    if (o->kind == K_DEVICE && is(s, "name"))
        return (id)mkstr("Fake Apple M3", 0);
    if (o->kind == K_DEVICE && is(s, "newCommandQueue"))
        return W.s.no_queue ? NULL : (id)mk(K_QUEUE, 1);
    if (o->kind == K_QUEUE && is(s, "commandBuffer"))
        return W.s.no_command_buffer ? NULL : (id)mk(K_CMDBUF, 0);
    if (o->kind == K_CMDBUF && is(s, "computeCommandEncoder")) {
        if (o->ref)
            violation("a second encoder was asked of one command buffer");
        o->ref = mk(K_ENCODER, 0);
        return (id)o->ref;
    }
    if (o->kind == K_CMDBUF && is(s, "error"))
        return W.s.cb_error && o->waited ? (id)mkerr(W.s.cb_error, "Execution of the command buffer was "
                                                     "aborted due to an error during execution.") : NULL;
    if (o->kind == K_ERROR && is(s, "localizedDescription"))
        return (id)o->ref;
    unexpected(o, s, "id (id, SEL)");
    return NULL;
}

static void f_void(id self, SEL s)
{
    fobj *o = recv(self, s, "void (id, SEL)");
    if (!o)
        return;
    if (is(s, "release")) {
        if (!o->owned && o->pool)
            violation("release of an autoreleased object (kind %d) the backend does not own", (int)o->kind);
        if (o->rc > 0)
            o->rc--;
        return;
    }
    if (o->kind == K_ENCODER && is(s, "endEncoding")) {
        if (o->ended)
            violation("endEncoding sent twice");
        o->ended = 1;
        return;
    }
    if (o->kind == K_CMDBUF && is(s, "commit")) {
        if (!o->ref || !o->ref->ended)
            violation("commit before the compute encoder's endEncoding");
        o->committed = 1;
        W.rec.commits++;
        return;
    }
    if (o->kind == K_CMDBUF && is(s, "waitUntilCompleted")) {
        if (!o->committed)
            violation("waitUntilCompleted on a command buffer that was never committed (it would block forever)");
        o->waited = 1;
        return;
    }
    unexpected(o, s, "void (id, SEL)");
}

static fw_nsuint f_uint(id self, SEL s)
{
    fobj *o = recv(self, s, "NSUInteger (id, SEL)");
    if (!o)
        return 0;
    if (o->kind == K_DEVICE && is(s, "maxThreadgroupMemoryLength"))
        return 32768;
    if (o->kind == K_DEVICE && is(s, "recommendedMaxWorkingSetSize"))
        return 16UL << 30;
    if (o->kind == K_DEVICE && is(s, "maxBufferLength"))
        return 8UL << 30;
    if (o->kind == K_PIPELINE && is(s, "maxTotalThreadsPerThreadgroup"))
        return 896;
    if (o->kind == K_PIPELINE && is(s, "threadExecutionWidth"))
        return 32;
    if (o->kind == K_PIPELINE && is(s, "staticThreadgroupMemoryLength"))
        return 4096;
    if (o->kind == K_CMDBUF && is(s, "status"))
        return !o->waited ? 2 : W.s.cb_error ? 5 : 4;
    unexpected(o, s, "NSUInteger (id, SEL)");
    return 0;
}

static fw_nsint f_int(id self, SEL s)
{
    fobj *o = recv(self, s, "NSInteger (id, SEL)");
    if (!o)
        return 0;
    if (o->kind == K_ERROR && is(s, "code"))
        return (fw_nsint)o->num;
    unexpected(o, s, "NSInteger (id, SEL)");
    return 0;
}

static double f_double(id self, SEL s)
{
    fobj *o = recv(self, s, "double (id, SEL)");
    if (!o)
        return 0;
    if (o->kind == K_CMDBUF && (is(s, "GPUStartTime") || is(s, "GPUEndTime"))) {
        if (!o->waited || W.s.no_timestamps)
            return 0.0;   /* Apple: 0.0 until the command buffer completes */
        return is(s, "GPUStartTime") ? 1000.25 : 1000.25 + 123456e-9;
    }
    unexpected(o, s, "double (id, SEL)");
    return 0;
}

static const char *f_cstr(id self, SEL s)
{
    fobj *o = recv(self, s, "const char * (id, SEL)");
    if (!o)
        return NULL;
    if (o->kind == K_STRING && is(s, "UTF8String"))
        return o->str;
    unexpected(o, s, "const char * (id, SEL)");
    return NULL;
}

static void *f_ptr(id self, SEL s)
{
    fobj *o = recv(self, s, "void * (id, SEL)");
    if (!o)
        return NULL;
    if (o->kind == K_BUFFER && is(s, "contents"))
        return o->mem;
    unexpected(o, s, "void * (id, SEL)");
    return NULL;
}

static fw_mtl_size f_size(id self, SEL s)
{
    fw_mtl_size z = {0, 0, 0};
    fobj *o = recv(self, s, "MTLSize (id, SEL)");
    if (!o)
        return z;
    if (o->kind == K_DEVICE && is(s, "maxThreadsPerThreadgroup")) {
        fw_mtl_size m = {1024, 1024, 1024};
        return m;
    }
    unexpected(o, s, "MTLSize (id, SEL)");
    return z;
}

static fw_objc_bool f_bool_sel(id self, SEL s, SEL a)
{
    fobj *o = recv(self, s, "BOOL (id, SEL, SEL)");
    if (o && is(s, "respondsToSelector:"))
        return (fw_objc_bool)(is(a, "setMathMode:") ? W.s.has_math_mode : 1);
    unexpected(o, s, "BOOL (id, SEL, SEL)");
    return 0;
}

static fw_objc_bool f_bool_int(id self, SEL s, fw_nsint a)
{
    fobj *o = recv(self, s, "BOOL (id, SEL, NSInteger)");
    if (o && o->kind == K_DEVICE && is(s, "supportsFamily:"))
        return (fw_objc_bool)(a >= 1001 && a <= 1009 ? a <= 1008 : 0);   /* an Apple8 GPU */
    unexpected(o, s, "BOOL (id, SEL, NSInteger)");
    return 0;
}

static id f_id_cstr(id self, SEL s, const char *a)
{
    fobj *o = recv(self, s, "id (id, SEL, const char *)");
    if (o && o->kind == K_CLASS && strcmp(o->cls, "NSString") == 0 && is(s, "stringWithUTF8String:")) {
        if (!a)
            violation("stringWithUTF8String: with NULL (Foundation raises an exception)");
        if (a && strchr(a, '\xff'))
            return NULL;   /* Foundation answers nil for bytes that are not UTF-8 (0xFF never is) */
        return (id)mkstr(a, 0);
    }
    unexpected(o, s, "id (id, SEL, const char *)");
    return NULL;
}

/* The fake library "contains" every function named after "kernel void " in its source. */
static int library_has(const fobj *lib, const char *name)
{
    const char *p = lib->str;
    size_t n = strlen(name);
    while (p && (p = strstr(p, "kernel void ")) != NULL) {
        p += strlen("kernel void ");
        if (strncmp(p, name, n) == 0 && p[n] == '(')
            return 1;
    }
    return 0;
}

static id f_id_id(id self, SEL s, id a)
{
    fobj *o = recv(self, s, "id (id, SEL, id)");
    fobj *arg = argobj(a, s);
    if (o && o->kind == K_LIBRARY && is(s, "newFunctionWithName:") && arg && arg->kind == K_STRING) {
        snprintf(W.rec.function_name, sizeof W.rec.function_name, "%s", arg->str);
        return library_has(o, arg->str) ? (id)mk(K_FUNCTION, 1) : NULL;
    }
    unexpected(o, s, "id (id, SEL, id)");
    return NULL;
}

static id f_id_llong(id self, SEL s, long long a)
{
    fobj *o = recv(self, s, "id (id, SEL, long long)");
    if (o && o->kind == K_CLASS && strcmp(o->cls, "NSNumber") == 0 && is(s, "numberWithLongLong:")) {
        fobj *n = mk(K_NUMBER, 0);
        if (n)
            n->num = a;
        return (id)n;
    }
    unexpected(o, s, "id (id, SEL, long long)");
    return NULL;
}

static id f_id_id_id_err(id self, SEL s, id a, id b, id *err)
{
    fobj *o = recv(self, s, "id (id, SEL, id, id, id *)");
    fobj *src = argobj(a, s), *opts = argobj(b, s);
    if (o && o->kind == K_DEVICE && is(s, "newLibraryWithSource:options:error:") && src &&
        src->kind == K_STRING && opts && opts->kind == K_OPTIONS && err) {
        if (W.s.compile_error) {
            *err = (id)mkerr(3, "program_source:7:12: error: use of undeclared identifier 'TILE_Q'");
            return NULL;
        }
        if (W.s.compile_warning)
            *err = (id)mkerr(4, "program_source:3:9: warning: unused variable 'unused'");
        fobj *lib = mk(K_LIBRARY, 1);
        if (lib)
            lib->str = strdup(src->str);
        return (id)lib;
    }
    unexpected(o, s, "id (id, SEL, id, id, id *)");
    return NULL;
}

static id f_id_id_err(id self, SEL s, id a, id *err)
{
    fobj *o = recv(self, s, "id (id, SEL, id, id *)");
    fobj *fn = argobj(a, s);
    if (o && o->kind == K_DEVICE && is(s, "newComputePipelineStateWithFunction:error:") && fn &&
        fn->kind == K_FUNCTION && err) {
        if (W.s.pipeline_error) {
            *err = (id)mkerr(1, "Compiler encountered an internal error");
            return NULL;
        }
        return (id)mk(K_PIPELINE, 1);
    }
    unexpected(o, s, "id (id, SEL, id, id *)");
    return NULL;
}

static id f_id_uint_uint(id self, SEL s, fw_nsuint len, fw_nsuint options)
{
    fobj *o = recv(self, s, "id (id, SEL, NSUInteger, NSUInteger)");
    if (o && o->kind == K_DEVICE && is(s, "newBufferWithLength:options:")) {
        W.rec.buffer_options = options;
        if (W.s.buffer_fail || len == 0)
            return NULL;
        fobj *b = mk(K_BUFFER, 1);
        if (b) {
            b->num = (long long)len;
            b->mem = calloc(1, len);
        }
        return (id)b;
    }
    unexpected(o, s, "id (id, SEL, NSUInteger, NSUInteger)");
    return NULL;
}

static id f_id_objs_keys_count(id self, SEL s, const id *objs, const id *keys, fw_nsuint n)
{
    fobj *o = recv(self, s, "id (id, SEL, const id *, const id *, NSUInteger)");
    if (o && o->kind == K_CLASS && strcmp(o->cls, "NSDictionary") == 0 &&
        is(s, "dictionaryWithObjects:forKeys:count:")) {
        W.rec.macros_n = (int)n;
        for (fw_nsuint i = 0; i < n && i < 16; i++) {
            fobj *k = argobj(keys[i], s), *v = argobj(objs[i], s);
            if (!k || k->kind != K_STRING)
                violation("macro dictionary key %lu is not an NSString", i);
            else
                snprintf(W.rec.macro_keys[i], 64, "%s", k->str);
            if (v && v->kind == K_NUMBER)
                snprintf(W.rec.macro_vals[i], 64, "num:%lld", v->num);
            else if (v && v->kind == K_STRING)
                snprintf(W.rec.macro_vals[i], 64, "str:%s", v->str);
            else
                violation("macro dictionary value %lu is neither NSNumber nor NSString", i);
        }
        return (id)mk(K_DICT, 0);
    }
    unexpected(o, s, "id (id, SEL, const id *, const id *, NSUInteger)");
    return NULL;
}

static void f_void_id(id self, SEL s, id a)
{
    fobj *o = recv(self, s, "void (id, SEL, id)");
    fobj *arg = argobj(a, s);
    if (o && o->kind == K_OPTIONS && is(s, "setPreprocessorMacros:") && arg && arg->kind == K_DICT)
        return;
    if (o && o->kind == K_ENCODER && is(s, "setComputePipelineState:") && arg && arg->kind == K_PIPELINE) {
        o->encoded_after_end |= o->ended;
        if (o->ended)
            violation("setComputePipelineState: after endEncoding");
        return;
    }
    unexpected(o, s, "void (id, SEL, id)");
}

static void f_void_bool(id self, SEL s, fw_objc_bool a)
{
    fobj *o = recv(self, s, "void (id, SEL, BOOL)");
    if (o && o->kind == K_OPTIONS && is(s, "setFastMathEnabled:")) {
        W.rec.fast_math = a ? 1 : 0;
        return;
    }
    unexpected(o, s, "void (id, SEL, BOOL)");
}

static void f_void_uint(id self, SEL s, fw_nsuint a)
{
    fobj *o = recv(self, s, "void (id, SEL, NSUInteger)");
    if (o && o->kind == K_OPTIONS && is(s, "setLanguageVersion:")) {
        W.rec.language = a;
        return;
    }
    unexpected(o, s, "void (id, SEL, NSUInteger)");
}

static void f_void_int(id self, SEL s, fw_nsint a)
{
    fobj *o = recv(self, s, "void (id, SEL, NSInteger)");
    if (o && o->kind == K_OPTIONS && is(s, "setMathMode:")) {
        if (!W.s.has_math_mode)
            violation("setMathMode: sent although respondsToSelector: said NO (unrecognized selector)");
        W.rec.math_mode = (int)a;
        return;
    }
    unexpected(o, s, "void (id, SEL, NSInteger)");
}

static void encoder_check(fobj *o, SEL s)
{
    if (o->ended)
        violation("'%s' encoded after endEncoding", selname(s));
}

static void f_void_uint_uint(id self, SEL s, fw_nsuint a, fw_nsuint b)
{
    fobj *o = recv(self, s, "void (id, SEL, NSUInteger, NSUInteger)");
    if (o && o->kind == K_ENCODER && is(s, "setThreadgroupMemoryLength:atIndex:")) {
        encoder_check(o, s);
        if (a % 16)
            violation("setThreadgroupMemoryLength: %lu is not a multiple of 16", a);
        W.rec.tg_mem_len = a;
        if (b < 8)
            W.rec.tg_mem_at[b] = a;
        return;
    }
    unexpected(o, s, "void (id, SEL, NSUInteger, NSUInteger)");
}

static void f_void_id_uint_uint(id self, SEL s, id a, fw_nsuint off, fw_nsuint idx)
{
    fobj *o = recv(self, s, "void (id, SEL, id, NSUInteger, NSUInteger)");
    fobj *buf = argobj(a, s);
    if (o && o->kind == K_ENCODER && is(s, "setBuffer:offset:atIndex:") && buf && buf->kind == K_BUFFER) {
        encoder_check(o, s);
        if (off != 0 || idx > 30)
            violation("setBuffer: offset %lu index %lu", off, idx);
        W.rec.set_buffers++;
        if (idx < 8 * sizeof W.rec.buffer_at)
            W.rec.buffer_at |= 1ul << idx;
        return;
    }
    unexpected(o, s, "void (id, SEL, id, NSUInteger, NSUInteger)");
}

static void f_void_ptr_uint_uint(id self, SEL s, const void *p, fw_nsuint len, fw_nsuint idx)
{
    fobj *o = recv(self, s, "void (id, SEL, const void *, NSUInteger, NSUInteger)");
    if (o && o->kind == K_ENCODER && is(s, "setBytes:length:atIndex:")) {
        encoder_check(o, s);
        if (!p || len == 0 || len > 4096)
            violation("setBytes: with %lu bytes", len);
        if (idx < 8)
            W.rec.set_bytes_len[idx] = len;
        W.rec.set_bytes++;
        return;
    }
    unexpected(o, s, "void (id, SEL, const void *, NSUInteger, NSUInteger)");
}

static void f_void_size_size(id self, SEL s, fw_mtl_size grid, fw_mtl_size group)
{
    fobj *o = recv(self, s, "void (id, SEL, MTLSize, MTLSize)");
    if (o && o->kind == K_ENCODER && is(s, "dispatchThreadgroups:threadsPerThreadgroup:")) {
        encoder_check(o, s);
        W.rec.grid[0] = grid.width;
        W.rec.grid[1] = grid.height;
        W.rec.grid[2] = grid.depth;
        W.rec.group[0] = group.width;
        W.rec.group[1] = group.height;
        W.rec.group[2] = group.depth;
        W.rec.dispatches++;
        return;
    }
    unexpected(o, s, "void (id, SEL, MTLSize, MTLSize)");
}

const fw_metal_rt fake_objc_runtime = {
    .version = FW_METAL_RT_VERSION,
    .create_device = f_create_device,
    .get_class = f_get_class,
    .sel = f_sel,
    .pool_push = f_pool_push,
    .pool_pop = f_pool_pop,
    .send_id = f_id,
    .send_void = f_void,
    .send_uint = f_uint,
    .send_int = f_int,
    .send_double = f_double,
    .send_cstr = f_cstr,
    .send_ptr = f_ptr,
    .send_size = f_size,
    .send_bool_sel = f_bool_sel,
    .send_bool_int = f_bool_int,
    .send_id_cstr = f_id_cstr,
    .send_id_id = f_id_id,
    .send_id_llong = f_id_llong,
    .send_id_id_id_err = f_id_id_id_err,
    .send_id_id_err = f_id_id_err,
    .send_id_uint_uint = f_id_uint_uint,
    .send_id_objs_keys_count = f_id_objs_keys_count,
    .send_void_id = f_void_id,
    .send_void_bool = f_void_bool,
    .send_void_uint = f_void_uint,
    .send_void_int = f_void_int,
    .send_void_uint_uint = f_void_uint_uint,
    .send_void_id_uint_uint = f_void_id_uint_uint,
    .send_void_ptr_uint_uint = f_void_ptr_uint_uint,
    .send_void_size_size = f_void_size_size,
};
