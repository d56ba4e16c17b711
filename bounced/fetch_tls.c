/*
 * fetch_tls.c - server certificate verification for the fetchers.
 *
 * libetpan 1.9.4 negotiates TLS (GnuTLS on Debian) but never verifies the
 * peer: any certificate is accepted.  So after the handshake we take the
 * chain the server sent (mailstream_get_certificate_chain, DER) and check
 * it with GnuTLS ourselves: trusted by ca_file or the system store, valid
 * now, and issued for the host we connected to (DNS name or IP address,
 * RFC 6125).  A failure is a mailbox error: the password is never sent.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>

#include "bounced/fetch.h"

/* Frees n certificates (NULL entries skipped) and the array. */
static void
tls_crts_free(gnutls_x509_crt_t *crts, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (crts[i] != NULL)
			gnutls_x509_crt_deinit(crts[i]);
	g_free(crts);
}

/* Imports the DER chain into *crts_r (*n_r entries).  Returns 0 or -1. */
static int
tls_import(carray *chain, gnutls_x509_crt_t **crts_r, unsigned *n_r,
	   char **error_r)
{
	unsigned i, n = carray_count(chain);
	gnutls_x509_crt_t *crts = g_new0(gnutls_x509_crt_t, n);

	for (i = 0; i < n; i++) {
		MMAPString *der = carray_get(chain, i);
		gnutls_datum_t d = {(unsigned char *)der->str,
				    (unsigned)der->len};

		if (gnutls_x509_crt_init(&crts[i]) < 0 ||
		    gnutls_x509_crt_import(crts[i], &d, GNUTLS_X509_FMT_DER) <
			0) {
			tls_crts_free(crts, i + 1);
			*error_r = g_strdup("TLS: the server sent a "
					    "certificate that cannot be read");
			return -1;
		}
	}
	*crts_r = crts;
	*n_r = n;
	return 0;
}

/* Loads ca_file or the system CAs; returns 0 or -1. */
static int
tls_trust(gnutls_x509_trust_list_t tl, const char *ca_file, char **error_r)
{
	int r;

	if (ca_file != NULL)
		r = gnutls_x509_trust_list_add_trust_file(
		    tl, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	else
		r = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (r > 0)
		return 0;
	*error_r = g_strdup_printf(
	    "TLS: no CA certificate could be read from %s",
	    ca_file != NULL ? ca_file : "the system trust store");
	return -1;
}

int
fetch_tls_verify(void *stream, const char *host, const char *ca_file,
		 char **error_r)
{
	carray *chain = mailstream_get_certificate_chain(stream);
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t *crts = NULL;
	gnutls_typed_vdata_st vdata[1] = {
	    {GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)host, 0}};
	gnutls_datum_t why = {NULL, 0};
	unsigned n = 0, status = 0;
	int ret = -1;

	if (chain == NULL || carray_count(chain) == 0) {
		*error_r = g_strdup("TLS: the server sent no certificate");
		goto out;
	}
	if (tls_import(chain, &crts, &n, error_r) < 0)
		goto out;
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		*error_r = g_strdup("TLS: cannot create a trust list");
		goto out;
	}
	if (tls_trust(tl, ca_file, error_r) < 0)
		goto out;
	if (gnutls_x509_trust_list_verify_crt2(tl, crts, n, vdata, 1, 0,
					       &status, NULL) < 0 ||
	    status != 0) {
		gnutls_certificate_verification_status_print(
		    status, GNUTLS_CRT_X509, &why, 0);
		*error_r = g_strdup_printf(
		    "TLS: the certificate of %s is not trusted: %s%s", host,
		    why.data != NULL ? (char *)why.data : "verification failed",
		    ca_file == NULL ? " (set ca_file for a private CA)" : "");
		gnutls_free(why.data);
		goto out;
	}
	ret = 0;
out:
	if (crts != NULL)
		tls_crts_free(crts, n);
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return ret;
}
