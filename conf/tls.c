/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "tls" groups: a listener's (fulcrum terminates HTTPS) and a server's
 * (fulcrum is the client), and the OpenSSL contexts they describe.
 *
 * The certificates and keys are read here, while the file is: a missing,
 * unreadable or mismatched one is an error at the line of "certs" naming
 * the file, and a reload that meets one leaves the old generation serving.
 * The master builds the contexts; the forked workers and the checker use
 * them as they are, so the private keys are read once, as root.
 *
 * Certificates by name: every file of "certs" is one certificate.  Files
 * whose names (the subjectAltName DNS entries, else the subject's CN) are
 * the same set share one SSL_CTX, so an RSA and an ECDSA certificate for a
 * name sit together and OpenSSL gives each client the one it can verify.
 * The first set is the default; the SNI callback moves a connection to the
 * set whose names match, exact names before wildcards.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"
#include "lib/net.h"
#include "lib/tls.h"

#define CERTS_MAX	64		/* files in one listener's "certs" */
#define NAMES_MAX	100		/* names kept per certificate */
#define ALPN_WIRE_MAX	256

/* A modern, safe set (Mozilla's "intermediate", ECDHE only). */
#define CIPHERS_DEFAULT	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define SUITES_DEFAULT	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"

/* One SSL_CTX per set of names; key types: the certificates it holds. */
struct certset {
	SSL_CTX *ctx;
	char **names;			/* sorted, lower case */
	int nnames;
	int keytypes[4];		/* EVP_PKEY_* of each certificate */
	int nkeys;
	const char *first;		/* the file that made it, for messages */
};

struct fc_tls_sni {
	struct certset set[CERTS_MAX];
	int nsets;
	unsigned char alpn[ALPN_WIRE_MAX];	/* wire format: length, bytes, ... */
	unsigned int alpn_len;
};

_Static_assert(sizeof(enum fc_verify) == sizeof(int), "enum fc_verify is no int");

/* ------------------------------------------------------------- keys */

static const struct choice versions[] = {
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
	{ NULL, 0 },
};

static const struct choice verify_modes[] = {
	{ "none", FC_VERIFY_NONE },
	{ "optional", FC_VERIFY_OPTIONAL },
	{ "required", FC_VERIFY_REQUIRED },
	{ NULL, 0 },
};

static void key_certs(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_tls *t = obj;
	int i, n = load_str_list(ld, s, ctx, true);

	(void)k;
	if (n < 0)
		return;
	if (n == 0 || n > CERTS_MAX) {
		load_errat(ld, s, "%s: \"certs\" must name 1 to %d PEM files", ctx,
		    CERTS_MAX);
		return;
	}
	t->certs = xcalloc((size_t)n, sizeof(*t->certs));
	t->ncerts = n;
	for (i = 0; i < n; i++)
		t->certs[i] = xstrdup(config_setting_get_string(load_str_elem(s, i)));
}

static bool alpn_listed(const struct fc_tls *t, const char *v)
{
	for (int i = 0; i < t->nalpn; i++)
		if (strcmp(t->alpn[i], v) == 0)
			return true;
	return false;
}

/* fulcrum speaks HTTP/1.x: "h2" would be a promise it cannot keep. */
static void key_alpn(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_tls *t = obj;
	int i, n = load_str_list(ld, s, ctx, true);

	(void)k;
	if (n <= 0)
		return;
	t->alpn = xcalloc((size_t)n, sizeof(*t->alpn));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (strcmp(v, "http/1.1") != 0 && strcmp(v, "http/1.0") != 0) {
			load_errat(ld, e, "%s: \"alpn\" may hold \"http/1.1\" and"
			    " \"http/1.0\" (fulcrum speaks HTTP/1.x), not \"%s\"", ctx, v);
			continue;
		}
		/* So the wire list has two names at most (alpn_wire's room). */
		if (alpn_listed(t, v)) {
			load_errat(ld, e, "%s: \"alpn\" lists \"%s\" twice", ctx, v);
			continue;
		}
		t->alpn[t->nalpn++] = xstrdup(v);
	}
}

