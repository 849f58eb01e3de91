# Production-like image of the server (and the simulator, for compose).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/server ./cmd/server && CGO_ENABLED=0 go build -trimpath -o /out/wxsim ./cmd/wxsim

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/* \
 && useradd -r -u 10001 app && mkdir -p /data /keys && chown app /data /keys
COPY --from=build /out/server /out/wxsim /usr/local/bin/
USER app
ENV DATA_DIR=/data HTTP_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/server"]
