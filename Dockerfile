# csms: OCPP central system. Runs `csms serve` against an external PostgreSQL given by
# CSMS_DATABASE_URL (the embedded database is for development and the demo).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY csms ./csms
COPY billing ./billing
COPY smartcar_bridge ./smartcar_bridge
COPY simulators ./simulators
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CSMS_LOG_FORMAT=json \
    CSMS_DATA_DIR=/var/lib/csms
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 csms && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/csms --create-home csms
USER 10001:10001
WORKDIR /var/lib/csms
EXPOSE 9000 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["csms"]
CMD ["serve"]
