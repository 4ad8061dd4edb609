/* fuzz_methods.c - JSON-RPC dispatch into fairwayd's methods (daemon/methods.c, best.c, report.c,
 * failures.c), over a store that holds a finished job with measurements, with a real client
 * connection whose replies are read back.
 *
 * Input: request lines, as a client sends them. Each line goes through the strict parse and the
 * request checks, then to fw_daemon_dispatch. Methods that would start a worker or a job (submit,
 * expand, rerun, resume, devices, shutdown, best with a device) are left out: their params are the
 * spec target's concern, and a fuzzer must not fork. Checks beyond "no crash": every line the
 * daemon writes back is valid UTF-8 and parses strictly as a JSON-RPC object. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_int.h"
#include "daemon_main.h"
#include "daemon_server.h"
#include "fw_job.h"
#include "fw_util.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static fw_daemon d;
static fw_daemon_client *client;
static int peer = -1;

void fw_daemon_log(fw_daemon *dd, const char *fmt, ...)   /* main.c's, which is not linked */
{
    (void)dd;
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
}

static void put(int64_t job, int64_t dev, int seq, const char *status, double med, const char *vk, const char *sk)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"seq\":%d,\"shape_index\":0,\"shape_key\":\"%s\",\"variant_key\":\"%s\",\"family\":\"gemm\","
             "\"kernel\":\"gemm_tiled\",\"knobs\":{\"TILE_N\":32},\"origin\":\"random\",\"status\":\"%s\","
             "\"error\":%s,\"stats\":{\"n\":3,\"median_ns\":%g,\"mean_ns\":%g,\"min_ns\":%g,\"max_ns\":%g,"
             "\"stddev_ns\":1,\"p95_ns\":%g},\"samples_ns\":[%g,%g,%g]}",
             seq, sk, vk, status, strcmp(status, "ok") ? "\"error: x\\nline 2\"" : "null", med, med, med, med, med,
             med, med, med);
    cJSON *m = cJSON_Parse(text);
    CHECK(fw_db_measurement_put(d.db, job, dev, m) == 0);
    cJSON_Delete(m);
}

static void setup_store(void)
{
    char err[1024];
    CHECK(fw_db_open(":memory:", &d.db, err, sizeof(err)) == 0);
    cJSON *user = cJSON_Parse("{\"profile\":\"gemm_small\",\"seed\":7,\"budget\":3}");
    cJSON *spec = NULL;
    CHECK(fw_spec_resolve(user, &spec, err, sizeof(err)) == 0);
    char hash[17];
    fw_spec_hash(spec, hash);
    cJSON *info = cJSON_Parse("{\"backend\":\"opencl\",\"index\":0,\"identity\":\"opencl|fuzz\"}");
    int64_t dev = 0;
    CHECK(fw_db_device_upsert(d.db, "opencl|fuzz", info, &dev) == 0);
    for (int j = 0; j < 2; j++) {
        fw_db_job_new nj = {.spec = spec, .spec_hash = hash, .seed = 7, .family = "gemm", .strategy = "random",
                            .budget = 3, .planned = 6, .device = "opencl:0", .daemon_version = "fuzz"};
        int64_t job = 0;
        CHECK(fw_db_job_create(d.db, &nj, &job) == 0);
        put(job, dev, 0, "ok", 1000 + j, "TILE_N=32", "K=256,M=256,N=256");
        put(job, dev, 1, "ok", 900 - j, "TILE_N=64", "K=256,M=256,N=256");
        put(job, dev, 2, "compile_error", 0, "TILE_N=16", "K=256,M=256,N=256");
        put(job, dev, 3, "ok", 500, "TILE_N=32", "K=72,M=200,N=136");
        CHECK(fw_db_job_set_state(d.db, job, j ? "failed" : "done", j ? "stopped" : NULL) == 0);
    }
    cJSON_Delete(info);
    cJSON_Delete(spec);
    cJSON_Delete(user);
}

static void new_client(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    client = calloc(1, sizeof(*client));
    client->d = &d;
    fw_proto_lines_init(&client->lb, FW_DAEMON_LINE_MAX);
    uv_pipe_init(d.loop, &client->pipe, 0);
    CHECK(uv_pipe_open(&client->pipe, sv[0]) == 0);
    client->pipe.data = client;
    client->next = d.clients;
    if (d.clients)
        d.clients->prev = client;
    d.clients = client;
    d.nclients++;
    if (peer >= 0)
        close(peer);
    peer = sv[1];
    fcntl(peer, F_SETFL, O_NONBLOCK);
}

static void setup(void)
{
    d.loop = uv_default_loop();
    d.opt.max_clients = 256;
    d.opt.max_jobs = 1000;
    d.opt.reply_queue_max = (size_t)256 << 20;
    d.opt.variant_timeout_s = 300;
    d.db_lock_fd = -1;
    snprintf(d.worker_path, sizeof(d.worker_path), "/nonexistent/fairway-worker");
    setup_store();
    new_client();
}

static int allowed(const char *method, const cJSON *params)
{
    static const char *const denied[] = {"submit", "expand", "rerun", "resume", "devices", "shutdown", NULL};
    for (int i = 0; denied[i]; i++)
        if (strcmp(method, denied[i]) == 0)
            return 0;
    return !(strcmp(method, "best") == 0 && cJSON_GetObjectItemCaseSensitive(params, "device"));
}

/* Every reply line written back is valid UTF-8 and a JSON-RPC object. */
static void drain(fw_proto_lines *lb)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(peer, buf, sizeof(buf))) > 0) {
        CHECK(fw_proto_lines_feed(lb, buf, (size_t)n) == 0);
        char *line;
        size_t len;
        while (fw_proto_lines_next(lb, &line, &len) == 1) {
            CHECK(fw_utf8_valid(line, len));
            cJSON *m;
            size_t at;
            const char *why;
            CHECK(fw_proto_parse(line, len, &m, &at, &why) == 0);
            CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "jsonrpc")));
            cJSON_Delete(m);
        }
    }
}

static void one_line(const char *line, size_t len)
{
    cJSON *msg;
    size_t at;
    const char *why;
    if (fw_proto_blank(line, len) || fw_proto_parse(line, len, &msg, &at, &why) != 0)
        return;
    const cJSON *id, *params, *reply_id;
    const char *method, *bad;
    if (fw_proto_request_check(msg, sizeof(((fw_daemon_req *)0)->method), &id, &method, &params, &reply_id,
                               &bad) == 0 && allowed(method, params)) {
        fw_daemon_req req = {.client = client};
        req.id = id ? cJSON_Duplicate(id, 1) : NULL;
        snprintf(req.method, sizeof(req.method), "%s", method);
        req.params = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
        fw_daemon_dispatch(&d, &req);
        cJSON_Delete(req.id);
        cJSON_Delete(req.params);
    }
    cJSON_Delete(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!d.db)
        setup();
    if (client->closing)
        new_client();
    fw_proto_lines in, out;
    fw_proto_lines_init(&in, FW_DAEMON_LINE_MAX);
    fw_proto_lines_init(&out, FW_PROTO_REPLY_LINE_MAX);
    fw_proto_lines_feed(&in, (const char *)data, size);
    fw_proto_lines_feed(&in, "\n", 1);
    char *line;
    size_t len;
    while (!client->closing && fw_proto_lines_next(&in, &line, &len) == 1) {
        one_line(line, len);
        drain(&out);
        uv_run(d.loop, UV_RUN_NOWAIT);   /* write callbacks free what was written */
    }
    drain(&out);
    fw_proto_lines_release(&in);
    fw_proto_lines_release(&out);
    return 0;
}
