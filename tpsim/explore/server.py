"""The explorer's HTTP server: the page, its script and style, and a JSON API, on the standard
library's threading HTTP server (one thread a request; the kernel has its own thread, see
:mod:`tpsim.explore.engine`).

Sessions: ``POST /api/session`` opens one (a random id); every other call names it. A session
holds its option, its settings (slider id -> value) and its uncertainty result; a request
changes only its own session, under that session's lock, so concurrent sessions never see each
other's settings. Every change is validated as a scenario file is (:mod:`tpsim.explore.controls`);
a refused value is a 400 answer ``{"error": sentence, "control": id}`` and leaves the settings
as they were. Any other failure is a 500 answer with one line (the traceback goes to the
server's log, never to the page).

API (JSON unless stated):

* ``GET /api/schema``: the options, their sliders, the horizon;
* ``POST /api/session`` ``{"option"?}``: ``{"session", "option", "settings", "view"}``;
* ``POST /api/update`` ``{"session", "changes": {id: value}, "option"?, "reset"?}``: the new
  ``settings``, ``version`` and ``view``;
* ``POST /api/uncertainty`` ``{"session", "runs"?}`` starts the ensemble in the background;
  ``GET /api/uncertainty?session=``: ``{"status": idle|running|done|error, ...}``;
* ``GET /api/save?session=&arm=option|counterfactual``: the scenario YAML (a download);
* ``GET /api/report?session=``: the business-case report HTML (a download).
"""
from __future__ import annotations

import json
import logging
import secrets
import sys
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlparse

from tpsim.errors import TpsimError
from tpsim.explore.controls import SettingsError, check_changes
from tpsim.explore.engine import Explorer

__all__ = ["ExploreServer", "Session", "make_server", "MAX_SESSIONS", "MAX_BODY"]

_log = logging.getLogger("tpsim.explore")

MAX_SESSIONS = 500
"""Sessions kept at once; opening one more forgets the least recently used."""
MAX_BODY = 64 * 1024
"""Largest request body read, bytes."""
MAX_RUNS = 20_000
"""Most Monte Carlo runs one uncertainty request may ask for."""

_STATIC = {"index.html": "text/html; charset=utf-8",
           "explore.js": "text/javascript; charset=utf-8",
           "explore.css": "text/css; charset=utf-8"}


@dataclass
class Session:
    """One person's explorer: option, settings (control id -> model value), uncertainty."""

    id: str
    option: str
    settings: dict = field(default_factory=dict)
    version: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    uncertainty: dict = field(default_factory=lambda: {"status": "idle"})


class _RequestError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body
        super().__init__(body.get("error"))


class Sessions:
    """The open sessions, bounded (:data:`MAX_SESSIONS`, least recently used forgotten)."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def open(self, option: str) -> Session:
        s = Session(secrets.token_urlsafe(16), option)
        with self._lock:
            self._items[s.id] = s
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return s

    def get(self, sid) -> Session:
        with self._lock:
            s = self._items.get(sid) if isinstance(sid, str) else None
            if s is None:
                raise _RequestError(404, {"error": "unknown or expired session: reload the page"})
            self._items.move_to_end(sid)
            return s

    def __len__(self) -> int:
        return len(self._items)


class ExploreServer(ThreadingHTTPServer):
    """The threading server with the explorer and its sessions."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, explorer: Explorer) -> None:
        self.explorer = explorer
        self.sessions = Sessions()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A browser that closes its connection between requests resets the socket the
        keep-alive thread reads from: not an error. Anything else goes to the log."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        _log.error("explorer connection from %s failed:\n%s", client_address[0],
                   traceback.format_exc())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def make_server(explorer: Explorer, host: str = "127.0.0.1", port: int = 8050) -> ExploreServer:
    """The server bound to ``host``:``port`` (0: any free port); call ``serve_forever``."""
    try:
        return ExploreServer((host, port), explorer)
    except OSError as err:
        raise TpsimError(f"cannot listen on {host}:{port}: {err.strerror or err}; choose "
                         "another --port") from None


