# Kontor: one image for the bus and the four services.
#
#   docker build -t kontor:0.1.0 .
#   docker run ... kontor:0.1.0 kontor-orders      (the command picks the process)
#
# One image, not five: every binary links the same libkontor and the same
# system libraries, and they are built together from one tree by one
# Makefile, so one image per commit is one thing to build, scan, sign and
# roll out, and no two processes can ever run different builds of the wire
# contracts (proto/) by accident. The image is a toolbox as well: kontor (the
# CLI), kontor-keygen, kontor-events are in it for ops (deploy/docker/make-keys.sh
# runs kontor-keygen from it). Compose and Kubernetes choose the process with
# `command:`; there is no entrypoint script and no default command, so a
# container that was not told what to be does nothing rather than something.
#
# Health: the processes serve /healthz and /readyz on KONTOR_HTTP_PORT (8080
# here, on every interface: in a container the probe comes from outside the
# process's loopback, from kubelet or from another container). Kubernetes
# probes with httpGet and Prometheus scrapes /metrics itself, so the image
# carries no HTTP client: HEALTHCHECK (used by plain `docker run` and by
# docker-compose) is four lines of bash over /dev/tcp. curl would add libcurl
# and about twenty libraries (LDAP, SSH, RTMP, ...) to every container for
# that one check, and a general HTTP client is one more tool for anyone who
# gets a shell in it. bash is in the Debian base image anyway.

# ---------------------------------------------------------------- build
FROM debian:bookworm-slim AS build

# The -dev half of deploy/local/deps.sh: what `make all` compiles and links
# against (cmocka for the test programs `all` also builds). No servers and no
# clang: they are for the local set and the sanitizer builds.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libzmq3-dev libczmq-dev libsodium-dev \
        libprotobuf-c-dev protobuf-c-compiler \
        libpq-dev libhiredis-dev libjson-c-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# `make all` first runs deploy/local/deps.sh (the build/.deps-ok stamp), which
# installs PostgreSQL, Redis, clang and docker-compose for the local set. The
# packages above are all a build needs, so mark deps as done: the stamp is
# newer than deps.sh (COPY keeps the files' times), so make does not run it.
RUN mkdir -p build && touch build/.deps-ok \
 && make -j"$(nproc)" FLAVOUR=release all \
 && mkdir -p /out/bin \
 && cp build/release/bin/* /out/bin/ \
 && strip --strip-debug /out/bin/*

# ---------------------------------------------------------------- run
FROM debian:bookworm-slim

# Runtime libraries only (their own dependencies come with them).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libzmq5 libczmq4 libprotobuf-c1 libpq5 libhiredis0.14 libjson-c5 libsodium23 \
        ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so that files mounted into the container (keys, the
# passfile, the Redis password) can be given to it on the host:
# deploy/docker/make-keys.sh chowns them to 10001, Kubernetes pods run as
# 10001 (deploy/kubernetes/).
RUN groupadd --system --gid 10001 kontor \
 && useradd --system --uid 10001 --gid kontor --home-dir /etc/kontor --no-create-home \
        --shell /usr/sbin/nologin kontor \
 && mkdir -p /etc/kontor/keys/allow /etc/kontor/keys/secret \
 && chmod 0755 /etc/kontor /etc/kontor/keys /etc/kontor/keys/allow \
 && chown kontor:kontor /etc/kontor/keys/secret && chmod 0700 /etc/kontor/keys/secret

COPY --from=build /out/bin/ /usr/local/bin/

# KONTOR_HOME holds what the defaults point at (kt_config.c): keys/allow (the
# bus's allow-list and bus.cert), keys/secret/<process>.secret, pgpass and
# redis.pass. Mount them there and those variables need not be set. Every
# other KONTOR_* variable keeps its README default unless the deployment sets
# it; KONTOR_BUS and friends must be set (their defaults are loopback).
ENV KONTOR_HOME=/etc/kontor \
    KONTOR_HTTP_HOST=0.0.0.0 \
    KONTOR_HTTP_PORT=8080

USER kontor:kontor
WORKDIR /etc/kontor
EXPOSE 8080 15555 15556 15557

# GET /readyz over /dev/tcp; healthy only on "HTTP/1.x 200". A timeout is
# the runtime's (--health-timeout, compose's healthcheck.timeout).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${KONTOR_HTTP_PORT:-8080} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r v s _ <&3 && [ \"$s\" = 200 ]"]

# No CMD: choose the process, e.g. `kontor-bus`, `kontor-orders`.
