/* SPDX-License-Identifier: BSD-2-Clause */
/* The control page (ctl.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/ctl.h"

#define CLAIM_WAIT_MS	2000		/* another fulcrumctl's request, at most */

void ctl_name_for(const char *shm_name, char *name, size_t len)
{
	snprintf(name, len, "%s.ctl", shm_name);
}

int ctl_create(struct fc_ctl *ctl, const char *shm_name, gid_t gid, char *err,
    size_t errlen)
{
	char name[FC_SHM_NAME_LEN + 8];
	int fd;

	ctl_name_for(shm_name, name, sizeof(name));
	shm_unlink(name);		/* a stale one of a dead instance */
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, FC_SHM_PAGE) < 0 ||
	    (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0) ||
	    fchmod(fd, gid != (gid_t)-1 ? 0660 : 0600) < 0) {
		snprintf(err, errlen, "control page %s: %s", name, strerror(errno));
		goto fail;
	}
	ctl->page = mmap(NULL, FC_SHM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ctl->page == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
		goto fail;
	}
	ctl->fd = fd;
	ctl->page->magic = FC_CTL_MAGIC;
	ctl->page->version = FC_CTL_VERSION;
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		shm_unlink(name);
	}
	ctl->page = NULL;
	ctl->fd = -1;
	return -1;
}

void ctl_destroy(struct fc_ctl *ctl, const char *shm_name)
{
	char name[FC_SHM_NAME_LEN + 8];

	if (ctl->page == NULL)
		return;
	ctl_name_for(shm_name, name, sizeof(name));
	munmap(ctl->page, FC_SHM_PAGE);
	close(ctl->fd);
	shm_unlink(name);
	ctl->page = NULL;
	ctl->fd = -1;
}

int ctl_attach(struct fc_ctl *ctl, const char *shm_name, char *err, size_t errlen)
{
	char name[FC_SHM_NAME_LEN + 8];
	struct stat st;
	int fd, e;

	ctl->page = NULL;
	ctl_name_for(shm_name, name, sizeof(name));
	fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != FC_SHM_PAGE || (st.st_uid != 0 && st.st_uid != geteuid())) {
		e = fd < 0 ? errno : EPERM;
		snprintf(err, errlen, "%s: %s", name, e == EACCES ? "permission denied"
		    " (root or the instance's group, global.group, may change servers)" :
		    strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	ctl->page = mmap(NULL, FC_SHM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ctl->page == MAP_FAILED || ctl->page->magic != FC_CTL_MAGIC ||
	    ctl->page->version != FC_CTL_VERSION) {
		e = ctl->page == MAP_FAILED ? errno : EPROTO;
		if (ctl->page != MAP_FAILED)
			munmap(ctl->page, FC_SHM_PAGE);
		ctl->page = NULL;
		snprintf(err, errlen, "%s: not a fulcrum control page of this version", name);
		errno = e;
		return -1;
	}
	return 0;
}

void ctl_detach(struct fc_ctl *ctl)
{
	if (ctl->page != NULL)
		munmap(ctl->page, FC_SHM_PAGE);
	ctl->page = NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The page is ours, from FREE or from a claimer that died. */
static bool claim(struct fc_ctl_page *p)
{
	uint32_t st = FC_CTL_FREE;
	int32_t owner;

	if (__atomic_compare_exchange_n(&p->state, &st, FC_CTL_CLAIMED, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		goto mine;
	owner = __atomic_load_n(&p->owner, __ATOMIC_RELAXED);
	if (owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH)
		return false;
	if (!__atomic_compare_exchange_n(&p->state, &st, FC_CTL_CLAIMED, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
mine:
	__atomic_store_n(&p->owner, (int32_t)getpid(), __ATOMIC_RELAXED);
	return true;
}

int ctl_request(struct fc_ctl *ctl, uint32_t generation, enum fc_ctl_op op,
    const char *backend, const char *server, int value, int timeout_ms,
    char *msg, size_t msglen)
{
	struct fc_ctl_page *p = ctl->page;
	int waited, result;

	for (waited = 0; !claim(p); waited += 10) {
		if (waited >= CLAIM_WAIT_MS)
			return EBUSY;
		sleep_ms(10);
	}
	p->generation = generation;
	p->op = (uint32_t)op;
	p->value = value;
	p->result = 0;
	p->msg[0] = '\0';
	snprintf(p->backend, sizeof(p->backend), "%s", backend);
	snprintf(p->server, sizeof(p->server), "%s", server);
	__atomic_store_n(&p->state, FC_CTL_POSTED, __ATOMIC_RELEASE);
	for (waited = 0; __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != FC_CTL_DONE;
	    waited += 10) {
		if (waited >= timeout_ms) {
			__atomic_store_n(&p->state, FC_CTL_FREE, __ATOMIC_RELEASE);
			return ETIMEDOUT;
		}
		sleep_ms(10);
	}
	result = p->result;
	snprintf(msg, msglen, "%.*s", (int)sizeof(p->msg) - 1, p->msg);
	__atomic_store_n(&p->state, FC_CTL_FREE, __ATOMIC_RELEASE);
	return result;
}

struct fc_ctl_page *ctl_pending(const struct fc_ctl *ctl, uint32_t gen)
{
	struct fc_ctl_page *p = ctl->page;

	if (p == NULL || __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != FC_CTL_POSTED ||
	    p->generation != gen)
		return NULL;
	p->backend[sizeof(p->backend) - 1] = '\0';
	p->server[sizeof(p->server) - 1] = '\0';
	return p;
}

void ctl_answer(struct fc_ctl_page *p, int result, const char *msg)
{
	p->result = result;
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
	__atomic_store_n(&p->state, FC_CTL_DONE, __ATOMIC_RELEASE);
}
