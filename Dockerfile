# A small runtime image of the connector.
#   docker build -t timestream-prometheus-connector .
#   docker run -p 9201:9201 -v $HOME/.aws:/root/.aws:ro \
#     timestream-prometheus-connector --default-database=prometheus --default-table=metrics
# or, with no AWS account, on Timestream Local with its data in a volume:
#   docker run -p 9201:9201 -v tsdata:/data timestream-prometheus-connector --local --data-dir=/data
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin timestream-prometheus-connector

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/timestream-prometheus-connector /usr/local/bin/
EXPOSE 9201
ENTRYPOINT ["/usr/local/bin/timestream-prometheus-connector"]
