/*
 * The reference machine: a q35-like physical address space (RAM, MMIO windows),
 * an x86 I/O port space, a virtual clock with timers, a reset chain and an MSI
 * sink. It knows nothing about VT-d or PCI; those plug in through the hooks here.
 */
#ifndef VTDNEST_MACHINE_H
#define VTDNEST_MACHINE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/opts.h"

typedef enum MemTxResult {
    MEMTX_OK = 0,
    MEMTX_ERROR = 1,        /* the target answered with an error */
    MEMTX_DECODE_ERROR = 2, /* nothing at that address */
} MemTxResult;

/* q35-like constants. */
#define Q35_LOWMEM_SPLIT_BIG  0x80000000ULL /* low RAM top when RAM >= 2.75 GiB */
#define Q35_LOWMEM_SPLIT      0xb0000000ULL /* otherwise RAM may reach here */
#define Q35_HIGHMEM_BASE      0x100000000ULL
#define Q35_ECAM_BASE         0xb0000000ULL
#define Q35_ECAM_SIZE         0x10000000ULL /* 256 buses */
#define Q35_PCI_HOLE_BASE     0xc0000000ULL /* guests place 32-bit BARs here */
#define Q35_IOMMU_BASE        0xfed90000ULL
#define MSI_WINDOW_BASE       0xfee00000ULL
#define MSI_WINDOW_SIZE       0x00100000ULL

typedef struct Machine Machine;

/* An MMIO region's callbacks. Accesses are always naturally aligned and of a
 * size between min_access and max_access; the machine splits others. */
typedef struct MemoryRegionOps {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
    unsigned min_access; /* 0 means 1 */
    unsigned max_access; /* 0 means 8 */
} MemoryRegionOps;

typedef struct PortIoOps {
    uint32_t (*read)(void *opaque, uint16_t offset, unsigned size);
    void (*write)(void *opaque, uint16_t offset, uint32_t value, unsigned size);
} PortIoOps;

typedef struct MmioRegion MmioRegion;
typedef struct Timer Timer;
typedef void (*TimerCb)(void *opaque);
typedef void (*ResetFn)(void *opaque);

/* A delivered interrupt message, as the CPU side saw it. */
typedef struct MsiRecord {
    uint64_t addr;
    uint32_t data;
    uint16_t sid;      /* requester id, 0xffff for the IOMMU's own events */
    bool remapped;     /* went through interrupt remapping */
    int64_t clock_ns;
} MsiRecord;

/*
 * Interrupt-message hook: an interrupt controller in front of the CPU (the
 * VT-d unit's interrupt remapping). Returns false when the message was blocked
 * (the hook records its own fault); true with *out filled to deliver.
 */
typedef bool (*MsiRemapFn)(void *opaque, uint16_t sid, uint64_t addr,
                           uint32_t data, MsiRecord *out);

/* Construction. */
Machine *machine_new(uint64_t ram_size, GError **errp);
void machine_free(Machine *m);
uint64_t machine_ram_size(const Machine *m);

/* Physical address space as seen by the CPU (qtest): RAM and MMIO. */
MmioRegion *machine_map_mmio(Machine *m, const char *name, uint64_t base,
                             uint64_t size, const MemoryRegionOps *ops,
                             void *opaque);
void machine_unmap_mmio(Machine *m, MmioRegion *r);
void machine_move_mmio(Machine *m, MmioRegion *r, uint64_t new_base);
MemTxResult machine_mem_rw(Machine *m, uint64_t addr, void *buf, uint64_t len,
                           bool is_write);
/* Direct RAM access: a pointer valid for len bytes, or NULL when any byte of
 * [gpa, gpa+len) is not RAM. */
uint8_t *machine_ram_ptr(Machine *m, uint64_t gpa, uint64_t len);
/* Mark [gpa, gpa+len) of RAM read-only for DMA (ROM-like guest memory). */
bool machine_ram_is_readonly(Machine *m, uint64_t gpa);
/* Iterate over RAM blocks (GPA ranges) in address order. */
typedef void (*RamBlockFn)(void *opaque, uint64_t gpa, uint64_t size,
                           uint8_t *host, bool readonly);
void machine_foreach_ram(Machine *m, RamBlockFn fn, void *opaque);

/* I/O ports. */
void machine_register_pio(Machine *m, uint16_t base, uint16_t size,
                          const PortIoOps *ops, void *opaque);
uint32_t machine_pio_read(Machine *m, uint16_t port, unsigned size);
void machine_pio_write(Machine *m, uint16_t port, uint32_t value, unsigned size);

/* Virtual clock (nanoseconds) and timers, advanced only by qtest. */
int64_t machine_clock_ns(const Machine *m);
/* Advance to target, firing due timers in order. Returns the new time. */
int64_t machine_clock_advance_to(Machine *m, int64_t target_ns);
/* Earliest pending timer deadline, or -1. */
int64_t machine_clock_next_deadline(const Machine *m);
Timer *machine_timer_new(Machine *m, TimerCb cb, void *opaque);
void machine_timer_mod(Timer *t, int64_t deadline_ns);
void machine_timer_del(Timer *t);
void machine_timer_free(Timer *t);

