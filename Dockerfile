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
WORKDIR /var/lib/mcasbot
VOLUME ["/var/lib/mcasbot"]
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/mcasbot"]
CMD ["run"]
