/* SPDX-License-Identifier: BSD-3-Clause */
/* Port control path: driver registry, argument parsing, stats. */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pn_log.h"
#include "pn_port_driver.h"

void pn_port_tel_init(void); /* pn_port_tel.c */

#define PN_MAX_DRIVERS 8

static const struct pn_port_ops *drivers[PN_MAX_DRIVERS];
static const char *driver_names[PN_MAX_DRIVERS + 1];
static unsigned nb_drivers;

static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read by telemetry without the lock: entries are published with release
 * after the port is set up and cleared before it is freed. */
static _Atomic(struct pn_port_dev *) port_table[PN_MAX_PORTS];

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;

static void driver_add(const struct pn_port_ops *ops)
{
	pthread_mutex_lock(&driver_lock);
	for (unsigned i = 0; i < nb_drivers; i++) {
		if (strcmp(drivers[i]->name, ops->name) == 0) {
			pthread_mutex_unlock(&driver_lock);
			return;
		}
	}
	if (nb_drivers < PN_MAX_DRIVERS) {
		driver_names[nb_drivers] = ops->name;
		drivers[nb_drivers++] = ops;
	} else {
		pn_log(PN_LOG_ERR, "port", "no room to register driver '%s'", ops->name);
	}
	pthread_mutex_unlock(&driver_lock);
}

static void builtin_register(void)
{
	for (unsigned i = 0; pn_port_builtin[i] != NULL; i++)
		driver_add(pn_port_builtin[i]());
}

void pn_port_driver_register(const struct pn_port_ops *ops)
{
	pthread_once(&builtin_once, builtin_register);
	driver_add(ops);
}

const char *const *pn_port_drivers(void)
{
	pthread_once(&builtin_once, builtin_register);
	return driver_names;
}

static int kvargs_parse(const char *args, struct pn_kvargs *kv)
{
	const char *s = args;

	memset(kv, 0, sizeof(*kv));
	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		const char *eq = strchr(s, '=');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		size_t klen;

		if (len == 0) {
			s = end ? end + 1 : NULL;
			continue;
		}
		if (kv->n == PN_KVARGS_MAX) {
			pn_log(PN_LOG_ERR, "port", "too many port arguments in '%s'", args);
			return -EINVAL;
		}
		if (eq == NULL || eq >= s + len) {
			pn_log(PN_LOG_ERR, "port", "port argument '%.*s' is not key=value",
				(int)len, s);
			return -EINVAL;
		}
		klen = (size_t)(eq - s);
		if (klen == 0 || klen >= sizeof(kv->kv[0].key) ||
		    len - klen - 1 >= sizeof(kv->kv[0].value)) {
			pn_log(PN_LOG_ERR, "port", "port argument '%.*s' is too long or has no key",
				(int)len, s);
			return -EINVAL;
		}
		memcpy(kv->kv[kv->n].key, s, klen);
		memcpy(kv->kv[kv->n].value, eq + 1, len - klen - 1);
		kv->n++;
		s = end ? end + 1 : NULL;
	}
	return 0;
}

const char *pn_kvargs_get(struct pn_kvargs *kv, const char *key)
{
	const char *v = NULL;

	for (unsigned i = 0; i < kv->n; i++) {
		if (strcmp(kv->kv[i].key, key) == 0) {
			kv->used[i] = true;
			v = kv->kv[i].value; /* the last one wins, as on command lines */
		}
	}
	return v;
}

int pn_kvargs_get_uint(struct pn_kvargs *kv, const char *key, unsigned min,
		       unsigned max, unsigned *out)
{
	const char *v = pn_kvargs_get(kv, key);
	unsigned long x;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	x = strtoul(v, &end, 0);
	if (errno || end == v || *end != '\0' || x < min || x > max) {
		pn_log(PN_LOG_ERR, "port", "port argument %s=%s: want a number in [%u, %u]",
			key, v, min, max);
		return -EINVAL;
	}
	*out = (unsigned)x;
	return 0;
}

