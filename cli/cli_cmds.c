/* cli_cmds.c - the command table and the help texts. */
#include "fw_cli.h"

#include <string.h>

const char fw_cli_exit_help[] =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  the job ended failed or cancelled or ranked nothing, or a query found nothing\n"
    "     (no such job, nothing stored)\n"
    "  2  usage error (unknown flag, bad value, missing argument)\n"
    "  3  cannot reach or start the daemon\n"
    "  4  the daemon returned an error for the request (the message says why)\n"
    "  130  interrupted (Ctrl-C); a job being followed goes on in the daemon\n";

const char fw_cli_global_help[] =
    "Global options (accepted before or after the subcommand):\n"
    "  --socket PATH   the daemon's socket (default: $FAIRWAY_SOCKET, else\n"
    "                  $XDG_RUNTIME_DIR/fairway/fairwayd.sock, else ~/.local/state/fairway/fairwayd.sock)\n"
    "  --json          machine-readable JSON on stdout instead of tables (errors too: {\"error\": ...})\n"
    "  --no-start      never start fairwayd; fail with exit code 3 when none answers\n"
    "  -h, --help      this help\n"
    "When no daemon answers, fairway starts fairwayd in the background (FAIRWAY_DAEMON, else next to\n"
    "this binary, else PATH), logging to ~/.local/state/fairway/fairwayd.log (or beside --socket).\n";

/* ---- the command table and help texts ------------------------------------------------------ */

#define SPEC_FLAGS_HELP                                                                                    \
    "What to tune (flags override --spec):\n"                                                             \
    "  --profile NAME         a named profile (see `fairway profiles`), e.g. mixed_bpw_fairway_glm47\n"   \
    "  --family F             a kernel family (gemm, moe_swiglu, ...)\n"                                  \
    "  --shape K=V,...        a problem shape, repeatable (e.g. --shape M=256,N=256,K=256)\n"             \
    "  --knob NAME=v1,v2,...  an ad-hoc space: the values of one knob, repeatable\n"                      \
    "  --constraint EXPR      a constraint over knobs, shape and DEVICE_* limits, repeatable\n"           \
    "  --spec FILE            a JSON job spec (docs/spec.md) to start from; its source.file is read\n"    \
    "                         relative to FILE's folder\n"                                                \
    "  --source FILE          a user kernel source (its text is sent to the daemon)\n"                    \
    "  --entry NAME           the kernel function in --source\n"                                          \
    "  --alias KNOB=MACRO     map a knob to the source's own macro name, repeatable\n"                    \
    "  --macro NAME=V         a fixed extra integer macro for every variant, repeatable\n"                           \
    "  --bind KNOB=CONSTANT   the knob's value replaces the literal of that constant (constexpr, const,\n"     \
    "                         #define) in an in-memory copy of --source, repeatable (docs/transforms.md)\n"  \
    "  --replay FILE          a recorded space instead of a kernel: a Kernel Tuner cache (.json, .json.gz)\n"  \
    "                         or `fairway export --format kernel-tuner` output; its knobs are the space,\n"  \
    "                         its recorded configurations the valid points, each launch returns the\n"      \
    "                         recorded time (backend replay, no GPU; docs/spec.md, \"Replay\")\n"            \
    "  --replay-noise R       seeded noise on each replayed sample (relative sd, e.g. 0.02)\n"             \
    "How to search and measure:\n"                                                                        \
    "  --strategy S           auto (default), anneal, genetic, model, random, grid or presets\n"  \
    "                         (`fairway strategies` says what each does)\n"                                                  \
    "  --num-random N         N random variants after the presets (strategy random, budget presets+N)\n"           \
    "  --random-seed N        the job's seed (same seed, same variants, same inputs)\n"                   \
    "  --no-explore           presets only (a deterministic control run)\n"                               \
    "  --budget N             at most N evaluations per shape, presets included (default 40 unless\n"  \
    "                         the profile sets one; 0 = every valid variant)\n"                        \
    "  --budget-s SECONDS     a time budget per shape as well: a shape stops once its evaluations'\n"  \
    "                         recorded times (eval_ms: the worker's, or the replayed file's) add\n"  \
    "                         up to SECONDS; resumes and replayed reruns stop at the same variant\n"  \
    "  --warmup N             untimed launches before timing each variant\n"                              \
    "  --iters N              timed launches per variant\n"                                               \
    "  --backend B            opencl, cuda, metal (or replay, which --replay sets)\n"                                                    \
    "  --device N             device index within the backend (see `fairway devices`)\n"                 \
    "  --devices 0,1|all      one job over several devices of one kind, one worker each; all = every\n"     \
    "                         device of the backend identical to --device (default 0)\n"

