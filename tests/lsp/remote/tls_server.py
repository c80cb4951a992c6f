#!/usr/bin/env python3
"""A tiny https OpenAI-compatible server for tls_test.cpp: GET /v1/models and a streamed
POST /v1/completions, over TLS with the certificate and key given. Prints "port N" on stderr.

usage: tls_server.py CERT.pem KEY.pem
"""
import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_body(self, content_type, body):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_body("application/json", json.dumps({"data": [{"id": "tls-model", "max_model_len": 2048}]}).encode())

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        chunks = [{"choices": [{"index": 0, "text": t, "finish_reason": f}]} for t, f in
                  (("over ", None), ("TLS", "stop"))]
        body = "".join("data: " + json.dumps(c) + "\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send_body("text/event-stream", body.encode())

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("port", server.server_address[1], file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
