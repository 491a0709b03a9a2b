# The dobench image for running a split test on Kubernetes (`dobench k8s`, README "Past one
# machine"). Build: docker build -t REGISTRY/dobench:TAG . && docker push REGISTRY/dobench:TAG
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dobench \
 && strip target/release/dobench

# TLS roots are compiled in (webpki-roots): the runtime image needs no CA bundle.
FROM debian:bookworm-slim
RUN useradd --uid 65532 --user-group --home-dir /work --create-home dobench
COPY --from=build /src/target/release/dobench /usr/local/bin/dobench
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["dobench"]