static const fw_cli_command commands[] = {
    {"tune", "submit a tuning job and follow it to the end", fw_cli_cmd_tune,
     "Usage: fairway tune [options]\n"
     "Submit a tuning job built from the flags and follow it: a live progress bar on a terminal (plain\n"
     "progress lines otherwise), then the top variants of each shape (rank, shape, knobs, median, GB/s,\n"
     "GFLOP/s, origin) and the best config per shape. With --json, prints one object with \"job\",\n"
     "\"rankings\", \"best\" and \"submitted\" once the job ends. Interrupting tune stops following only:\n"
     "the job goes on in the daemon (`fairway watch JOB`, `fairway cancel JOB`).\n\n" SPEC_FLAGS_HELP
     "Output:\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               submit, print the job id and return without following\n"
     "  --print-spec           print the spec that would be submitted and stop\n\n"
     "Examples:\n"
     "  fairway tune --profile mixed_bpw_fairway_glm47 --num-random 40 --random-seed 7\n"
     "  fairway tune --profile mixed_bpw_fairway_glm47 --no-explore --warmup 10 --iters 50\n"
     "  fairway tune --family gemm --shape M=64,N=64,K=64 --knob TILE_N=16,32 --strategy grid --json\n"
     "  fairway tune --replay gemm_RTX_3090.json.gz --budget 50 --random-seed 3\n"
     "  fairway tune --profile gemm_small --devices all\n"},
    {"status", "show one job's state and counts", fw_cli_cmd_status,
     "Usage: fairway status JOB\n"
     "Show a job: state, family, strategy, seed, evaluated of planned, results by status, parent job,\n"
     "times, error, and the best so far.\n\n"
     "Examples:\n"
     "  fairway status 12\n"
     "  fairway status 12 --json\n"},
    {"watch", "follow a job's progress until it ends", fw_cli_cmd_watch,
     "Usage: fairway watch JOB [--top N]\n"
     "Follow a queued or running job (progress bar on a terminal, plain lines otherwise) and print its\n"
     "rankings when it ends; for a finished job, print them at once. A job cancelled while a variant\n"
     "is measured is followed until that variant is stored.\n"
     "  --top N                rows per shape in the table (default 10)\n\n"
     "Examples:\n"
     "  fairway watch 12\n"},
    {"cancel", "cancel a queued or running job", fw_cli_cmd_cancel,
     "Usage: fairway cancel JOB\n"
     "Cancel a job. Measurements already stored are kept; a finished job keeps its state (the daemon\n"
     "says so and the exit code is 4).\n\n"
     "Examples:\n"
     "  fairway cancel 12\n"},
    {"jobs", "list jobs, newest first", fw_cli_cmd_jobs,
     "Usage: fairway jobs [--state S] [--limit N]\n"
     "List jobs, newest first.\n"
     "  --state S              only jobs in state S (queued, running, done, failed, cancelled)\n"
     "  --limit N              at most N jobs (default 50)\n\n"
     "Examples:\n"
     "  fairway jobs\n"
     "  fairway jobs --state running --json\n"},
    {"rankings", "the ranked verified variants of a job", fw_cli_cmd_rankings,
     "Usage: fairway rankings JOB [--shape KEY] [--limit N]\n"
     "The job's verified variants, ranked within each shape: the finalists (re-timed together at the\n"
     "end of the job, their median marked *) by the median of that re-timing, then the others by their\n"
     "first-pass median. The median shown is the one the rank is based on. Exit code 1 when nothing is\n"
     "ranked yet.\n"
     "  --shape KEY            one shape only, by its key as printed (e.g. K=256,M=256,N=256)\n"
     "  --limit N              at most N rows per shape (default 10; 0 = all)\n\n"
     "Examples:\n"
     "  fairway rankings 12\n"
     "  fairway rankings 12 --shape K=256,M=256,N=256 --limit 3 --json\n"},
    {"best", "the best stored config for a family and shape", fw_cli_cmd_best,
     "Usage: fairway best --family F --shape K=V,... [--device D] [--kernel NAME] [--exact]\n"
     "The fastest verified config ever measured for (device, family, kernel, shape), over all jobs:\n"
     "its knobs, the preprocessor macros to paste (-DNAME=V), and the kernel and source it was\n"
     "measured from (a user source by its file name and hash: an edited file is other code; without\n"
     "--kernel, the built-in kernel and your kernels compete). A shape never tuned gets the best of\n"
     "the nearest tuned shape, marked NOT TUNED (JSON: \"nearest\": true, \"requested_shape_key\",\n"
     "\"distance\"): same shape fields and equal non-integer fields, the smallest sum over the integer\n"
     "fields of |log2(asked / tuned)|. Exit code 1 when nothing is stored (with --exact: for this shape).\n"
     "  --family F             the kernel family\n"
     "  --shape K=V,...        the shape\n"
     "  --device D             a device selector (opencl:0) or identity; default: any device\n"
     "  --kernel NAME          a kernel of the family, when it has several\n"
     "  --exact                this shape only: refuse rather than answer the nearest tuned shape\n\n"
     "Examples:\n"
     "  fairway best --family gemm --shape M=256,N=256,K=256\n"
     "  fairway best --family gemm --shape M=256,N=256,K=256 --device opencl:0 --json\n"},
    {"resume", "resume a failed or cancelled job, and follow it", fw_cli_cmd_resume,
     "Usage: fairway resume JOB [--top N] [--detach]\n"
     "Queue a failed or cancelled job again: it measures only the variants not stored yet (what was\n"
     "measured is kept) and is followed like tune. Any other state is refused (exit code 4).\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               queue it and return without following\n\n"
     "Examples:\n"
     "  fairway resume 12\n"},
    {"rerun", "rerun a job from its spec and seed, and follow it", fw_cli_cmd_rerun,
     "Usage: fairway rerun JOB [--top N] [--detach]\n"
     "Make a new job with the same resolved spec and seed as JOB (linked to it as its parent) and\n"
     "follow it like tune. Compare the two with `fairway compare JOB NEW`.\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               submit and return without following\n\n"
     "Examples:\n"
     "  fairway rerun 12\n"
     "  fairway rerun 12 --json\n"},
    {"compare", "compare two jobs: same variants? how stable is the ranking?", fw_cli_cmd_compare,
     "Usage: fairway compare A B\n"
     "Whether both jobs produced the same variant sequence (same_variants), how stable the ranking is\n"
     "over the variants both verified (Kendall's tau, top-5 overlap), and the spread of per-variant\n"
     "median ratios (B over A). Then, per shape, where the two sequences first differ (position\n"
     "within the shape, seq in each job, the two variants) and why: for a learning strategy the\n"
     "results told differently before that point (a point at position j knew the results of\n"
     "positions < j - ask_ahead); a fixed order (grid, presets, random) never depends on times, so\n"
     "there the specs, seeds or devices differ.\n\n"
     "Examples:\n"
     "  fairway compare 12 13\n"
     "  fairway compare 12 13 --json\n"},
    {"expand", "dry run: the variants a spec would produce", fw_cli_cmd_expand,
     "Usage: fairway expand [options] [--limit N]\n"
     "Resolve a spec built from the same flags as tune and list the evaluations it would run (seq,\n"
     "shape, knobs, origin), without compiling or running anything. It prints the plan's seed: without\n"
     "--random-seed each expand draws a fresh one; `tune --random-seed SEED` runs the plan shown.\n"
     "  --limit N              list at most N items (default 1000)\n\n" SPEC_FLAGS_HELP "\n"
     "Examples:\n"
     "  fairway expand --profile mixed_bpw_fairway_glm47 --num-random 20 --random-seed 1\n"
     "  fairway expand --family gemm --shape M=64,N=64,K=64 --knob TILE_N=16,32 --strategy grid\n"},
    {"profiles", "list the named profiles", fw_cli_cmd_profiles,
     "Usage: fairway profiles\n"
     "List the profiles the daemon knows: name, family, number of shapes, description.\n\n"
     "Examples:\n"
     "  fairway profiles\n"
     "  fairway profiles --json\n"},
    {"strategies", "list the search strategies, one line each (local)", fw_cli_cmd_strategies,
     "Usage: fairway strategies\n"
     "List the search strategies a spec's \"strategy\" (or --strategy) may name, with what each does;\n"
     "the default is marked. docs/spec.md says how presets, budgets and ask-ahead combine with them.\n\n"
     "Examples:\n"
     "  fairway strategies\n"
     "  fairway strategies --json\n"},
    {"transforms", "list a kernel source's structural transform sites (local)", fw_cli_cmd_transforms, fw_cli_transforms_help},
    {"failures", "why a job's variants failed: every failure with its full text", fw_cli_cmd_failures,
     fw_cli_failures_help},
    {"report", "one self-contained HTML report of jobs: convergence, knobs, noise", fw_cli_cmd_report, fw_cli_report_help},
    {"policy", "a kernel-selection policy derived from measurements, vs the hand-written one", fw_cli_cmd_policy,
     fw_cli_policy_help},
    {"export", "a job's results as csv, or its best configs as json or a C header", fw_cli_cmd_export, fw_cli_export_help},
    {"shutdown", "stop fairwayd once the variant in flight is stored (--now: at once)", fw_cli_cmd_shutdown,
     fw_cli_shutdown_help},
    {"devices", "list the devices the workers report", fw_cli_cmd_devices,
     "Usage: fairway devices [--device SEL]... [--all]\n"
     "List the devices this daemon has met: backend:index, name, limits (threads per group, shared\n"
     "memory bytes, SIMD width, compute units) and the identity that keys every measurement; a device\n"
     "that could not be opened is listed below with the reason. The replay device (replay:0) shows the\n"
     "recorded file its last job replayed (identity replay|fairway|FILE|HASH|FORMAT).\n"
     "  --device SEL           open this device first (e.g. cuda:0), repeatable\n"
     "  --all                  try every backend's first device (opencl:0, cuda:0, metal:0)\n\n"
     "Examples:\n"
     "  fairway devices\n"
     "  fairway devices --all\n"
     "  fairway devices --device cuda:0 --json\n"},
};

const fw_cli_command *fw_cli_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

const fw_cli_command *fw_cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}
