# Clearance in a container: the wheel only, on a slim Python, as a non-root user.
#
#   docker build -t clearance .
#   docker volume create clearance-data
#   docker run --rm -v clearance-data:/data clearance init --log-origin clearance.example.org/log
#                                                  # prints the admin token and password once
#   docker run -d -p 8080:8080 -v clearance-data:/data --stop-timeout 45 clearance   # serve
#
# The data directory (/data) holds the database, the server secret and the log's
# signing key: keep it on a volume, never in the image. For the scaled-out mode pass
# CLEARANCE_DATABASE_URL (and copy the same secrets/ to every replica). Terminate TLS in
# front of it (see the README's "Deployment"), or mount a certificate and add
# `--ssl-certfile/--ssl-keyfile` to `serve`.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY clearance ./clearance
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin clearance \
    && mkdir /data && chown clearance /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER clearance
ENV CLEARANCE_DATA_DIR=/data \
    CLEARANCE_HOST=0.0.0.0 \
    CLEARANCE_PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
# On the port serve listens on (CLEARANCE_PORT); a server given --ssl-certfile needs a
# HEALTHCHECK of its own (https).
HEALTHCHECK --interval=10s --timeout=3s \
    CMD ["python", "-c", "import os,sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLEARANCE_PORT', '8080')).status != 200)"]
ENTRYPOINT ["clearance"]
CMD ["serve"]
