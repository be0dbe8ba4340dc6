/* notify_listen.c - stands in for systemd's notification socket in tests:
 * binds a Unix datagram socket at PATH and prints every message it gets,
 * one per line, for SECONDS seconds. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: notify-listen PATH SECONDS\n");
        return 1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a)) {
        perror("notify-listen");
        return 1;
    }
    time_t end = time(NULL) + atoi(argv[2]);
    char buf[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (time(NULL) < end) {
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            printf("%s\n", buf);
            fflush(stdout);
        }
    }
    unlink(argv[1]);
    return 0;
}
