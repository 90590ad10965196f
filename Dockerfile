# syntax=docker/dockerfile:1
# streamd container image: static Go binary on a minimal non-root runtime.
#
#   docker build -t streamd .
#   docker run --rm --read-only --cap-drop=all -e STREAMD_TENANT=... \
#     -e STREAMD_API_KEY_FILE=/run/secrets/api_key -v /path/api_key:/run/secrets/api_key:ro \
#     -v streamd-state:/var/lib/streamd -p 127.0.0.1:9464:9464 streamd
#
# Base images are build args so offline builds can substitute local images
# (.ci/container.sh does). The defaults are fully qualified because podman
# refuses short names when no search registry is configured.
#
# Release builds pass what `streamd version`, streamd_build_info and the OCI
# labels report (the build context has no .git, so `go build` cannot embed it):
#   --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) \
#   --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ARG GO_IMAGE=docker.io/library/golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
ARG VERSION=dev
ARG REVISION=
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
    GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w -X github.com/streamd/streamd/internal/buildinfo.version=${VERSION} \
      -X github.com/streamd/streamd/internal/buildinfo.revision=${REVISION}" -o /out/streamd ./cmd/streamd
# An empty state directory for the runtime stage (scratch has no mkdir).
RUN mkdir -p /out/state

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="streamd" \
      org.opencontainers.image.description="Streams 8x8 Contact Center events into stdout, files and NATS" \
      org.opencontainers.image.source="https://github.com/streamd/streamd" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# CA bundle from the build stage: present whatever the runtime base is.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/streamd /streamd
COPY --from=build --chown=65532:65532 /out/state /var/lib/streamd
# Checkpoints and the dead-letter file live here; mount a volume.
VOLUME /var/lib/streamd
# Listen on all interfaces inside the container so a published port works;
# publish it on loopback only (-p 127.0.0.1:9464:9464) unless scraped remotely.
ENV STREAMD_STATE_DIR=/var/lib/streamd STREAMD_HTTP_ADDR=0.0.0.0:9464
EXPOSE 9464
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/streamd"]
CMD ["run"]
