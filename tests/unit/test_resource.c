/* SPDX-License-Identifier: MIT */
/*
 * Resources: OTEL_RESOURCE_ATTRIBUTES parsing, service.name precedence,
 * the attributes every resource carries, and reading a live process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "assemble/process.h"
#include "span/resource.h"
#include "unit/unit_helpers.h"

static void assert_res_str(const struct sp_resource *res, const char *key,
			   const char *want)
{
	const struct sp_resattr *a = resource_find(res, key);

	if (!a)
		fail_msg("resource attribute %s missing", key);
	assert_int_equal(a->type, SP_RES_STRING);
	assert_string_equal(a->str, want);
}

static size_t count_key(const struct sp_resource *res, const char *key)
{
	size_t n = 0;

	for (size_t i = 0; i < res->count; i++)
		n += strcmp(res->attrs[i].key, key) == 0;
	return n;
}

static void test_parse_pairs(void **state)
{
	struct sp_resource *res = bare_resource(1);

	(void)state;
	assert_int_equal(resource_parse_env(res, "a=1,b=two"), 2);
	assert_int_equal(res->count, 2);
	assert_res_str(res, "a", "1");
	assert_res_str(res, "b", "two");
	/* Values are strings; '=' after the first belongs to the value. */
	assert_int_equal(resource_parse_env(res, "expr=x=y"), 1);
	assert_res_str(res, "expr", "x=y");
	assert_int_equal(resource_parse_env(res, ""), 0);
	assert_int_equal(res->count, 3);
	resource_put(res);
}

static void test_parse_percent_and_spaces(void **state)
{
	struct sp_resource *res = bare_resource(1);

	(void)state;
	assert_int_equal(resource_parse_env(res,
		"k=hello%2C%20world%3D%25,my%20key=v,up=%4A%4a"), 3);
	assert_res_str(res, "k", "hello, world=%");
	assert_res_str(res, "my key", "v");
	assert_res_str(res, "up", "JJ");
	/* Leading and trailing blanks of keys and values go; inner ones stay. */
	assert_int_equal(resource_parse_env(res, "  sp = a b ,\tt\t=\t2\t"), 2);
	assert_res_str(res, "sp", "a b");
	assert_res_str(res, "t", "2");
	/* Encoded blanks are data, not padding. */
	assert_int_equal(resource_parse_env(res, "pad=%20x%20"), 1);
	assert_res_str(res, "pad", " x ");
	/* Bytes that are no UTF-8, in a key as in a value: '?' (OTLP). */
	assert_int_equal(resource_parse_env(res, "k%FFey=v%C3"), 1);
	assert_res_str(res, "k?ey", "v");
	resource_put(res);
}

static void test_parse_later_wins(void **state)
{
	struct sp_resource *res = bare_resource(1);

	(void)state;
	assert_int_equal(resource_set_str(res, "service.name", "before"), 0);
	assert_int_equal(resource_parse_env(res, "a=1,a=2,service.name=env"), 3);
	assert_res_str(res, "a", "2");
	assert_res_str(res, "service.name", "env");
	assert_int_equal(count_key(res, "a"), 1);
	assert_int_equal(count_key(res, "service.name"), 1);
	assert_int_equal(res->count, 2);
	/* An int attribute replaced by a string becomes a string. */
	assert_int_equal(resource_set_int(res, "n", 5), 0);
	assert_int_equal(resource_parse_env(res, "n=five"), 1);
	assert_res_str(res, "n", "five");
	resource_put(res);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"a",            /* no '=' */
		"a=1,b",        /* second pair has no '=' */
		"=v",           /* empty key */
		" =v",          /* blank key */
		"a=1,,b=2",     /* empty pair */
		"a=%zz",        /* bad escape */
		"a=%4",         /* cut escape */
		"a=1%",         /* cut escape at the end */
		"a=1,b=%g0",
		"%=1",
	};
	char long_key[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sp_resource *res = bare_resource(1);

		assert_int_equal(resource_set_str(res, "keep", "me"), 0);
		if (resource_parse_env(res, bad[i]) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		/* Ignored as a whole: nothing added or changed. */
		assert_int_equal(res->count, 1);
		assert_res_str(res, "keep", "me");
		resource_put(res);
	}
	memset(long_key, 'k', sizeof(long_key));
	strcpy(long_key + 280, "=v");
	{
		struct sp_resource *res = bare_resource(1);

		assert_int_equal(resource_parse_env(res, long_key), -EINVAL);
		assert_int_equal(res->count, 0);
		resource_put(res);
	}
}

