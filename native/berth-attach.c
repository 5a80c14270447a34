/*
 * berth-attach: bridges one attach session to conmon's attach socket.
 *
 * conmon serves attach on a SOCK_SEQPACKET unix socket where every packet it
 * sends starts with one byte naming the stream (2 stdout, 3 stderr). Node has
 * no SEQPACKET sockets, so berthd runs this small bridge per attach session:
 * packets become Docker's 8-byte-header frames (mode "frames") or raw bytes
 * (mode "raw", for TTY containers) on stdout, and stdin becomes packets to
 * the container's stdin. A stdin EOF half-closes the socket, which makes
 * conmon close the container's stdin while output keeps flowing.
 *
 * usage: berth-attach <dir> <frames|raw> <stdin|no-stdin>
 * connects to <dir>/attach; prints "ok\n" on stderr once connected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: berth-attach <dir> <frames|raw> <stdin|no-stdin>\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int frames = strcmp(argv[2], "frames") == 0;
	int use_stdin = strcmp(argv[3], "stdin") == 0;

	/* Reach the socket through /proc/self/fd so long bundle paths fit sun_path. */
	int dirfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/attach", dirfd);
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "connect attach socket: %s\n", strerror(errno));
		return 1;
	}
	close(dirfd);
	if (write_all(2, "ok\n", 3) < 0)
		return 1;

	char buf[65536 + 8];
	struct pollfd fds[2];
	int stdin_open = use_stdin;
	for (;;) {
		int n = 0;
		fds[n].fd = sock;
		fds[n].events = POLLIN;
		n++;
		if (stdin_open) {
			fds[n].fd = 0;
			fds[n].events = POLLIN;
			n++;
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[0].revents) {
			ssize_t r = recv(sock, buf + 7, 65536, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 0; /* conmon closed: the container's output is complete */
			if (r < 2)
				continue;
			unsigned char pipe = (unsigned char)buf[7];
			size_t len = (size_t)r - 1;
			if (frames) {
				/* Docker stream ids: 1 stdout, 2 stderr; conmon's: 2 stdout, 3 stderr. */
				buf[0] = pipe == 3 ? 2 : 1;
				buf[1] = buf[2] = buf[3] = 0;
				buf[4] = (char)((len >> 24) & 0xff);
				buf[5] = (char)((len >> 16) & 0xff);
				buf[6] = (char)((len >> 8) & 0xff);
				buf[7] = (char)(len & 0xff);
				if (write_all(1, buf, len + 8) < 0)
					return 0;
			} else if (write_all(1, buf + 8, len) < 0) {
				return 0;
			}
		}
		if (stdin_open && n > 1 && fds[1].revents) {
			ssize_t r = read(0, buf, 8192);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				stdin_open = 0;
				shutdown(sock, SHUT_WR);
				continue;
			}
			if (send(sock, buf, (size_t)r, 0) < 0)
				stdin_open = 0;
		}
	}
}
