# syntax=docker/dockerfile:1
#
# tmm-webhook container image: a multi-stage Swift build and a small non-root runtime.
#
#   docker build -t registry.example.com/tmm-webhook:0.1.0 .
#
# Needs Swift >= 6.0 (Package.swift: swift-tools-version 6.0, Swift 6 language mode); the project is
# developed with Swift 6.3.1, so pass --build-arg SWIFT_VERSION=6.3 to build with that. The development
# sandbox has no Docker, so this file has never been built there: keep it right by reading it against
# Package.swift (system libraries COpenSSL -> libssl-dev and CZlib -> zlib1g-dev, found through
# pkg-config; executable product tmm-webhook) whenever either changes.
#
# Both stages are Ubuntu 24.04 (noble), so the OpenSSL 3 and zlib the binary is linked against at build
# time are the ones it loads at run time.

ARG SWIFT_VERSION=6.0

FROM swift:${SWIFT_VERSION}-noble AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# --static-swift-stdlib links the Swift runtime (and Foundation, if used) into the binary, so the
# runtime image needs only libc, libstdc++, OpenSSL and zlib. The .build cache mount keeps fetched
# dependencies and objects between builds; the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product tmm-webhook \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/tmm-webhook" /out/tmm-webhook

FROM ubuntu:24.04
# libssl3t64 is noble's OpenSSL 3 runtime library (the package libssl3 was renamed for 64-bit time_t).
# coreutils (already in the base) gives the /bin/sleep the Deployment's preStop hook runs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3t64 zlib1g libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/tmm-webhook /usr/local/bin/tmm-webhook
# The same uid/gid as the Deployment's securityContext; no home, no shell login, nothing to write.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/tmm-webhook"]
CMD ["serve"]

LABEL org.opencontainers.image.title="tmm-webhook" \
      org.opencontainers.image.description="Kubernetes validating admission webhook for node maintenance taints"
