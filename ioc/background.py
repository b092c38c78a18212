"""What runs background work: Celery when REDIS_URL is set, else a thread in the serve process.

Both run the same service functions. A webhook only ever *kicks* processing after its commit; the
kick is bounded and can fail without harm, because the periodic sweep finds any pending delivery.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 10.0


def kick_processing() -> None:
    if settings.IOC_BACKGROUND == "celery":
        from alerts.tasks import deliveries_process_pending as task

        try:
            task.apply_async(retry=False)
        except Exception:
            # Redis is down or slow: the delivery is committed and stays pending for the sweep.
            log.warning("could not queue delivery processing; the sweep will pick it up")
    else:
        embedded_worker.wake()


class EmbeddedWorker:
    """The background thread of `manage.py serve` without Redis: processes deliveries when
    woken, and sweeps periodically."""

    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_run_at: float | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ioc-background", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        from alerts.ingest import deliveries_process_pending, deliveries_sweep

        last_sweep = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                break
            close_old_connections()
            try:
                deliveries_process_pending()
                if time.monotonic() - last_sweep > SWEEP_EVERY_SECONDS:
                    deliveries_sweep()
                    last_sweep = time.monotonic()
                self.last_run_at = time.time()
            except Exception:
                log.exception("background processing failed; retrying shortly")
                time.sleep(1.0)
            finally:
                close_old_connections()


embedded_worker = EmbeddedWorker()
