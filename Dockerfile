# One image for web (gunicorn), worker and beat (celery); docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# pg_dump and pg_restore for the daily backup (versatools/backups.py, scripts/backup.sh).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 --home-dir /app app \
    && mkdir -p /data/media \
    && chown app /data/media
# Nothing in the image needs root at run time; MEDIA_ROOT (filesystem storage) lives in /data/media.
USER app
EXPOSE 8000
CMD ["gunicorn", "versatools.wsgi:application", "--bind", "0.0.0.0:8000"]
