/* tcp_send.c - test helper: connects to HOST PORT, sends stdin, and prints
 * how many bytes came back before the peer closed (or 3 s passed): raw
 * frames for nmnd's TCP listener, which sh cannot open by itself. */
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tcp-send HOST PORT <bytes\n");
        return 2;
    }
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &res))
        return 2;
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
        perror("tcp-send: connect");
        return 2;
    }
    freeaddrinfo(res);
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        if (write(fd, buf, (size_t)n) != n)
            break; /* the peer may close early: that is what we measure */
    long got = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 3000) > 0 && (n = read(fd, buf, sizeof buf)) > 0)
        got += n;
    printf("%ld %s\n", got, n == 0 ? "closed" : "open");
    close(fd);
    return 0;
}
