// SPDX-License-Identifier: MIT
#include "k8s/apiconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "util/log.h"

#define KUBECONFIG_MAX (1 << 20)

const char *k8s_auth_name(enum k8s_auth auth)
{
	switch (auth) {
	case K8S_AUTH_TOKEN:
		return "bearer token";
	case K8S_AUTH_TOKEN_FILE:
		return "bearer token file";
	case K8S_AUTH_CLIENT_CERT:
		return "client certificate";
	default:
		return "none";
	}
}

void k8s_api_config_free(struct k8s_api_config *c)
{
	free(c->ca_data);
	free(c->token);
	free(c->cert_data);
	free(c->key_data);
	c->ca_data = c->token = c->cert_data = c->key_data = NULL;
}

/* --- a few steps through a YAML document ------------------------------- */

static yaml_node_t *node(yaml_document_t *doc, int i)
{
	return i ? yaml_document_get_node(doc, i) : NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of `key` in mapping `m`, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(node(doc, p->key));

		if (k && strcmp(k, key) == 0)
			return node(doc, p->value);
	}
	return NULL;
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
	return scalar(map_get(doc, m, key));
}

/* In list `list` (of {name: N, <field>: {...}}), the <field> of name N. */
static yaml_node_t *named(yaml_document_t *doc, const char *list, const char *field,
			  const char *name)
{
	yaml_node_t *seq = map_get(doc, yaml_document_get_root_node(doc), list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *entry = node(doc, *it);
		const char *n = map_str(doc, entry, "name");

		if (n && strcmp(n, name) == 0)
			return map_get(doc, entry, field);
	}
	return NULL;
}

/* --- values ------------------------------------------------------------ */

/* Base64 (a kubeconfig's *-data) to a NUL-terminated string, or NULL. */
static char *base64_text(const char *b64, const char *what)
{
	size_t len = strlen(b64);
	unsigned char *out = malloc(len / 4 * 3 + 4);
	int n;

	if (!out)
		return NULL;
	n = len % 4 ? -1 : EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		sp_err("k8s: kubeconfig %s is not base64", what);
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding's bytes too. */
	for (size_t i = len; i > 0 && b64[i - 1] == '='; i--)
		n--;
	out[n] = '\0';
	return (char *)out;
}

static int set_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = name[0] == '/' || !dir ? snprintf(out, size, "%s", name)
				      : snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* One of file / data: a path, or base64 decoded into *data. */
static int file_or_data(yaml_document_t *doc, yaml_node_t *m, const char *key,
			const char *dir, char *file, size_t size, char **data)
{
	char data_key[64];
	const char *v;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	v = map_str(doc, m, data_key);
	if (v) {
		*data = base64_text(v, data_key);
		return *data ? 0 : -EINVAL;
	}
	v = map_str(doc, m, key);
	return v ? set_path(file, size, dir, v) : 0;
}

static int read_cluster(yaml_document_t *doc, yaml_node_t *cl, const char *dir,
			struct k8s_api_config *c)
{
	const char *server = map_str(doc, cl, "server");
	const char *insecure = map_str(doc, cl, "insecure-skip-tls-verify");

	if (!server || snprintf(c->server, sizeof(c->server), "%s", server) >=
			       (int)sizeof(c->server)) {
		sp_err("k8s: kubeconfig: the cluster has no server");
		return -EINVAL;
	}
	c->insecure = insecure && strcmp(insecure, "true") == 0;
	return file_or_data(doc, cl, "certificate-authority", dir, c->ca_file,
			    sizeof(c->ca_file), &c->ca_data);
}

static int read_user(yaml_document_t *doc, yaml_node_t *u, const char *dir,
		     struct k8s_api_config *c)
{
	const char *token = map_str(doc, u, "token");
	const char *token_file = map_str(doc, u, "tokenFile");
	int err;

