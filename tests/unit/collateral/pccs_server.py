#!/usr/bin/env python3
"""A PCCS stand-in for tests: serves one collateral bundle with PCCS's paths, header names and
encodings (percent-encoded issuer chains, PCK CRL as DER with encoding=der else hex text, root CA
CRL as hex text). Binds 127.0.0.1 port 0 and prints the port on the first line of stdout.

usage: pccs_server.py CASE_DIR PCK_CA [--truncate-tcb] [--tls CERT_PEM KEY_PEM]
With --tls it speaks HTTPS with that certificate (as a real PCCS does).
"""
import http.server
import re
import ssl
import sys
import urllib.parse

case_dir, pck_ca = sys.argv[1], sys.argv[2]
truncate_tcb = "--truncate-tcb" in sys.argv[3:]
tls = None
if "--tls" in sys.argv[3:]:
    i = sys.argv.index("--tls")
    tls = (sys.argv[i + 1], sys.argv[i + 2])


def read(name):
    with open(f"{case_dir}/{name}", "rb") as f:
        return f.read()


tcb_info = read("tcbInfo.json")
fmspc = re.search(rb'"fmspc":"([0-9A-Fa-f]{12})"', tcb_info).group(1).decode().upper()
tee = "tdx" if b'"id":"TDX"' in tcb_info else "sgx"
tcb_chain = urllib.parse.quote(read("tcbSignChain.pem"))
crl_chain = urllib.parse.quote(read("pckCrlIssuerChain.pem"))
route = re.compile(r"^/(sgx|tdx)/certification/v([34])/(tcb|qe/identity|pckcrl|rootcacrl)$")


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, body, headers=()):
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        m = route.match(url.path)
        if not m:
            return self.send_error(404)
        path_tee, version, what = m.group(1), m.group(2), m.group(3)
        if what == "tcb":
            if path_tee != tee or query.get("fmspc", [""])[0].upper() != fmspc:
                return self.send_error(404)
            name = "TCB-Info-Issuer-Chain" if version == "4" else "SGX-TCB-Info-Issuer-Chain"
            body = tcb_info[: len(tcb_info) // 2] if truncate_tcb else tcb_info
            return self.send(body, [(name, tcb_chain)])
        if what == "qe/identity":
            if path_tee != tee:
                return self.send_error(404)
            return self.send(read("qeIdentity.json"),
                             [("SGX-Enclave-Identity-Issuer-Chain", tcb_chain)])
        if what == "pckcrl":
            if path_tee != "sgx" or query.get("ca", [""])[0] != pck_ca:
                return self.send_error(404)
            der = read("pckCrl.der")
            body = der if query.get("encoding", [""])[0] == "der" else der.hex().encode()
            return self.send(body, [("SGX-PCK-CRL-Issuer-Chain", crl_chain)])
        if what == "rootcacrl" and path_tee == "sgx":
            return self.send(read("rootCaCrl.der").hex().encode())
        return self.send_error(404)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls[0], tls[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
