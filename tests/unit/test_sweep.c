/* test_sweep.c - sweep files: expansion of the documented example, and
 * every kind of error with its file, line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../common/sweep.h"
#include "golden.h"

static const char *example =
    "name: fig2-bench1\n"
    "benchmarks: [target1d]\n"
    "archs: [nmn, rnn]\n"
    "seeds: 0..14            # also a list: [0, 3, 7]\n"
    "episodes: 20000\n"
    "priority: 2\n"
    "set:                    # fixed overrides, any key of the job config\n"
    "  value_lr: 6.0e-3\n"
    "grid:                   # optional: product over lists\n"
    "  policy_lr: [1.0e-4, 2.0e-4]\n";

static void test_example(void **state)
{
    (void)state;
    sweep_t s;
    char err[512];
    int rc = sweep_parse("fig2.yaml", example, strlen(example), &s, err, sizeof err);
    if (rc)
        printf("# %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(s.name, "fig2-bench1");
    assert_int_equal(s.priority, 2);
    assert_int_equal(s.njobs, 1 * 2 * 2 * 15);
    /* order: arch, then grid point, then seed */
    assert_int_equal(s.jobs[0].arch, 0);
    CHECK_NEAR(s.jobs[0].policy_lr, 1e-4, 0);
    assert_int_equal(s.jobs[0].seed, 0);
    assert_int_equal(s.jobs[14].seed, 14);
    CHECK_NEAR(s.jobs[15].policy_lr, 2e-4, 0);
    assert_int_equal(s.jobs[30].arch, 1);
    for (int i = 0; i < s.njobs; i++) {
        CHECK_NEAR(s.jobs[i].value_lr, 6e-3, 0);
        assert_int_equal(s.jobs[i].episodes, 20000);
        assert_int_equal(s.jobs[i].bench, 0);
        CHECK_NEAR(s.jobs[i].gamma, 0.998, 0); /* untouched defaults */
    }
    /* every job distinct */
    for (int i = 0; i < s.njobs; i++)
        for (int j = 0; j < i; j++)
            assert_true(config_hash(&s.jobs[i]) != config_hash(&s.jobs[j]));
    sweep_free(&s);
}

static void test_scalars(void **state)
{
    (void)state;
    const char *y = "name: one\nbenchmarks: wind2d\narchs: rnn\nseeds: 7\n";
    sweep_t s;
    char err[512];
    assert_int_equal(sweep_parse("one.yaml", y, strlen(y), &s, err, sizeof err), 0);
    assert_int_equal(s.njobs, 1);
    assert_int_equal(s.jobs[0].bench, 1);
    assert_int_equal(s.jobs[0].arch, 1);
    assert_int_equal(s.jobs[0].seed, 7);
    assert_int_equal(s.jobs[0].episodes, 20000); /* the default */
    sweep_free(&s);
    y = "name: l\nbenchmarks: [1, 3]\narchs: nmn\nseeds: [0, 3, 7]\n";
    assert_int_equal(sweep_parse("l.yaml", y, strlen(y), &s, err, sizeof err), 0);
    assert_int_equal(s.njobs, 6);
    assert_int_equal(s.jobs[3].bench, 2);
    assert_int_equal(s.jobs[5].seed, 7);
    sweep_free(&s);
}

/* The 2019-02 preset sets both keys of science.md section 7, and a job
 * written with it is the same job as one written with the keys. */
