/* Runs every registered host test (optionally those whose name contains argv[1]). */
#include <stdlib.h>
#include <string.h>

#include "sim_hyp.h"
#include "test.h"

#define MAX_TESTS 512

struct test_entry {
    const char *name;
    test_fn fn;
};

static struct test_entry tests[MAX_TESTS];
static unsigned num_tests;
int test_current_failed;
static char skip_why[512]; /* why the current test could not run ("" if it ran) */

void test_register(const char *name, test_fn fn)
{
    if (num_tests < MAX_TESTS)
        tests[num_tests++] = (struct test_entry){ name, fn };
}

void test_failed(const char *file, int line, const char *msg)
{
    printf("    %s:%d: check failed: %s\n", file, line, msg);
    test_current_failed = 1;
}

void test_skipped(const char *why)
{
    snprintf(skip_why, sizeof(skip_why), "%s", why);
}

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0, skipped = 0;
    for (unsigned i = 0; i < num_tests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        sim_reset();
        test_current_failed = 0;
        skip_why[0] = '\0';
        tests[i].fn();
        if (test_current_failed) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else if (skip_why[0]) {
            printf("!!!! SKIPPED %s: %s\n", tests[i].name, skip_why);
            skipped++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
    }
    if (skipped)
        printf("!!!! %u host test(s) SKIPPED: they could not run here (see above)\n", skipped);
    printf("host unit tests: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
