/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * For drivers only: the operations a driver provides, the port state it may
 * use, and the argument parser. Applications include pn_port.h.
 */
#ifndef PN_PORT_DRIVER_H
#define PN_PORT_DRIVER_H

#include "pn_port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_KVARGS_MAX 16

/** Parsed "key=value,key=value" driver arguments. */
struct pn_kvargs {
	unsigned n;
	struct {
		char key[32];
		char value[128];
	} kv[PN_KVARGS_MAX];
	bool used[PN_KVARGS_MAX];
};

/** @return the value of @p key (and mark it used), or NULL. */
const char *pn_kvargs_get(struct pn_kvargs *kv, const char *key);
/**
 * Parse an unsigned value of @p key into @p out within [min, max]; an absent
 * key leaves @p out alone. @return 0 or -EINVAL (with a message on stderr).
 */
int pn_kvargs_get_uint(struct pn_kvargs *kv, const char *key, unsigned min,
		       unsigned max, unsigned *out);

/** The port as drivers see it; embeds the public struct first. */
struct pn_port_dev {
	struct pn_port pub;
	const struct pn_port_ops *ops;
	uint16_t id;
	uint16_t nb_queues;
	uint16_t ring_size;
	_Atomic(bool) started;       /* read by telemetry while a control thread sets it */
	uint8_t mac[6];
	char name[PN_PORT_NAME_MAX];
	char mode[80];            /* set by the driver */
	uint32_t max_frame;       /* set by the driver (pn_port_info.max_frame) */
	struct pn_pool *pools[PN_PORT_MAX_QUEUES];
	struct pn_port_queue_stats qstats[PN_PORT_MAX_QUEUES];
	/* holder ids of the queues ("port NAME queue Q"): drivers mark the
	 * pages they hand over with PN_HOLDER(qholder[q], PN_VIA_...) */
	uint32_t qholder[PN_PORT_MAX_QUEUES];
	void *priv;               /* the driver's */
};

static inline struct pn_port_dev *pn_port_dev(const struct pn_port *p)
{
	return (struct pn_port_dev *)p;
}

/* Add to a counter written only by the queue's thread. */
#define PN_QSTAT_ADD(qs, field, n) PN_SOLE_ADD((qs)->field, n)

struct pn_port_ops {
	const char *name;
	/**
	 * Set up the device: parse @p args (unused keys are an error), set
	 * pub.rx_burst/tx_burst, rxq/txq, mac, mode, name. @return 0 or -errno.
	 */
	int (*open)(struct pn_port_dev *dev, struct pn_kvargs *args);
	int (*start)(struct pn_port_dev *dev);
	void (*stop)(struct pn_port_dev *dev);
	/** Give every buffer back and free driver state. */
	void (*close)(struct pn_port_dev *dev);
	int (*link_get)(const struct pn_port_dev *dev, struct pn_port_link *link);
	/** Optional: add device-level counters. */
	void (*stats_get)(const struct pn_port_dev *dev, struct pn_port_stats *st);
	/** Optional: a file descriptor poll() reports readable when queue
	 * @p q has received frames. */
	int (*rx_fd)(const struct pn_port_dev *dev, uint16_t q);
};

/**
 * Register a driver of the application's own (out of tree); call it before
 * opening a port of it, or from a constructor with
 * PN_PORT_DRIVER_REGISTER. A second driver of the same name is ignored.
 */
void pn_port_driver_register(const struct pn_port_ops *ops);

#define PN_PORT_DRIVER_REGISTER(ops)                                           \
	__attribute__((constructor)) static void pn_port_drv_init_##ops(void) \
	{                                                                      \
		pn_port_driver_register(&ops);                                 \
	}

/*
 * The drivers built with the library (drivers/net/NAME) are not registered
 * by constructors: a program linking the static library would then lose
 * every driver it does not name, since the linker takes only the objects
 * something refers to. Each defines pn_port_builtin_NAME() with
 * PN_PORT_DRIVER_BUILTIN, and the build generates the table below, which
 * the port layer reads on first use: linking pn_port_open links them all.
 */
#define PN_PORT_DRIVER_BUILTIN(name, ops)                                      \
	const struct pn_port_ops *pn_port_builtin_##name(void);                \
	const struct pn_port_ops *pn_port_builtin_##name(void) { return &ops; }

/** The built-in drivers, NULL-terminated (generated: pn_port_builtin.c). */
extern const struct pn_port_ops *(*const pn_port_builtin[])(void);

/** Link state of a kernel interface from sysfs (operstate, speed, duplex). */
int pn_port_netdev_link(const char *ifname, struct pn_port_link *link);
/** MAC address of a kernel interface. @return 0 or -errno. */
int pn_port_netdev_mac(const char *ifname, uint8_t mac[6]);
/** MTU of a kernel interface. @return it, or -errno. */
int pn_port_netdev_mtu(const char *ifname);

#ifdef __cplusplus
}
#endif

#endif /* PN_PORT_DRIVER_H */