const struct key conf_tls_keys[] = {
	FUNC("certs", key_certs, REQ),
	ENUM("min_version", struct fc_tls, min_version, versions, .def = TLS1_2_VERSION),
	STR("ciphers", struct fc_tls, ciphers, .sdef = CIPHERS_DEFAULT),
	STR("ciphersuites", struct fc_tls, ciphersuites, .sdef = SUITES_DEFAULT),
	FUNC("alpn", key_alpn, 0),		/* default: [ "http/1.1" ] */
	STR("client_ca", struct fc_tls, client_ca),
	ENUM("verify_client", struct fc_tls, verify_client, verify_modes,
	    .def = FC_VERIFY_NONE),
	BOOL("ktls", struct fc_tls, ktls, .def = false),
	END,
};

static void key_sni(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_server_tls *t = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (!tls_name_match(v, v, strlen(v)) || tls_name_is_wildcard(v)) {
		load_errat(ld, s, "%s: \"sni\" must be a DNS name, not \"%s\"", ctx, v);
		return;
	}
	free(t->sni);
	t->sni = xstrdup(v);
}

const struct key conf_server_tls_keys[] = {
	STR("ca", struct fc_server_tls, ca),	/* none: the system's CAs */
	FUNC("sni", key_sni, 0),
	BOOL("verify", struct fc_server_tls, verify, .def = true),
	END,
};

/* ---------------------------------------------------------- contexts */

/* Never ask for a passphrase on a terminal: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return 0;
}

/* The line of member name of group s (the group's own when absent). */
static const config_setting_t *member(const config_setting_t *s, const char *name)
{
	const config_setting_t *m = config_setting_get_member(s, name);

	return m != NULL ? m : s;
}

static void ctx_common(SSL_CTX *ctx, int min_version)
{
	SSL_CTX_set_min_proto_version(ctx, min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * Our buffers move (compaction) and a write may go out in parts.  The
	 * chain sent is the one in the PEM file: without NO_AUTO_CHAIN, OpenSSL
	 * builds one from the trust store (X509_verify_cert) at every full
	 * handshake of a certificate given without a chain, and may add the
	 * client_ca certificates to it.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/* One read takes what the socket has, not a record header first. */
	SSL_CTX_set_read_ahead(ctx, 1);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct fc_tls_sni *sni = arg;
	unsigned char *sel;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, sni->alpn, sni->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;	/* go on without ALPN */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static const struct certset *sni_find(const struct fc_tls_sni *sni, const char *name)
{
	size_t len = strlen(name);
	int i, j, wild;

	for (wild = 0; wild < 2; wild++)
		for (i = 0; i < sni->nsets; i++)
			for (j = 0; j < sni->set[i].nnames; j++) {
				const char *p = sni->set[i].names[j];

				if (tls_name_is_wildcard(p) == (wild == 1) &&
				    tls_name_match(p, name, len))
					return &sni->set[i];
			}
	return NULL;
}

/* The client's server name picks the certificates; none, or no match:
 * the default (first) set stays. */
static int sni_select(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct certset *set;

	(void)alert;
	if (name == NULL || (set = sni_find(arg, name)) == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (set->ctx != SSL_get_SSL_CTX(ssl))
		SSL_set_SSL_CTX(ssl, set->ctx);
	return SSL_TLSEXT_ERR_OK;
}

static int verify_mode(enum fc_verify v)
{
	if (v == FC_VERIFY_REQUIRED)
		return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	return v == FC_VERIFY_OPTIONAL ? SSL_VERIFY_PEER : SSL_VERIFY_NONE;
}

static void ctx_client_ca(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct fc_tls *t, SSL_CTX *c)
{
	STACK_OF(X509_NAME) *names;

	if (t->verify_client == FC_VERIFY_NONE)
		return;
	if (SSL_CTX_load_verify_locations(c, t->client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(t->client_ca)) == NULL) {
		if (s != NULL)		/* NULL: said already, for the first set */
			load_errat(ld, member(s, "client_ca"), "%s: \"client_ca\": cannot"
			    " load CA certificates from \"%s\" (%s)", ctx, t->client_ca,
			    tls_error_text("no PEM certificate"));
		ERR_clear_error();
		return;
	}
	SSL_CTX_set_client_CA_list(c, names);
	SSL_CTX_set_verify(c, verify_mode(t->verify_client), NULL);
}

/*
 * A server context with the listener's settings; the certificates come
 * later.  sid: the listener's session id context (session_context()).
 */
static SSL_CTX *server_ctx(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct fc_tls *t, struct fc_tls_sni *sni, const unsigned char *sid)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	bool first = sni->nsets == 0;	/* the others would repeat its errors */

	if (c == NULL) {
		load_errat(ld, s, "%s: %s", ctx, tls_error_text("out of memory"));
		return NULL;
	}
	ctx_common(c, t->min_version);
	if (t->ktls)
		SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS);
	if (SSL_CTX_set_cipher_list(c, t->ciphers) != 1 && first)
		load_errat(ld, member(s, "ciphers"), "%s: \"ciphers\": no usable cipher"
		    " in \"%s\"", ctx, t->ciphers);
	if (SSL_CTX_set_ciphersuites(c, t->ciphersuites) != 1 && first)
		load_errat(ld, member(s, "ciphersuites"), "%s: \"ciphersuites\": no"
		    " usable TLS 1.3 cipher suite in \"%s\"", ctx, t->ciphersuites);
	ERR_clear_error();
	SSL_CTX_set_session_id_context(c, sid, SSL_MAX_SID_CTX_LENGTH);
	/* Tickets resume across workers; no per-process cache beside them. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(c, 2 * FC_TLS_TICKET_ROTATE_S);
	SSL_CTX_set_num_tickets(c, 1);		/* TLS 1.3: one is enough to resume */
	tls_tickets_attach(c);
	SSL_CTX_set_alpn_select_cb(c, alpn_select, sni);
	ctx_client_ca(ld, first ? s : NULL, ctx, t, c);
	return c;
}

/* ------------------------------------------------------ certificates */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_add(char ***names, int *n, const unsigned char *p, int len)
{
	char *v;

	if (len <= 0 || len > FC_TLS_NAME_MAX || memchr(p, '\0', (size_t)len) != NULL ||
	    *n >= NAMES_MAX)
		return;
	v = xmalloc((size_t)len + 1);
	for (int i = 0; i < len; i++)
		v[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i]);
	v[len] = '\0';
	*names = xrealloc(*names, (size_t)(*n + 1) * sizeof(**names));
	(*names)[(*n)++] = v;
}

