# A stand-in for redis:7-bookworm, for machines that cannot pull from Docker
# Hub (deploy/docker/check-image.sh --compose builds it only when the engine
# has no redis:7-bookworm): Debian 12's Redis 7.0, run as uid 999 like the
# official image, from /data. Not for production: use the official image.
FROM debian:bookworm-slim
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid redis --home-dir /data --shell /usr/sbin/nologin redis \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis:redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
