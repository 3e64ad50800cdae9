/* SPDX-License-Identifier: MIT */
/*
 * Kubeconfig files (libyaml): the current context's cluster and user,
 * tokens, token files, client certificates as files and as data, no
 * authentication, insecure-skip-tls-verify; what cannot be used; and the
 * in-cluster service account.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/apiconfig.h"

static int parse(const char *text, struct k8s_api_config *c)
{
	return k8s_kubeconfig_parse(text, strlen(text), "/etc/kube", c);
}

#define HEAD "apiVersion: v1\nkind: Config\ncurrent-context: prod\n" \
	     "contexts:\n- name: dev\n  context: {cluster: devc, user: devu}\n" \
	     "- name: prod\n  context:\n    cluster: prodc\n    user: produ\n"

static void test_token(void **state)
{
	struct k8s_api_config c;

	(void)state;
	assert_int_equal(parse(HEAD
			       "clusters:\n- name: devc\n  cluster: {server: https://dev:6443}\n"
			       "- name: prodc\n  cluster:\n    server: https://10.0.0.1:6443\n"
			       "    certificate-authority: ca.crt\n"
			       "users:\n- name: devu\n  user: {token: devtoken}\n"
			       "- name: produ\n  user:\n    token: s3cr3t\n", &c), 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_string_equal(c.ca_file, "/etc/kube/ca.crt"); /* relative to the file */
	assert_null(c.ca_data);
	assert_false(c.insecure);
	assert_int_equal(c.auth, K8S_AUTH_TOKEN);
	assert_string_equal(c.token, "s3cr3t");
	assert_string_equal(c.source, "context prod");
	k8s_api_config_free(&c);
}

static void test_token_file_insecure(void **state)
{
	struct k8s_api_config c;

	(void)state;
	assert_int_equal(parse(HEAD
			       "clusters:\n- name: prodc\n  cluster:\n    server: http://127.0.0.1:8080\n"
			       "    insecure-skip-tls-verify: true\n"
			       "users:\n- name: produ\n  user:\n    tokenFile: /run/token\n", &c), 0);
	assert_true(c.insecure);
	assert_int_equal(c.auth, K8S_AUTH_TOKEN_FILE);
	assert_string_equal(c.token_file, "/run/token");
	k8s_api_config_free(&c);
}

static void test_client_cert_data(void **state)
{
	struct k8s_api_config c;

	(void)state;
	/* base64 of "CERT PEM\n", "KEY PEM\n" (one '=' of padding), "CA\n" ("=") */
	assert_int_equal(parse(HEAD
			       "clusters:\n- name: prodc\n  cluster:\n    server: https://k:6443\n"
			       "    certificate-authority-data: Q0EK\n"
			       "users:\n- name: produ\n  user:\n"
			       "    client-certificate-data: Q0VSVCBQRU0K\n"
			       "    client-key-data: S0VZIFBFTQo=\n", &c), 0);
	assert_int_equal(c.auth, K8S_AUTH_CLIENT_CERT);
	assert_string_equal(c.cert_data, "CERT PEM\n");
	assert_string_equal(c.key_data, "KEY PEM\n");
	assert_string_equal(c.ca_data, "CA\n");
	assert_string_equal(c.ca_file, "");
	k8s_api_config_free(&c);

	assert_int_equal(parse(HEAD
			       "clusters:\n- name: prodc\n  cluster: {server: 'https://k'}\n"
			       "users:\n- name: produ\n  user:\n"
			       "    client-certificate: /pki/c.crt\n    client-key: k.key\n", &c), 0);
	assert_int_equal(c.auth, K8S_AUTH_CLIENT_CERT);
	assert_string_equal(c.cert_file, "/pki/c.crt");
	assert_string_equal(c.key_file, "/etc/kube/k.key");
	k8s_api_config_free(&c);
}

static void test_no_auth(void **state)
{
	struct k8s_api_config c;

	(void)state;
	/* No user entry at all, and a user with nothing in it. */
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster: {server: http://a}\n", &c), 0);
	assert_int_equal(c.auth, K8S_AUTH_NONE);
	k8s_api_config_free(&c);
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster: {server: http://a}\n"
			       "users:\n- name: produ\n  user: {}\n", &c), 0);
	assert_int_equal(c.auth, K8S_AUTH_NONE);
	k8s_api_config_free(&c);
}

static void test_unusable(void **state)
{
	struct k8s_api_config c;

	(void)state;
	/* Not YAML; empty; no current context; its cluster missing; no server. */
	assert_int_equal(parse("a: [b", &c), -EINVAL);
	assert_int_equal(parse("", &c), -EINVAL);
	assert_int_equal(parse("clusters: []\n", &c), -EINVAL);
	assert_int_equal(parse(HEAD "clusters:\n- name: devc\n  cluster: {server: http://a}\n", &c),
			 -EINVAL);
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster: {}\n", &c), -EINVAL);
	/* Plugins are not run. */
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster: {server: http://a}\n"
			       "users:\n- name: produ\n  user:\n    exec: {command: aws}\n", &c),
			 -ENOTSUP);
	/* A certificate without its key; data that is not base64. */
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster: {server: http://a}\n"
			       "users:\n- name: produ\n  user: {client-certificate: c.crt}\n", &c),
			 -EINVAL);
	assert_int_equal(parse(HEAD "clusters:\n- name: prodc\n  cluster:\n    server: http://a\n"
			       "    certificate-authority-data: 'not base64!'\n", &c), -EINVAL);
}

static void test_load_file_and_in_cluster(void **state)
{
	char dir[] = "/tmp/sp-kubeconfig-XXXXXX", path[64], token[64];
	struct k8s_api_config c;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	fputs(HEAD "clusters:\n- name: prodc\n  cluster: {server: http://a, "
		   "certificate-authority: ca.pem}\n", f);
	fclose(f);
	assert_int_equal(k8s_kubeconfig_load(path, &c), 0);
	assert_non_null(strstr(c.ca_file, "/ca.pem"));
	assert_int_equal(strncmp(c.ca_file, dir, strlen(dir)), 0);
	assert_non_null(strstr(c.source, "context prod"));
	k8s_api_config_free(&c);
	assert_int_equal(k8s_kubeconfig_load("/nonexistent/kubeconfig", &c), -ENOENT);

	/* In-cluster: no token file, not in a pod; then a pod's. */
	assert_int_equal(k8s_incluster_load("10.96.0.1", "443", dir, &c), -ENOENT);
	snprintf(token, sizeof(token), "%s/token", dir);
	f = fopen(token, "w");
	fputs("tok\n", f);
	fclose(f);
	assert_int_equal(k8s_incluster_load("10.96.0.1", "443", dir, &c), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_int_equal(c.auth, K8S_AUTH_TOKEN_FILE);
	assert_string_equal(c.token_file, token);
	assert_non_null(strstr(c.ca_file, "/ca.crt"));
	assert_int_equal(k8s_incluster_load("fd00::1", "6443", dir, &c), 0);
	assert_string_equal(c.server, "https://[fd00::1]:6443");
	unlink(token);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_file_insecure),
		cmocka_unit_test(test_client_cert_data),
		cmocka_unit_test(test_no_auth),
		cmocka_unit_test(test_unusable),
		cmocka_unit_test(test_load_file_and_in_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
