/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which running instance a tool talks to (fulcrum-stat, fulcrumctl):
 * -f FILE (the segment named after its real path), -n NAME, or the only
 * one running.  Messages go to stderr, prefixed with the tool's name;
 * return values are the tools' exit codes (0, 1 runtime, 2 usage).
 */
#ifndef FC_TOOLS_INSTANCE_H
#define FC_TOOLS_INSTANCE_H

#include <stddef.h>

#include "shm/shm.h"

#define EXIT_USAGE	2

/* The segment name of file (may be NULL), else of arg (NULL), else the only one. */
int instance_name(const char *prog, const char *file, const char *arg, char *name,
    size_t len);
/* Maps segment name read-only, checking that its instance is alive. */
int instance_open(const char *prog, struct fc_shm *shm, const char *name, const char *file);
/* Says the instance is gone; returns 1. */
int instance_gone(const char *prog, const struct fc_shm *shm);

#endif