/* The DNS names of the subjectAltName, else the subject's CN; sorted. */
static int cert_names(X509 *x, char ***names)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(x);
	int i, n = 0;

	*names = NULL;
	for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS)
			names_add(names, &n, ASN1_STRING_get0_data(g->d.dNSName),
			    ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (n == 0 && (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) >= 0) {
		ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		unsigned char *utf8;
		int len = ASN1_STRING_to_UTF8(&utf8, cn);

		if (len > 0) {
			names_add(names, &n, utf8, len);
			OPENSSL_free(utf8);
		}
	}
	if (n > 1)
		qsort(*names, (size_t)n, sizeof(**names), name_cmp);
	return n;
}

static void names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The first certificate and the private key of a PEM file; NULL after
 * an error. */
static X509 *pem_read(struct loader *ld, const config_setting_t *e, const char *ctx,
    const char *path, EVP_PKEY **key)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		load_errat(ld, e, "%s: \"certs\": cannot read \"%s\": %s", ctx, path,
		    strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, no_passphrase, NULL);
	rewind(f);
	*key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	ERR_clear_error();
	if (x == NULL)
		load_errat(ld, e, "%s: \"certs\": no PEM certificate in \"%s\"", ctx, path);
	else if (*key == NULL)
		load_errat(ld, e, "%s: \"certs\": no private key in \"%s\" (the"
		    " certificate chain, then its key, unencrypted)", ctx, path);
	if (x == NULL || *key == NULL) {
		X509_free(x);
		EVP_PKEY_free(*key);
		return NULL;
	}
	return x;
}

static bool same_names(const struct certset *set, char **names, int n)
{
	if (set->nnames != n)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(set->names[i], names[i]) != 0)
			return false;
	return true;
}

