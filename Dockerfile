# syntax=docker/dockerfile:1
# The connector as a daemon, in a small Debian image, run as a non-root user.
#
# Build (for Amazon Timestream; like the Lambda artifact, without Timestream Local):
#   docker build -t timestream-prometheus-connector .
# Build with Timestream Local too, for trying the connector with no AWS account
# (DataFusion makes this build several times longer):
#   docker build --build-arg FEATURES=local -t timestream-prometheus-connector:local .
#
# Run against Amazon Timestream with the credentials and profiles of ~/.aws, mounted
# read-only into the home of the image's user. Files that `aws configure` wrote are
# readable by their owner only, so run as your own uid and gid (HOME stays the image
# user's, where the files are mounted):
#   docker run --rm -p 9201:9201 --user "$(id -u):$(id -g)" -e HOME=/home/connector \
#     -v "$HOME/.aws:/home/connector/.aws:ro" -e AWS_PROFILE=default \
#     timestream-prometheus-connector \
#     --default-database=prometheus --default-table=metrics --region=us-east-1
# or with credentials from the environment (instance and task roles need neither):
#   docker run --rm -p 9201:9201 -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN \
#     timestream-prometheus-connector --default-database=prometheus --default-table=metrics --region=us-east-1
# --region (or -e region=…) is the Timestream region; AWS_REGION does not set it.
#
# With no AWS account, on Timestream Local (an image built with FEATURES=local), its data
# in a volume:
#   docker run --rm -p 9201:9201 -v tsdata:/data timestream-prometheus-connector:local --local --data-dir=/data

FROM rust:1-bookworm AS build
# Cargo features to build with (the build starts from none): "local" adds Timestream Local.
ARG FEATURES=""
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds (BuildKit);
# the binary is copied out of the target cache, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features ${FEATURES:+--features "$FEATURES"} \
        --bin timestream-prometheus-connector \
    && cp target/release/timestream-prometheus-connector /usr/local/bin/

FROM debian:bookworm-slim
# ca-certificates: the connector trusts the system's certificate store for HTTPS to AWS.
# /data: owned by the user, for Timestream Local's volume.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --no-log-init --uid 10001 --user-group --create-home --shell /usr/sbin/nologin connector \
    && install -d -o connector -g connector /data
COPY --from=build /usr/local/bin/timestream-prometheus-connector /usr/local/bin/
USER connector
# Smoke test at build time: the shipped binary loads (its shared libraries are here) and
# parses its flags.
RUN ["/usr/local/bin/timestream-prometheus-connector", "--help"]
EXPOSE 9201
ENTRYPOINT ["/usr/local/bin/timestream-prometheus-connector"]
