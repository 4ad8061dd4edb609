/* fairway export JOB --format csv|json|header (issue 14): a job's data in forms other tools load.
 * csv: every stored measurement, one row each, a column per knob; json: the best config per shape
 * (finalist winner where stored) with its -D macros; header: the same as a C header of #defines an
 * application or build includes. Data from the daemon (`status`, `rankings`, `measurements`). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"

const char fw_cli_export_help[] =
    "Usage: fairway export JOB [JOB...] --format csv|json|header|kernel-tuner|fairway [--shape KEY] [-o FILE]\n"
    "       fairway export JOB [JOB...] --format metal-marlin-selection|metal-marlin-config [--source FILE]\n"
    "                      [--same-body MODES]\n"
    "       fairway export --family F [--source-hash H] --format json|header [-o FILE]\n"
    "Write a job's results for other tools (stdout, or FILE); json and header take several jobs (the\n"
    "same family and kernel source, on one device or several: the best per device and shape), or with\n"
    "--family every done job of the family in the store:\n"
    "  csv     every evaluation: seq, shape, status, median_ns, then one column per knob\n"
    "  json    the best config per shape: knobs, -D macros (after the spec's aliases and fixed macros),\n"
    "          median, timing (finalist or first_pass), with the job, family and device identity\n"
    "  header  the best config per shape as a C header: FW_<FAMILY>_<SHAPE>_<MACRO> #defines, and\n"
    "          FW_<FAMILY>_DEVICE, the identity of the device they were tuned on; jobs on several\n"
    "          devices give one block per device, picked with -DFW_<FAMILY>_DEVICE_INDEX=n\n"
    "  kernel-tuner  one shape's evaluations as a Kernel Tuner cache file (time = mean ms, times =\n"
    "          samples, failures as Kernel Tuner's strings), which Kernel Tuner's simulation mode and\n"
    "          `fairway tune --replay FILE` read\n"
    "  fairway one shape's evaluations as fairway's records, one JSON object a line, which\n"
    "          `fairway tune --replay FILE` reads (as it reads `fairway-worker --spec` output)\n"
    "  metal-marlin-selection  the policy `fairway policy` derives, as metal-marlin's kernel-selection\n"
    "          JSON (batch_sizes, results[batch][kernel]{mean,min,max,std}_ms, recommendations[batch],\n"
    "          thresholds, tile_sizes, policy ranges, specialized_decode_kernels) with available_kernels:\n"
    "          every kernel entry of the source, and missing_kernels, those the policy picks it lacks\n"
    "  metal-marlin-config  the same policy as their tuned-config payload {cache_key{version 2,\n"
    "          hidden_dim, intermediate_dim, num_experts, bits}, kernel_config{optimal}}, with the\n"
    "          cache file name their model.py reads, kernel_tuning_<SHA-256 of the key>.json\n"
    "  --format F             csv, json, header, kernel-tuner, fairway, metal-marlin-selection or\n"
    "                         metal-marlin-config (required)\n"
    "  --source FILE          metal-marlin-selection: the kernel file whose entries are available_kernels\n"
    "                         (default: the job's own source, else the family's Metal source)\n"
    "  --same-body MODES      metal-marlin-*: pool modes that run one kernel body, as fairway policy does\n"
    "  --shape KEY            kernel-tuner, fairway: the shape to write (needed when the job has several)\n"
    "  --family F             json, header: every done job of family F instead of job ids\n"
    "  --source-hash H        with --family: the jobs of that kernel source (`builtin`: the family's own),\n"
    "                         needed when the store holds several\n"
    "  -o, --output FILE      write there instead of stdout\n\n"
    "Examples:\n"
    "  fairway export 12 --format csv -o job12.csv\n"
    "  fairway export 12 --format header -o fairway_gemm.h\n"
    "  fairway export 12 13 --format header -o fairway_gemm.h   # 12 on opencl:0, 13 on cuda:0\n"
    "  fairway export --family gemm --source-hash builtin --format header -o fairway_gemm.h\n"
    "  fairway export 12 --format kernel-tuner -o job12.json && fairway tune --replay job12.json\n"
    "  fairway export 12 13 --format metal-marlin-selection --source gemm_trellis_moe.metal -o sel.json\n";

typedef struct eopts {
    const char *format, *out, *shape, *family, *source_hash, *source, *same_body;
} eopts;

static int export_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    eopts *o = vctx;
    (void)err, (void)errlen;
    if (!strcmp(name, "format"))
        o->format = arg;
    else if (!strcmp(name, "output"))
        o->out = arg;
    else if (!strcmp(name, "shape"))
        o->shape = arg;
    else if (!strcmp(name, "family"))
        o->family = arg;
    else if (!strcmp(name, "source-hash"))
        o->source_hash = arg;
    else if (!strcmp(name, "source"))
        o->source = arg;
    else if (!strcmp(name, "same-body"))
        o->same_body = arg;
    else
        return 0;
    return 1;
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* knob names in order of first appearance over the variant keys */
static int knob_names(const cJSON *list, char names[][64], int max)
{
    int n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        for (const char *p = fw_cli_str(m, "variant_key", ""); *p && n < max;) {
            size_t l = strcspn(p, "="), r = strcspn(p, ",");
            int k = 0;
            if (l < r && l < 64) {
                while (k < n && (strlen(names[k]) != l || strncmp(names[k], p, l)))
                    k++;
                if (k == n)
                    snprintf(names[n++], 64, "%.*s", (int)l, p);
            }
            p += r + (p[r] == ',');
        }
    }
    return n;
}

