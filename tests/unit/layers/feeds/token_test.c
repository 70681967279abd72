/* token_test.c: tests layers/feeds/token.c: SHA-256 against FIPS 180-4 vectors,
 * making, listing, revoking and checking tokens in a real file. */
#include "testlib.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/token.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void check_sha(const char *in, size_t n, const char *want)
{
    unsigned char h[32];
    char got[65];
    situ_sha256(in, n, h);
    hex(h, 32, got);
    assert_string_equal(got, want);
}

static void sha256_matches_fips_vectors(void **state)
{
    (void)state;
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes */
    check_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    check_sha(a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void token_equal_compares_all_bytes(void **state)
{
    (void)state;
    assert_true(situ_token_equal("abcdef", "abcdef", 6));
    assert_false(situ_token_equal("abcdef", "abcdeF", 6));
    assert_false(situ_token_equal("Xbcdef", "abcdef", 6));
    assert_true(situ_token_equal("", "", 0));
}

static situ_store *open_new(char **dir)
{
    situ_store *s = situ_test_store_new("token", dir);
    assert_non_null(s);
    return s;
}

static situ_tokens *load(situ_store *s)
{
    situ_tokens *t = NULL;
    situ_err err = {0};
    assert_int_equal(situ_tokens_load(s, &t, &err), 0);
    return t;
}

static void add_check_list_revoke(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    char tok[SITU_TOKEN_SIZE], tok2[SITU_TOKEN_SIZE];
    long long id, id2;
    situ_err err = {0};
    assert_int_equal(situ_token_add(s, "meteorology", "gauges", tok, &id, &err), 0);
    assert_int_equal(situ_token_add(s, "water_resources", NULL, tok2, &id2, &err), 0);
    assert_int_equal(strlen(tok), SITU_TOKEN_SIZE - 1);
    assert_memory_equal(tok, "situ_", 5);
    assert_string_not_equal(tok, tok2);

    situ_tokens *t = load(s);
    assert_int_equal(situ_tokens_count(t), 2);
    assert_int_equal(situ_tokens_check(t, "meteorology", tok), 0);
    assert_int_equal(situ_tokens_check(t, "water_resources", tok), SITU_EPERM);
    assert_int_equal(situ_tokens_check(t, "meteorology", tok2), SITU_EPERM);
    assert_int_equal(situ_tokens_check(t, "meteorology", "situ_nope"), SITU_EAUTH);
    assert_int_equal(situ_tokens_check(t, "meteorology", NULL), SITU_EAUTH);
    assert_int_equal(situ_tokens_check(t, "meteorology", ""), SITU_EAUTH);
    situ_tokens_free(t);

    /* only the hash is kept */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s),
                                        "SELECT count(*) FROM tokens WHERE hash = ?1 OR "
                                        "label = ?1 OR length(hash) != 64",
                                        -1, &st, NULL),
                     0);
    sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);

    situ_token_info *list;
    int n;
    assert_int_equal(situ_token_list(s, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].dept, "meteorology");
    assert_string_equal(list[0].label, "gauges");
    assert_int_equal(strlen(list[0].fingerprint), 16);
    assert_string_equal(list[0].revoked_at, "");
    free(list);

    assert_int_equal(situ_token_revoke(s, id, &err), 0);
    assert_int_equal(situ_token_revoke(s, id, &err), SITU_ENOTFOUND);
    t = load(s);
    assert_int_equal(situ_tokens_check(t, "meteorology", tok), SITU_EAUTH);
    assert_int_equal(situ_tokens_check(t, "water_resources", tok2), 0);
    situ_tokens_free(t);
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

static void unknown_department_is_refused(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    char tok[SITU_TOKEN_SIZE];
    situ_err err = {0};
    assert_int_equal(situ_token_add(s, "ministry_of_magic", NULL, tok, NULL, &err), SITU_ENOTFOUND);
    assert_non_null(strstr(err.msg, "ministry_of_magic"));
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sha256_matches_fips_vectors),
    cmocka_unit_test(token_equal_compares_all_bytes),
    cmocka_unit_test(add_check_list_revoke),
    cmocka_unit_test(unknown_department_is_refused),
};

SITU_TEST_MAIN("token", tests)
