/*
 * maxrss CMD [ARGS...]: run CMD with stdout on /dev/null and print, on this
 * program's own stdout, "<wall µs> <peak RSS KiB> <CPU µs>" of CMD (wait4's
 * figures, which include the processes CMD waited for). Exits with CMD's
 * status. hack/bench.sh builds it statically: a launcher that is small and
 * starts fast keeps its own resident size and start-up out of the figures.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long usec(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: maxrss CMD [ARGS...]\n");
		return 2;
	}
	int report = fcntl(1, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_WRONLY);
	if (report < 0 || null < 0 || dup2(null, 1) < 0) {
		perror("maxrss");
		return 2;
	}
	close(null);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long wall = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
	dprintf(report, "%ld %ld %ld\n", wall, ru.ru_maxrss, usec(ru.ru_utime) + usec(ru.ru_stime));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