static void write_csv(FILE *f, const cJSON *meas)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(meas, "measurements"), *m;
    char names[64][64];
    int n = knob_names(list, names, 64);
    fputs("seq,shape_key,status,median_ns", f);
    for (int k = 0; k < n; k++)
        fprintf(f, ",%s", names[k]);
    fputc('\n', f);
    cJSON_ArrayForEach(m, list) {
        fprintf(f, "%lld,", (long long)fw_cli_num(m, "seq", 0));
        csv_field(f, fw_cli_str(m, "shape_key", ""));
        fprintf(f, ",%s,", fw_cli_str(m, "status", ""));
        const cJSON *med = cJSON_GetObjectItemCaseSensitive(m, "median_ns");
        if (cJSON_IsNumber(med))
            fprintf(f, "%.17g", med->valuedouble);
        const char *key = fw_cli_str(m, "variant_key", "");
        for (int k = 0; k < n; k++) {
            fputc(',', f);
            size_t nl = strlen(names[k]);
            for (const char *p = key; *p;) {
                size_t l = strcspn(p, ",");
                if (l > nl && !strncmp(p, names[k], nl) && p[nl] == '=')
                    fprintf(f, "%.*s", (int)(l - nl - 1), p + nl + 1);
                p += l + (p[l] == ',');
            }
        }
        fputc('\n', f);
    }
}

#define EXPORT_JOBS_MAX 10000

/* --family F: every done job of the family in the store, oldest first, of one kernel source (the
 * family's own, "builtin", or --source-hash H; asked for when the store holds several). */
