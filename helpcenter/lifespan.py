"""The ASGI lifespan protocol (uvicorn ``--lifespan on``): warm up before serving, then freeze
the heap.

- Warm-up: the Chinese segmenter's dictionary, the sentence encoder and the articles' vectors
  load on first use (one to two seconds); loading them here keeps that off the first customer's
  chat message and the first search.
- ``gc.freeze()``: everything loaded so far (Django, the dictionaries, the model) moves to the
  permanent generation, so a full collection walks only what requests and sockets create. In
  bench/chat.py full collections of the warm heap paused a worker for 360-480 ms, enough to
  miss the chat latency goal on their own.
- Shutdown: the sockets' database threads close their connections (core/socket_db.py).
"""

import gc
import logging

from asgiref.sync import sync_to_async

from core.socket_db import close_pool

logger = logging.getLogger(__name__)


def warm_up() -> None:
    from django.db import close_old_connections

    from kb import answers
    from kb.search import search

    try:
        for question, language in (
            ("How long does a refund take?", "en"),
            ("退款多久到账", "zh-hans"),
        ):
            search(question, language=language, limit=3)
            answers.decide(question, language=language)
    except Exception:  # a cold start is slower, not broken
        logger.warning("Warm-up failed; the first searches load what they need.", exc_info=True)
    finally:
        close_old_connections()


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await sync_to_async(warm_up, thread_sensitive=False)()
            gc.collect()
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # The sockets' database threads close their kept connections (a PostgreSQL backend
            # each) instead of leaving them to the process exit.
            await sync_to_async(close_pool, thread_sensitive=False)()
            await send({"type": "lifespan.shutdown.complete"})
            return
