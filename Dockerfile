# campaign-scheduler as a container: the daemon (`campaign run`) and every other command.
# Build:   docker build -t campaign-scheduler .
# Run:     see compose.yaml (PostgreSQL + the daemon) and README.md, "Container".
# The image holds no configuration and no secrets: config.toml, campaign/ and posts/ are
# mounted, secrets come from the environment (the env:NAME references in config.toml).

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Wheels of the package and of every dependency (with the PostgreSQL driver), built once.
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 campaign \
    && mkdir /campaign && chown campaign /campaign
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'campaign-scheduler[postgres]' \
    && rm -rf /wheels
USER campaign
WORKDIR /campaign
ENV CAMPAIGN_CONFIG=/campaign/config.toml \
    PYTHONUNBUFFERED=1
# SIGTERM lets the daemon finish the call in flight (docker stop waits stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["campaign"]
CMD ["run", "--log-json"]