def _static(name: str) -> bytes:
    return resources.files("tpsim.explore").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: ExploreServer
    protocol_version = "HTTP/1.1"
    server_version = "tpsim-explore"

    # -- plumbing ----------------------------------------------------------------------------

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        _log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str,
              extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        body = json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json")

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            raise _RequestError(413 if length > MAX_BODY else 400,
                                {"error": f"request body must be at most {MAX_BODY} bytes"})
        raw = self.rfile.read(length) if length else b"{}"
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _RequestError(400, {"error": f"request is not JSON: {err}"}) from None
        if not isinstance(obj, dict):
            raise _RequestError(400, {"error": "request must be a JSON object"})
        return obj

    def _query(self) -> dict[str, str]:
        q = parse_qs(urlparse(self.path).query)
        return {k: v[-1] for k, v in q.items()}

    def _dispatch(self, routes: dict) -> None:
        path = urlparse(self.path).path
        route = routes.get(path)
        try:
            if route is None:
                if self.command in ("GET", "HEAD") and path.startswith("/static/"):
                    return self._asset(path[len("/static/"):])
                raise _RequestError(404, {"error": f"no such page: {path}"})
            route()
        except _RequestError as err:
            self._json(err.status, err.body)
        except SettingsError as err:
            self._json(400, {"error": str(err), "control": err.control})
        except TpsimError as err:
            self._json(400, {"error": str(err), "control": None})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # a bug: one line to the page, the traceback to the log
            _log.error("explorer request %s %s failed:\n%s", self.command, path,
                       traceback.format_exc())
            try:
                self._json(500, {"error": f"internal error ({type(err).__name__}); the "
                                          "server's log has the details", "control": None})
            except OSError:
                pass

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._dispatch({"/": lambda: self._asset("index.html"),
                        "/favicon.ico": lambda: self._send(204, b"", "image/x-icon"),
                        "/index.html": lambda: self._asset("index.html"),
                        "/api/schema": self._schema,
                        "/api/view": self._view,
                        "/api/uncertainty": self._uncertainty_status,
                        "/api/save": self._save,
                        "/api/report": self._report})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch({"/api/session": self._open,
                        "/api/update": self._update,
                        "/api/uncertainty": self._uncertainty_start})

    def _asset(self, name: str) -> None:
        if name not in _STATIC:
            raise _RequestError(404, {"error": f"no such file: {name}"})
        self._send(200, _static(name), _STATIC[name])

    # -- the API -----------------------------------------------------------------------------

    def _session(self, sid) -> Session:
        return self.server.sessions.get(sid)

    def _schema(self) -> None:
        self._json(200, self.server.explorer.schema())

    def _state(self, s: Session) -> dict:
        return {"session": s.id, "option": s.option, "settings": dict(s.settings),
                "version": s.version}

    def _open(self) -> None:
        body = self._body()
        ex = self.server.explorer
        option = body.get("option") or ex.default_option()
        ex.option_controls(option)  # refuses an unknown option
        s = self.server.sessions.open(option)
        with s.lock:
            view = ex.view(s.option, s.settings)
            self._json(200, {**self._state(s), "view": view})

    def _update(self) -> None:
        body = self._body()
        s = self._session(body.get("session"))
        ex = self.server.explorer
        with s.lock:
            option = body.get("option", s.option)
            controls = ex.option_controls(option)
            base = {} if (body.get("reset") or option != s.option) else s.settings
            changes = check_changes(controls, body.get("changes", {}))
            settings = {**base, **changes}
            view = ex.view(option, settings)  # validates; raises before anything changes
            s.option, s.settings = option, settings
            s.version += 1
            if s.uncertainty.get("status") != "running":
                s.uncertainty = {"status": "idle"}
            self._json(200, {**self._state(s), "seq": body.get("seq"), "view": view})

    def _view(self) -> None:
        s = self._session(self._query().get("session"))
        with s.lock:
            option, settings = s.option, dict(s.settings)
            state = self._state(s)
        self._json(200, {**state, "view": self.server.explorer.view(option, settings)})

    def _uncertainty_start(self) -> None:
        body = self._body()
        s = self._session(body.get("session"))
        runs = body.get("runs", 2000)
        if isinstance(runs, bool) or not isinstance(runs, int) or not 64 <= runs <= MAX_RUNS:
            raise _RequestError(400, {"error": f"runs must be a whole number from 64 to "
                                               f"{MAX_RUNS:,}", "control": None})
        ex = self.server.explorer
        with s.lock:
            if s.uncertainty.get("status") == "running":
                return self._json(202, s.uncertainty)
            option, settings, version = s.option, dict(s.settings), s.version
            ex.resolve(option, settings)  # the full scenario must be valid before starting
            s.uncertainty = {"status": "running", "runs": runs, "version": version}
            answer = dict(s.uncertainty)

        def work() -> None:
            try:
                result = {"status": "done", "version": version,
                          **ex.uncertainty(option, settings, runs=runs)}
            except TpsimError as err:
                result = {"status": "error", "version": version, "error": str(err)}
            except Exception as err:
                _log.error("uncertainty run failed:\n%s", traceback.format_exc())
                result = {"status": "error", "version": version,
                          "error": f"internal error ({type(err).__name__})"}
            with s.lock:
                s.uncertainty = result

        threading.Thread(target=work, name=f"tpsim-explore-uncertainty-{s.id[:6]}",
                         daemon=True).start()
        self._json(202, answer)

    def _uncertainty_status(self) -> None:
        s = self._session(self._query().get("session"))
        with s.lock:
            self._json(200, {**s.uncertainty, "current_version": s.version})

    def _download(self, text: str, filename: str, content_type: str) -> None:
        self._send(200, text.encode("utf-8"), content_type,
                   {"Content-Disposition": f'attachment; filename="{filename}"'})

    def _save(self) -> None:
        q = self._query()
        s = self._session(q.get("session"))
        arm = q.get("arm", "option")
        with s.lock:
            option, settings = s.option, dict(s.settings)
        ex = self.server.explorer
        text = ex.scenario_yaml(option, settings, arm)
        opt_name, cf_name = ex.saved_names(option)
        self._download(text, f"{opt_name if arm == 'option' else cf_name}.yaml",
                       "application/yaml; charset=utf-8")

    def _report(self) -> None:
        s = self._session(self._query().get("session"))
        with s.lock:
            option, settings = s.option, dict(s.settings)
        html = self.server.explorer.report_html(option, settings)
        self._download(html, f"{option}_explored_report.html", "text/html; charset=utf-8")
