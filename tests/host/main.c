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

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0;
    for (unsigned i = 0; i < num_tests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        sim_reset();
        test_current_failed = 0;
        tests[i].fn();
        printf("%s %s\n", test_current_failed ? "FAIL" : "ok  ", tests[i].name);
        if (test_current_failed)
            failed++;
        else
            passed++;
    }
    printf("host unit tests: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
