"""``python -m bot.healthcheck``: the container's HEALTHCHECK, with only what the image has.

The image has Python and no curl. This asks ``/healthz`` on HEALTH_LISTEN's port over
127.0.0.1 (the server binds 0.0.0.0 in the image) and exits 0 on 200, else 1. What the
server answered (``database unavailable``, ``<platform> not connected``) or why nothing did
is printed, so ``docker inspect`` shows why a container is unhealthy.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from pydantic_settings import BaseSettings

from bot.settings import FROM_ENVIRONMENT

TIMEOUT_S = 3.0
"""Under the HEALTHCHECK's own timeout, so the reason is printed before Docker gives up."""


class CheckSettings(BaseSettings):
    """HEALTH_LISTEN alone, read as the bot reads it (the environment, then ``.env``)."""

    model_config = FROM_ENVIRONMENT

    health_listen: str | None = None


def check(listen: str | None) -> tuple[bool, str]:
    """Whether /healthz on ``listen``'s port answers 200, and what it said (or why not)."""
    if not listen:
        return False, "HEALTH_LISTEN is not set: no /healthz to ask"
    url = f"http://127.0.0.1:{listen.rpartition(':')[2]}/healthz"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never HTTP_PROXY
    try:
        with direct.open(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:  # 503 and its reasons
        return False, error.read().decode(errors="replace")
    except OSError as error:  # refused, timed out
        return False, f"{url}: {getattr(error, 'reason', error)}"


def main() -> None:
    healthy, said = check(CheckSettings().health_listen)
    print(said, file=sys.stdout if healthy else sys.stderr)
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
