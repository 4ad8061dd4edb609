/* The statistics of `fairway report` (cli/cli_report.c): the exact expected best of uniform random
 * search, and the Mann-Whitney U test's p value, against values worked out by hand. */
#include <math.h>
#include <stdio.h>

#include "fw_cli.h"

static int fails;

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        printf("FAIL %s: got %.9g, want %.9g\n", what, got, want);
        fails++;
    }
}

int main(void)
{
    /* {1,2,3}: one draw averages 2; two draws without replacement: min 1 in 2 of 3 pairs, else 2 */
    double v[3] = {1, 2, 3}, e[3];
    fw_cli_report_expected_min(v, 3, e);
    near(e[0], 2, 1e-12, "E[min of 1]");
    near(e[1], 4.0 / 3.0, 1e-12, "E[min of 2]");
    near(e[2], 1, 1e-12, "E[min of 3]");
    /* 10 values 1..10, 3 draws: sum_i i * C(10-i, 2) / C(10, 3) = 330 / 120 */
    double w[10], f[10];
    for (int i = 0; i < 10; i++)
        w[i] = i + 1;
    fw_cli_report_expected_min(w, 10, f);
    near(f[2], 330.0 / 120.0, 1e-9, "E[min of 3 of 1..10]");
    for (int k = 1; k < 10; k++)
        if (f[k] > f[k - 1]) {
            printf("FAIL: the expected best rises at k=%d\n", k + 1);
            fails++;
        }
    /* a large shape: the truncated sum still agrees with the closed form for 1..n, (n+1)/(k+1) */
    enum { N = 20000 };
    static double big[N], eb[N];
    for (int i = 0; i < N; i++)
        big[i] = i + 1;
    fw_cli_report_expected_min(big, N, eb);
    for (int k = 1; k <= N; k *= 7)
        near(eb[k - 1], (N + 1.0) / (k + 1.0), 1e-6 * N / k, "E[min of k of 1..N] = (N+1)/(k+1)");
    /* U = 0 for fully separated samples of 5 and 5: z = (12.5 - 0.5) / sqrt(25 * 11 / 12) */
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {6, 7, 8, 9, 10};
    near(fw_cli_report_mann_whitney(a, 5, b, 5), erfc(12.0 / sqrt(25.0 * 11.0 / 12.0) / sqrt(2.0)), 1e-12,
         "separated 5 vs 5");
    near(fw_cli_report_mann_whitney(a, 5, b, 5), 0.01219, 2e-5, "separated 5 vs 5 (scipy's value)");
    near(fw_cli_report_mann_whitney(b, 5, a, 5), fw_cli_report_mann_whitney(a, 5, b, 5), 1e-15, "symmetric");
    /* identical samples: no evidence of a difference */
    near(fw_cli_report_mann_whitney(a, 5, a, 5), 1, 1e-12, "identical");
    double t[4] = {3, 3, 3, 3};
    near(fw_cli_report_mann_whitney(t, 4, t, 4), 1, 1e-12, "all tied");
    near(fw_cli_report_mann_whitney(a, 0, b, 5), 1, 0, "empty sample");
    if (!fails)
        printf("report statistics: ok\n");
    return fails != 0;
}