/* The set these names belong to, a new one if none; NULL when full. */
static struct certset *set_for(struct fc_tls_sni *sni, char **names, int n, bool *fresh)
{
	*fresh = false;
	for (int i = 0; i < sni->nsets; i++)
		if (same_names(&sni->set[i], names, n))
			return &sni->set[i];
	*fresh = true;
	return &sni->set[sni->nsets];
}

static int set_load(struct certset *set, const char *path, EVP_PKEY *key)
{
	if (SSL_CTX_use_certificate_chain_file(set->ctx, path) != 1)
		return -1;
	if (SSL_CTX_use_PrivateKey(set->ctx, key) != 1 ||
	    SSL_CTX_check_private_key(set->ctx) != 1)
		return -2;
	return 0;
}

/* One file of "certs" into its set. */
static void cert_add(struct loader *ld, const config_setting_t *s,
    const config_setting_t *e, const char *ctx, const struct fc_tls *t,
    struct fc_tls_sni *sni, const unsigned char *sid, const char *path)
{
	EVP_PKEY *key;
	X509 *x = pem_read(ld, e, ctx, path, &key);
	struct certset *set;
	char **names;
	bool fresh;
	int n, type, r;

	if (x == NULL)
		return;
	if (X509_check_private_key(x, key) != 1) {
		load_errat(ld, e, "%s: \"certs\": \"%s\": the private key does not match"
		    " the certificate", ctx, path);
		ERR_clear_error();
		X509_free(x);
		EVP_PKEY_free(key);
		return;
	}
	n = cert_names(x, &names);
	type = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
	set = set_for(sni, names, n, &fresh);
	for (int i = 0; !fresh && i < set->nkeys; i++)
		if (set->keytypes[i] == type) {
			load_errat(ld, e, "%s: \"certs\": \"%s\" has the same names and key"
			    " type as \"%s\"", ctx, path, set->first);
			goto out;
		}
	if (fresh) {
		if ((set->ctx = server_ctx(ld, s, ctx, t, sni, sid)) == NULL)
			goto out;
		set->names = names;
		set->nnames = n;
		set->first = path;
		names = NULL;
		sni->nsets++;
	}
	if ((r = set_load(set, path, key)) < 0)
		load_errat(ld, e, "%s: \"certs\": \"%s\": %s (%s)", ctx, path,
		    r == -1 ? "cannot load the certificate chain" : "cannot use the key",
		    tls_error_text("unknown error"));
	else if (set->nkeys < (int)(sizeof(set->keytypes) / sizeof(set->keytypes[0])))
		set->keytypes[set->nkeys++] = type;
out:
	if (names != NULL)
		names_free(names, n);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void alpn_wire(struct fc_tls *t, struct fc_tls_sni *sni)
{
	if (t->nalpn == 0) {
		t->alpn = xcalloc(1, sizeof(*t->alpn));
		t->alpn[t->nalpn++] = xstrdup("http/1.1");
	}
	for (int i = 0; i < t->nalpn; i++) {
		size_t n = strlen(t->alpn[i]);

		if (sni->alpn_len + 1 + n > sizeof(sni->alpn))
			break;		/* key_alpn lets two names through */
		sni->alpn[sni->alpn_len++] = (unsigned char)n;
		memcpy(sni->alpn + sni->alpn_len, t->alpn[i], n);
		sni->alpn_len += (unsigned int)n;
	}
}

/*
 * A listener's session id context: a session resumes only where it was
 * made, under the same client-certificate policy.  Tickets outlive a
 * reload (their keys are in the segment), so the policy goes in with the
 * name: verify_client and the bytes of client_ca, whose CAs vouched for the
 * session's certificate.  A reload that changes either makes the old
 * sessions full handshakes, verified again; one that changes neither lets
 * them resume.  SHA-256 is OpenSSL's 32 bytes exactly.
 */
static void session_context(const struct fc_listener *l,
    unsigned char sid[SSL_MAX_SID_CTX_LENGTH])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char mode = (unsigned char)l->tls.verify_client, buf[4096];
	BIO *ca = NULL;
	int n;

