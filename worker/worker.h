/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker process: accepts client connections on its own SO_REUSEPORT
 * sockets and proxies HTTP/1.1 to the servers.  This is the module's API for
 * the master.
 */
#ifndef FC_WORKER_H
#define FC_WORKER_H

#include "conf/conf.h"
#include "shm/shm.h"

struct fc_worker_socket {
	int fd;			/* listening socket of this worker's slot */
	int listener;		/* index into conf->listeners */
};

/*
 * Runs worker number slot of nworkers (writing its counters into its block
 * of shm, reading server health from it) until it is told to stop (TERM: at
 * once; QUIT: after in-flight requests are done or drain_timeout).  Returns
 * the process exit status.
 */
int worker_main(const struct fc_conf *conf, struct fc_shm *shm, int slot, int nworkers,
    const struct fc_worker_socket *socks, int nsocks);

#endif