	if (map_get(doc, u, "exec") || map_get(doc, u, "auth-provider")) {
		sp_err("k8s: kubeconfig: the user authenticates by a plugin (exec or "
		       "auth-provider), which spanprobe does not run; give a token, "
		       "a tokenFile or a client certificate");
		return -ENOTSUP;
	}
	if (token) {
		c->auth = K8S_AUTH_TOKEN;
		c->token = strdup(token);
		return c->token ? 0 : -ENOMEM;
	}
	if (token_file) {
		c->auth = K8S_AUTH_TOKEN_FILE;
		return set_path(c->token_file, sizeof(c->token_file), dir, token_file);
	}
	err = file_or_data(doc, u, "client-certificate", dir, c->cert_file,
			   sizeof(c->cert_file), &c->cert_data) ?:
	      file_or_data(doc, u, "client-key", dir, c->key_file,
			   sizeof(c->key_file), &c->key_data);
	if (err)
		return err;
	if ((c->cert_file[0] || c->cert_data) != (c->key_file[0] || c->key_data)) {
		sp_err("k8s: kubeconfig: a client certificate needs its key (and a key its "
		       "certificate)");
		return -EINVAL;
	}
	if (c->cert_file[0] || c->cert_data)
		c->auth = K8S_AUTH_CLIENT_CERT;
	return 0;
}

static int read_document(yaml_document_t *doc, const char *dir, struct k8s_api_config *c)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	const char *current = map_str(doc, root, "current-context");
	yaml_node_t *ctx = named(doc, "contexts", "context", current);
	const char *cluster = map_str(doc, ctx, "cluster");
	const char *user = map_str(doc, ctx, "user");
	yaml_node_t *cl = named(doc, "clusters", "cluster", cluster);
	yaml_node_t *u = named(doc, "users", "user", user);
	int err;

	if (!current || !ctx) {
		sp_err("k8s: kubeconfig: no current-context, or it is not in contexts");
		return -EINVAL;
	}
	if (!cl) {
		sp_err("k8s: kubeconfig: context %s names no cluster of the file", current);
		return -EINVAL;
	}
	err = read_cluster(doc, cl, dir, c);
	if (!err && u)
		err = read_user(doc, u, dir, c);
	snprintf(c->source, sizeof(c->source), "context %.200s", current);
	return err;
}

int k8s_kubeconfig_parse(const char *text, size_t len, const char *dir,
			 struct k8s_api_config *c)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int err = -EINVAL;

	memset(c, 0, sizeof(*c));
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		sp_err("k8s: kubeconfig is not YAML: %s (line %zu)",
		       parser.problem ? parser.problem : "?", parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	if (yaml_document_get_root_node(&doc))
		err = read_document(&doc, dir, c);
	else
		sp_err("k8s: kubeconfig is empty");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (err)
		k8s_api_config_free(c);
	return err;
}

int k8s_kubeconfig_load(const char *path, struct k8s_api_config *c)
{
	char dir[PATH_MAX], *text, *slash;
	FILE *f = fopen(path, "r");
	size_t n;
	int err;

	if (!f) {
		err = -errno;
		sp_err("k8s: cannot read kubeconfig %s: %s", path, strerror(errno));
		return err;
	}
	text = malloc(KUBECONFIG_MAX);
	n = text ? fread(text, 1, KUBECONFIG_MAX, f) : 0;
	fclose(f);
	if (!text)
		return -ENOMEM;
	if (n == KUBECONFIG_MAX) {
		sp_err("k8s: kubeconfig %s is over %d bytes", path, KUBECONFIG_MAX);
		free(text);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	err = k8s_kubeconfig_parse(text, n, slash ? dir : ".", c);
	free(text);
	if (!err) {
		char ctx[sizeof(c->source)];
		int len;

		memcpy(ctx, c->source, sizeof(ctx));
		len = snprintf(c->source, sizeof(c->source), "kubeconfig %s, ", path);
		if (len > 0 && (size_t)len < sizeof(c->source))
			strncat(c->source, ctx, sizeof(c->source) - (size_t)len - 1);
	}
	return err;
}

int k8s_incluster_load(const char *host, const char *port, const char *sa_dir,
		       struct k8s_api_config *c)
{
	bool v6 = strchr(host, ':') != NULL;

	memset(c, 0, sizeof(*c));
	snprintf(c->token_file, sizeof(c->token_file), "%s/token", sa_dir);
	if (access(c->token_file, R_OK))
		return -ENOENT;
	snprintf(c->server, sizeof(c->server), v6 ? "https://[%s]:%s" : "https://%s:%s",
		 host, port);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s/ca.crt", sa_dir);
	c->auth = K8S_AUTH_TOKEN_FILE;
	snprintf(c->source, sizeof(c->source), "in-cluster service account");
	return 0;
}
