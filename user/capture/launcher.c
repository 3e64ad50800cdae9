// SPDX-License-Identifier: MIT
#include "capture/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The signals spanprobe handles or resets, and whether each was ignored
 * when it started (launcher_note_signals()). */
static const int own_signals[] = { SIGPIPE, SIGINT, SIGTERM, SIGCHLD };
static bool inherited_ign[sizeof(own_signals) / sizeof(own_signals[0])];

void launcher_note_signals(void)
{
	for (size_t i = 0; i < sizeof(own_signals) / sizeof(own_signals[0]); i++) {
		struct sigaction old;

		inherited_ign[i] = !sigaction(own_signals[i], NULL, &old) &&
				   old.sa_handler == SIG_IGN;
	}
}

static void child_main(const char *path, char *const argv[], int go, int err)
{
	sigset_t none;
	char byte;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* spanprobe's handlers are not the command's: it gets what spanprobe
	 * was given (an ignored SIGCHLD, a nohup's SIGINT...), as it would
	 * have run without it. */
	for (size_t i = 0; i < sizeof(own_signals) / sizeof(own_signals[0]); i++)
		signal(own_signals[i], inherited_ign[i] ? SIG_IGN : SIG_DFL);
	/* If spanprobe dies before releasing us, do not run untraced. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		ssize_t n = read(go, &byte, 1);

		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		_exit(127); /* spanprobe went away */
	}
	prctl(PR_SET_PDEATHSIG, 0);
	close(go);
	/* Capabilities spanprobe holds as ambient ones (a user other than
	 * root given them, systemd's AmbientCapabilities=) are not the
	 * command's: it runs as the user would run it. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	execv(path, argv);
	e = errno;
	if (write(err, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int launcher_spawn(const char *path, char *const argv[], struct sp_child *c)
{
	int go[2], err[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(err, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;

		close(go[0]), close(go[1]), close(err[0]), close(err[1]);
		return -e;
	}
	if (c->pid == 0) {
		close(go[1]);
		close(err[0]);
		child_main(path, argv, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	c->go_fd = go[1];
	c->err_fd = err[0];
	return 0;
}

int launcher_release(struct sp_child *c)
{
	char byte = 1;
	int e = 0;
	ssize_t n;

	if (write(c->go_fd, &byte, 1) != 1)
		return -errno;
	close(c->go_fd);
	c->go_fd = -1;
	/* EOF (close-on-exec) means exec succeeded; data means it failed. */
	n = read(c->err_fd, &e, sizeof(e));
	close(c->err_fd);
	c->err_fd = -1;
	return n == (ssize_t)sizeof(e) ? -e : 0;
}

void launcher_abort(struct sp_child *c)
{
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	if (c->go_fd > 0)
		close(c->go_fd);
	if (c->err_fd > 0)
		close(c->err_fd);
	c->pid = 0;
}
