/* nmnctl - talk to nmnd. For now the protocol's plumbing:
 *   nmnctl [--state-dir DIR | --socket PATH] call JSON   one request, its reply
 *   nmnctl [--state-dir DIR | --socket PATH] raw         stdin as-is, every reply
 * Exit status: 0 ok, 1 the daemon replied with an error (or bad usage),
 * 2 the daemon is unreachable. (Sweeps, status, curves and plots: issue 7.) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_to(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "nmnctl: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        fprintf(stderr, "nmnctl: cannot reach nmnd at %s: %s (is it running?)\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Prints what arrives until the peer closes, `lines` lines were read (0: no
 * limit), or `idle_ms` pass in silence. Returns 1 if a reply said ok:false. */
static int relay(int fd, int lines, int idle_ms)
{
    char buf[65536];
    int seen = 0, bad = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, idle_ms) > 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        fwrite(buf, 1, (size_t)n, stdout);
        for (ssize_t i = 0; i < n; i++)
            seen += buf[i] == '\n';
        if (memmem(buf, (size_t)n, "\"ok\":false", 10))
            bad = 1;
        if (lines && seen >= lines)
            break;
    }
    fflush(stdout);
    return bad;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* nmnd may close on us: report it, do not die */
    const char *state = "var", *sock = getenv("NMN_SOCKET");
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--state-dir") == 0)
            state = argv[i + 1];
        else if (strcmp(argv[i], "--socket") == 0)
            sock = argv[i + 1];
        else
            break;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", sock ? sock : "");
    if (!sock)
        snprintf(path, sizeof path, "%s/nmnd.sock", state);
    if (i < argc && strcmp(argv[i], "call") == 0 && i + 2 == argc) {
        int fd = connect_to(path);
        if (fd < 0)
            return 2;
        if (send_all(fd, argv[i + 1], strlen(argv[i + 1])) || send_all(fd, "\n", 1)) {
            fprintf(stderr, "nmnctl: lost the connection to nmnd\n");
            return 2;
        }
        int bad = relay(fd, 1, 30000);
        close(fd);
        return bad;
    }
    if (i < argc && strcmp(argv[i], "raw") == 0 && i + 1 == argc) {
        int fd = connect_to(path);
        if (fd < 0)
            return 2;
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            if (send_all(fd, buf, n))
                break;
        shutdown(fd, SHUT_WR); /* half-close: the daemon still replies */
        relay(fd, 0, 2000);
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: nmnctl [--state-dir DIR | --socket PATH] call JSON\n"
                    "       nmnctl [--state-dir DIR | --socket PATH] raw < bytes\n");
    return 1;
}
