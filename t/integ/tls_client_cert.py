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

A session outlives a reload (its ticket keys are in the shared segment), so
a reload that changes the client-certificate policy must not let one made
under the old policy resume.  Listener pol, s_client with -sess_out/-sess_in,
TLS 1.2 and 1.3, a GET /echo on each connection:
  pol verify_client none, a session; reload, pol required: that session
    does not resume, and without a certificate there is no answer (before:
    "Reused", 200, X-Client-Verify: NONE)
  pol required with CA, alice's session; a reload that changes nothing of
    the policy: it resumes (the control); a reload with client_ca the other
    CA: it does not, and there is no answer (before: "Reused", SUCCESS)
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
P_REQ, P_OPT, P_POL = t.free_port(), t.free_port(), t.free_port()


def listener(name, port, verify, client_ca=ca.cert):
    return f"""{{
  name = "{name}"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; httpclose = false;
  tls = {{ certs = [ "{www.pem}" ]; client_ca = "{client_ca}";
          verify_client = "{verify}"; }};
  servers = ( {{ name = "a"; address = "{a.addr}"; }} );
}}"""


def conf(pol_verify="none", pol_ca=ca.cert):
    return f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {listener("req", P_REQ, "required")},
              {listener("opt", P_OPT, "optional")},
              {listener("pol", P_POL, pol_verify, pol_ca)} );
"""


CONF = conf()


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

    def pol(opt, sess, save=False, cert=None):
        """GET /echo on pol with s_client, resuming sess (or saving to it)."""
        args = [opt, "-sess_out" if save else "-sess_in", sess]
        if cert is not None:
            args += ["-cert", cert.cert, "-key", cert.key]
        return tl.s_client(P_POL, args, "www.test", tl.get("/echo", "www.test"))

    def verify_seen(h):
        return tl.header_lines(h.responses[0][2], "X-Client-Verify") \
            if h.responses else None

    opts = ("-tls1_2", "-tls1_3")
    sess = {o: f"{d}/pol{o}.pem" for o in opts}
    with t.step("a session made with verify_client none, then a reload to required"):
        for o in opts:
            h = pol(o, sess[o], save=True)
            t.check(h.ok and h.status() == 200, f"{o}: a session, 200", h.summary())
        t.check(fc.reload(conf("required")) is not None, "the reload is applied")
        for o in opts:
            h = pol(o, sess[o])
            t.note(f"{o}, resuming without a certificate: {h.summary()}, "
                   f"X-Client-Verify {verify_seen(h)}")
            t.check(not h.reused, f"{o}: the old session does not resume", h.summary())
            t.check(h.status() is None, f"{o}: no answer without a certificate",
                    h.summary())

    with t.step("alice's session under client_ca = CA, then a reload to another CA"):
        for o in opts:
            h = pol(o, sess[o], save=True, cert=alice)
            t.check(h.ok and h.status() == 200 and verify_seen(h) == ["SUCCESS"],
                    f"{o}: alice gets a session, SUCCESS", h.summary())
        t.check(fc.reload(conf("required")) is not None, "a reload that changes nothing")
        for o in opts:
            h = pol(o, sess[o])
            t.check(h.reused and h.status() == 200 and verify_seen(h) == ["SUCCESS"],
                    f"{o}: alice's session resumes across it (the control)", h.summary())
        t.check(fc.reload(conf("required", other_ca.cert)) is not None,
                "the reload to client_ca = the other CA is applied")
        for o in opts:
            h = pol(o, sess[o])
            t.note(f"{o}, alice's old session: {h.summary()}, "
                   f"X-Client-Verify {verify_seen(h)}")
            t.check(not h.reused, f"{o}: alice's session does not resume", h.summary())
            t.check(h.status() is None, f"{o}: no answer", h.summary())

t.finish()