static int store_jobs(fw_cli_global *g, const eopts *o, fw_cli_export_job *jobs, int *n)
{
    cJSON *p = cJSON_CreateObject(), *res = NULL;
    cJSON_AddStringToObject(p, "state", "done");
    cJSON_AddNumberToObject(p, "limit", EXPORT_JOBS_MAX);
    int json = g->json, ec;
    g->json = 0;   /* this list is not the output */
    ec = fw_cli_query(g, "jobs", p, &res);
    g->json = json;
    if (ec)
        return ec;
    char hashes[1024] = "";
    size_t off = 0;
    int nh = 0;
    *n = 0;
    const cJSON *j, *list = cJSON_GetObjectItemCaseSensitive(res, "jobs");
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
        j = cJSON_GetArrayItem(list, i);
        const char *h = fw_cli_str(j, "source_hash", "");
        const char *name = *h ? h : "builtin";
        if (strcmp(fw_cli_str(j, "family", ""), o->family))
            continue;
        if (!strstr(hashes, name) && off < sizeof hashes) {
            off += (size_t)snprintf(hashes + off, sizeof hashes - off, "%s%s", nh ? ", " : "", name);
            nh++;
        }
        if (!o->source_hash || !strcmp(o->source_hash, name))
            jobs[(*n)++].id = (long long)fw_cli_num(j, "id", 0);
    }
    cJSON_Delete(res);
    char msg[1400];
    if (*n == 0 || (nh > 1 && !o->source_hash)) {
        if (*n == 0)
            snprintf(msg, sizeof msg, "no done job of family '%s'%s%s in the store", o->family,
                     o->source_hash ? " with source hash " : "", o->source_hash ? o->source_hash : "");
        else
            snprintf(msg, sizeof msg, "the store holds %s jobs of %d kernel sources (%s); pick one with --source-hash "
                     "(builtin = the family's own kernel)", o->family, nh, hashes);
        return fw_cli_error(FW_CLI_EXIT_NOTFOUND, NULL, msg);
    }
    return 0;
}

/* status, then measurements (csv, one shape's records) or the rank 1 per shape, of each job. */
static int fetch(fw_cli_global *g, fw_cli_export_job *jobs, int n, int meas, int samples)
{
    fw_cli_conn c;
    int ec = fw_cli_open_or_fail(g, &c);
    if (ec)
        return ec;
    for (int i = 0; !ec && i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "job", (double)jobs[i].id);
        ec = fw_cli_rpc(&c, "status", p, &jobs[i].status);
        if (ec)
            break;
        p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "job", (double)jobs[i].id);
        if (samples)
            cJSON_AddTrueToObject(p, "samples");
        if (!meas)
            cJSON_AddNumberToObject(p, "limit", 1);
        ec = fw_cli_rpc(&c, meas ? "measurements" : "rankings", p, &jobs[i].data);
    }
    fw_cli_close(&c);
    return ec;
}

static int write_best(FILE *f, const char *format, const fw_cli_export_job *jobs, int n)
{
    const char *family = fw_cli_str(jobs[0].status, "family", "");
    for (int i = 1; i < n; i++)
        if (strcmp(fw_cli_str(jobs[i].status, "family", ""), family)) {
            char msg[512];
            snprintf(msg, sizeof msg, "jobs %lld and %lld tuned different families (%s, %s); one export holds one family",
                     jobs[0].id, jobs[i].id, family, fw_cli_str(jobs[i].status, "family", ""));
            return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
        }
    const char *code = fw_cli_str(jobs[0].status, "source_hash", "");
    for (int i = 1; i < n; i++)
        if (strcmp(fw_cli_str(jobs[i].status, "source_hash", ""), code)) {   /* configs of other code */
            char msg[512];
            snprintf(msg, sizeof msg, "jobs %lld and %lld tuned different code (source hash '%s', '%s'); one export "
                     "holds the configs of one kernel source", jobs[0].id, jobs[i].id, code,
                     fw_cli_str(jobs[i].status, "source_hash", ""));
            return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
        }
    cJSON *best = fw_cli_export_best(jobs, n);
    if (!strcmp(format, "header")) {
        fw_cli_export_header(f, jobs, n, best);
        cJSON_Delete(best);
        return 0;
    }
    cJSON *res = cJSON_CreateObject();
    if (n == 1) {
        cJSON_AddNumberToObject(res, "job", (double)jobs[0].id);
    } else {
        cJSON *ids = cJSON_AddArrayToObject(res, "jobs");
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)jobs[i].id));
    }
    cJSON_AddStringToObject(res, "family", family);
    cJSON_AddStringToObject(res, "device", fw_cli_str(jobs[0].status, "device_identity", ""));
    cJSON_AddItemToObject(res, "best", best);
    char *s = cJSON_Print(res);
    fprintf(f, "%s\n", s ? s : "null");
    free(s);
    cJSON_Delete(res);
    return 0;
}