static void test_build_attributes(void **state)
{
	struct sp_process_info info = { .pid = 1234,
					.exe_path = "/opt/app/bin/demo",
					.command_line = "demo --token=secret" };
	struct sp_resource_defaults defs = { 0 };
	struct sp_resource *res;
	const struct sp_resattr *pid;
	char host[256] = "";

	(void)state;
	gethostname(host, sizeof(host) - 1);
	res = resource_build(&info, &defs);
	assert_non_null(res);
	assert_int_equal(res->refs, 1);
	assert_int_equal(res->pid, 1234);
	assert_res_str(res, "service.name", "unknown_service:demo");
	pid = resource_find(res, "process.pid");
	assert_non_null(pid);
	assert_int_equal(pid->type, SP_RES_INT);
	assert_int_equal(pid->i, 1234);
	assert_res_str(res, "process.executable.name", "demo");
	assert_res_str(res, "process.executable.path", "/opt/app/bin/demo");
	assert_res_str(res, "host.name", host);
	assert_res_str(res, "telemetry.sdk.name", "spanprobe");
	assert_res_str(res, "telemetry.sdk.version", SP_VERSION);
	assert_res_str(res, "telemetry.sdk.language", "cpp");
	/* The command line can hold secrets: only when asked for. */
	assert_null(resource_find(res, "process.command_line"));
	assert_int_equal(res->count, 8);
	resource_put(res);

	defs.with_command_line = 1;
	res = resource_build(&info, &defs);
	assert_res_str(res, "process.command_line", "demo --token=secret");
	assert_int_equal(res->count, 9);
	resource_put(res);
	/* Asked for, but unknown (the process is gone): absent. */
	info.command_line = NULL;
	res = resource_build(&info, &defs);
	assert_null(resource_find(res, "process.command_line"));
	resource_put(res);
}

static const char *service_of(const char *own, const char *spanprobe,
			      const char *own_attrs, const char *spanprobe_attrs)
{
	static char out[128];
	struct sp_process_info info = { .pid = 9, .exe_path = "/usr/bin/app",
					.service_name = own,
					.own_resource_attrs = own_attrs };
	struct sp_resource_defaults defs = { .service_name = spanprobe,
					     .resource_attrs = spanprobe_attrs };
	struct sp_resource *res = resource_build(&info, &defs);
	const struct sp_resattr *a;

	assert_non_null(res);
	assert_int_equal(count_key(res, "service.name"), 1);
	a = resource_find(res, "service.name");
	snprintf(out, sizeof(out), "%s", a->str);
	resource_put(res);
	return out;
}

static void test_service_name_precedence(void **state)
{
	(void)state;
	assert_string_equal(service_of(NULL, NULL, NULL, NULL), "unknown_service:app");
	assert_string_equal(service_of(NULL, "agent", NULL, NULL), "agent");
	assert_string_equal(service_of("own", "agent", NULL, NULL), "own");
	assert_string_equal(service_of("own", NULL, NULL, NULL), "own");
	/* Empty variables count as unset. */
	assert_string_equal(service_of("", "agent", NULL, NULL), "agent");
	assert_string_equal(service_of("", "", NULL, NULL), "unknown_service:app");
	/* OTEL_RESOURCE_ATTRIBUTES' service.name beats the default... */
	assert_string_equal(service_of(NULL, NULL, NULL, "service.name=fromattrs"),
			    "fromattrs");
	assert_string_equal(service_of(NULL, NULL, "service.name=ownattrs",
				       "service.name=fromattrs"),
			    "ownattrs");
	/* ...and OTEL_SERVICE_NAME beats OTEL_RESOURCE_ATTRIBUTES of the
	 * same program... */
	assert_string_equal(service_of(NULL, "agent", NULL, "service.name=fromattrs"),
			    "agent");
	assert_string_equal(service_of("own", NULL, "service.name=ownattrs", NULL),
			    "own");
	assert_string_equal(service_of("own", NULL, NULL, "service.name=fromattrs"),
			    "own");
	/* ...but spanprobe's name never renames a process that names itself,
	 * in either variable. */
	assert_string_equal(service_of(NULL, "agent", "service.name=ownattrs", NULL),
			    "ownattrs");
	assert_string_equal(service_of(NULL, "agent", "team=a,service.name=o%20a", NULL),
			    "o a");
	/* Attributes of the process without service.name, or malformed: the
	 * agent's name still applies. */
	assert_string_equal(service_of(NULL, "agent", "team=a", NULL), "agent");
	assert_string_equal(service_of(NULL, "agent", "service.name=x,broken", NULL),
			    "agent");
}

