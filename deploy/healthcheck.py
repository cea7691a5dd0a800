"""The image's HEALTHCHECK: one script for every role, chosen by the command of process 1.

`earmark run api|web|catalog|index` answer an HTTP health endpoint on their own port (the
settings in the container's environment, or `--port` on the command line); `run importer` and
`run cron` have no listener, so their check is that process 1 is still that role. Any other
command (`db upgrade`, `backup`, ...) is healthy while it runs. Exit 0 healthy, 1 not, with one
line saying why (`docker inspect` shows it).
"""

import os
import sys
import urllib.request


def _argv() -> list[str]:
    with open("/proc/1/cmdline", "rb") as f:
        return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _target(role: str, argv: list[str]) -> str | None:
    env = os.environ
    if role == "api":
        ops = env.get("EARMARK_OPS_ADDRESS", "").strip()
        where = ops.replace("0.0.0.0", "127.0.0.1") if ops else (
            "127.0.0.1:" + _option(argv, "--port", env.get("EARMARK_API_PORT", "8080")))
        return f"http://{where}/_health_docker"
    if role == "web":
        return "http://127.0.0.1:" + _option(argv, "--port", env.get("EARMARK_WEB_PORT", "8081")) + "/"
    if role == "catalog":
        port = _option(argv, "--port", env.get("EARMARK_CATALOG_PORT", "8082"))
        return f"http://127.0.0.1:{port}/health"
    if role == "index":
        return "http://127.0.0.1:" + _option(argv, "--port", "6080") + "/_health"
    return None


def main() -> int:
    argv = _argv()
    role = argv[argv.index("run") + 1] if "run" in argv[:-1] else ""
    url = _target(role, argv)
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            if answer.status == 200:
                return 0
            print(f"{url}: HTTP {answer.status}")
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", said in one line
        print(f"{url}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