static const struct pn_port_ops *driver_find(const char *name)
{
	pthread_once(&builtin_once, builtin_register);
	for (unsigned i = 0; i < nb_drivers; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

struct pn_port *pn_port_open(const char *driver, const char *args,
			     const struct pn_port_conf *conf)
{
	const struct pn_port_ops *ops = driver_find(driver);
	struct pn_port_conf c = { .nb_queues = 1 };
	struct pn_port_dev *dev;
	struct pn_kvargs kv;
	int id = -1, rc;

	pn_port_tel_init(); /* the ports' telemetry commands, from the first open on */

	if (ops == NULL) {
		pn_log(PN_LOG_ERR, "port", "no port driver '%s'", driver);
		errno = ENOENT;
		return NULL;
	}
	if (conf != NULL) {
		if (conf->sz < offsetof(struct pn_port_conf, pools) || conf->sz > sizeof(c)) {
			errno = EINVAL;
			return NULL;
		}
		memcpy(&c, conf, conf->sz);
	}
	if (c.nb_queues == 0)
		c.nb_queues = 1;
	if (c.nb_queues > PN_PORT_MAX_QUEUES ||
	    (c.ring_size != 0 && !PN_IS_POW2(c.ring_size))) {
		pn_log(PN_LOG_ERR, "port", "%s: %u queues or ring size %u out of range",
			driver, c.nb_queues, c.ring_size);
		errno = EINVAL;
		return NULL;
	}
	for (unsigned q = 0; q < c.nb_queues; q++) {
		if (c.pools[q] == NULL) {
			pn_log(PN_LOG_ERR, "port", "%s: queue %u has no pool", driver, q);
			errno = EINVAL;
			return NULL;
		}
	}
	rc = kvargs_parse(args, &kv);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}

	dev = aligned_alloc(PN_CACHE_LINE, PN_ALIGN_UP(sizeof(*dev), PN_CACHE_LINE));
	if (dev == NULL)
		return NULL;
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->nb_queues = c.nb_queues;
	dev->ring_size = c.ring_size;
	memcpy(dev->pools, c.pools, sizeof(dev->pools));

	pthread_mutex_lock(&port_lock);
	for (int i = 0; i < PN_MAX_PORTS; i++) {
		if (atomic_load_explicit(&port_table[i], memory_order_relaxed) == NULL) {
			id = i;
			/* reserve the slot; published once open succeeds */
			atomic_store_explicit(&port_table[i], (struct pn_port_dev *)1,
					      memory_order_relaxed);
			break;
		}
	}
	pthread_mutex_unlock(&port_lock);
	if (id < 0) {
		free(dev);
		errno = ENOSPC;
		return NULL;
	}
	dev->id = (uint16_t)id;
	snprintf(dev->name, sizeof(dev->name), "%s%d", driver, id);

	rc = ops->open(dev, &kv);
	if (rc == 0) {
		for (unsigned i = 0; i < kv.n; i++) {
			if (!kv.used[i]) {
				pn_log(PN_LOG_ERR, "port", "%s: unknown argument '%s'",
					driver, kv.kv[i].key);
				ops->close(dev);
				rc = -EINVAL;
				break;
			}
		}
	}
	if (rc < 0) {
		atomic_store_explicit(&port_table[id], NULL, memory_order_release);
		free(dev);
		errno = -rc;
		return NULL;
	}
	if (c.name != NULL)
		snprintf(dev->name, sizeof(dev->name), "%s", c.name);
	for (unsigned q = 0; q < dev->nb_queues; q++)
		dev->qholder[q] = pn_holder_register("port %s queue %u", dev->name, q);
	atomic_store_explicit(&port_table[id], dev, memory_order_release);
	return &dev->pub;
}

struct pn_port *pn_port_open_str(const char *spec, const struct pn_port_conf *conf)
{
	char driver[32];
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

	if (len == 0 || len >= sizeof(driver)) {
		pn_log(PN_LOG_ERR, "port", "bad port '%s': want driver:key=value,...", spec);
		errno = EINVAL;
		return NULL;
	}
	memcpy(driver, spec, len);
	driver[len] = '\0';
	return pn_port_open(driver, colon ? colon + 1 : NULL, conf);
}

int pn_port_start(struct pn_port *port)
{
	struct pn_port_dev *dev = pn_port_dev(port);
	int rc;

	if (atomic_load_explicit(&dev->started, memory_order_relaxed))
		return 0;
	rc = dev->ops->start ? dev->ops->start(dev) : 0;
	if (rc == 0)
		atomic_store_explicit(&dev->started, true, memory_order_relaxed);
	return rc;
}

void pn_port_stop(struct pn_port *port)
{
	struct pn_port_dev *dev = pn_port_dev(port);

	if (!atomic_load_explicit(&dev->started, memory_order_relaxed))
		return;
	if (dev->ops->stop)
		dev->ops->stop(dev);
	atomic_store_explicit(&dev->started, false, memory_order_relaxed);
}

void pn_port_close(struct pn_port *port)
{
	struct pn_port_dev *dev;

	if (port == NULL)
		return;
	dev = pn_port_dev(port);
	pn_port_stop(port);
	/* out of the table under the lock: foreach/visit readers are done */
	pthread_mutex_lock(&port_lock);
	atomic_store_explicit(&port_table[dev->id], NULL, memory_order_release);
	pthread_mutex_unlock(&port_lock);
	dev->ops->close(dev);
	for (unsigned q = 0; q < dev->nb_queues; q++)
		pn_holder_unregister(dev->qholder[q]);
	free(dev);
}

int pn_port_foreach(int (*fn)(struct pn_port *port, void *arg), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&port_lock);
	for (unsigned id = 0; id < PN_MAX_PORTS && rc == 0; id++) {
		struct pn_port_dev *dev = atomic_load_explicit(&port_table[id],
							       memory_order_acquire);

		if ((uintptr_t)dev > 1)
			rc = fn(&dev->pub, arg);
	}
	pthread_mutex_unlock(&port_lock);
	return rc;
}

