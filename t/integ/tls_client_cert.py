#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_client_cert: client certificates (verify_client, client_ca).

  req   verify_client = "required", client_ca = CA
  opt   verify_client = "optional", client_ca = CA

Over TLS 1.2 and 1.3 (python ssl), the server (fc-testbackend /echo) sees
what fulcrum says of the client's certificate in X-Client-Verify:
  req, no certificate                 no answer: the handshake fails
  req, a certificate from CA          200, X-Client-Verify: SUCCESS
  req, a certificate from another CA  no answer
  opt, no certificate                 200, X-Client-Verify: NONE (a client's
                                      own X-Client-Verify does not get through)
  opt, a certificate from CA          200, X-Client-Verify: SUCCESS
  opt, a certificate from another CA  no answer, or X-Client-Verify: FAILED...
                                      (either is accepted; the note says which)
With TLS 1.3 the client learns of a refusal when it reads (the server's
alert comes after the client's Finished): both count as "no answer".
The chain fulcrum sends is the one in its PEM file (www alone here), not
one OpenSSL builds from the trust store, which holds client_ca: before
SSL_MODE_NO_AUTO_CHAIN, s_client -showcerts got www and the CA.
"""
import ssl

import fctest as t
import tlslab as tl

tl.require_tools()
t.require_fulcrum()

d = t.tmpdir("fctest-tlscli-")
ca = tl.CA(d, "fulcrum test CA")
other_ca = tl.CA(d, "another CA")
www = ca.issue("www", "www.test")
alice = ca.issue("alice", "alice", usage="client")
mallory = other_ca.issue("mallory", "mallory", usage="client")

a = t.Backend("a")
P_REQ, P_OPT = t.free_port(), t.free_port()


def listener(name, port, verify):
    return f"""{{
  name = "{name}"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  tls = {{ certs = [ "{www.pem}" ]; client_ca = "{ca.cert}";
          verify_client = "{verify}"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}"""


CONF = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {listener("req", P_REQ, "required")},
              {listener("opt", P_OPT, "optional")} );
"""


def attempt(port, ver, cert, headers=None):
    """GET /echo over TLS ver presenting cert (a Cert or None).  Returns
    ("answer", status, X-Client-Verify values) or ("refused", why, None)."""
    try:
        st, h, body = tl.https(port, "/echo", tl.context(ca.cert, ver, cert),
                               "www.test", headers)
    except (ssl.SSLError, OSError) as e:
        return "refused", f"{type(e).__name__}: {e}", None
    return "answer", st, tl.header_lines(body, "X-Client-Verify")


def who(cert):
    return {None: "no certificate", alice: "a certificate from CA",
            mallory: "a certificate from another CA"}[cert]


with t.Fulcrum(CONF, name="tlscli") as fc:
    for ver in ("1.2", "1.3"):
        with t.step(f"verify_client = required, TLS {ver}"):
            r = attempt(P_REQ, ver, None)
            t.check(r[0] == "refused", f"{who(None)}: no answer", f"{r}")
            t.note(f"client saw: {r[1]}")
            r = attempt(P_REQ, ver, alice)
            t.check(r == ("answer", 200, ["SUCCESS"]),
                    f"{who(alice)}: 200, X-Client-Verify: SUCCESS", f"{r}")
            r = attempt(P_REQ, ver, mallory)
            t.check(r[0] == "refused", f"{who(mallory)}: no answer", f"{r}")

        with t.step(f"verify_client = optional, TLS {ver}"):
            r = attempt(P_OPT, ver, None)
            t.check(r == ("answer", 200, ["NONE"]),
                    f"{who(None)}: 200, X-Client-Verify: NONE", f"{r}")
            r = attempt(P_OPT, ver, None, {"X-Client-Verify": "SUCCESS"})
            t.check(r == ("answer", 200, ["NONE"]),
                    f"{who(None)} but a forged 'X-Client-Verify: SUCCESS': "
                    "the server sees only NONE", f"{r}")
            r = attempt(P_OPT, ver, alice)
            t.check(r == ("answer", 200, ["SUCCESS"]),
                    f"{who(alice)}: 200, X-Client-Verify: SUCCESS", f"{r}")
            r = attempt(P_OPT, ver, mallory)
            ok = r[0] == "refused" or (
                r[1] == 200 and len(r[2]) == 1 and r[2][0].startswith("FAILED"))
            t.note(f"{who(mallory)}: " + (
                f"refused ({r[1]})" if r[0] == "refused" else
                f"answered {r[1]}, X-Client-Verify {r[2]}"))
            t.check(ok, f"{who(mallory)}: no answer, or 200 with "
                    "X-Client-Verify: FAILED...", f"{r}")

    with t.step("curl and s_client"):
        rc, resp, ver, err = tl.curl(P_REQ, "www.test", "/echo", ca.cert,
                                     ["--cert", alice.cert, "--key", alice.key])
        t.check(rc == 0 and resp and resp[0][0] == 200 and
                tl.header_lines(resp[0][2], "X-Client-Verify") == ["SUCCESS"],
                "curl --cert alice to req: 200, X-Client-Verify: SUCCESS",
                f"exit {rc} {[r[0] for r in resp]}\n{err[-1200:]}")
        rc, resp, ver, err = tl.curl(P_REQ, "www.test", "/echo", ca.cert)
        t.check(rc != 0 and not resp, "curl without a certificate to req: "
                "fails, no HTTP answer", f"exit {rc}")
        h = tl.s_client(P_OPT, ["-tls1_2"], "www.test")
        names = "Acceptable client certificate CA names" in h.out and \
            "fulcrum test CA" in h.out
        t.note("s_client to opt: the server " + (
            "names CN=fulcrum test CA as acceptable" if names else
            "sends no acceptable CA names") + " (not checked)")
        t.check(h.ok, "s_client without a certificate to opt: a session",
                h.summary())
        h = tl.s_client(P_OPT, ["-showcerts"], "www.test")
        n = h.out.count("-----BEGIN CERTIFICATE-----")
        t.check(h.ok and n == 1, "the chain sent is the PEM file's: www alone, the "
                "client_ca that signed it not added from the trust store",
                f"{n} certificates; {h.summary()}")

t.finish()
