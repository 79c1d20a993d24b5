FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ranker ./ranker
RUN pip install --no-cache-dir .
COPY ranker.toml /etc/ranker/ranker.toml
ENV RANKER_CONFIG=/etc/ranker/ranker.toml RANKER_HOST=0.0.0.0 RANKER_PORT=8080
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["ranker", "serve"]
