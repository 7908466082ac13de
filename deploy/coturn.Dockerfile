# coturn 4.6 from Debian with Interpres's configuration (deploy/coturn, mounted by compose).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends coturn=4.6.1-1 \
    && rm -rf /var/lib/apt/lists/*
# Debian's coturn package makes this system user; its uid depends on install order.
# hadolint ignore=DL3066
USER turnserver
EXPOSE 3478/udp 3478/tcp 5349/tcp
ENTRYPOINT ["turnserver", "-c", "/etc/interpres/coturn/turnserver.conf"]