int pn_port_visit(uint16_t id, int (*fn)(struct pn_port *port, void *arg), void *arg)
{
	struct pn_port_dev *dev = NULL;
	int rc;

	pthread_mutex_lock(&port_lock);
	if (id < PN_MAX_PORTS)
		dev = atomic_load_explicit(&port_table[id], memory_order_acquire);
	rc = (uintptr_t)dev > 1 ? fn(&dev->pub, arg) : -ENOENT;
	pthread_mutex_unlock(&port_lock);
	return rc;
}

static void qstats_add(const struct pn_port_queue_stats *q, struct pn_port_stats *st)
{
#define LD(f) atomic_load_explicit(&q->f, memory_order_relaxed)
	st->ipackets += LD(ipackets);
	st->ibytes += LD(ibytes);
	st->opackets += LD(opackets);
	st->obytes += LD(obytes);
	st->idrops += LD(idrops);
	st->odrops += LD(odrops);
	st->ierrors += LD(ierrors);
	st->oerrors += LD(oerrors);
	st->rx_nombuf += LD(rx_nombuf);
	st->tx_copies += LD(tx_copies);
	st->tx_wakeups += LD(tx_wakeups);
#undef LD
}

void pn_port_stats_get(const struct pn_port *port, struct pn_port_stats *st)
{
	const struct pn_port_dev *dev = pn_port_dev(port);

	memset(st, 0, sizeof(*st));
	for (unsigned q = 0; q < dev->nb_queues; q++)
		qstats_add(&dev->qstats[q], st);
	if (dev->ops->stats_get)
		dev->ops->stats_get(dev, st);
}

void pn_port_queue_stats_get(const struct pn_port *port, uint16_t q,
			     struct pn_port_stats *st)
{
	const struct pn_port_dev *dev = pn_port_dev(port);

	memset(st, 0, sizeof(*st));
	if (q < dev->nb_queues)
		qstats_add(&dev->qstats[q], st);
}

int pn_port_link_get(const struct pn_port *port, struct pn_port_link *link)
{
	const struct pn_port_dev *dev = pn_port_dev(port);

	memset(link, 0, sizeof(*link));
	return dev->ops->link_get ? dev->ops->link_get(dev, link) : -ENOTSUP;
}

int pn_port_rx_fd(const struct pn_port *port, uint16_t q)
{
	const struct pn_port_dev *dev = pn_port_dev(port);

	if (q >= dev->nb_queues)
		return -EINVAL;
	return dev->ops->rx_fd ? dev->ops->rx_fd(dev, q) : -ENOTSUP;
}

void pn_port_info_get(const struct pn_port *port, struct pn_port_info *info)
{
	const struct pn_port_dev *dev = pn_port_dev(port);

	info->id = dev->id;
	info->name = dev->name;
	info->driver = dev->ops->name;
	info->mode = dev->mode;
	info->nb_queues = dev->nb_queues;
	memcpy(info->mac, dev->mac, 6);
	info->started = atomic_load_explicit(&((struct pn_port_dev *)dev)->started,
					     memory_order_relaxed);
	info->max_frame = dev->max_frame;
}

uint16_t pn_port_id(const struct pn_port *port)
{
	return pn_port_dev(port)->id;
}

struct pn_port *pn_port_by_id(uint16_t id)
{
	struct pn_port_dev *dev;

	if (id >= PN_MAX_PORTS)
		return NULL;
	dev = atomic_load_explicit(&port_table[id], memory_order_acquire);
	return (uintptr_t)dev <= 1 ? NULL : &dev->pub;
}

static int read_sysfs(const char *ifname, const char *attr, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	if (fgets(buf, (int)len, f) == NULL) {
		/* speed reads fail with EINVAL on links without one (veth down) */
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int pn_port_netdev_link(const char *ifname, struct pn_port_link *link)
{
	char buf[64];
	int rc = read_sysfs(ifname, "operstate", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	link->up = strcmp(buf, "up") == 0;
	if (read_sysfs(ifname, "speed", buf, sizeof(buf)) == 0 && atoi(buf) > 0)
		link->speed_mbps = (uint32_t)atoi(buf);
	if (read_sysfs(ifname, "duplex", buf, sizeof(buf)) == 0)
		link->full_duplex = strcmp(buf, "full") == 0;
	return 0;
}

int pn_port_netdev_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return rc;
}

int pn_port_netdev_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return rc;
}
