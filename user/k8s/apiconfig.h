/* SPDX-License-Identifier: MIT */
/*
 * How to reach the Kubernetes API: in-cluster (the service's environment
 * variables and the pod's service account) or a kubeconfig file (its
 * current context).  Loaded once at start.
 */
#ifndef SPANPROBE_K8S_APICONFIG_H
#define SPANPROBE_K8S_APICONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

enum k8s_auth {
	K8S_AUTH_NONE = 0,
	K8S_AUTH_TOKEN,       /* a bearer token given in the kubeconfig */
	K8S_AUTH_TOKEN_FILE,  /* a bearer token read from a file, re-read when it changes */
	K8S_AUTH_CLIENT_CERT, /* a TLS client certificate */
};

struct k8s_api_config {
	char server[1024];         /* http(s)://host:port */
	char ca_file[PATH_MAX];    /* "" : ca_data, or the system's store */
	char *ca_data;             /* PEM, or NULL */
	bool insecure;             /* insecure-skip-tls-verify */
	enum k8s_auth auth;
	char *token;               /* K8S_AUTH_TOKEN */
	char token_file[PATH_MAX]; /* K8S_AUTH_TOKEN_FILE */
	char cert_file[PATH_MAX], key_file[PATH_MAX]; /* or: */
	char *cert_data, *key_data;                   /* PEM */
	char source[PATH_MAX + 80]; /* "in-cluster", "kubeconfig FILE, context C" */
};

/*
 * Read kubeconfig `path` (YAML): its current-context's cluster (server,
 * certificate-authority[-data], insecure-skip-tls-verify) and user (token,
 * tokenFile, client-certificate[-data] with client-key[-data], or none).
 * Relative file names are taken from the kubeconfig's folder.  Returns 0,
 * or -ENOENT / -EINVAL / -ENOTSUP (exec and auth-provider users) with a
 * message logged.
 */
int k8s_kubeconfig_load(const char *path, struct k8s_api_config *c);

/* Same, from the text of a kubeconfig (`dir`: for relative names). */
int k8s_kubeconfig_parse(const char *text, size_t len, const char *dir,
			 struct k8s_api_config *c);

/*
 * In-cluster: https://host:port with the service account's token and CA
 * in `sa_dir` (K8S_SA_DIR).  Returns 0, or -ENOENT when the token file is
 * missing (not in a pod).
 */
int k8s_incluster_load(const char *host, const char *port, const char *sa_dir,
		       struct k8s_api_config *c);

void k8s_api_config_free(struct k8s_api_config *c);

const char *k8s_auth_name(enum k8s_auth auth);

#endif /* SPANPROBE_K8S_APICONFIG_H */
