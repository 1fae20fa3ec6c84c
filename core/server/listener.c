#include "server/listener.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <h2o.h>

/* l's address into ss; 0, or -1 with msg */
static int address_of(const ig_listen_config_t *l, int index, struct sockaddr_storage *out, socklen_t *outlen,
                      char *msg, size_t msgsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, l->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(l->port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, l->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(l->port);
        sslen = sizeof(*sin6);
    } else if (strcmp(l->host, "localhost") == 0) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(l->port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sslen = sizeof(*sin);
    } else {
        snprintf(msg, msgsize, "server.listen[%d]: \"%s\" is not an IP address", index, l->host);
        return -1;
    }
    *out = ss;
    *outlen = sslen;
    return 0;
}

int ig_listener_claim(const ig_listen_config_t *l, int index, char *msg, size_t msgsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (address_of(l, index, &ss, &sslen, msg, msgsize) != 0)
        return -1;
    /* without SO_REUSEPORT: fails on any listening socket there, whoever's and however bound */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        if (errno == EADDRINUSE) {
            snprintf(msg, msgsize,
                     "server.listen[%d]: cannot listen on %s: address in use (another process listens there: "
                     "is infergate already running?)",
                     index, l->address);
            close(fd);
            return -1;
        }
        goto fail;
    }
    close(fd); /* the workers' own sockets are bound next; see listener.h */
    return 0;
fail:
    snprintf(msg, msgsize, "server.listen[%d]: cannot listen on %s: %s", index, l->address, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int ig_listener_bind(const ig_listen_config_t *l, int index, char *msg, size_t msgsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (address_of(l, index, &ss, &sslen, msg, msgsize) != 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 1024) != 0)
        goto fail;
    return fd;
fail:
    snprintf(msg, msgsize, "server.listen[%d]: cannot listen on %s: %s", index, l->address, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}
