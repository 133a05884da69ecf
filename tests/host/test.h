/* A minimal unit-test harness: TEST functions register themselves; CHECKs stop a test on failure;
 * SKIP stops a test that cannot run here, which then counts as skipped, never as passed. */
#ifndef TEST_H
#define TEST_H

#include <inttypes.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_failed(const char *file, int line, const char *msg);
void test_skipped(const char *why);
extern int test_current_failed;

#define TEST(name)                                                 \
    static void name(void);                                        \
    __attribute__((constructor)) static void register_##name(void) \
    {                                                              \
        test_register(#name, name);                                \
    }                                                              \
    static void name(void)

#define SKIP(why)          \
    do {                   \
        test_skipped(why); \
        return;            \
    } while (0)

#define CHECK(cond)                                 \
    do {                                            \
        if (!(cond)) {                              \
            test_failed(__FILE__, __LINE__, #cond); \
            return;                                 \
        }                                           \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_) {                                                                            \
            char m_[256];                                                                          \
            snprintf(m_, sizeof(m_), "%s == %s (0x%" PRIx64 " != 0x%" PRIx64 ")", #a, #b, a_, b_); \
            test_failed(__FILE__, __LINE__, m_);                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
