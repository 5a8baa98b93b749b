/* SPDX-License-Identifier: BSD-3-Clause */
/* Dialogs: the slowpath's established calls, so that a restarted slowpath can end them
 * (docs/redis-keyspace.md, "Dialogs"). */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int pr_ks_dialog_load(struct pr_redis *r, const char *id, struct pr_ks_dialog *d)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_DIALOG_PREFIX, id, "dialog id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_dialog_desc, key, d);
}

int pr_ks_dialog_store_tx(struct pr_redis_tx *tx, const struct pr_ks_dialog *d)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_DIALOG_PREFIX, d->id, "dialog id");

	if (rc < 0)
		return rc;
	rc = ks_tx_store(tx, &pr_ks_dialog_desc, key, d);
	if (rc == 0)
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_DIALOGS_KEY, (long long)d->start,
				d->id);
	return rc;
}

int pr_ks_dialog_store(struct pr_redis *r, const struct pr_ks_dialog *d)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	char key[KS_KEYLEN];
	int rc;

	if (!tx)
		return -ENOMEM;
	rc = pr_ks_dialog_store_tx(tx, d);
	if (rc == 0) {
		snprintf(key, sizeof(key), "%s%.40s", PR_KS_DIALOG_PREFIX, d->id);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_dialog_delete_tx(struct pr_redis_tx *tx, const char *id)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_DIALOG_PREFIX, id, "dialog id");

	if (rc < 0)
		return rc;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_DIALOGS_KEY, id);
	return 0;
}

int pr_ks_dialog_delete(struct pr_redis *r, const char *id)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_DIALOG_PREFIX, id, "dialog id");

	if (rc < 0)
		return rc;
	tx = ks_tx_delete_begin(key);
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_DIALOGS_KEY, id);
	return ks_tx_delete(r, tx, key, "dialog");
}

int pr_ks_dialog_list(struct pr_redis *r, struct pr_ks_names *ids)
{
	return ks_reply_names(r, pr_redis_cmd(r, "ZRANGE %s 0 -1", PR_KS_DIALOGS_KEY), ids, false,
			      PR_KS_DIALOGS_KEY);
}
