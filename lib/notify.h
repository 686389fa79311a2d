/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The service manager's readiness protocol (sd_notify(3)): a datagram to
 * the unix socket named by $NOTIFY_SOCKET, when there is one.  Written here
 * in a few lines rather than linking libsystemd for it.
 */
#ifndef FC_LIB_NOTIFY_H
#define FC_LIB_NOTIFY_H

/* Sends "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..."; 0, or -1 if it could not. */
int notify_send(const char *state);

#endif