	memset(sid, 0, SSL_MAX_SID_CTX_LENGTH);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	EVP_DigestUpdate(md, l->name, strlen(l->name) + 1);
	EVP_DigestUpdate(md, &mode, 1);
	if (l->tls.verify_client != FC_VERIFY_NONE && l->tls.client_ca != NULL &&
	    (ca = BIO_new_file(l->tls.client_ca, "rb")) != NULL)
		while ((n = BIO_read(ca, buf, sizeof(buf))) > 0)
			EVP_DigestUpdate(md, buf, (size_t)n);
	EVP_DigestFinal_ex(md, sid, NULL);
out:
	BIO_free(ca);
	EVP_MD_CTX_free(md);
	ERR_clear_error();	/* an unreadable client_ca is reported where it is loaded */
}

void conf_tls_build(struct loader *ld, const config_setting_t *listener,
    const char *lctx, struct fc_listener *l)
{
	const config_setting_t *s = member(listener, "tls"), *certs = member(s, "certs");
	struct fc_tls *t = &l->tls;
	struct fc_tls_sni *sni;
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
	char ctx[CTX_MAX];

	if (t->verify_client != FC_VERIFY_NONE && t->client_ca == NULL) {
		load_errat(ld, member(s, "verify_client"), "%s tls: \"verify_client\""
		    " needs \"client_ca\"", lctx);
		t->verify_client = FC_VERIFY_NONE;	/* the certificates still get read */
	}
	if (l->redirect_https)
		load_errat(ld, member(listener, "redirect_https"), "%s: \"redirect_https\""
		    " on a TLS listener would send clients round in circles", lctx);
	snprintf(ctx, sizeof(ctx), "%s tls", lctx);
	session_context(l, sid);
	t->sni = sni = xcalloc(1, sizeof(*sni));
	alpn_wire(t, sni);
	for (int i = 0; i < t->ncerts; i++)
		cert_add(ld, s, load_str_elem(certs, i), ctx, t, sni, sid, t->certs[i]);
	if (sni->nsets == 0) {
		/* No certificate made a context: still report its settings. */
		SSL_CTX_free(server_ctx(ld, s, ctx, t, sni, sid));
		return;
	}
	t->ctx = sni->set[0].ctx;
	SSL_CTX_set_tlsext_servername_callback(t->ctx, sni_select);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, sni);
}

void conf_tls_free(struct fc_tls *t)
{
	for (int i = 0; i < t->ncerts; i++)
		free(t->certs[i]);
	free(t->certs);
	for (int i = 0; i < t->nalpn; i++)
		free(t->alpn[i]);
	free(t->alpn);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->client_ca);
	if (t->sni != NULL) {
		for (int i = 0; i < t->sni->nsets; i++) {
			SSL_CTX_free(t->sni->set[i].ctx);
			names_free(t->sni->set[i].names, t->sni->set[i].nnames);
		}
		free(t->sni);
	}
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------ server side */

void conf_server_tls_build(struct loader *ld, const config_setting_t *server,
    const char *ctx, struct fc_server *sv)
{
	const config_setting_t *s = member(server, "tls");
	struct fc_server_tls *t = &sv->tls;
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (c == NULL) {
		load_errat(ld, s, "%s: %s", ctx, tls_error_text("out of memory"));
		return;
	}
	t->ctx = c;
	ctx_common(c, TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(c, CIPHERS_DEFAULT);
	/* Sessions are kept per server by their users, not in a cache. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	if (!t->verify)
		return;
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (t->ca == NULL ? SSL_CTX_set_default_verify_paths(c) != 1 :
	    SSL_CTX_load_verify_locations(c, t->ca, NULL) != 1)
		load_errat(ld, member(s, "ca"), "%s tls: cannot load CA certificates"
		    " from \"%s\" (%s)", ctx, t->ca != NULL ? t->ca : "the system's paths",
		    tls_error_text("no PEM certificate"));
}

void conf_server_tls_free(struct fc_server_tls *t)
{
	free(t->ca);
	free(t->sni);
	SSL_CTX_free(t->ctx);
	memset(t, 0, sizeof(*t));
}
