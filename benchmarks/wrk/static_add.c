/* Near-free HTTP endpoint answering `tools/call add` correctly, used only to
 * measure how many checked calls/s wrk + mcp_call.lua can drive on one core
 * (run_http.py --calibrate). Not an MCP server: it ignores headers and
 * sessions, reads "id", "a", "b" from the body and answers the sum.
 *
 *   cc -O2 -o static_add static_add.c && ./static_add PORT [sse]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#define MAXFD 65536
#define BUFSZ 16384

static char *bufs[MAXFD];
static size_t lens[MAXFD];
static int sse;

static long long field(const char *body, const char *key) {
    const char *p = strstr(body, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/* Answer every complete request in the buffer; returns -1 to close. */
static int serve(int fd) {
    char *b = bufs[fd];
    for (;;) {
        b[lens[fd]] = '\0';
        char *end = strstr(b, "\r\n\r\n");
        if (!end) return 0;
        size_t hlen = (size_t)(end + 4 - b), clen = 0;
        for (char *h = b; h < end; h = strstr(h, "\r\n") + 2)
            if (strncasecmp(h, "content-length:", 15) == 0) clen = strtoul(h + 15, NULL, 10);
        if (hlen + clen > BUFSZ - 1) return -1;
        if (lens[fd] < hlen + clen) return 0;
        char saved = b[hlen + clen];
        b[hlen + clen] = '\0';
        long long id = field(end, "\"id\":"), a = field(end, "\"a\":"), bb = field(end, "\"b\":");
        b[hlen + clen] = saved;
        char msg[512], out[1024];
        snprintf(msg, sizeof msg,
                 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"%lld\"}],"
                 "\"structuredContent\":{\"result\":%lld},\"isError\":false}}", id, a + bb, a + bb);
        char body[600];
        int blen = snprintf(body, sizeof body, sse ? "event: message\r\ndata: %s\r\n\r\n" : "%s", msg);
        int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
                         sse ? "text/event-stream" : "application/json", blen, body);
        if (write(fd, out, (size_t)n) != n) return -1;
        memmove(b, b + hlen + clen, lens[fd] - hlen - clen);
        lens[fd] -= hlen + clen;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s PORT [sse]\n", argv[0]); return 2; }
    sse = argc > 2 && strcmp(argv[2], "sse") == 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 1024)) { perror("listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c = accept(ls, NULL, NULL);
                if (c < 0 || c >= MAXFD) { if (c >= 0) close(c); continue; }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (!bufs[c]) bufs[c] = malloc(BUFSZ);
                lens[c] = 0;
                ev.events = EPOLLIN; ev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                continue;
            }
            ssize_t r = read(fd, bufs[fd] + lens[fd], BUFSZ - 1 - lens[fd]);
            if (r <= 0 || (lens[fd] += (size_t)r, serve(fd) < 0)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
            }
        }
    }
}