static void test_preset(void **state)
{
    (void)state;
    const char *with = "name: p\nbenchmarks: [wind2d]\narchs: [nmn]\nseeds: 3\n"
                       "set:\n  preset: 2019-02\n";
    const char *keys = "name: p\nbenchmarks: [wind2d]\narchs: [nmn]\nseeds: 3\n"
                       "set:\n  z_groups: per_layer\n  wind_half_cone: 0.6283185307179586\n";
    sweep_t a, b;
    char err[512];
    assert_int_equal(sweep_parse("a.yaml", with, strlen(with), &a, err, sizeof err), 0);
    assert_int_equal(sweep_parse("b.yaml", keys, strlen(keys), &b, err, sizeof err), 0);
    assert_int_equal(a.jobs[0].z_groups, 1);
    CHECK_NEAR(a.jobs[0].wind_half_cone, 3.141592653589793 / 5, 1e-16);
    assert_true(config_hash(&a.jobs[0]) == config_hash(&b.jobs[0]));
    sweep_free(&a), sweep_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\ncolour: red\n",
         "s.yaml:5:1: unknown key 'colour' (expected name, benchmarks, archs, seeds, episodes, priority, set, grid)"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nname: y\n",
         "s.yaml:5:1: sweep: duplicate key 'name' (first at line 1)"},
        {"name: x\nbenchmarks: {a: 1}\narchs: [nmn]\nseeds: 1\n",
         "s.yaml:2:13: benchmarks: expected a value or a list of values, found a mapping"},
        {"name: x\nbenchmarks: [1]\narchs: []\nseeds: 1\n",
         "s.yaml:3:8: archs: empty list: the sweep would have no jobs"},
        {"name: x\nbenchmarks: [1, cartpole]\narchs: [nmn]\nseeds: 1\n",
         "s.yaml:2:17: bench: 'cartpole' is not one of target1d|wind2d|twotargets"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  gamma: 2\n",
         "s.yaml:6:10: gamma: 2 is out of range [0, 1]"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  gama: 0.9\n",
         "s.yaml:6:3: set: unknown config key 'gama'"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  seed: 4\n",
         "s.yaml:6:3: set: 'seed' is one of the sweep's own keys (benchmarks, archs, seeds, episodes)"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 9..2\n",
         "s.yaml:4:8: seeds: the range 9..2 is backwards (write 2..9)"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: [1, 2, 1]\n",
         "s.yaml:4:15: seeds: 1 is listed twice"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: [1, two]\n",
         "s.yaml:4:12: seed: 'two' is not an integer"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn, rnn]\nseeds: 0..9999\n",
         "s.yaml:1:1: the sweep has 20000 jobs, more than the limit of 10000"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\ngrid:\n  policy_lr: 0.1\n",
         "s.yaml:6:14: grid: policy_lr: expected a list of values"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\ngrid:\n  policy_lr: []\n",
         "s.yaml:6:14: grid: policy_lr: empty list: the sweep would have no jobs"},
        {"benchmarks: [1]\narchs: [nmn]\nseeds: 1\n", "s.yaml:1:1: missing key 'name'"},
        {"name: x\nbenchmarks: [1]\n archs: [nmn]\n",
         "s.yaml:3:2: invalid YAML: did not find expected key"},
        {"", "s.yaml:1:1: empty sweep file"},
        {"- a\n- b\n", "s.yaml:1:1: a sweep file is a mapping of name, benchmarks, archs, seeds, ..."},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  train_cut: 300\n",
         "s.yaml:1:1: job 0 (1, nmn, seed 1): train_cut 300 must be at most the episode length 1400 and a multiple of chunk 200"},
        {"name: x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  preset: 2018\n",
         "s.yaml:6:11: preset: '2018' is not a known preset (2019-02)"},
        {"name: &a x\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nother: *a\n",
         "s.yaml:5:8: YAML aliases are not supported in sweep files"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sweep_t s;
        char err[512] = "";
        int rc = sweep_parse("s.yaml", cases[i].yaml, strlen(cases[i].yaml), &s, err, sizeof err);
        if (rc != -1 || strcmp(err, cases[i].want) != 0) {
            printf("# case %zu: rc %d\n#   want: %s\n#   got:  %s\n", i, rc, cases[i].want, err);
            bad++;
        }
        assert_int_equal(s.njobs, 0);
        assert_null(s.jobs);
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_preset),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
