/* plan_cost - what a plan and a learning strategy's asks cost on large spaces (issue 15 item 2).
 *
 *   build-x/benchmarks/plan_cost [--values V] [--terms T] [--constraints C] [--told 100,1000,10000]
 *
 * Part 1, the plan: a gemm spec of 6 knobs x V values (V^6 points, 10^6 by default) with C always-true
 * constraints of T terms each ("TILE_N + ... + TILE_N > 0": 2T + 1 nodes), planned through
 * fw_plan_build_work: seconds, expression nodes evaluated, nodes per second. This is the work
 * fairwayd now does in a pool thread, bounded by --plan-work-max.
 * Part 2, the asks: each learning strategy over the V^6 valid points, with N results told (a smooth
 * bowl), then the mean time of one ask(1) over 20 asks, for each N of --told. These asks run on
 * the daemon's loop while a job measures (one per variant), so they must stay far below a variant's
 * time. Run by hand, never as a timed test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "fw_job.h"
#include "fw_strategy.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *const KNOBS[6] = {"NUM_BUFFERS", "SG_M_TILES", "SG_N_TILES", "SIMDGROUPS_PER_TG", "TILE_K",
                                     "TILE_N"};

static int plan_part(int values, int terms, int ncons)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "family", "gemm");
    cJSON *shape = cJSON_CreateObject();
    cJSON_AddNumberToObject(shape, "M", 64);
    cJSON_AddNumberToObject(shape, "N", 64);
    cJSON_AddNumberToObject(shape, "K", 64);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(u, "shapes"), shape);
    cJSON_AddStringToObject(u, "strategy", "random");
    cJSON_AddNumberToObject(u, "budget", 5);
    cJSON_AddNumberToObject(u, "seed", 1);
    cJSON *space = cJSON_AddObjectToObject(u, "space");
    cJSON *knobs = cJSON_AddObjectToObject(space, "knobs");
    for (int k = 0; k < 6; k++) {
        cJSON *a = cJSON_AddArrayToObject(knobs, KNOBS[k]);
        for (int v = 1; v <= values; v++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(v));
    }
    size_t len = (size_t)terms * 9 + 8;
    char *expr = malloc(len);
    size_t off = 0;
    for (int t = 0; t < terms; t++)
        off += (size_t)snprintf(expr + off, len - off, "%sTILE_N", t ? " + " : "");
    snprintf(expr + off, len - off, " > 0");
    cJSON *cons = cJSON_AddArrayToObject(space, "constraints");
    for (int c = 0; c < ncons; c++)
        cJSON_AddItemToArray(cons, cJSON_CreateString(expr));
    free(expr);
    cJSON *r = NULL;
    char err[2048];
    if (fw_spec_resolve(u, &r, err, sizeof err) < 0) {
        fprintf(stderr, "plan_cost: %s\n", err);
        cJSON_Delete(u);
        return 1;
    }
    fw_work w = {0};
    fw_plan plan;
    double t0 = now_s();
    int rc = fw_plan_build_work(r, NULL, &w, &plan, err, sizeof err);
    double dt = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "plan_cost: %s\n", err);
    } else {
        printf("plan: %d^6 points, %d constraints of %d nodes: %.2f s, %llu nodes, %.1f million nodes/s\n",
               values, ncons, 2 * terms + 1, dt, (unsigned long long)w.nodes, (double)w.nodes / dt / 1e6);
        fw_plan_release(&plan);
    }
    cJSON_Delete(r);
    cJSON_Delete(u);
    return rc < 0;
}

static void asks_part(int values, const size_t *told, size_t ntold)
{
    size_t n = 1;
    for (int k = 0; k < 6; k++)
        n *= (size_t)values;
    uint16_t *pts = malloc(n * 6 * sizeof *pts);
    for (size_t i = 0; i < n; i++) {
        size_t v = i;
        for (int k = 6; k-- > 0;) {
            pts[i * 6 + (size_t)k] = (uint16_t)(v % (size_t)values);
            v /= (size_t)values;
        }
    }
    int nvals[6];
    for (int k = 0; k < 6; k++)
        nvals[k] = values;
    fw_sspace sp = {.nknobs = 6, .names = KNOBS, .nvals = nvals, .npoints = n, .points = pts};
    for (size_t si = 0; fw_strategy_names[si]; si++) {
        const char *name = fw_strategy_names[si];
        if (strcmp(name, "random") == 0)
            continue;
        char err[256];
        double t0 = now_s();
        fw_strategy *s = fw_strategy_new(name, &sp, 1, 0, 0, err, sizeof err);
        if (!s) {
            fprintf(stderr, "plan_cost: %s\n", err);
            continue;
        }
        printf("%-8s new over %zu points: %.3f s;", name, n, now_s() - t0);
        size_t done = 0;
        for (size_t ti = 0; ti < ntold; ti++) {
            while (done < told[ti]) {
                size_t pos;
                if (fw_strategy_ask(s, 1, &pos) == 0)
                    break;
                double d = 0;
                for (int k = 0; k < 6; k++)
                    d += ((double)pts[pos * 6 + (size_t)k] - values / 2.0) * ((double)pts[pos * 6 + (size_t)k] - values / 2.0);
                fw_outcome o = {.kind = FW_OUT_TIME, .time = 1000.0 * (1.0 + d)};
                fw_strategy_tell(s, pos, o);
                done++;
            }
            t0 = now_s();
            size_t asked = 0, pos[20];
            for (int a = 0; a < 20; a++)
                asked += fw_strategy_ask(s, 1, &pos[asked]);
            double per = asked ? (now_s() - t0) / (double)asked : 0;
            for (size_t a = 0; a < asked; a++) {
                fw_outcome o = {.kind = FW_OUT_TIME, .time = 5000.0};
                fw_strategy_tell(s, pos[a], o);
                done++;
            }
            printf(" ask at %zu told: %.3f ms;", told[ti], per * 1e3);
            fflush(stdout);
        }
        printf("\n");
        fw_strategy_free(s);
    }
    free(pts);
}

int main(int argc, char **argv)
{
    int values = 10, terms = 250, ncons = 1;
    size_t told[16] = {100, 1000, 10000};
    size_t ntold = 3;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--values") == 0) {
            values = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--terms") == 0) {
            terms = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--constraints") == 0) {
            ncons = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--told") == 0) {
            ntold = 0;
            for (char *t = strtok(argv[++i], ","); t && ntold < 16; t = strtok(NULL, ","))
                told[ntold++] = (size_t)strtoull(t, NULL, 10);
        } else {
            fprintf(stderr, "usage: plan_cost [--values V] [--terms T] [--constraints C] [--told N1,N2,...]\n");
            return 2;
        }
    }
    if (values < 2 || values > 16 || terms < 1 || terms > 500 || ncons < 0 || ncons > 32) {
        fprintf(stderr, "plan_cost: --values 2..16, --terms 1..500, --constraints 0..32\n");
        return 2;
    }
    int rc = plan_part(values, terms, ncons);
    asks_part(values, told, ntold);
    return rc;
}