static void test_build_env_attrs(void **state)
{
	struct sp_process_info info = { .pid = 5, .exe_path = "/bin/x",
					.own_resource_attrs = "team=own,env=prod" };
	struct sp_resource_defaults defs = { .resource_attrs = "team=agent,region=eu%2Dw" };
	struct sp_resource *res;

	(void)state;
	res = resource_build(&info, &defs);
	/* The process's own attributes win over spanprobe's. */
	assert_res_str(res, "team", "own");
	assert_res_str(res, "env", "prod");
	assert_res_str(res, "region", "eu-w");
	assert_int_equal(count_key(res, "team"), 1);
	resource_put(res);

	/* A malformed value is ignored as a whole; the other one still applies. */
	info.own_resource_attrs = "team=own,broken";
	res = resource_build(&info, &defs);
	assert_res_str(res, "team", "agent");
	assert_res_str(res, "region", "eu-w");
	assert_null(resource_find(res, "broken"));
	resource_put(res);

	/* OTEL_RESOURCE_ATTRIBUTES is the user's word: it may replace what
	 * the daemon found (later wins). */
	info.own_resource_attrs = "host.name=override";
	res = resource_build(&info, &defs);
	assert_res_str(res, "host.name", "override");
	resource_put(res);
}

static void test_refcount(void **state)
{
	struct sp_resource *res = bare_resource(1);

	(void)state;
	assert_ptr_equal(resource_get(res), res);
	assert_int_equal(res->refs, 2);
	resource_put(res);
	assert_int_equal(res->refs, 1);
	assert_null(resource_get(NULL));
	resource_put(NULL);
	resource_put(res);
}

/* Whether `pid` is asleep (state S in /proc/PID/stat). */
static bool asleep(pid_t pid)
{
	char path[64], buf[256], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

/*
 * Start `sleep 30` with `envp`; returns once it sleeps.  The exec closing
 * the pipe is not enough: the kernel closes close-on-exec files before it
 * lays out the new arguments and environment, so /proc/PID/cmdline and
 * environ can still read empty just after.
 */
static pid_t spawn_sleep(char *const envp[])
{
	int pfd[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		execve("/bin/sleep", (char *[]){ "sleep", "30", NULL }, envp);
		_exit(127);
	}
	close(pfd[1]);
	/* EOF when exec closed the write end (O_CLOEXEC). */
	assert_int_equal(read(pfd[0], &c, 1), 0);
	close(pfd[0]);
	for (int i = 0; i < 5000 && !asleep(pid); i++)
		usleep(1000);
	assert_true(asleep(pid));
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void test_from_proc(void **state)
{
	char *envp[] = { "PATH=/bin", "OTEL_SERVICE_NAME=child-svc",
			 "OTEL_RESOURCE_ATTRIBUTES=team=a%2Cb, tier = web ", NULL };
	struct sp_resource_defaults defs = { .service_name = "agent",
					     .with_command_line = 1 };
	char want_path[PATH_MAX];
	pid_t pid = spawn_sleep(envp);
	struct sp_resource *res = process_read_resource(pid, &defs);
	const struct sp_resattr *a;

	(void)state;
	/* The kernel reports the resolved path of the executable. */
	assert_non_null(realpath("/bin/sleep", want_path));
	assert_non_null(res);
	assert_res_str(res, "service.name", "child-svc");
	assert_res_str(res, "team", "a,b");
	assert_res_str(res, "tier", "web");
	assert_res_str(res, "process.executable.path", want_path);
	assert_res_str(res, "process.executable.name", strrchr(want_path, '/') + 1);
	assert_res_str(res, "process.command_line", "sleep 30");
	a = resource_find(res, "process.pid");
	assert_non_null(a);
	assert_int_equal(a->i, pid);
	resource_put(res);

	/* Without OTEL_SERVICE_NAME in its environment, spanprobe's applies;
	 * the command line is not read unless asked for. */
	defs.with_command_line = 0;
	envp[1] = "X=1";
	reap(pid);
	pid = spawn_sleep(envp);
	res = process_read_resource(pid, &defs);
	assert_non_null(res);
	assert_res_str(res, "service.name", "agent");
	assert_null(resource_find(res, "process.command_line"));
	resource_put(res);
	reap(pid);
}

static void test_from_proc_gone(void **state)
{
	struct sp_resource_defaults defs = { 0 };

	(void)state;
	errno = 0;
	/* Above any pid_max the kernel allows (4194304). */
	assert_null(process_read_resource(INT_MAX, &defs));
	assert_int_equal(errno, ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pairs),
		cmocka_unit_test(test_parse_percent_and_spaces),
		cmocka_unit_test(test_parse_later_wins),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_build_attributes),
		cmocka_unit_test(test_service_name_precedence),
		cmocka_unit_test(test_build_env_attrs),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_from_proc),
		cmocka_unit_test(test_from_proc_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
