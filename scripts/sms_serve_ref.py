#!/usr/bin/env python3
"""Python baseline of `sms serve`: the SMS classifier over HTTP with PyTorch and the standard
library's ThreadingHTTPServer, for the serving item of `make bench` (scripts/bench).

    python3 scripts/sms_serve_ref.py RUN MODEL_PT [--addr 127.0.0.1] [--port 0] [--threads 1]

RUN is a run folder written by `go run ./train/sms` (config.json: the model and tokenizer
settings; vocab.txt); MODEL_PT holds the same weights as RUN/model.safetensors, written by
`bench sms-export` (torch.load-able, PyTorch names). The model is scripts/sms_ref.py's SMSRNN.

    POST /v1/predict {"messages": ["text", ...]} -> {"predictions": [{"label": ..., "p_spam": ...}]}
    GET  /healthz

Each request runs on its own thread (ThreadingHTTPServer, HTTP/1.1 keep-alive), tokenizes its
messages with a port of seqtorch's SMS tokenizer (data.SMSTokenizer and train/sms's caps
option), and runs one forward pass over them under torch.no_grad(): the usual way to serve a
PyTorch model with the standard library. It prints "serving on http://HOST:PORT" on stderr and
stops on SIGTERM or Ctrl-C.
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sms_ref import SMSRNN  # noqa: E402


def _class(prefixes):
    """A regular-expression character class of the code points whose Unicode category starts
    with one of prefixes (Go's \\pL is ("L",), [\\pL\\pM] is ("L", "M"))."""
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] in prefixes:
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    esc = lambda c: "\\U%08x" % c  # noqa: E731
    return "[" + "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in ranges) + "]"


# data/tokenize.go's smsRE, written for Python's re with Go RE2's ASCII meanings of \s, \d, \b.
_S = r"[\t\n\f\r ]"
_NS = r"[^\t\n\f\r ]"
_D = r"[0-9]"
_B = r"(?:(?<=[0-9A-Za-z_])(?![0-9A-Za-z_])|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]))"
_L = _class(("L",))
_LM = _class(("L", "M"))
SMS_RE = re.compile(
    "(?P<url>(?:https?://|www\\.)" + _NS + "+|[a-z0-9][a-z0-9-]*(?:\\.[a-z0-9-]+)*\\.(?:com|co\\.uk|net|org|biz|info|tv|uk)(?:/" + _NS + "*)?" + _B + ")"
    "|(?P<money>[£$€]" + _S + "?" + _D + "+(?:[.,]" + _D + "+)*(?:k" + _B + ")?|" + _D + "+(?:[.,]" + _D + "+)*" + _S + "?(?:[£$€]|gbp" + _B + "|pounds?" + _B + "|pence" + _B + "|p" + _B + "))"
    "|(?P<phone>(?:\\+44" + _S + "?|0)" + _D + "{3,4}[\t\n\f\r -]?" + _D + "{3}[\t\n\f\r -]?" + _D + "{3,4}" + _B + "|\\+?" + _D + "{5,})"
    "|(?P<num>" + _D + "+(?:[.,:/]" + _D + "+)*(?:st|nd|rd|th)?)"
    "|(?P<word>" + _L + _LM + "*(?:'" + _L + _LM + "*)*)"
    "|(?P<dots>\\.{2,}|…)"
    "|(?P<hash><#>)"
    "|(?P<other>" + _NS + ")",
    re.IGNORECASE)


def tokenize(text, urls=True, phones=True, money=True, numbers=True, keep_case=False):
    """data.SMSTokenizer.Tokenize."""
    if not keep_case:
        text = text.lower()
    out = []
    for m in SMS_RE.finditer(text):
        g, tok = m.lastgroup, m.group(m.lastgroup)
        if g == "url" and urls:
            tok = "<url>"
        elif g == "money":
            tok = "<money>" if money else "".join(tok.split())
        elif g == "phone":
            tok = "<phone>" if phones else "".join(re.split(r"[-\s]+", tok))
        elif g == "num" and numbers:
            tok = "<num>"
        elif g == "dots":
            tok = "..."
        out.append(tok)
    return out


def is_caps(t):
    letters = 0
    for c in t:
        if c.islower():
            return False
        if c.isupper():
            letters += 1
    return letters >= 2


class Classifier:
    """A run folder's model, vocabulary and tokenizer settings."""

    def __init__(self, run, model_pt):
        with open(os.path.join(run, "config.json")) as f:
            cfg = json.load(f)
        m, o = cfg["model"], cfg["options"]
        self.model = SMSRNN(m["vocab"], m["embed"], m["hidden"], m["dense"], m["cell"], m["layers"],
                            m["bidirectional"], m["dropout"], m["rnn_dropout"], m["nonlinearity"],
                            m["activation"], m["packed"], m["classes"])
        self.model.load_state_dict(torch.load(model_pt))
        self.model.eval()
        self.placeholders, self.caps, self.max_len = o["placeholders"], o["caps"], o["max_len"]
        self.vocab = {}
        with open(os.path.join(run, cfg["vocab"]), encoding="utf-8") as f:
            for i, line in enumerate(f):
                self.vocab[line.rstrip("\n").split("\t")[0]] = i

    def tokens(self, text):
        p = self.placeholders
        if self.caps:
            out = []
            for t in tokenize(text, p, p, p, p, keep_case=True):
                if is_caps(t):
                    out.append("<caps>")
                out.append(t.lower())
            return out
        return tokenize(text, p, p, p, p)

    def ids(self, text):
        ids = [self.vocab.get(t, 1) for t in self.tokens(text)]
        if self.max_len > 0:
            ids = ids[:self.max_len]
        return ids or [1]

    def p_spam(self, msgs):
        rows = [self.ids(m) for m in msgs]
        t = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (t - len(r)) for r in rows], dtype=torch.int64)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.int64)
        with torch.no_grad():
            return torch.softmax(self.model(ids, lengths), 1)[:, 1].double().tolist()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Go's server
    disable_nagle_algorithm = True  # TCP_NODELAY, as Go's server (else each answer's body waits ~40 ms for a delayed ACK)
    wbufsize = 1 << 16  # headers and body in one write; BaseHTTPRequestHandler flushes after each request
    classifier = None

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": "no route"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            self.close_connection = True
            return self.reply(413, {"error": "request body is too large", "limit": "--max-body-bytes"})
        body = self.rfile.read(n)
        if self.path != "/v1/predict":
            return self.reply(404, {"error": "no route"})
        try:
            msgs = json.loads(body.decode("utf-8"))["messages"]
            if not isinstance(msgs, list) or not msgs or not all(isinstance(m, str) and m.strip() for m in msgs):
                raise ValueError("want a non-empty list of non-empty strings")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return self.reply(400, {"error": "bad request: %s" % e})
        probs = self.classifier.p_spam(msgs)
        self.reply(200, {"predictions": [{"label": "spam" if p >= 0.5 else "ham", "p_spam": p} for p in probs]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("model_pt")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="libtorch intra-op threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    Handler.classifier = Classifier(a.run, a.model_pt)
    ThreadingHTTPServer.request_queue_size = 128  # the listen backlog (default 5: 64 clients connecting at once lose SYNs and wait 1 s)
    srv = ThreadingHTTPServer((a.addr, a.port), Handler)
    srv.daemon_threads = True
    stop = lambda *_: threading.Thread(target=srv.shutdown).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = srv.server_address[:2]
    print("serving on http://%s:%d" % (host, port), file=sys.stderr, flush=True)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()
