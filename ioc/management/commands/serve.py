"""`manage.py serve`: the whole app in one command.

One ASGI process serves HTTP and websockets. Without REDIS_URL a background thread in the same
process processes deliveries and runs the timers; with REDIS_URL one Celery worker and Celery beat
run as child processes (a one-machine production-like run).
"""

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from ioc.background import embedded_worker


class Command(BaseCommand):
    help = "Serve IOC (HTTP, websockets and background work) on HOST:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host, port, **options):
        import uvicorn

        children: list[subprocess.Popen] = []
        if settings.IOC_BACKGROUND == "celery":
            celery = [sys.executable, "-m", "celery", "-A", "ioc"]
            children.append(
                subprocess.Popen([*celery, "worker", "--loglevel=INFO", "--concurrency=2"])
            )
            schedule = settings.VAR_DIR / "celerybeat-schedule"
            children.append(
                subprocess.Popen([*celery, "beat", "--loglevel=INFO", f"--schedule={schedule}"])
            )
            mode = "Celery worker and beat on Redis"
        else:
            embedded_worker.start()
            mode = "background thread (embedded mode)"
        self.stdout.write(f"IOC serving on http://{host}:{port}/ with {mode}")
        config = uvicorn.Config(
            "ioc.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            # uvicorn's access log would print webhook paths, and their tokens.
            access_log=False,
            log_level="info",
            ws_max_size=64 * 1024,
        )
        try:
            uvicorn.Server(config).run()
        finally:
            embedded_worker.stop()
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
