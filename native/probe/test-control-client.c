/* Unit tests of the JSON reading and writing in control-client.c (run under ASan/UBSan). */
#include "control-client.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void member(const char *json, const char *key, const char *expect)
{
	const char *v, *vend, *end = json + strlen(json);
	int rc = cc_json_member(json, end, key, &v, &vend);
	if (!expect) {
		CHECK(rc != 0);
		return;
	}
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK((size_t)(vend - v) == strlen(expect) && memcmp(v, expect, strlen(expect)) == 0);
	}
}

int main(void)
{
	/* The probe and supervisor replies. */
	const char *live = "{\"status\":{\"Live\":true,\"Sessions\":[{\"Pair\":{\"Local\":\"a\",\"Remote\":\"b\"}}],\"X\":\"}\"}}";
	member(live, "status", "{\"Live\":true,\"Sessions\":[{\"Pair\":{\"Local\":\"a\",\"Remote\":\"b\"}}],\"X\":\"}\"}");
	member(live, "error", NULL);
	member(live, "Live", NULL); /* only top-level members */
	member("{\"status\":{},\"error\":\"not live: x\"}", "error", "\"not live: x\"");
	member(" { \"a\" : 1 , \"b\" : [ 1 , { \"c\" : null } ] , \"c\" : -2.5e3 } ", "b", "[ 1 , { \"c\" : null } ]");
	member("{\"a\":1,\"c\":-2.5e3}", "c", "-2.5e3");
	member("{\"a\":true}", "a", "true");
	/* Malformed input never reads past the end. */
	member("{\"status\":{\"Live\":tr", "status", NULL);
	member("{\"status\"", "status", NULL);
	member("{\"status\":\"abc", "status", NULL);
	member("[1,2]", "status", NULL);
	member("", "status", NULL);
	member("{\"a\":\"\\", "a", NULL);
	{
		char deep[300];
		memset(deep, '[', sizeof deep - 1);
		deep[sizeof deep - 1] = '\0';
		CHECK(cc_json_skip(deep, deep + strlen(deep)) == NULL);
	}

	/* String decoding, including escapes and UTF-16 surrogate pairs. */
	char out[64];
	const char *s1 = "\"There are 0 sessions:\\n\\t\\\"x\\\" \\u00e9 \\ud83d\\ude00\"";
	CHECK(cc_json_string(s1, s1 + strlen(s1), out, sizeof out) >= 0);
	CHECK(strcmp(out, "There are 0 sessions:\n\t\"x\" \xc3\xa9 \xf0\x9f\x98\x80") == 0);
	const char *bad_surrogate = "\"\\ud83d\"";
	CHECK(cc_json_string(bad_surrogate, bad_surrogate + strlen(bad_surrogate), out, sizeof out) == -1);
	const char *lone_low = "\"\\ude00\"";
	CHECK(cc_json_string(lone_low, lone_low + strlen(lone_low), out, sizeof out) == -1);
	const char *bad_escape = "\"\\q\"";
	CHECK(cc_json_string(bad_escape, bad_escape + strlen(bad_escape), out, sizeof out) == -1);
	const char *too_long = "\"0123456789\"";
	CHECK(cc_json_string(too_long, too_long + strlen(too_long), out, 8) == -1);
	CHECK(cc_json_string(too_long, too_long + strlen(too_long), out, 11) == 10);
	const char *short_hex = "\"\\u12\"";
	CHECK(cc_json_string(short_hex, short_hex + strlen(short_hex), out, sizeof out) == -1);

	/* Quoting the bfdd-control arguments. */
	char buf[32];
	size_t pos = 0;
	CHECK(cc_json_quote(buf, sizeof buf, &pos, "a\"b\\c\n") == 0);
	CHECK(strcmp(buf, "\"a\\\"b\\\\c\\u000a\"") == 0);
	pos = 0;
	CHECK(cc_json_quote(buf, 8, &pos, "0123456789") == -1);

	CHECK(cc_parse_ms("900") == 900);
	CHECK(cc_parse_ms("0") == -1);
	CHECK(cc_parse_ms("3600001") == -1);
	CHECK(cc_parse_ms("99999999999999999999") == -1);
	CHECK(cc_parse_ms("1x") == -1);
	CHECK(cc_parse_ms("") == -1);

	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("control-client: all checks passed\n");
	return 0;
}
