# A stand-in for postgres:15-bookworm, for machines that cannot pull from
# Docker Hub (deploy/docker/check-image.sh --compose builds it only when the
# engine has no postgres:15-bookworm). Debian's own PostgreSQL 15, uid 999
# like the official image, and the part of its entrypoint that
# docker-compose.yml uses (entrypoint.sh). Not for production: use the
# official image there.
FROM debian:bookworm-slim
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d \
 && chown postgres:postgres /var/run/postgresql && chmod 2775 /var/run/postgresql
# UTF-8, as the official image's en_US.utf8: Kontor's migrations use ICU
# collations, which a SQL_ASCII cluster (initdb with no locale) has not.
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["bash", "/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