int fw_cli_cmd_export(fw_cli_global *g, int argc, char **argv)
{
    eopts o = {0};
    char *args[256], *pos[65];
    int n = argc < 256 ? argc : 255, npos, ec;
    for (int i = 0; i < n; i++)
        args[i] = !strcmp(argv[i], "-o") ? "--output" : argv[i];
    args[n] = NULL;
    if (fw_cli_parse_cmd(g, "export", n, args, "|format|output|shape|family|source-hash|source|same-body|", "", export_opt, &o, pos, 64,
                         &npos, &ec) < 0)
        return ec;
    if ((npos < 1) == !o.family)
        return fw_cli_usage_error("export", "give job ids (see `fairway jobs`), or --family F for the whole store");
    if (o.source_hash && !o.family)
        return fw_cli_usage_error("export", "--source-hash picks the kernel of --family F's jobs");
    int lines = o.format && !strcmp(o.format, "fairway");
    int kt = (o.format && !strcmp(o.format, "kernel-tuner")) || lines;   /* one shape with samples */
    int mm = o.format && (!strcmp(o.format, "metal-marlin-selection") || !strcmp(o.format, "metal-marlin-config"));
    if (!o.format || (strcmp(o.format, "csv") && strcmp(o.format, "json") && strcmp(o.format, "header") && !kt && !mm))
        return fw_cli_usage_error("export", "give --format csv, json, header, kernel-tuner, fairway, "
                                            "metal-marlin-selection or metal-marlin-config");
    if (o.source && !mm)
        return fw_cli_usage_error("export", "--source names the kernel file of --format metal-marlin-selection");
    if (o.same_body && !mm)
        return fw_cli_usage_error("export", "--same-body pools modes of the policy that --format metal-marlin-* "
                                            "exports (see fairway policy --help)");
    if (o.shape && !kt)
        return fw_cli_usage_error("export", "--shape picks the shape of --format kernel-tuner or fairway");
    int csv = !strcmp(o.format, "csv");
    if ((npos > 1 || o.family) && (csv || kt))
        return fw_cli_usage_error("export", "--format csv, kernel-tuner and fairway export one job; json and header "
                                            "take several (one per device, say) or --family F");
    fw_cli_export_job *jobs = calloc(EXPORT_JOBS_MAX, sizeof *jobs);
    if (!jobs)
        return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, "out of memory");
    for (int i = 0; i < npos; i++)
        if (fw_cli_parse_job_id("export", pos[i], &jobs[i].id) < 0) {
            free(jobs);
            return FW_CLI_EXIT_USAGE;
        }
    ec = o.family ? store_jobs(g, &o, jobs, &npos) : 0;
    if (!ec)
        ec = mm ? fw_cli_policy_fetch(g, jobs, npos) : fetch(g, jobs, npos, csv || kt, kt);
    FILE *f = NULL;
    if (!ec && !(f = o.out ? fopen(o.out, "w") : stdout)) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot write %.500s", o.out);
        ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
    }
    if (!ec) {
        char kerr[512];
        if (kt) {
            if ((lines ? fw_cli_export_lines : fw_cli_export_kt)(f, jobs[0].id, jobs[0].status, jobs[0].data, o.shape,
                                                                 kerr, sizeof kerr) < 0)
                ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, kerr);
        } else if (mm) {
            if (fw_cli_export_mm(f, o.format, jobs, npos, o.source, o.same_body, kerr, sizeof kerr) < 0)
                ec = fw_cli_error(FW_CLI_EXIT_NOTFOUND, NULL, kerr);
        } else if (csv) {
            write_csv(f, jobs[0].data);
        } else {
            ec = write_best(f, o.format, jobs, npos);
        }
        if (o.out && fclose(f) != 0 && !ec)
            ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, "cannot finish writing the export file");
    }
    for (int i = 0; i < npos; i++) {
        cJSON_Delete(jobs[i].status);
        cJSON_Delete(jobs[i].data);
    }
    free(jobs);
    return ec;
}
