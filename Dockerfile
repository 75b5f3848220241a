# A model bundle written by `automl export`, served over HTTP (see README, "Serving").
#
#   docker build -t mymodel --build-arg BUNDLE=path/to/bundle .
#   docker run -p 8000:8000 mymodel                       # then GET /ready, POST /predict
#   docker run -p 8000:8000 mymodel --workers 2 --backend onnx --batch-wait-ms 2
#   docker run -p 8000:8000 -v "$PWD/other:/bundle:ro" mymodel   # another bundle, mounted
#
# BUNDLE is a folder inside the build context (default: model/, as in `automl export --out
# model`). The image runs as an unprivileged user and binds 0.0.0.0 inside the container only.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# The CPU wheel first, from PyTorch's own index: the default index would bring CUDA libraries.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY automl/ automl/
COPY search_spaces/ search_spaces/
COPY trainer/ trainer/
# Exact versions from the lock; torch stays the CPU build installed above.
RUN grep -v '^torch==' requirements.lock > /tmp/constraints.txt \
    && pip install -c /tmp/constraints.txt ".[serve,export]" \
    && rm /tmp/constraints.txt

ARG BUNDLE=model
COPY ${BUNDLE}/ /bundle/

RUN useradd --system --create-home --uid 10001 automl
USER automl

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# Extra `docker run` arguments are appended as serve options (--workers, --backend, ...).
ENTRYPOINT ["automl", "serve", "/bundle", "--host", "0.0.0.0", "--port", "8000"]
CMD []
