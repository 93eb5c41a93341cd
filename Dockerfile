# certctl as a container image: non-root, no shell needed at run time.
#   docker build -t certctl:dev .
#   docker run --rm -v "$PWD/certs:/certs" certctl:dev --store dir:/certs issue -f /examples/quickstart/
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY certctl ./certctl
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# openssl is needed only for PKCS#12 keystores with the LegacyRC2 profile.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --home-dir /home/certctl certctl
COPY --from=build /install /usr/local
COPY examples /examples
USER 10001:10001
ENV CERTCTL_STATE_DIR=/var/lib/certctl
ENTRYPOINT ["certctl"]
CMD ["--help"]
