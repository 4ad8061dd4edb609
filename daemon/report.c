/* report.c - the `measurements` method (issue 14): every stored measurement of a job in seq order,
 * optionally with its per-iteration samples, plus the job's finalists (with their samples), so a
 * client can draw a report of the run (`fairway report`) without opening the store itself. */
#include "daemon_report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "daemon_server.h"

static void add_samples(fw_db *db, int64_t job, cJSON *seqlist)
{
    cJSON *m;
    cJSON_ArrayForEach(m, seqlist) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "status");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(m, "seq");
        if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok") || !cJSON_IsNumber(sq))
            continue;
        cJSON *s = NULL;
        if (fw_db_samples(db, job, (int64_t)sq->valuedouble, &s) == 0 && s)
            cJSON_AddItemToObject(m, "samples_ns", s);
        else
            cJSON_Delete(s);
    }
}

/* {"job": ID, "samples"?: bool (false)} -> {"job","measurements":[...],"finalists":[...]} */
void fw_daemon_m_measurements(fw_daemon *d, fw_daemon_req *req)
{
    const cJSON *p = req->params, *it;
    cJSON_ArrayForEach(it, p) {
        if (strcmp(it->string, "job") && strcmp(it->string, "samples")) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL,
                                  "unknown parameter '%.100s' (known: job, samples)", it->string);
            return;
        }
    }
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(p, "job");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(p, "samples");
    if (!cJSON_IsNumber(jv) || jv->valuedouble < 1 || jv->valuedouble != floor(jv->valuedouble)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL, "'job' must be a job id (a positive integer)");
        return;
    }
    if (sv && !cJSON_IsBool(sv)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL, "'samples' must be true or false");
        return;
    }
    int64_t job = (int64_t)jv->valuedouble;
    cJSON *row = NULL;
    int rc = fw_db_job_get(d->db, job, &row);
    cJSON_Delete(row);
    if (rc == -ENOENT) {
        fw_daemon_reply_error(req, FW_RPC_NO_SUCH_JOB, NULL,
                              "no job %lld in this store (`fairway jobs` lists them)", (long long)job);
        return;
    }
    cJSON *seq = NULL, *fin = NULL;
    if (rc < 0 || fw_db_job_sequence(d->db, job, &seq) < 0 || fw_db_finalists(d->db, job, NULL, &fin) < 0) {
        cJSON_Delete(seq);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "the store failed to read the job's measurements: %s",
                              fw_db_error(d->db));
        return;
    }
    if (cJSON_IsTrue(sv))
        add_samples(d->db, job, seq);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)job);
    cJSON_AddItemToObject(res, "measurements", seq);
    cJSON_AddItemToObject(res, "finalists", fin);
    fw_daemon_reply(req, res);
}
