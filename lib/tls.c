/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS pieces shared by every process (tls.h): certificate name matching,
 * the session-ticket keys of the shared segment, OpenSSL errors in words.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/str.h"
#include "lib/tls.h"

/* ------------------------------------------------------------- names */

/* Letters, digits, '-' and '_' in labels of 1..63 bytes, dots between. */
static bool valid_name(const char *name, size_t len)
{
	size_t label = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool tls_name_match(const char *pattern, const char *name, size_t len)
{
	size_t plen = strlen(pattern);
	const char *dot;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > FC_TLS_NAME_MAX || !valid_name(name, len))
		return false;
	if (!tls_name_is_wildcard(pattern))
		return str_ieq(pattern, plen, name, len);
	/* "*.example.com": one label, then exactly ".example.com". */
	if ((dot = memchr(name, '.', len)) == NULL)
		return false;
	return str_ieq(pattern + 1, plen - 1, dot, len - (size_t)(dot - name));
}

/* ----------------------------------------------------- session tickets */

static const struct fc_tls_tickets *tickets;

static void key_fill(struct fc_tls_ticket_key *k, int *ok)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		*ok = 0;
}

int tls_tickets_make(struct fc_tls_tickets *t, uint64_t now_us)
{
	int ok = 1;

	for (int i = 0; i < FC_TLS_TICKET_KEYS; i++)
		key_fill(&t->key[i], &ok);
	t->current = 0;
	t->rotated_us = now_us;
	t->made = (uint32_t)ok;
	return ok ? 0 : -1;
}

/*
 * The slot after the current one holds the oldest key, which nobody
 * accepts any more: it is rewritten, then published.  Readers that loaded
 * the old index still find both keys they accept intact.
 */
int tls_tickets_rotate(struct fc_tls_tickets *t, uint64_t now_us)
{
	uint32_t next = (__atomic_load_n(&t->current, __ATOMIC_RELAXED) + 1) %
	    FC_TLS_TICKET_KEYS;
	int ok = 1;

	key_fill(&t->key[next], &ok);
	if (!ok)
		return -1;
	__atomic_store_n(&t->rotated_us, now_us, __ATOMIC_RELAXED);
	__atomic_store_n(&t->current, next, __ATOMIC_RELEASE);
	return 0;
}

/*
 * OpenSSL 3 fetches a cipher named by EVP_aes_256_cbc() from its providers
 * at every EVP_EncryptInit_ex: one fetch per ticket made or read.  This
 * process fetches it once and keeps it.
 */
static const EVP_CIPHER *ticket_cipher(void)
{
	static EVP_CIPHER *aes;

	if (aes == NULL)
		aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	return aes;
}

static int ticket_keys_set(const struct fc_tls_ticket_key *k, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const EVP_CIPHER *aes = ticket_cipher();

	static char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	if (aes == NULL || EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(cctx, aes, NULL, k->aes, iv) == 1 ? 0 : -1;
	return EVP_DecryptInit_ex(cctx, aes, NULL, k->aes, iv) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback: 1 done, 2 done but renew the ticket, 0 no
 * ticket (encrypting) or not ours (a full handshake follows), -1 an error.
 * A ticket made with the previous key is renewed, and so is every TLS 1.3
 * one: clients use those once (RFC 8446, C.4), so a resumption that sent
 * no new ticket would leave the client's next connection a full handshake.
 */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct fc_tls_tickets *t = tickets;
	uint32_t cur, prev;

	if (t == NULL || !t->made)
		return 0;
	cur = __atomic_load_n(&t->current, __ATOMIC_ACQUIRE) % FC_TLS_TICKET_KEYS;
	prev = (cur + FC_TLS_TICKET_KEYS - 1) % FC_TLS_TICKET_KEYS;
	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		memcpy(name, t->key[cur].name, sizeof(t->key[cur].name));
		return ticket_keys_set(&t->key[cur], iv, cctx, hctx, 1) < 0 ? -1 : 1;
	}
	if (memcmp(name, t->key[cur].name, 16) == 0)
		return ticket_keys_set(&t->key[cur], iv, cctx, hctx, 0) < 0 ? -1 :
		    SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
	if (memcmp(name, t->key[prev].name, 16) == 0)
		return ticket_keys_set(&t->key[prev], iv, cctx, hctx, 0) < 0 ? -1 : 2;
	return 0;
}

void tls_tickets_attach(struct ssl_ctx_st *ctx)
{
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
}

void tls_tickets_use(const struct fc_tls_tickets *t)
{
	tickets = t;
}

/* ------------------------------------------------------ client side */

int tls_client_setup(struct ssl_st *ssl, int fd, const char *sni, const char *ip,
    bool verify)
{
	if ((fd >= 0 && SSL_set_fd(ssl, fd) != 1) ||
	    (sni != NULL && SSL_set_tlsext_host_name(ssl, sni) != 1))
		return -1;
	if (verify && (sni != NULL ? SSL_set1_host(ssl, sni) != 1 :
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1))
		return -1;
	/* "*" only as the whole leftmost label, as browsers match (RFC 9525
	 * 6.3): OpenSSL's default would let "b*.example.com" name bx.example.com. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_connect_state(ssl);
	return 0;
}

/* ---------------------------------------------------------- errors */

const char *tls_error_text(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return why != NULL ? why : fallback;
}
