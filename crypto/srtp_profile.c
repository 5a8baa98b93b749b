/* crypto/srtp_profile.c — the table of SRTP protection profiles, result and backend names. */
#include <errno.h>
#include <string.h>

#include "crypto/srtp_internal.h"

const struct pr_srtp_profile_info pr_srtp_profiles[] = {
    [PR_SRTP_AES128_CM_SHA1_80] = {.name = "AES_CM_128_HMAC_SHA1_80",
				   .key_len = 16,
				   .salt_len = 14,
				   .rtp_tag_len = 10,
				   .rtcp_tag_len = 10,
				   .aead = 0},
    [PR_SRTP_AES128_CM_SHA1_32] = {.name = "AES_CM_128_HMAC_SHA1_32",
				   .key_len = 16,
				   .salt_len = 14,
				   .rtp_tag_len = 4,
				   .rtcp_tag_len = 10, /* RFC 4568 6.2.2: SRTCP keeps 80 bits */
				   .aead = 0},
    [PR_SRTP_AEAD_AES128_GCM] = {.name = "AEAD_AES_128_GCM",
				 .key_len = 16,
				 .salt_len = 12,
				 .rtp_tag_len = 16,
				 .rtcp_tag_len = 16,
				 .aead = 1},
};

const struct pr_srtp_profile_info *pr_srtp_profile_info(int p)
{
	if (p < PR_SRTP_AES128_CM_SHA1_80 || p > PR_SRTP_AEAD_AES128_GCM)
		return NULL;
	return &pr_srtp_profiles[p];
}

const char *pr_srtp_profile_name(enum pr_srtp_profile p)
{
	const struct pr_srtp_profile_info *i = pr_srtp_profile_info(p);
	return i ? i->name : NULL;
}

int pr_srtp_profile_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (int p = PR_SRTP_AES128_CM_SHA1_80; p <= PR_SRTP_AEAD_AES128_GCM; p++)
		if (strcmp(name, pr_srtp_profiles[p].name) == 0)
			return p;
	return -EINVAL;
}

size_t pr_srtp_profile_key_len(enum pr_srtp_profile p)
{
	const struct pr_srtp_profile_info *i = pr_srtp_profile_info(p);
	return i ? i->key_len : 0;
}

size_t pr_srtp_profile_salt_len(enum pr_srtp_profile p)
{
	const struct pr_srtp_profile_info *i = pr_srtp_profile_info(p);
	return i ? i->salt_len : 0;
}

size_t pr_srtp_profile_rtp_tag_len(enum pr_srtp_profile p)
{
	const struct pr_srtp_profile_info *i = pr_srtp_profile_info(p);
	return i ? i->rtp_tag_len : 0;
}

size_t pr_srtp_profile_rtcp_tag_len(enum pr_srtp_profile p)
{
	const struct pr_srtp_profile_info *i = pr_srtp_profile_info(p);
	return i ? i->rtcp_tag_len : 0;
}

static const char *const result_names[PR_SRTP_RESULT_COUNT] = {
    [PR_SRTP_OK] = "ok",
    [PR_SRTP_ERR_AUTH] = "auth_fail",
    [PR_SRTP_ERR_REPLAY] = "replay",
    [PR_SRTP_ERR_TOO_SHORT] = "too_short",
    [PR_SRTP_ERR_BAD_VERSION] = "bad_version",
    [PR_SRTP_ERR_UNKNOWN_PROFILE] = "unknown_profile",
    [PR_SRTP_ERR_NO_ROOM] = "no_room",
    [PR_SRTP_ERR_SSRC] = "wrong_ssrc",
    [PR_SRTP_ERR_MKI] = "bad_mki",
    [PR_SRTP_ERR_KEY_LIMIT] = "key_limit",
    [PR_SRTP_ERR_INTERNAL] = "internal",
    [PR_SRTP_ERR_UNENCRYPTED] = "unencrypted",
};

const char *pr_srtp_result_name(enum pr_srtp_result r)
{
	if ((unsigned)r >= PR_SRTP_RESULT_COUNT)
		return "invalid";
	return result_names[r];
}

const char *pr_srtp_backend_name(enum pr_srtp_backend b)
{
	switch (b) {
	case PR_SRTP_BACKEND_IPSECMB:
		return "ipsecmb";
	case PR_SRTP_BACKEND_LIBSRTP:
		return "libsrtp";
	case PR_SRTP_BACKEND_DEFAULT:
		return pr_srtp_backend_name(pr_srtp_default_backend());
	}
	return NULL;
}

int pr_srtp_backend_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strcmp(name, "ipsecmb") == 0)
		return PR_SRTP_BACKEND_IPSECMB;
	if (strcmp(name, "libsrtp") == 0)
		return PR_SRTP_BACKEND_LIBSRTP;
	return -EINVAL;
}

static enum pr_srtp_backend default_backend = PR_SRTP_BACKEND_IPSECMB;

int pr_srtp_set_default_backend(enum pr_srtp_backend b)
{
	if (b != PR_SRTP_BACKEND_IPSECMB && b != PR_SRTP_BACKEND_LIBSRTP)
		return -EINVAL;
	__atomic_store_n(&default_backend, b, __ATOMIC_RELAXED);
	return 0;
}

enum pr_srtp_backend pr_srtp_default_backend(void)
{
	return __atomic_load_n(&default_backend, __ATOMIC_RELAXED);
}
