# Builds winnow with the same setup script and build command as `make release`.
FROM swift:6.1-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh && swift build -c release --product winnow

FROM debian:bookworm-slim
# Every library the binary links (`ldd .build/release/winnow`), by its Debian package.
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4 libsqlite3-0 libjpeg62-turbo libpng16-16 \
    zlib1g libdeflate0 libwebp7 libwebpdemux2 libgif7 libavif15 libjxl0.7 libopenblas0-pthread libssl3 libstdc++6 \
    ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so* /usr/lib/swift/linux/
COPY --from=build /src/.build/release/winnow /usr/local/bin/winnow
COPY --from=build /src/pipelines /opt/winnow/pipelines
COPY --from=build /src/models /opt/winnow/models
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
WORKDIR /opt/winnow
ENTRYPOINT ["winnow"]
