/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a worker counts and logs: the per-worker and per-server counters in
 * its shm block, and the access-log line of each transaction.
 */
#ifndef FC_WORKER_ACCESSLOG_H
#define FC_WORKER_ACCESSLOG_H

#include "shm/shm.h"
#include "worker/worker-t.h"

/* This worker's counters of server `server` of backend be. */
struct fc_shm_srv_counters *accesslog_srv(const struct fc_be *be, int server);

/* Counts one error of that kind. */
void accesslog_error(enum fc_err_kind kind);

/* Counts an error answer of this HTTP status under its kind. */
void accesslog_status_error(int status);

/* Counts the transaction and writes its log line; once per transaction. */
void accesslog_txn(struct fc_stream *s);

#endif
