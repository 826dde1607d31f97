# One replica of the IPT passage assistant as a container: installed exactly as the README does (Debian,
# Python 3.11, scripts/setup.sh: torch==2.13.0 CPU first, then the project), with the corpus and its index
# built into the image, so that an image tag is one version of the read-only index artifact
# (docs/scaling.md). Not built on the development machine (no container runtime there): treat as a template.
#
#   docker build -t ipt-qa:$(git rev-parse --short HEAD) .
#   docker run --rm -p 127.0.0.1:7860:7860 ipt-qa:<tag>
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False DISABLE_TQDM=1 PYTHONUNBUFFERED=1
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 ipt
WORKDIR /app
COPY --chown=ipt:ipt . /app
USER ipt
# The README's install, then the index, built once here (replicas never build: they only read it).
RUN bash scripts/setup.sh && .venv/bin/ipt-qa build

EXPOSE 7860
# 0.0.0.0 inside the container only; publish the port on loopback or behind the load balancer.
CMD [".venv/bin/ipt-qa", "serve", "--host", "0.0.0.0", "--port", "7860"]
