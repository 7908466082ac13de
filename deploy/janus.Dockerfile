# Janus 1.1 from Debian with Interpres's configuration (deploy/janus, mounted by compose).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends janus=1.1.2-1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --uid 10002 janus-interpres
USER 10002
EXPOSE 8088
HEALTHCHECK --interval=30s --timeout=5s CMD ["janus", "--version"]
ENTRYPOINT ["janus", "-F", "/etc/interpres/janus", "-C", "/etc/interpres/janus/janus.jcfg"]