/*
 * Idle warp (QEMU's -icount shift=N,sleep=off with a halted CPU): whenever the
 * machine goes idle — after each qtest command — virtual time jumps to the
 * next timer deadline, so a guest-visible delay (edu's DMA) has passed by the
 * next poll. At most a bounded number of deadlines per idle point, so a
 * periodic timer cannot spin forever.
 */
void machine_set_idle_warp(Machine *m, bool on);
bool machine_idle_warp(const Machine *m);
void machine_idle(Machine *m);

/* Reset chain: handlers run in registration order. */
void machine_register_reset(Machine *m, ResetFn fn, void *opaque);
void machine_unregister_reset(Machine *m, ResetFn fn, void *opaque);
void machine_system_reset(Machine *m);

/* Interrupt messages: DMA writes into the MSI window and device MSIs land here. */
void machine_set_msi_remap(Machine *m, MsiRemapFn fn, void *opaque);
/* A device (sid) raises an MSI: goes through the remap hook if set. */
void machine_send_msi(Machine *m, uint16_t sid, uint64_t addr, uint32_t data);
/* The IOMMU's own event interrupts: never remapped. */
void machine_deliver_msi(Machine *m, const MsiRecord *rec);
/* The log of delivered MSIs (oldest first). */
const GArray *machine_msi_log(const Machine *m); /* of MsiRecord */
void machine_msi_log_clear(Machine *m);

/* Run state (QMP query-status). */
bool machine_is_running(const Machine *m);
void machine_request_quit(Machine *m);
bool machine_quit_requested(const Machine *m);

/* Objects by id (-object, -device id=): generic registry for cross references. */
void machine_add_object(Machine *m, const char *id, const char *type, void *obj);
void *machine_find_object(Machine *m, const char *id, const char *type);
void machine_remove_object(Machine *m, const char *id);

/* The machine-wide IOMMU (set by -device intel-iommu), for PCI to use. */
struct IommuOps;
void machine_set_iommu(Machine *m, const struct IommuOps *ops, void *opaque);
const struct IommuOps *machine_iommu(const Machine *m, void **opaque);

/* The PCI root bus (created with the machine). */
struct PCIBus;
struct PCIBus *machine_pci_root(Machine *m);

/*
 * Device and object types register themselves (see DEVICE_TYPE_REGISTER).
 * create() returns false and sets errp on failure; the caller then checks
 * unused properties to reject unknown options.
 */
typedef struct DeviceType {
    const char *name;
    const char *desc;
    bool (*create)(Machine *m, DeviceOpts *opts, GError **errp);
    bool hotpluggable;
    bool (*destroy)(Machine *m, const char *id, GError **errp); /* unplug */
    void (*print_help)(void);   /* "-device NAME,help": list the properties */
} DeviceType;

void device_type_register(const DeviceType *type);
const DeviceType *device_type_find(const char *name);
void device_type_foreach(void (*fn)(const DeviceType *t, void *opaque), void *opaque);
/* Create a device from a parsed -device option; rejects unknown properties. */
bool machine_create_device(Machine *m, DeviceOpts *opts, GError **errp);
/* -object TYPE,id=...: same registry, separate namespace prefix "object:". */
bool machine_create_object(Machine *m, DeviceOpts *opts, GError **errp);

#define DEVICE_TYPE_REGISTER(var)                                            \
    static void __attribute__((constructor)) var##_register(void)             \
    {                                                                         \
        device_type_register(&(var));                                         \
    }

/*
 * ---- Additions by the machine owner (machine/machine.c, devices.c) ----
 */

/* Object registry notes: one id may be held under several types (devices.c
 * records every -device id as type "device" and every -object id as type
 * "object"; models may add their own); machine_find_object(m, id, NULL)
 * matches any type, and machine_remove_object drops every entry of an id. */
/* Drops only the entries of (id, type): a -device and an -object may share an
 * id, and unplugging the device must leave the object reachable. */
void machine_remove_object_of_type(Machine *m, const char *id, const char *type);

/* The PCI root bus is created by main.c (pci_root_bus_new) and stored here. */
void machine_set_pci_root(Machine *m, struct PCIBus *bus);

/* Mark RAM [gpa, gpa+len) read-only for DMA (ROM-like); false if not RAM. */
bool machine_ram_set_readonly(Machine *m, uint64_t gpa, uint64_t len);
/* True when every byte of [gpa, gpa+len) is RAM and none of it is read-only. */
bool machine_ram_range_writable(Machine *m, uint64_t gpa, uint64_t len);

/* Remove a port range registered with machine_register_pio (same base and
 * opaque); used when the guest moves or disables a PCI I/O BAR. */
void machine_unregister_pio(Machine *m, uint16_t base, void *opaque);

/* Run state: -S starts stopped; QMP stop/cont toggle it. */
void machine_set_running(Machine *m, bool running);

/* Teardown hooks, run in reverse registration order by machine_free()
 * before the machine's memory map and timers go away. */
void machine_register_cleanup(Machine *m, ResetFn fn, void *opaque);

/* MSIs dropped from the front of the log because it grew past its cap. */
uint64_t machine_msi_log_dropped(const Machine *m);

/* Unplug a -device by id (DeviceType.destroy); fails for non-hotpluggable. */
bool machine_destroy_device(Machine *m, const char *id, GError **errp);
/* The driver name a device id was created with, or NULL. */
const char *machine_device_driver(Machine *m, const char *id);
/* "-device help": one line per device type. */
void machine_print_device_help(void);

#endif
