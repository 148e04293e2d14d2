# ptcheck in a container: no compiler where it runs. Two stages:
#   build:   durable-rules' wheel from the PyPI sdist with the project's patch (scripts/build_durable_wheel.py;
#            needed on Python 3.13+, harmless before), and ptcheck's own wheel
#   runtime: python slim, the wheels installed, no compiler, an unprivileged user, `ptcheck serve` by default
#
#   docker build -t ptcheck .
#   docker run --rm -p 8000:8000 ptcheck                                   # the API and page on :8000
#   docker run --rm -v "$PWD/cases:/cases:ro" ptcheck ptcheck audit /cases  # any other command
ARG PYTHON=3.13

FROM python:${PYTHON}-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine engine
COPY rules rules
COPY scripts scripts
RUN python scripts/build_durable_wheel.py --out /wheels \
 && pip wheel --quiet --no-deps -w /wheels .

FROM python:${PYTHON}-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --find-links /wheels "$(ls /wheels/ptcheck-*.whl)[web]" \
 && rm -rf /wheels \
 && useradd --create-home --uid 10001 ptcheck
USER ptcheck
WORKDIR /home/ptcheck
EXPOSE 8000
# 0.0.0.0 inside the container only: publish the port (-p) to choose who reaches it
CMD ["ptcheck", "serve", "--host", "0.0.0.0", "--port", "8000"]
