"""What runs background work: Celery when REDIS_URL is set, else a thread in the serve process.

Both run the same service functions. A webhook only ever *kicks* processing after its commit; the
kick is bounded and can fail without harm, because the periodic sweep finds any pending delivery.
"""

import logging
import queue
import threading
import time
from concurrent.futures import Future

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 10.0
# The longest a request waits for the Celery publish after its commit.
PUBLISH_WAIT_SECONDS = 0.2
# After a failed or slow publish, kicks are skipped for this long: the sweep covers them.
PUBLISH_PAUSE_SECONDS = 5.0


def kick_processing() -> None:
    """Start processing the committed deliveries soon. Never raises; with Celery it returns within
    PUBLISH_WAIT_SECONDS, because a missed kick only delays processing until the sweep."""
    if settings.IOC_BACKGROUND == "celery":
        celery_publisher.kick()
    else:
        embedded_worker.wake()


class CeleryPublisher:
    """Publishes the processing task from its own daemon thread, so that the caller's wait is
    bounded whatever the broker does.

    Socket timeouts alone do not bound it: with Redis down, kombu retries the connection until
    `broker_connection_timeout` (4 s) has passed, sleeping 2 s then 4 s between tries, so one
    `apply_async(retry=False)` took about 6 s, refused or unanswered alike (measured).

    A kick means "process everything pending", so kicks coalesce: one waiting in the queue is
    published after the caller's commit and covers it, and a further kick is dropped.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: queue.Queue[Future] | None = None
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0

    def kick(self) -> None:
        if time.monotonic() < self._paused_until:
            return  # it failed moments ago: don't make every request wait for it again
        try:
            future: Future = Future()
            try:
                self._queue().put_nowait(future)
            except queue.Full:
                return  # a kick not yet published will process this delivery too
            future.result(timeout=PUBLISH_WAIT_SECONDS)
        except Exception as exc:
            self._paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            log.warning(
                "could not queue delivery processing (%s); pausing kicks for %.0f s, "
                "the sweep will pick the deliveries up",
                type(exc).__name__,
                PUBLISH_PAUSE_SECONDS,
            )

    def _queue(self) -> queue.Queue:
        with self._lock:
            # Also restarts the thread in a forked child, where it does not survive.
            if self._thread is None or not self._thread.is_alive():
                self._jobs = queue.Queue(maxsize=1)
                self._thread = threading.Thread(
                    target=self._publish_forever,
                    args=(self._jobs,),
                    name="ioc-celery-publish",
                    daemon=True,
                )
                self._thread.start()
            return self._jobs

    def _publish_forever(self, jobs: queue.Queue) -> None:
        from alerts.tasks import deliveries_process_pending as task

        while True:
            future = jobs.get()
            started = time.monotonic()
            try:
                task.apply_async(retry=False)
            except Exception as exc:
                self._paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
                log.info(
                    "delivery processing: publish gave up after %.1f s: %s",
                    time.monotonic() - started,
                    exc,
                )
                future.set_exception(exc)
            else:
                # Merely slow (the first publish opens the connection): no need to pause.
                self._paused_until = 0.0
                future.set_result(None)


celery_publisher = CeleryPublisher()


class EmbeddedWorker:
    """The background thread of `manage.py serve` without Redis: processes deliveries when
    woken, and sweeps periodically."""

    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        from incidents.notifications import escalations_sweep

        last_sweep = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                break
            close_old_connections()
            try:
                deliveries_process_pending()
                # Escalation steps and notification sends are due by the second.
                escalations_sweep()
                if time.monotonic() - last_sweep > SWEEP_EVERY_SECONDS:
                    deliveries_sweep()
                    last_sweep = time.monotonic()
            except Exception:
                log.exception("background processing failed; retrying shortly")
                time.sleep(1.0)
            finally:
                close_old_connections()


embedded_worker = EmbeddedWorker()
