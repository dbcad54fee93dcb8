# Build a static binary, ship it on a minimal non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mcasbot ./cmd/bot

# distroless/static has CA certificates, tzdata and a nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mcasbot /usr/local/bin/mcasbot
# State (the SQLite file by default) lives in the volume.
WORKDIR /var/lib/mcasbot
VOLUME ["/var/lib/mcasbot"]
# The default DATABASE_URL (sqlite:mcasbot.db) is relative to it.
ENV HTTP_ADDR=:8080
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/mcasbot", "probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/mcasbot"]
CMD ["run"]
